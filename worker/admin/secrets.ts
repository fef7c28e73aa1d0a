import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { and, asc, eq, isNull, sql } from "drizzle-orm";
import { principalOf, requireAdmin, requireSiteAccess } from "../auth/bearer.ts";
import { type AccessMode, visibleSites } from "../auth/adminScopes.ts";
import type { AppEnv, Principal } from "../context.ts";
import { audit, auditIfChanged } from "../db/queries/audit.ts";
import { findSite } from "../db/queries/catalogue.ts";
import { findHost } from "../db/queries/hosts.ts";
import { hosts, secrets, sites } from "../db/schema.ts";
import { ApiError, notFound } from "../errors.ts";
import { sha256Hex } from "../lib/crypto.ts";
import { afterKey, decodeCursor, PageQuery, toPage } from "../lib/pagination.ts";
import { encryptSecret, secretScope } from "../lib/secretbox.ts";
import { adminRouter, errors, jsonBody, jsonContent, noContent, security } from "./openapi.ts";
import { iso, SecretName, Slug, Timestamp } from "./schemas.ts";

// Write-only secrets (join tokens, passwords) for {{ secret.NAME }} in user-data. Values are sealed with AES-GCM
// bound to their scope and name (lib/secretbox.ts); no route ever returns a value or ciphertext.

const ScopeQuery = z.object({ site: Slug.optional(), host: z.string().min(1).max(253).optional().openapi({ description: "hostname or MAC; needs site" }) });
const SecretParam = z.object({ name: SecretName });
const SecretPut = z.strictObject({ value: z.string().min(1).max(64 * 1024) }).openapi("SecretPut");
const SecretView = z
  .object({ name: z.string(), site: z.string().nullable(), host: z.string().nullable(), createdAt: Timestamp, updatedAt: Timestamp })
  .openapi("Secret");
const tags = ["secrets"];

type Scope = { siteId: string | null; siteSlug: string | null; hostId: string | null; hostRef: string | null };

// Global secrets are admin's; site and host secrets belong to that site's tokens too.
async function resolveScope(c: Context<AppEnv>, q: { site?: string; host?: string }, mode: AccessMode): Promise<{ scope: Scope; principal: Principal }> {
  if (q.site === undefined) {
    if (q.host !== undefined) throw new ApiError("invalid_input", "?host= needs ?site=", { field: "host" });
    const principal = mode === "write" ? requireAdmin(c) : principalOf(c);
    if (mode === "read" && visibleSites(principal.scopes) !== "all") throw new ApiError("forbidden", "listing secrets of every site needs an admin or read token; pass ?site=");
    return { principal, scope: { siteId: null, siteSlug: null, hostId: null, hostRef: null } };
  }
  const principal = requireSiteAccess(c, q.site, mode);
  const db = c.get("db");
  const site = await findSite(db, q.site);
  if (q.host === undefined) return { principal, scope: { siteId: site.id, siteSlug: site.slug, hostId: null, hostRef: null } };
  const host = await findHost(db, site.id, q.host);
  return { principal, scope: { siteId: site.id, siteSlug: site.slug, hostId: host.id, hostRef: host.hostname ?? host.mac } };
}

const exactScope = (s: Scope, name: string) =>
  and(s.siteId ? eq(secrets.siteId, s.siteId) : isNull(secrets.siteId), s.hostId ? eq(secrets.hostId, s.hostId) : isNull(secrets.hostId), eq(secrets.name, name));

const level = (s: Scope) => (s.hostId ? "host" : s.siteId ? "site" : "global");

