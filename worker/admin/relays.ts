import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq, isNull, sql } from "drizzle-orm";
import { requireSiteAccess } from "../auth/bearer.ts";
import type { Db } from "../db/client.ts";
import { audit, auditIfChanged } from "../db/queries/audit.ts";
import { findSite } from "../db/queries/catalogue.ts";
import { relays } from "../db/schema.ts";
import { ApiError, notFound } from "../errors.ts";
import { randomSecret, sha256Hex } from "../lib/crypto.ts";
import { afterKey, decodeCursor, PageQuery, toPage } from "../lib/pagination.ts";
import { adminRouter, errors, jsonBody, jsonContent, noContent, security } from "./openapi.ts";
import { iso, Slug, Timestamp } from "./schemas.ts";

type RelayRow = typeof relays.$inferSelect;

const RelayName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, "a relay name is 1-63 lower-case letters, digits, '.', '_' or '-'");
const RelayCreate = z.strictObject({ name: RelayName }).openapi("RelayCreate");

const RelayView = z
  .object({
    id: z.string(),
    site: z.string(),
    name: z.string(),
    // Public half only: the relay registers it to sign short-lived direct-boot tokens.
    publicKeyJwk: z.record(z.string(), z.unknown()).nullable(),
    lanAddress: z.string().nullable(),
    cacheUrl: z.string().nullable(),
    softwareVersion: z.string().nullable(),
    lastSeenAt: Timestamp.nullable(),
    revokedAt: Timestamp.nullable(),
    createdAt: Timestamp,
  })
  .openapi("Relay");

const SiteParam = z.object({ site: Slug });
const RelayParam = SiteParam.extend({ relay: RelayName });
const ListQuery = PageQuery.extend({ revoked: z.enum(["true", "false"]).optional() });
const tags = ["relays"];

const toView = (site: string, row: RelayRow): z.infer<typeof RelayView> => ({
  id: row.id,
  site,
  name: row.name,
  publicKeyJwk: (row.publicKeyJwk as Record<string, unknown> | null) ?? null,
  lanAddress: row.lanAddress,
  cacheUrl: row.cacheUrl,
  softwareVersion: row.softwareVersion,
  lastSeenAt: iso(row.lastSeenAt),
  revokedAt: iso(row.revokedAt),
  createdAt: iso(row.createdAt)!,
});

async function findRelay(db: Db, siteId: string, name: string): Promise<RelayRow> {
  const [row] = await db.select().from(relays).where(and(eq(relays.siteId, siteId), eq(relays.name, name))).limit(1);
  if (!row) throw notFound("relay", { relay: name });
  return row;
}

export const relaysAdmin = adminRouter()
  .openapi(
    createRoute({
      method: "get",
      path: "/sites/{site}/relays",
      tags,
      security,
      summary: "List a site's relays by name (?revoked=false hides revoked ones)",
      request: { params: SiteParam, query: ListQuery },
      responses: { 200: jsonContent(z.object({ items: z.array(RelayView), nextCursor: z.string().nullable() }), "Relays"), ...errors },
    }),
    async (c) => {
      const { site: slug } = c.req.valid("param");
      requireSiteAccess(c, slug, "read");
      const { limit, cursor, revoked } = c.req.valid("query");
      const db = c.get("db");
      const site = await findSite(db, slug);
      const rows = await db
        .select()
        .from(relays)
        .where(
          and(
            eq(relays.siteId, site.id),
            revoked === "false" ? isNull(relays.revokedAt) : revoked === "true" ? sql`${relays.revokedAt} is not null` : undefined,
            afterKey([sql`${relays.name}`], decodeCursor(cursor, 1)),
          ),
        )
        .orderBy(asc(relays.name))
        .limit(limit + 1);
      return c.json(toPage(rows, limit, (r) => [r.name], (r) => toView(slug, r)), 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/sites/{site}/relays",
      tags,
      security,
      summary: "Create a relay; its credential is returned once and stored only as a SHA-256",
      request: { params: SiteParam, ...jsonBody(RelayCreate) },
      responses: {
        201: jsonContent(
          z.object({ relay: RelayView, secret: z.string(), credential: z.string().openapi({ deprecated: true, description: "same as secret (older name)" }) }),
          "The relay and its credential in `secret` (the shown-once field of every route; not shown again)",
        ),
        ...errors,
      },
    }),
    async (c) => {
      const { site: slug } = c.req.valid("param");
      const principal = requireSiteAccess(c, slug, "write");
      const { name } = c.req.valid("json");
      const db = c.get("db");
      const site = await findSite(db, slug);
      const [existing] = await db.select({ id: relays.id }).from(relays).where(and(eq(relays.siteId, site.id), eq(relays.name, name))).limit(1);
      if (existing) throw new ApiError("conflict", `relay "${name}" already exists in site "${slug}" (names of revoked relays stay taken)`, { relay: name });
      const credential = randomSecret("ebr");
      const id = crypto.randomUUID();
      const [[row]] = await db.batch([
        db
          .insert(relays)
          .values({ id, siteId: site.id, name, credentialHash: await sha256Hex(credential) })
          .returning(),
        audit(db, { actor: principal.name, action: "relay.create", resource: "relay", resourceId: id, siteId: site.id, detail: { name } }),
      ]);
      c.header("cache-control", "no-store");
      c.header("location", `/v1/sites/${slug}/relays/${name}`);
      return c.json({ relay: toView(slug, row!), secret: credential, credential }, 201);
    },
  )
  .openapi(
    createRoute({ method: "get", path: "/sites/{site}/relays/{relay}", tags, security, summary: "Get a relay", request: { params: RelayParam }, responses: { 200: jsonContent(RelayView, "The relay"), ...errors } }),
    async (c) => {
      const { site: slug, relay: name } = c.req.valid("param");
      requireSiteAccess(c, slug, "read");
      const db = c.get("db");
      const site = await findSite(db, slug);
      return c.json(toView(slug, await findRelay(db, site.id, name)), 200);
    },
  )
  .openapi(
    createRoute({ method: "delete", path: "/sites/{site}/relays/{relay}", tags, security, summary: "Revoke a relay: its credential stops working at once (idempotent)", request: { params: RelayParam }, responses: { ...noContent, ...errors } }),
    async (c) => {
      const { site: slug, relay: name } = c.req.valid("param");
      const principal = requireSiteAccess(c, slug, "write");
      const db = c.get("db");
      const site = await findSite(db, slug);
      const row = await findRelay(db, site.id, name);
      // The row stays (its events and audit trail name it); only revoked_at changes, and only once.
      await db.batch([
        db
          .update(relays)
          .set({ revokedAt: Date.now() })
          .where(and(eq(relays.id, row.id), isNull(relays.revokedAt))),
        auditIfChanged(db, { actor: principal.name, action: "relay.revoke", resource: "relay", resourceId: row.id, siteId: site.id, detail: { name } }),
      ]);
      return c.body(null, 204);
    },
  );
