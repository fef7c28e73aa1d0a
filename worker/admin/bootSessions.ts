// GET /v1/sites/:site/sessions?host=&state=&limit=&cursor=: the site's boot sessions, newest first — what each chain
// handed out and what came of it: client address, relay, delivery policy, state, and which secret-bearing files were
// served when. Tokens are never shown (a session's token would read its host's secrets).
import { and, desc, eq, sql } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import { zv } from "../artifacts/http.ts";
import { requireSiteAccess } from "../auth/bearer.ts";
import type { AppEnv } from "../context.ts";
import { findSite, findSiteHost } from "../db/queries/bootAdmin.ts";
import { bootSessions } from "../db/schema.ts";
import { ApiError } from "../errors.ts";
import { afterKey, decodeCursor, PageQuery, toPage } from "../lib/pagination.ts";

export const SessionsParam = z.object({ site: z.string().min(1).max(63) });
export const SessionsQuery = PageQuery.extend({
  // Hostname, MAC or host id.
  host: z.string().min(1).max(253).optional(),
  state: z.enum(["active", "done", "superseded"]).optional(),
});

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export const BootSessionView = z.object({
  id: z.string(),
  hostId: z.string(),
  mac: z.string().nullable(),
  clientAddress: z.string().nullable(),
  relayId: z.string().nullable(),
  delivery: z.enum(["once", "bound", "open"]),
  state: z.enum(["active", "done", "superseded"]),
  entries: z.array(z.object({ profileId: z.string(), imageId: z.string() })),
  served: z.record(z.string(), z.string()),
  issuedAt: z.string(),
  secretUntil: z.string(),
  expiresAt: z.string(),
  lastUsedAt: z.string().nullable(),
  endedAt: z.string().nullable(),
});

export const bootSessionsAdmin = new Hono<AppEnv>().get("/sites/:site/sessions", zv("param", SessionsParam), zv("query", SessionsQuery), async (c) => {
  const { site: slug } = c.req.valid("param");
  const q = c.req.valid("query");
  requireSiteAccess(c, slug, "read");
  const db = c.get("db");
  const scope = q.host ? await findSiteHost(db, slug, q.host) : { site: await findSite(db, slug), host: null };
  const key = decodeCursor(q.cursor, 2);
  if (key && (typeof key[0] !== "number" || typeof key[1] !== "string")) throw new ApiError("invalid_input", "invalid cursor", { cursor: q.cursor });
  const rows = await db
    .select()
    .from(bootSessions)
    .where(
      and(
        eq(bootSessions.siteId, scope.site.id),
        scope.host ? eq(bootSessions.hostId, scope.host.id) : undefined,
        q.state ? eq(bootSessions.state, q.state) : undefined,
        afterKey([sql`${bootSessions.issuedAt}`, sql`${bootSessions.id}`], key, "desc"),
      ),
    )
    .orderBy(desc(bootSessions.issuedAt), desc(bootSessions.id))
    .limit(q.limit + 1);
  return c.json(
    toPage(rows, q.limit, (r) => [r.issuedAt, r.id], (r): z.infer<typeof BootSessionView> => ({
      id: r.id,
      hostId: r.hostId,
      mac: r.mac,
      clientAddress: r.clientAddress,
      relayId: r.relayId,
      delivery: r.delivery,
      state: r.state,
      entries: r.entries,
      served: Object.fromEntries(Object.entries(r.served).map(([file, at]) => [file, iso(at)!])),
      issuedAt: iso(r.issuedAt)!,
      secretUntil: iso(r.secretUntil)!,
      expiresAt: iso(r.expiresAt)!,
      lastUsedAt: iso(r.lastUsedAt),
      endedAt: iso(r.endedAt),
    })),
  );
});
