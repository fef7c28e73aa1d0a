// Middleware of /boot/h/:token/*: the token in the path is verified, then its boot session read, before anything
// else is. A token works for the life of its boot: until the host's next chain supersedes the session, or the
// session's maximum age. What a live session may read beyond that (secret-bearing files) is delivery.ts's call.
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { verifyHostToken } from "../auth/hostTokens.ts";
import type { AppEnv } from "../context.ts";
import { insertEventStatement } from "../db/queries/bootEvents.ts";
import { loadSession, type BootSession } from "../db/queries/bootSessions.ts";
import { ApiError } from "../errors.ts";
import { getSigningKeys } from "../keys/signingKeys.ts";
import { CLIENT_ADDRESS_HEADER } from "../shared/relayHeaders.ts";
import type { Clock } from "./chain.ts";
import { isSecretFile } from "./delivery.ts";
import { writeBehind } from "./writeBehind.ts";

// What a route behind a host token knows about the boot it serves (from the session row, never from the client).
export type HostTokenClaims = {
  hostId: string;
  siteId: string;
  mac: string | null;
  sid: string;
  profileId: string | null;
  imageId: string | null;
};

export type BootHostEnv = {
  Bindings: AppEnv["Bindings"];
  Variables: AppEnv["Variables"] & { hostToken: HostTokenClaims; bootSession: BootSession };
};

export const requireHostToken = (now: Clock) =>
  createMiddleware<BootHostEnv>(async (c, next) => {
    const env = c.get("env");
    const at = now();
    const token = await verifyHostToken(c.req.param("token") ?? "", await getSigningKeys(env), { nowSeconds: Math.floor(at / 1000) });
    const session = await loadSession(c.get("db").$client, token.sid).catch((err: unknown) => {
      // D1 unreachable: a transient 503, so cloud-init and installers retry (their HTTP clients do on 5xx).
      console.error("boot session read failed", err instanceof Error ? err.message : String(err));
      throw new ApiError("unavailable", "the boot API cannot reach its database; retry", { retryAfterSeconds: 10 });
    });
    if (!session) throw new ApiError("unauthorized", "host token names no boot session here");
    if (session.state === "superseded") {
      const err = new ApiError("session_superseded", "this boot session was superseded: the host chained again since this token was issued", { sid: session.id });
      // A secret-bearing read on a superseded session is the machine's own alarm when someone else chained for it
      // (a replayed direct-boot URL, say) and read its files under the new session: an alert, like a refetch.
      const file = secretFileOf(c.req.path);
      if (file) alertSuperseded(c, session, file, at, err);
      throw err;
    }
    if (at >= session.expiresAt) throw new ApiError("session_expired", "this boot session is older than the maximum age", { sid: session.id });
    const entry = session.entries[token.entry];
    if (!entry) throw new ApiError("unauthorized", "host token names no boot entry of its session");
    c.set("bootSession", session);
    c.set("hostToken", { hostId: session.hostId, siteId: session.siteId, mac: session.mac, sid: session.id, profileId: entry.profileId, imageId: entry.imageId });
    await next();
  });

// The secret-bearing file a host-token path names (`user-data`, `vendor-data`, `files/<name>`), or null.
export function secretFileOf(path: string): string | null {
  const m = /\/h\/[^/]+\/(?:nocloud\/+([^/]+)|(files\/[^/]+))$/.exec(path);
  const file = m ? (m[1] ?? m[2] ?? null) : null;
  return file && isSecretFile(file) ? file : null;
}

function alertSuperseded(c: Context, session: BootSession, file: string, at: number, err: ApiError): void {
  const relayed = c.req.header(CLIENT_ADDRESS_HEADER);
  const direct = c.req.header("cf-connecting-ip");
  writeBehind(c, "secret-refused", c.get("db").$client, [
    insertEventStatement({
      siteId: session.siteId,
      hostId: session.hostId,
      mac: session.mac,
      source: "worker",
      phase: "secret-refused",
      bootSession: session.id,
      detail: { alert: true, file, code: err.code, reason: err.message, delivery: session.delivery, ...(relayed ? { relayedFor: relayed.slice(0, 64) } : {}), ...(direct ? { from: direct.slice(0, 64) } : {}) },
      at,
    }),
  ]);
}
