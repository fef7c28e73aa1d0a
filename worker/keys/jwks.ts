import { Hono } from "hono";
import type { AppEnv } from "../context.ts";
import { getSigningKeys } from "./signingKeys.ts";

// Public halves of the signing keys, for relays (chain signatures) and anyone checking host tokens.
export const jwksRoutes = new Hono<AppEnv>().get("/.well-known/jwks.json", async (c) => {
  const { jwks } = await getSigningKeys(c.get("env"));
  c.header("cache-control", "public, max-age=300");
  return c.json(jwks);
});
