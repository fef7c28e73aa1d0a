import { and, eq, isNull } from "drizzle-orm";
import { createMiddleware } from "hono/factory";
import { relays, sites } from "../db/schema.ts";
import { ApiError } from "../errors.ts";
import { relayCredentialHash } from "../auth/relayCredential.ts";
import type { RelayApiEnv } from "./context.ts";

// Relay credential bearer → relay row (looked up by the credential's SHA-256); revoked relays fail.
export const requireRelay = createMiddleware<RelayApiEnv>(async (c, next) => {
  const hash = await relayCredentialHash(c.req.header("authorization"));
  if (!hash) throw new ApiError("unauthorized", "relay credential required (Authorization: Bearer <credential>)");
  const [row] = await c
    .get("db")
    .select({ relayId: relays.id, relayName: relays.name, siteId: relays.siteId, siteSlug: sites.slug })
    .from(relays)
    .innerJoin(sites, eq(sites.id, relays.siteId))
    .where(and(eq(relays.credentialHash, hash), isNull(relays.revokedAt)))
    .limit(1);
  if (!row) throw new ApiError("unauthorized", "unknown or revoked relay credential");
  c.set("relay", row);
  await next();
});
