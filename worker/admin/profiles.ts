import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq, sql } from "drizzle-orm";
import { requireAdmin, requireCatalogueAccess } from "../auth/bearer.ts";
import type { Db } from "../db/client.ts";
import { audit, auditIfChanged } from "../db/queries/audit.ts";
import { profileIds, requireImageName } from "../db/queries/catalogue.ts";
import { assignmentRules, type ConfigFiles, hosts, type IpxeMenu, profiles, sites } from "../db/schema.ts";
import { ConfigFile, ConfigFilesInput, requireValidFiles } from "./files.ts";
import { ApiError, notFound } from "../errors.ts";
import { checkIfMatch, concurrentChange, etagOf } from "../lib/etag.ts";
import { afterKey, decodeCursor, PageQuery, toPage } from "../lib/pagination.ts";
import { adminRouter, errors, jsonBody, jsonContent, noContent, security } from "./openapi.ts";
import { CatalogueName, Document, iso, Timestamp, Vars } from "./schemas.ts";
import { apiBase } from "../boot/urls.ts";
import { hostsOfProfile, requireRenderable } from "./renderCheck.ts";
import { requireValidTemplates } from "./templates.ts";
import { requireImageRoles } from "./roleRefs.ts";

type ProfileRow = typeof profiles.$inferSelect;

// Menu items boot a profile by name or "local"; keys are single characters iPXE binds (`item --key`).
const MenuItem = z.strictObject({
  key: z.string().regex(/^[a-z0-9]$/, "a menu key is one lower-case letter or digit").optional(),
  label: z.string().min(1).max(80).regex(/^[^\r\n]*$/, "labels are one line"),
  target: z.union([CatalogueName, z.literal("local")]),
});
const Menu = z
  .strictObject({
    title: z.string().max(80).regex(/^[^\r\n]*$/, "the title is one line").optional(),
    timeoutMs: z.number().int().min(0).max(3_600_000).optional(),
    defaultItem: z.string().min(1).max(64).optional(),
    items: z.array(MenuItem).min(1).max(32),
  })
  .refine((m) => m.defaultItem === undefined || m.items.some((i) => i.target === m.defaultItem), { message: "defaultItem must be the target of one of the items", path: ["defaultItem"] })
  .refine((m) => new Set(m.items.map((i) => i.key).filter(Boolean)).size === m.items.filter((i) => i.key).length, { message: "menu keys must be unique", path: ["items"] })
  .openapi("IpxeMenu");

const ProfileFields = {
  description: z.string().max(1024).nullable(),
  image: CatalogueName.nullable(),
  cmdline: z.string().max(4096).regex(/^[^\r\n]*$/, "the kernel command line is one line"),
  menu: Menu.nullable(),
  userData: Document().nullable(),
  vendorData: Document().nullable(),
  networkConfig: Document().nullable(),
  vars: Vars,
  // Per-host config files (worker/admin/files.ts); a PATCH replaces the whole map.
  files: ConfigFilesInput,
  // false: no ds=nocloud… (nor network-config=) on the kernel line, for profiles that do not use cloud-init.
  nocloud: z.boolean(),
};
const ProfileCreate = z.strictObject({ name: CatalogueName, ...ProfileFields }).partial().required({ name: true }).openapi("ProfileCreate");
// The name is the profile's key in hosts, sites, intents and menus, so it cannot change.
const ProfilePatch = z.strictObject(ProfileFields).partial().openapi("ProfilePatch");