export const secretsAdmin = adminRouter()
  .openapi(
    createRoute({
      method: "get",
      path: "/secrets",
      tags,
      security,
      summary: "List secret names and scopes (never values). ?site= lists a site's (site and host level), &host= one host's; no site lists all (admin/read)",
      request: { query: PageQuery.extend(ScopeQuery.shape) },
      responses: { 200: jsonContent(z.object({ items: z.array(SecretView), nextCursor: z.string().nullable() }), "Secrets"), ...errors },
    }),
    async (c) => {
      const { limit, cursor, ...q } = c.req.valid("query");
      const { scope } = await resolveScope(c, q, "read");
      const rows = await c
        .get("db")
        .select({ id: secrets.id, name: secrets.name, site: sites.slug, hostname: hosts.hostname, mac: hosts.mac, createdAt: secrets.createdAt, updatedAt: secrets.updatedAt })
        .from(secrets)
        .leftJoin(sites, eq(sites.id, secrets.siteId))
        .leftJoin(hosts, eq(hosts.id, secrets.hostId))
        .where(
          and(
            scope.siteId ? eq(secrets.siteId, scope.siteId) : undefined,
            scope.hostId ? eq(secrets.hostId, scope.hostId) : undefined,
            afterKey([sql`${secrets.name}`, sql`${secrets.id}`], decodeCursor(cursor, 2)),
          ),
        )
        .orderBy(asc(secrets.name), asc(secrets.id))
        .limit(limit + 1);
      return c.json(
        toPage(rows, limit, (r) => [r.name, r.id], (r) => ({ name: r.name, site: r.site, host: r.hostname ?? r.mac, createdAt: iso(r.createdAt)!, updatedAt: iso(r.updatedAt)! })),
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "put",
      path: "/secrets/{name}",
      tags,
      security,
      summary: "Set a secret (global: admin; ?site= and ?host=: that site's tokens). The value is encrypted and never returned",
      request: { params: SecretParam, query: ScopeQuery, ...jsonBody(SecretPut) },
      responses: { 200: jsonContent(SecretView, "Replaced"), 201: jsonContent(SecretView, "Created"), ...errors },
    }),
    async (c) => {
      const { name } = c.req.valid("param");
      const { scope, principal } = await resolveScope(c, c.req.valid("query"), "write");
      const { value } = c.req.valid("json");
      const db = c.get("db");
      const boundTo = secretScope({ siteId: scope.siteId, hostId: scope.hostId, name });
      const sealed = await encryptSecret(c.get("env").SECRETS_KEY, boundTo, value);
      // One row per scope+name: the id is derived from it, so the primary key makes PUT an upsert even for global
      // secrets (the unique index on nullable site/host columns cannot, NULLs being distinct in SQLite).
      const id = await sha256Hex(boundTo);
      const [existing] = await db.select({ id: secrets.id }).from(secrets).where(exactScope(scope, name)).limit(1);
      const now = Date.now();
      const [[row]] = await db.batch([
        db
          .insert(secrets)
          .values({ id, siteId: scope.siteId, hostId: scope.hostId, name, ...sealed, createdAt: now, updatedAt: now })
          .onConflictDoUpdate({ target: secrets.id, set: { ...sealed, updatedAt: now } })
          .returning({ createdAt: secrets.createdAt, updatedAt: secrets.updatedAt }),
        audit(db, { actor: principal.name, action: "secret.put", resource: "secret", resourceId: id, siteId: scope.siteId, detail: { name, scope: level(scope), host: scope.hostRef } }),
      ]);
      const view = { name, site: scope.siteSlug, host: scope.hostRef, createdAt: iso(row!.createdAt)!, updatedAt: iso(row!.updatedAt)! };
      return existing ? c.json(view, 200) : c.json(view, 201);
    },
  )
  .openapi(
    createRoute({ method: "delete", path: "/secrets/{name}", tags, security, summary: "Delete a secret at the given scope", request: { params: SecretParam, query: ScopeQuery }, responses: { ...noContent, ...errors } }),
    async (c) => {
      const { name } = c.req.valid("param");
      const { scope, principal } = await resolveScope(c, c.req.valid("query"), "write");
      const db = c.get("db");
      const [deleted] = await db.batch([
        db.delete(secrets).where(exactScope(scope, name)).returning({ id: secrets.id }),
        auditIfChanged(db, { actor: principal.name, action: "secret.delete", resource: "secret", resourceId: null, siteId: scope.siteId, detail: { name, scope: level(scope), host: scope.hostRef } }),
      ]);
      if (!deleted[0]) throw notFound("secret", { name, site: scope.siteSlug, host: scope.hostRef });
      return c.body(null, 204);
    },
  );
