import { eq } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import { zv } from "../artifacts/http.ts";
import { audit } from "../db/queries/audit.ts";
import { relays } from "../db/schema.ts";
import { ApiError } from "../errors.ts";
import type { RelayApiEnv } from "./context.ts";
import { RELAY_POLL_SECONDS } from "./health.ts";

const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "k"] as const;

// Only the public half is accepted: a relay that sends its private key has a bug worth refusing loudly.
const PublicEd25519Jwk = z
  .looseObject({
    kty: z.literal("OKP"),
    crv: z.literal("Ed25519"),
    x: z.string().regex(/^[A-Za-z0-9_-]{43}$/, "x must be the base64url of a 32-byte Ed25519 public key"),
  })
  .superRefine((jwk, ctx) => {
    for (const member of PRIVATE_JWK_MEMBERS) {
      if (member in jwk) ctx.addIssue({ code: "custom", path: [member], message: `publicKeyJwk must not contain the private member "${member}"` });
    }
  })
  .transform(({ kty, crv, x }) => ({ kty, crv, x }));

const RegisterBody = z.strictObject({
  publicKeyJwk: PublicEd25519Jwk,
  lanAddress: z.union([z.ipv4(), z.ipv6()]),
  cacheUrl: z.url({ protocol: /^https?$/ }).max(2048),
  version: z.string().min(1).max(64).regex(/^[\x21-\x7e]+$/, "version must be printable ASCII without spaces"),
});

export const registerRoute = new Hono<RelayApiEnv>().post("/register", zv("json", RegisterBody), async (c) => {
  const body = c.req.valid("json");
  const relay = c.get("relay");
  const db = c.get("db");
  try {
    await crypto.subtle.importKey("jwk", body.publicKeyJwk, { name: "Ed25519" }, false, ["verify"]);
  } catch {
    throw new ApiError("invalid_input", "publicKeyJwk is not a valid Ed25519 public key");
  }
  const [current] = await db.select({ publicKeyJwk: relays.publicKeyJwk }).from(relays).where(eq(relays.id, relay.relayId)).limit(1);
  const keyChanged = current?.publicKeyJwk?.x !== body.publicKeyJwk.x;
  const update = db
    .update(relays)
    .set({
      publicKeyJwk: body.publicKeyJwk,
      lanAddress: body.lanAddress,
      cacheUrl: body.cacheUrl,
      softwareVersion: body.version,
      lastSeenAt: Date.now(),
    })
    .where(eq(relays.id, relay.relayId));
  // A new key changes which boot tokens the API accepts for this site: worth an audit entry.
  const entry = audit(db, {
    actor: `relay:${relay.relayName}`,
    action: "relay.key_registered",
    resource: "relay",
    resourceId: relay.relayId,
    siteId: relay.siteId,
    detail: { x: body.publicKeyJwk.x, version: body.version },
  });
  if (keyChanged) await db.batch([update, entry]);
  else await update;
  return c.json({
    relay: { id: relay.relayId, name: relay.relayName, site: relay.siteSlug },
    pollSeconds: RELAY_POLL_SECONDS,
  });
});
