import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq, inArray, isNull, sql } from "drizzle-orm";
import { isAdmin, visibleSites } from "../auth/adminScopes.ts";
import { principalOf, requireAdmin, requireSiteAccess } from "../auth/bearer.ts";
import type { Db } from "../db/client.ts";
import { audit, auditIfChanged } from "../db/queries/audit.ts";
import { findSite, profileId, profileNames, type SiteRow } from "../db/queries/catalogue.ts";
import { hosts, profiles, relays, sites } from "../db/schema.ts";
import { ApiError } from "../errors.ts";
import { randomSecret, sha256Hex } from "../lib/crypto.ts";
import { checkIfMatch, concurrentChange, etagOf } from "../lib/etag.ts";
import { afterKey, decodeCursor, PageQuery, toPage } from "../lib/pagination.ts";
import { adminRouter, errors, jsonBody, jsonContent, noContent, security } from "./openapi.ts";
import { CatalogueName, Document, iso, Slug, Timestamp, Vars } from "./schemas.ts";
import { apiBase } from "../boot/urls.ts";
import { hostsOfSite, requireRenderable } from "./renderCheck.ts";
import { requireSiteSecretScope, requireValidTemplates } from "./templates.ts";
import { ConfigFile, ConfigFilesInput, requireSiteFileScope, requireValidFiles } from "./files.ts";

const SiteSettings = {
  name: z.string().min(1).max(128),
  bootAuth: z.enum(["relay", "key", "open"]),
  unknownHostPolicy: z.enum(["discover", "default", "deny"]),
  defaultProfile: CatalogueName.nullable(),
  discoverRetrySeconds: z.number().int().min(5).max(3600),
  hostTokenTtlSeconds: z.number().int().min(60).max(7 * 86400),
  allowDirect: z.boolean(),
  // Secret-bearing files (user-data, vendor-data, per-host files) per boot session: once (default), bound (only via
  // the issuing relay, for the address it saw) or open (labs). worker/boot/README.md, "Threat model".
  secretDelivery: z.enum(["once", "bound", "open"]),
  vars: Vars,
  vendorData: Document().nullable(),
  // Per-host config files (worker/admin/files.ts); a profile's file of the same name wins. A PATCH replaces the map.
  files: ConfigFilesInput,
  // Days of events kept (hourly job, worker/retention.ts); each host's last boot timeline is kept regardless.
  eventRetentionDays: z.number().int().min(1).max(3650),
};

const SiteCreate = z.strictObject({ slug: Slug, ...SiteSettings }).partial().required({ slug: true, name: true }).openapi("SiteCreate");
// The slug is the site's name in every URL and token scope, so it cannot change.
const SitePatch = z.strictObject(SiteSettings).partial().openapi("SitePatch");

