import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq, inArray, isNull, sql } from "drizzle-orm";
import { Scope, siteScopes } from "../auth/adminScopes.ts";
import { requireAdmin } from "../auth/bearer.ts";
import { audit, auditIfChanged } from "../db/queries/audit.ts";
import { apiTokens, sites } from "../db/schema.ts";
import { ApiError, notFound } from "../errors.ts";
import { randomSecret, sha256Hex } from "../lib/crypto.ts";
import { afterKey, decodeCursor, PageQuery, toPage } from "../lib/pagination.ts";
import { adminRouter, errors, jsonBody, jsonContent, noContent, security } from "./openapi.ts";
import { iso, Timestamp } from "./schemas.ts";

type TokenRow = typeof apiTokens.$inferSelect;

// Token names are unique for good (revoked ones included): audit rows name their actor as token:<name>.
const TokenName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, "a token name is 1-63 lower-case letters, digits, '.', '_' or '-'");
const TokenCreate = z
  .strictObject({
    name: TokenName,
    scopes: z.array(Scope).min(1).max(16),
    expiresAt: z.iso.datetime({ offset: true }).optional().openapi({ description: "absent = never expires" }),
  })
  .openapi("TokenCreate");

// Never carries the token or its hash.
const TokenView = z
  .object({
    id: z.string(),
    name: z.string(),
    scopes: z.array(z.string()),
    expiresAt: Timestamp.nullable(),
    revokedAt: Timestamp.nullable(),
    lastUsedAt: Timestamp.nullable(),
    createdBy: z.string(),
    createdAt: Timestamp,
  })
  .openapi("Token");

const TokenParam = z.object({ id: z.uuid() });
const tags = ["tokens"];

const toView = (row: TokenRow): z.infer<typeof TokenView> => ({
  id: row.id,
  name: row.name,
  scopes: row.scopes,
  expiresAt: iso(row.expiresAt),
  revokedAt: iso(row.revokedAt),
  lastUsedAt: iso(row.lastUsedAt),
  createdBy: row.createdBy,
  createdAt: iso(row.createdAt)!,
});

export const tokensAdmin = adminRouter()
  .openapi(
    createRoute({ method: "get", path: "/tokens", tags, security, summary: "List API tokens (admin; never shows tokens or hashes)", request: { query: PageQuery }, responses: { 200: jsonContent(z.object({ items: z.array(TokenView), nextCursor: z.string().nullable() }), "Tokens, oldest first"), ...errors } }),
    async (c) => {
      requireAdmin(c);
      const { limit, cursor } = c.req.valid("query");
      const rows = await c
        .get("db")
        .select()
        .from(apiTokens)
        .where(afterKey([sql`${apiTokens.createdAt}`, sql`${apiTokens.id}`], decodeCursor(cursor, 2)))
        .orderBy(asc(apiTokens.createdAt), asc(apiTokens.id))
        .limit(limit + 1);
      return c.json(toPage(rows, limit, (r) => [r.createdAt, r.id], toView), 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/tokens",
      tags,
      security,
      summary: "Create an API token (admin); the token is returned once and stored only as a SHA-256",
      request: jsonBody(TokenCreate),
      responses: { 201: jsonContent(z.object({ token: TokenView, secret: z.string() }), "The token's metadata and the bearer secret (not shown again)"), ...errors },
    }),
    async (c) => {
      const principal = requireAdmin(c);
      const input = c.req.valid("json");
      const db = c.get("db");
      const expiresAt = input.expiresAt === undefined ? null : Date.parse(input.expiresAt);
      if (expiresAt !== null && expiresAt <= Date.now()) throw new ApiError("invalid_input", "expiresAt must be in the future", { field: "expiresAt" });
      const [existing] = await db.select({ id: apiTokens.id }).from(apiTokens).where(eq(apiTokens.name, input.name)).limit(1);
      if (existing) throw new ApiError("conflict", `a token named "${input.name}" exists (names stay taken after revocation)`, { name: input.name });

      // A scope naming a site that does not exist is almost always a typo.
      const slugs = siteScopes(input.scopes);
      if (slugs.length) {
        const found = new Set((await db.select({ slug: sites.slug }).from(sites).where(inArray(sites.slug, slugs))).map((r) => r.slug));
        const missing = slugs.filter((s) => !found.has(s));
        if (missing.length) throw new ApiError("invalid_input", `unknown site in scopes: ${missing.join(", ")}`, { field: "scopes", missing });
      }

      const secret = randomSecret("ebt");
      const id = crypto.randomUUID();
      const scopes = [...new Set(input.scopes)];
      const [[row]] = await db.batch([
        db
          .insert(apiTokens)
          .values({ id, name: input.name, tokenHash: await sha256Hex(secret), scopes, expiresAt, createdBy: principal.name })
          .returning(),
        audit(db, { actor: principal.name, action: "token.create", resource: "token", resourceId: id, detail: { name: input.name, scopes, expiresAt: iso(expiresAt) } }),
      ]);
      c.header("cache-control", "no-store");
      return c.json({ token: toView(row!), secret }, 201);
    },
  )
  .openapi(
    createRoute({ method: "get", path: "/tokens/{id}", tags, security, summary: "Get one token's metadata (admin)", request: { params: TokenParam }, responses: { 200: jsonContent(TokenView, "The token"), ...errors } }),
    async (c) => {
      requireAdmin(c);
      const { id } = c.req.valid("param");
      const [row] = await c.get("db").select().from(apiTokens).where(eq(apiTokens.id, id)).limit(1);
      if (!row) throw notFound("token", { id });
      return c.json(toView(row), 200);
    },
  )
  .openapi(
    createRoute({ method: "delete", path: "/tokens/{id}", tags, security, summary: "Revoke a token (admin): it gets 401 from now on (idempotent)", request: { params: TokenParam }, responses: { ...noContent, ...errors } }),
    async (c) => {
      const principal = requireAdmin(c);
      const { id } = c.req.valid("param");
      const db = c.get("db");
      const [row] = await db.select({ id: apiTokens.id, name: apiTokens.name }).from(apiTokens).where(eq(apiTokens.id, id)).limit(1);
      if (!row) throw notFound("token", { id });
      await db.batch([
        db
          .update(apiTokens)
          .set({ revokedAt: Date.now() })
          .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt))),
        auditIfChanged(db, { actor: principal.name, action: "token.revoke", resource: "token", resourceId: id, detail: { name: row.name } }),
      ]);
      return c.body(null, 204);
    },
  );
