// Middleware of /boot/h/:token/*: the token in the path is verified before anything is read.
import { createMiddleware } from "hono/factory";
import { verifyHostToken, tokenIssuer, type HostTokenClaims } from "../auth/hostTokens.ts";
import type { AppEnv } from "../context.ts";
import { getSigningKeys } from "../keys/signingKeys.ts";
import type { Clock } from "./chain.ts";

export type BootHostEnv = { Bindings: AppEnv["Bindings"]; Variables: AppEnv["Variables"] & { hostToken: HostTokenClaims } };

export const requireHostToken = (now: Clock) =>
  createMiddleware<BootHostEnv>(async (c, next) => {
    const env = c.get("env");
    const claims = await verifyHostToken(c.req.param("token") ?? "", await getSigningKeys(env), {
      issuer: tokenIssuer(env.PUBLIC_URL),
      nowSeconds: Math.floor(now() / 1000),
    });
    c.set("hostToken", claims);
    await next();
  });