const SiteView = z
  .object({
    id: z.string(),
    slug: z.string(),
    name: z.string(),
    bootAuth: z.enum(["relay", "key", "open"]),
    hasBootKey: z.boolean(),
    unknownHostPolicy: z.enum(["discover", "default", "deny"]),
    defaultProfile: z.string().nullable(),
    discoverRetrySeconds: z.number(),
    hostTokenTtlSeconds: z.number(),
    allowDirect: z.boolean(),
    secretDelivery: z.enum(["once", "bound", "open"]),
    vars: z.record(z.string(), z.unknown()),
    vendorData: z.string().nullable(),
    files: z.record(z.string(), ConfigFile),
    eventRetentionDays: z.number(),
    revision: z.number(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi("Site");

const SiteParam = z.object({ site: Slug });
const DeleteQuery = z.object({ force: z.enum(["true", "false", "1", "0"]).optional() });
const tags = ["sites"];

function toView(row: SiteRow, defaultProfile: string | null): z.infer<typeof SiteView> {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    bootAuth: row.bootAuth,
    hasBootKey: row.bootKeyHash !== null,
    unknownHostPolicy: row.unknownHostPolicy,
    defaultProfile,
    discoverRetrySeconds: row.discoverRetrySeconds,
    hostTokenTtlSeconds: row.hostTokenTtlSeconds,
    allowDirect: row.allowDirect,
    secretDelivery: row.secretDelivery,
    vars: row.vars,
    vendorData: row.vendorData,
    files: row.files,
    eventRetentionDays: row.eventRetentionDays,
    revision: row.revision,
    createdAt: iso(row.createdAt)!,
    updatedAt: iso(row.updatedAt)!,
  };
}

async function view(db: Db, row: SiteRow) {
  const names = await profileNames(db, [row.defaultProfileId]);
  return toView(row, row.defaultProfileId ? (names.get(row.defaultProfileId) ?? null) : null);
}

// "default" boots the site's default profile for unknown hosts, so it needs one.
function checkPolicy(policy: string, defaultProfileId: string | null) {
  if (policy === "default" && defaultProfileId === null) {
    throw new ApiError("invalid_input", "unknownHostPolicy \"default\" needs a defaultProfile", { field: "defaultProfile" });
  }
}

// Guard for writes that set a default profile: it must still exist when the write lands (a concurrent profile delete).
const profileExists = (id: string | null) => (id === null ? undefined : sql`exists (select 1 from ${profiles} where ${profiles.id} = ${id})`);

export const sitesAdmin = adminRouter()
  .openapi(
    createRoute({ method: "get", path: "/sites", tags, security, summary: "List sites (a site token sees only its own)", request: { query: PageQuery }, responses: { 200: jsonContent(z.object({ items: z.array(SiteView), nextCursor: z.string().nullable() }), "Sites by slug"), ...errors } }),
    async (c) => {
      const principal = principalOf(c);
      const { limit, cursor } = c.req.valid("query");
      const visible = visibleSites(principal.scopes);
      const db = c.get("db");
      const rows = await db
        .select()
        .from(sites)
        .where(and(visible === "all" ? undefined : inArray(sites.slug, visible.length ? visible : [""]), afterKey([sql`${sites.slug}`], decodeCursor(cursor, 1))))
        .orderBy(asc(sites.slug))
        .limit(limit + 1);
      const names = await profileNames(db, rows.map((r) => r.defaultProfileId));
      return c.json(toPage(rows, limit, (r) => [r.slug], (r) => toView(r, r.defaultProfileId ? (names.get(r.defaultProfileId) ?? null) : null)), 200);
    },
  )
  .openapi(
    createRoute({ method: "post", path: "/sites", tags, security, summary: "Create a site (admin)", request: jsonBody(SiteCreate), responses: { 201: jsonContent(SiteView, "Created"), ...errors } }),
    async (c) => {
      const principal = requireAdmin(c);
      const input = c.req.valid("json");
      requireValidTemplates({ vendorData: input.vendorData });
      requireValidFiles(input.files);
      const db = c.get("db");
      // A new site has no secrets yet, so its vendor-data can name none (site templates never reach global ones).
      await requireSiteSecretScope(db, { id: "", slug: input.slug }, { vendorData: input.vendorData });
      await requireSiteFileScope(db, { id: "", slug: input.slug }, input.files);
      const defaultProfileId = input.defaultProfile ? await profileId(db, input.defaultProfile, "defaultProfile") : null;
      checkPolicy(input.unknownHostPolicy ?? "discover", defaultProfileId);
      const [existing] = await db.select({ id: sites.id }).from(sites).where(eq(sites.slug, input.slug)).limit(1);
      if (existing) throw new ApiError("conflict", `site "${input.slug}" already exists`, { site: input.slug });

      const id = crypto.randomUUID();
      const { defaultProfile: _, ...fields } = input;
      const [[row]] = await db.batch([
        db.insert(sites).values({ ...fields, id, defaultProfileId }).returning(),
        audit(db, { actor: principal.name, action: "site.create", resource: "site", resourceId: id, siteId: id, detail: { slug: input.slug } }),
      ]);
      c.header("etag", etagOf(row!));
      c.header("location", `/v1/sites/${row!.slug}`);
      return c.json(await view(db, row!), 201);
    },
  )
  .openapi(
    createRoute({ method: "get", path: "/sites/{site}", tags, security, summary: "Get a site (ETag = revision)", request: { params: SiteParam }, responses: { 200: jsonContent(SiteView, "The site"), ...errors } }),
    async (c) => {
      const { site: slug } = c.req.valid("param");
      requireSiteAccess(c, slug, "read");
      const db = c.get("db");
      const row = await findSite(db, slug);
      c.header("etag", etagOf(row));
      return c.json(await view(db, row), 200);
    },
  )
  .openapi(
    createRoute({ method: "patch", path: "/sites/{site}", tags, security, summary: "Update a site (honours If-Match)", request: { params: SiteParam, ...jsonBody(SitePatch) }, responses: { 200: jsonContent(SiteView, "Updated"), ...errors } }),
    async (c) => {
      const { site: slug } = c.req.valid("param");
      const principal = requireSiteAccess(c, slug, "write");
      const patch = c.req.valid("json");
      requireValidTemplates({ vendorData: patch.vendorData });
      requireValidFiles(patch.files);
      const db = c.get("db");
      const row = await findSite(db, slug);
      checkIfMatch(c.req.header("if-match"), etagOf(row));
      // `open` lets anyone who reaches the API fetch any host's chain, tokens and secrets, global ones its profiles
      // name included: a careless site token must not expose what only admin may hand out.
      if (patch.bootAuth === "open" && row.bootAuth !== "open" && !isAdmin(principal.scopes)) {
        throw new ApiError("forbidden", "bootAuth open serves every host's chain and secrets to anyone: only an admin token may set it", { field: "bootAuth" });
      }
      // Site templates reach only the site's and its hosts' secrets, whoever writes them (admin included).
      await requireSiteSecretScope(db, row, { vendorData: patch.vendorData });
      await requireSiteFileScope(db, row, patch.files);
      if (patch.vendorData !== undefined || patch.vars !== undefined || patch.files !== undefined) {
        const { defaultProfile: _d, vendorData, vars, files } = patch;
        const site = { id: row.id, ...(vendorData === undefined ? {} : { vendorData }), ...(vars === undefined ? {} : { vars }), ...(files === undefined ? {} : { files }) };
        await requireRenderable({ db, env: c.get("env"), base: apiBase(c.get("env").PUBLIC_URL, c.req.url), lineField: "cmdline", overrides: { site } }, hostsOfSite(row.id));
      }

      const { defaultProfile, ...fields } = patch;
      const defaultProfileId = defaultProfile === undefined ? row.defaultProfileId : defaultProfile === null ? null : await profileId(db, defaultProfile, "defaultProfile");
      checkPolicy(patch.unknownHostPolicy ?? row.unknownHostPolicy, defaultProfileId);

      const [updated] = await db.batch([
        db
          .update(sites)
          .set({ ...fields, defaultProfileId, revision: row.revision + 1, updatedAt: Date.now() })
          .where(and(eq(sites.id, row.id), eq(sites.revision, row.revision), profileExists(defaultProfileId)))
          .returning(),
        auditIfChanged(db, { actor: principal.name, action: "site.update", resource: "site", resourceId: row.id, siteId: row.id, detail: { fields: Object.keys(patch).sort() } }),
      ]);
      if (!updated[0]) throw concurrentChange();
      c.header("etag", etagOf(updated[0]));
      return c.json(await view(db, updated[0]), 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/sites/{site}",
      tags,
      security,
      summary: "Delete a site (admin). Refused while it has hosts or active relays unless ?force=true, which deletes them too",
      request: { params: SiteParam, query: DeleteQuery },
      responses: { ...noContent, ...errors },
    }),
    async (c) => {
      const { site: slug } = c.req.valid("param");
      const force = ["true", "1"].includes(c.req.valid("query").force ?? "false");
      const principal = requireAdmin(c);
      const db = c.get("db");
      const row = await findSite(db, slug);
      checkIfMatch(c.req.header("if-match"), etagOf(row));
      // Evaluated inside the DELETE, so a host added after our check still protects the site.
      const empty = sql`not exists (select 1 from ${hosts} where ${hosts.siteId} = ${row.id})
        and not exists (select 1 from ${relays} where ${relays.siteId} = ${row.id} and ${relays.revokedAt} is null)`;
      const [deleted] = await db.batch([
        db
          .delete(sites)
          .where(and(eq(sites.id, row.id), eq(sites.revision, row.revision), force ? undefined : empty))
          .returning({ id: sites.id }),
        auditIfChanged(db, { actor: principal.name, action: "site.delete", resource: "site", resourceId: row.id, siteId: row.id, detail: { slug, force } }),
      ]);
      if (!deleted[0]) {
        const [inUse] = await db.select({ id: hosts.id }).from(hosts).where(eq(hosts.siteId, row.id)).limit(1);
        const [relay] = await db.select({ id: relays.id }).from(relays).where(and(eq(relays.siteId, row.id), isNull(relays.revokedAt))).limit(1);
        if (inUse || relay) throw new ApiError("conflict", "site still has hosts or active relays; delete them first or pass ?force=true", { site: slug });
        throw concurrentChange();
      }
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/sites/{site}/boot-key",
      tags,
      security,
      summary: "Generate (or rotate) the site's boot key for bootAuth \"key\"; returned once",
      request: { params: SiteParam },
      responses: {
        201: jsonContent(
          z.object({ site: z.string(), secret: z.string(), bootKey: z.string().openapi({ deprecated: true, description: "same as secret (older name)" }) }),
          "The new key in `secret` (the shown-once field of every route); store it now, it is not shown again",
        ),
        ...errors,
      },
    }),
    async (c) => {
      const { site: slug } = c.req.valid("param");
      const principal = requireSiteAccess(c, slug, "write");
      const db = c.get("db");
      const row = await findSite(db, slug);
      checkIfMatch(c.req.header("if-match"), etagOf(row));
      const bootKey = randomSecret("ebk");
      const [updated] = await db.batch([
        db
          .update(sites)
          .set({ bootKeyHash: await sha256Hex(bootKey), revision: row.revision + 1, updatedAt: Date.now() })
          .where(and(eq(sites.id, row.id), eq(sites.revision, row.revision)))
          .returning({ revision: sites.revision }),
        auditIfChanged(db, { actor: principal.name, action: "site.boot_key.rotate", resource: "site", resourceId: row.id, siteId: row.id, detail: { rotated: row.bootKeyHash !== null } }),
      ]);
      if (!updated[0]) throw concurrentChange();
      c.header("cache-control", "no-store");
      c.header("etag", etagOf({ id: row.id, revision: updated[0].revision }));
      return c.json({ site: slug, secret: bootKey, bootKey }, 201);
    },
  );
