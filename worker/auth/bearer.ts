import { eq } from "drizzle-orm";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv, Principal } from "../context.ts";
import { apiTokens } from "../db/schema.ts";
import { ApiError } from "../errors.ts";
import { sha256Hex, timingSafeEqualHex } from "../lib/crypto.ts";
import { type AccessMode, canAccessCatalogue, canAccessSite, canWriteAnything, isAdmin } from "./adminScopes.ts";

// lastUsedAt is a hint for operators, not an access log: write it at most once a minute per token.
export const LAST_USED_GRANULARITY_MS = 60_000;
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const BEARER = /^Bearer[ \t]+([A-Za-z0-9._~+/=-]{16,512})[ \t]*$/i;

export type BearerOptions = { publicPaths?: string[]; now?: () => number };

// `Authorization: Bearer <token>` → c.get("principal"). The root token is the ADMIN_TOKEN secret; other tokens are
// looked up by their SHA-256. Missing, unknown, revoked or expired → 401; route handlers check scopes (403).
export const bearerAuth = (options: BearerOptions = {}) => {
  const publicPaths = new Set(options.publicPaths ?? []);
  const now = options.now ?? Date.now;
  return createMiddleware<AppEnv>(async function bearerAuth(c, next) {
    if (publicPaths.has(c.req.path)) return next();
    const header = c.req.header("authorization") ?? "";
    const match = BEARER.exec(header);
    if (!match?.[1]) {
      // A token that cannot be one is invalid, not missing: say which, so `EDGEBOOT_TOKEN=wrong` is not told to add one.
      if (/^Bearer[ \t]+\S/i.test(header)) throw new ApiError("unauthorized", "invalid token: a token is 16-512 characters of letters, digits and . _ ~ + / = -");
      throw new ApiError("unauthorized", "missing or malformed Authorization header (expected: Bearer <token>)");
    }
    const principal = await authenticate(c, match[1], now());
    if (!SAFE_METHODS.has(c.req.method) && !canWriteAnything(principal.scopes)) {
      throw new ApiError("forbidden", "this token is read-only", { method: c.req.method });
    }
    c.set("principal", principal);
    await next();
  });
};

// Also used by the status page (worker/ui), which carries the same token in a session cookie.
export async function authenticate(c: Context<AppEnv>, token: string, at: number): Promise<Principal> {
  const hash = await sha256Hex(token);
  // Compare digests, not the secrets, so the comparison time says nothing about the root token's bytes.
  if (timingSafeEqualHex(hash, await sha256Hex(c.get("env").ADMIN_TOKEN))) return { name: "root", tokenId: null, scopes: ["admin"] };

  const db = c.get("db");
  const [row] = await db.select().from(apiTokens).where(eq(apiTokens.tokenHash, hash)).limit(1);
  if (!row) throw new ApiError("unauthorized", "unknown token");
  if (row.revokedAt !== null) throw new ApiError("unauthorized", "token has been revoked");
  if (row.expiresAt !== null && row.expiresAt <= at) throw new ApiError("unauthorized", "token has expired");

  if (row.lastUsedAt === null || row.lastUsedAt < at - LAST_USED_GRANULARITY_MS) {
    const touch = db.update(apiTokens).set({ lastUsedAt: at }).where(eq(apiTokens.id, row.id)).run();
    runInBackground(c, touch);
  }
  return { name: `token:${row.name}`, tokenId: row.id, scopes: row.scopes };
}

// Off the response path when the runtime gives us waitUntil; a failed touch is not worth failing the request.
function runInBackground(c: Context, work: Promise<unknown>) {
  const quiet = work.catch((err) => console.warn("could not record token use", err instanceof Error ? err.message : String(err)));
  try {
    c.executionCtx.waitUntil(quiet);
  } catch {
    // No execution context (e.g. app.request in a unit test): the promise still settles on its own.
  }
}

export function principalOf(c: Context<AppEnv>): Principal {
  const principal = c.get("principal") as Principal | undefined;
  if (!principal) throw new ApiError("unauthorized", "authentication required");
  return principal;
}

export function requireAdmin(c: Context<AppEnv>): Principal {
  const principal = principalOf(c);
  if (!isAdmin(principal.scopes)) throw new ApiError("forbidden", "this action needs an admin token");
  return principal;
}

// Site resources: admin, `read` (read only) or `site:<slug>` for that site.
export function requireSiteAccess(c: Context<AppEnv>, siteSlug: string, mode: AccessMode): Principal {
  const principal = principalOf(c);
  if (!canAccessSite(principal.scopes, siteSlug, mode)) {
    throw new ApiError("forbidden", `this token cannot ${mode} site "${siteSlug}"`, { site: siteSlug, mode });
  }
  return principal;
}

// Profiles and images are global: every token reads them, only admin writes them.
export function requireCatalogueAccess(c: Context<AppEnv>, mode: AccessMode): Principal {
  const principal = principalOf(c);
  if (!canAccessCatalogue(principal.scopes, mode)) {
    throw new ApiError("forbidden", mode === "write" ? "profiles and images are shared by all sites; changing them needs an admin token" : "this token cannot read the catalogue");
  }
  return principal;
}
