import { and, eq, isNull } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import { requireSiteAccess } from "../auth/bearer.ts";
import { zv } from "../artifacts/http.ts";
import type { AppEnv } from "../context.ts";
import { audit } from "../db/queries/audit.ts";
import { hosts, relayCommands, relays, sites } from "../db/schema.ts";
import { ApiError, notFound } from "../errors.ts";
import { normalizeMac } from "../lib/mac.ts";
import { isRelayHealthy } from "../relayapi/health.ts";
import { COMMAND_TTL_MS } from "../relayapi/state.ts";

export const WakeParam = z.object({ site: z.string().min(1).max(64), host: z.string().min(1).max(253) });

// POST /v1/sites/:site/hosts/:host/wake: queue a wake-on-LAN for the site's relay, which sends the magic packet
// on its LAN at its next sync and acknowledges it. 202: queued, not yet sent.
export const wakeAdmin = new Hono<AppEnv>().post("/sites/:site/hosts/:host/wake", zv("param", WakeParam), async (c) => {
  const { site: slug, host: hostRef } = c.req.valid("param");
  const principal = requireSiteAccess(c, slug, "write");
  const db = c.get("db");
  const [site] = await db.select({ id: sites.id }).from(sites).where(eq(sites.slug, slug)).limit(1);
  if (!site) throw notFound("site", { site: slug });
  const mac = normalizeMac(hostRef);
  const [host] = await db
    .select({ id: hosts.id, mac: hosts.mac, hostname: hosts.hostname })
    .from(hosts)
    .where(and(eq(hosts.siteId, site.id), mac ? eq(hosts.mac, mac) : eq(hosts.hostname, hostRef)))
    .limit(1);
  if (!host) throw notFound("host", { site: slug, host: hostRef });
  if (!host.mac) throw new ApiError("conflict", "host has no MAC address to wake", { host: hostRef });
  const siteRelays = await db
    .select({ lastSeenAt: relays.lastSeenAt })
    .from(relays)
    .where(and(eq(relays.siteId, site.id), isNull(relays.revokedAt)));
  if (siteRelays.length === 0) throw new ApiError("conflict", "the site has no relay to send the wake-on-LAN packet", { site: slug });

  const now = Date.now();
  const command = { id: crypto.randomUUID(), siteId: site.id, kind: "wake" as const, payload: { mac: host.mac, hostname: host.hostname }, createdAt: now };
  await db.batch([
    db.insert(relayCommands).values(command),
    audit(db, {
      actor: principal.name,
      action: "host.wake",
      resource: "host",
      resourceId: host.id,
      siteId: site.id,
      detail: { mac: host.mac, commandId: command.id },
    }),
  ]);
  return c.json(
    {
      command: { id: command.id, kind: command.kind, payload: command.payload, createdAt: new Date(now).toISOString(), expiresAt: new Date(now + COMMAND_TTL_MS).toISOString() },
      relayHealthy: siteRelays.some((r) => isRelayHealthy(r.lastSeenAt, now)),
    },
    202,
  );
});