const ProfileView = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    image: z.string().nullable(),
    cmdline: z.string(),
    menu: z.unknown().nullable(),
    userData: z.string().nullable(),
    vendorData: z.string().nullable(),
    networkConfig: z.string().nullable(),
    vars: z.record(z.string(), z.unknown()),
    files: z.record(z.string(), ConfigFile),
    nocloud: z.boolean(),
    revision: z.number(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi("Profile");

const ProfileParam = z.object({ profile: CatalogueName });
const tags = ["profiles"];

const toView = (row: ProfileRow): z.infer<typeof ProfileView> => ({
  id: row.id,
  name: row.name,
  description: row.description,
  image: row.image,
  cmdline: row.cmdline,
  menu: row.menu,
  userData: row.userData,
  vendorData: row.vendorData,
  networkConfig: row.networkConfig,
  vars: row.vars,
  files: row.files,
  nocloud: row.nocloud,
  revision: row.revision,
  createdAt: iso(row.createdAt)!,
  updatedAt: iso(row.updatedAt)!,
});

async function findProfile(db: Db, name: string): Promise<ProfileRow> {
  const [row] = await db.select().from(profiles).where(eq(profiles.name, name)).limit(1);
  if (!row) throw notFound("profile", { profile: name });
  return row;
}

type Checked = {
  image?: string | null;
  menu?: IpxeMenu | null;
  cmdline?: string;
  userData?: string | null;
  vendorData?: string | null;
  networkConfig?: string | null;
  vars?: Record<string, unknown>;
  files?: ConfigFiles;
};

// References and templates are checked at save time, so a typo is a 400 now rather than a failed boot later.
// Profile templates may name global, site and host secrets: only admin writes profiles (boot/nocloud.ts SecretReach).
async function checkReferences(db: Db, input: Checked, self?: string) {
  requireValidTemplates({ cmdline: input.cmdline, userData: input.userData, vendorData: input.vendorData, networkConfig: input.networkConfig }, ["cmdline"]);
  requireValidFiles(input.files);
  if (input.image) await requireImageName(db, input.image, "image");
  const targets = (input.menu?.items ?? []).map((i) => i.target).filter((t) => t !== "local" && t !== self);
  if (targets.length) await profileIds(db, targets, "menu.items.target");
}

// A profile is in use while a site defaults to it, a host is assigned it or aims an intent at it, a menu lists it,
// or an assignment rule names it.
// Evaluated inside the DELETE so a reference added after our check still protects it.
const unused = (id: string, name: string) => sql`not exists (select 1 from ${hosts} where ${hosts.profileId} = ${id})
  and not exists (select 1 from ${sites} where ${sites.defaultProfileId} = ${id})
  and not exists (select 1 from ${assignmentRules} where ${assignmentRules.profileId} = ${id})
  and not exists (select 1 from ${hosts} where json_extract(${hosts.intent}, '$.target') = ${name})
  and not exists (select 1 from ${profiles} p, json_each(p.menu, '$.items') i where p.id != ${id} and json_extract(i.value, '$.target') = ${name})`;

async function usersOf(db: Db, id: string, name: string) {
  const [h] = await db.select({ n: sql<number>`count(*)` }).from(hosts).where(sql`${hosts.profileId} = ${id} or json_extract(${hosts.intent}, '$.target') = ${name}`);
  const [s] = await db.select({ n: sql<number>`count(*)` }).from(sites).where(eq(sites.defaultProfileId, id));
  const menus = await db.select({ name: profiles.name }).from(profiles).where(sql`${profiles.id} != ${id} and exists (select 1 from json_each(${profiles.menu}, '$.items') i where json_extract(i.value, '$.target') = ${name})`);
  const rules = await db.select({ name: assignmentRules.name, site: sites.slug }).from(assignmentRules).innerJoin(sites, eq(sites.id, assignmentRules.siteId)).where(eq(assignmentRules.profileId, id));
  return { hosts: h?.n ?? 0, sites: s?.n ?? 0, menus: menus.map((m) => m.name), rules: rules.map((r) => `${r.site}/${r.name}`) };
}

export const profilesAdmin = adminRouter()
  .openapi(
    createRoute({ method: "get", path: "/profiles", tags, security, summary: "List profiles by name", request: { query: PageQuery }, responses: { 200: jsonContent(z.object({ items: z.array(ProfileView), nextCursor: z.string().nullable() }), "Profiles"), ...errors } }),
    async (c) => {
      requireCatalogueAccess(c, "read");
      const { limit, cursor } = c.req.valid("query");
      const rows = await c
        .get("db")
        .select()
        .from(profiles)
        .where(afterKey([sql`${profiles.name}`], decodeCursor(cursor, 1)))
        .orderBy(asc(profiles.name))
        .limit(limit + 1);
      return c.json(toPage(rows, limit, (r) => [r.name], toView), 200);
    },
  )
  .openapi(
    createRoute({ method: "post", path: "/profiles", tags, security, summary: "Create a profile (admin)", request: jsonBody(ProfileCreate), responses: { 201: jsonContent(ProfileView, "Created"), ...errors } }),
    async (c) => {
      const principal = requireAdmin(c);
      const input = c.req.valid("json");
      const db = c.get("db");
      await checkReferences(db, input, input.name);
      await requireImageRoles(db, input);
      const [existing] = await db.select({ id: profiles.id }).from(profiles).where(eq(profiles.name, input.name)).limit(1);
      if (existing) throw new ApiError("conflict", `profile "${input.name}" already exists`, { profile: input.name });
      const id = crypto.randomUUID();
      const [[row]] = await db.batch([
        db.insert(profiles).values({ ...input, id }).returning(),
        audit(db, { actor: principal.name, action: "profile.create", resource: "profile", resourceId: id, detail: { name: input.name } }),
      ]);
      c.header("etag", etagOf(row!));
      c.header("location", `/v1/profiles/${row!.name}`);
      return c.json(toView(row!), 201);
    },
  )
  .openapi(
    createRoute({ method: "get", path: "/profiles/{profile}", tags, security, summary: "Get a profile (ETag = revision)", request: { params: ProfileParam }, responses: { 200: jsonContent(ProfileView, "The profile"), ...errors } }),
    async (c) => {
      requireCatalogueAccess(c, "read");
      const row = await findProfile(c.get("db"), c.req.valid("param").profile);
      c.header("etag", etagOf(row));
      return c.json(toView(row), 200);
    },
  )
  .openapi(
    createRoute({ method: "patch", path: "/profiles/{profile}", tags, security, summary: "Update a profile (admin; honours If-Match)", request: { params: ProfileParam, ...jsonBody(ProfilePatch) }, responses: { 200: jsonContent(ProfileView, "Updated"), ...errors } }),
    async (c) => {
      const principal = requireAdmin(c);
      const patch = c.req.valid("json");
      const db = c.get("db");
      const row = await findProfile(db, c.req.valid("param").profile);
      checkIfMatch(c.req.header("if-match"), etagOf(row));
      await checkReferences(db, patch, row.name);
      await requireImageRoles(db, { image: patch.image === undefined ? row.image : patch.image, cmdline: patch.cmdline ?? row.cmdline });
      // Every host the profile boots must still get a kernel line within budget and documents that render.
      const { menu, ...fields } = patch;
      await requireRenderable(
        { db, env: c.get("env"), base: apiBase(c.get("env").PUBLIC_URL, c.req.url), lineField: "cmdline", overrides: { profile: { ...fields, ...(menu === undefined ? {} : { menu }), id: row.id } } },
        hostsOfProfile(row),
      );
      const [updated] = await db.batch([
        db
          .update(profiles)
          .set({ ...patch, revision: row.revision + 1, updatedAt: Date.now() })
          .where(and(eq(profiles.id, row.id), eq(profiles.revision, row.revision)))
          .returning(),
        auditIfChanged(db, { actor: principal.name, action: "profile.update", resource: "profile", resourceId: row.id, detail: { name: row.name, fields: Object.keys(patch).sort() } }),
      ]);
      if (!updated[0]) throw concurrentChange();
      c.header("etag", etagOf(updated[0]));
      return c.json(toView(updated[0]), 200);
    },
  )
  .openapi(
    createRoute({ method: "delete", path: "/profiles/{profile}", tags, security, summary: "Delete a profile (admin); 409 while sites, hosts, intents, menus or assignment rules use it", request: { params: ProfileParam }, responses: { ...noContent, ...errors } }),
    async (c) => {
      const principal = requireAdmin(c);
      const db = c.get("db");
      const row = await findProfile(db, c.req.valid("param").profile);
      checkIfMatch(c.req.header("if-match"), etagOf(row));
      const [deleted] = await db.batch([
        db
          .delete(profiles)
          .where(and(eq(profiles.id, row.id), eq(profiles.revision, row.revision), unused(row.id, row.name)))
          .returning({ id: profiles.id }),
        auditIfChanged(db, { actor: principal.name, action: "profile.delete", resource: "profile", resourceId: row.id, detail: { name: row.name } }),
      ]);
      if (!deleted[0]) {
        const users = await usersOf(db, row.id, row.name);
        if (users.hosts || users.sites || users.menus.length || users.rules.length) throw new ApiError("conflict", `profile "${row.name}" is in use`, users);
        throw concurrentChange();
      }
      return c.body(null, 204);
    },
  );
