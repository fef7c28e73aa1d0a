import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq, sql } from "drizzle-orm";
import { requireAdmin, requireCatalogueAccess } from "../auth/bearer.ts";
import { imageArtifactHashes } from "../artifacts/refs.ts";
import { ROLE_NAME } from "../artifacts/roles.ts";
import { requireRolesKept } from "./roleRefs.ts";
import type { Db } from "../db/client.ts";
import { audit, auditIfChanged } from "../db/queries/audit.ts";
import { requireReadyArtifacts } from "../db/queries/catalogue.ts";
import { images, profiles } from "../db/schema.ts";
import { ApiError, notFound } from "../errors.ts";
import { checkIfMatch, concurrentChange, etagOf } from "../lib/etag.ts";
import { afterKey, decodeCursor, PageQuery, toPage } from "../lib/pagination.ts";
import { adminRouter, errors, jsonBody, jsonContent, noContent, security } from "./openapi.ts";
import { Arch, CatalogueName, Sha256, Timestamp } from "./schemas.ts";

type ImageRow = typeof images.$inferSelect;

// Artifacts by role (artifacts/roles.ts): iPXE loads kernel, initrd[] and store; the OS fetches the others (rootfs,
// modloop, apkovl, any other name) from `{{ boot.artifacts.<role> }}`.
const Artifacts = z
  .object({
    kernel: Sha256,
    initrd: z.array(Sha256).max(16).default([]),
    store: Sha256.optional(),
    rootfs: Sha256.optional(),
    modloop: Sha256.optional(),
    apkovl: Sha256.optional(),
  })
  .catchall(z.union([Sha256, z.array(Sha256).max(16)]))
  .refine((a) => Object.keys(a).every((k) => ROLE_NAME.test(k)), "artifact roles are 1-32 of a-z, 0-9, '_' or '-'")
  .refine((a) => Object.keys(a).length <= 16, "at most 16 artifact roles")
  .openapi("ImageArtifacts", { example: { kernel: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", initrd: [] } });

const ImageCreate = z.strictObject({ name: CatalogueName, arch: Arch, version: z.string().max(128).default(""), artifacts: Artifacts }).openapi("ImageCreate");
// Name and arch identify the row; what changes between releases is the version and the artifacts.
const ImagePatch = z.strictObject({ version: z.string().max(128), artifacts: Artifacts }).partial().openapi("ImagePatch");

const ImageView = z
  .object({ id: z.string(), name: z.string(), arch: z.string(), version: z.string(), artifacts: z.record(z.string(), z.unknown()), revision: z.number(), createdAt: Timestamp, updatedAt: Timestamp })
  .openapi("Image");

const ImageParam = z.object({ image: CatalogueName });
const ArchQuery = z.object({ arch: Arch.optional() });
const ListQuery = PageQuery.extend({ name: CatalogueName.optional() });
const tags = ["images"];

const toView = (row: ImageRow): z.infer<typeof ImageView> => ({
  id: row.id,
  name: row.name,
  arch: row.arch,
  version: row.version,
  artifacts: row.artifacts,
  revision: row.revision,
  createdAt: iso(row.createdAt),
  updatedAt: iso(row.updatedAt),
});
const iso = (ms: number) => new Date(ms).toISOString();

// An image has one row per architecture: ?arch= picks one, and may be left out when there is only one.
export async function resolveImage(db: Db, name: string, arch: string | undefined): Promise<ImageRow> {
  const rows = await db
    .select()
    .from(images)
    .where(and(eq(images.name, name), arch ? eq(images.arch, arch) : undefined));
  if (rows.length === 0) throw notFound("image", { image: name, arch: arch ?? null });
  if (rows.length > 1) throw new ApiError("invalid_input", "image exists for several architectures; pass ?arch=", { arches: rows.map((r) => r.arch) });
  return rows[0]!;
}

// Profiles name images without an arch, so only the last row of a name is protected by them. Evaluated inside
// the DELETE so a profile created after our check still protects the image.
const deletable = (row: ImageRow) => sql`(not exists (select 1 from ${profiles} where ${profiles.image} = ${row.name})
  or exists (select 1 from ${images} other where other.name = ${row.name} and other.id != ${row.id}))`;

export const imagesAdmin = adminRouter()
  .openapi(
    createRoute({ method: "get", path: "/images", tags, security, summary: "List image rows by name and arch (?name= filters)", request: { query: ListQuery }, responses: { 200: jsonContent(z.object({ items: z.array(ImageView), nextCursor: z.string().nullable() }), "Images"), ...errors } }),
    async (c) => {
      requireCatalogueAccess(c, "read");
      const { limit, cursor, name } = c.req.valid("query");
      const rows = await c
        .get("db")
        .select()
        .from(images)
        .where(and(name ? eq(images.name, name) : undefined, afterKey([sql`${images.name}`, sql`${images.arch}`], decodeCursor(cursor, 2))))
        .orderBy(asc(images.name), asc(images.arch))
        .limit(limit + 1);
      return c.json(toPage(rows, limit, (r) => [r.name, r.arch], toView), 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/images",
      tags,
      security,
      summary: "Create an image row for one arch (admin); every artifact must be uploaded first",
      request: jsonBody(ImageCreate),
      responses: { 201: jsonContent(ImageView, "Created"), ...errors },
    }),
    async (c) => {
      const principal = requireAdmin(c);
      const input = c.req.valid("json");
      const db = c.get("db");
      const [existing] = await db.select({ id: images.id }).from(images).where(and(eq(images.name, input.name), eq(images.arch, input.arch))).limit(1);
      if (existing) throw new ApiError("conflict", `image "${input.name}" already exists for ${input.arch}`, { image: input.name, arch: input.arch });
      await requireReadyArtifacts(db, imageArtifactHashes(input.artifacts));
      await requireRolesKept(db, input, input.artifacts);
      const id = crypto.randomUUID();
      const [[row]] = await db.batch([
        db.insert(images).values({ ...input, id }).returning(),
        audit(db, { actor: principal.name, action: "image.create", resource: "image", resourceId: id, detail: { name: input.name, arch: input.arch, version: input.version } }),
      ]);
      c.header("etag", etagOf(row!));
      c.header("location", `/v1/images/${row!.name}?arch=${row!.arch}`);
      return c.json(toView(row!), 201);
    },
  )
  .openapi(
    createRoute({ method: "get", path: "/images/{image}", tags, security, summary: "Get an image row (?arch= when it has several; ETag = revision)", request: { params: ImageParam, query: ArchQuery }, responses: { 200: jsonContent(ImageView, "The image"), ...errors } }),
    async (c) => {
      requireCatalogueAccess(c, "read");
      const row = await resolveImage(c.get("db"), c.req.valid("param").image, c.req.valid("query").arch);
      c.header("etag", etagOf(row));
      return c.json(toView(row), 200);
    },
  )
  .openapi(
    createRoute({ method: "patch", path: "/images/{image}", tags, security, summary: "Update an image row's version or artifacts (admin; honours If-Match)", request: { params: ImageParam, query: ArchQuery, ...jsonBody(ImagePatch) }, responses: { 200: jsonContent(ImageView, "Updated"), ...errors } }),
    async (c) => {
      const principal = requireAdmin(c);
      const patch = c.req.valid("json");
      const db = c.get("db");
      const row = await resolveImage(db, c.req.valid("param").image, c.req.valid("query").arch);
      checkIfMatch(c.req.header("if-match"), etagOf(row));
      if (patch.artifacts) {
        await requireReadyArtifacts(db, imageArtifactHashes(patch.artifacts));
        await requireRolesKept(db, row, patch.artifacts);
      }
      const [updated] = await db.batch([
        db
          .update(images)
          .set({ ...patch, revision: row.revision + 1, updatedAt: Date.now() })
          .where(and(eq(images.id, row.id), eq(images.revision, row.revision)))
          .returning(),
        auditIfChanged(db, { actor: principal.name, action: "image.update", resource: "image", resourceId: row.id, detail: { name: row.name, arch: row.arch, fields: Object.keys(patch).sort() } }),
      ]);
      if (!updated[0]) throw concurrentChange();
      c.header("etag", etagOf(updated[0]));
      return c.json(toView(updated[0]), 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/images/{image}",
      tags,
      security,
      summary: "Delete an image row (admin); 409 when it is the last row of a name a profile uses",
      request: { params: ImageParam, query: ArchQuery },
      responses: { ...noContent, ...errors },
    }),
    async (c) => {
      const principal = requireAdmin(c);
      const db = c.get("db");
      const row = await resolveImage(db, c.req.valid("param").image, c.req.valid("query").arch);
      checkIfMatch(c.req.header("if-match"), etagOf(row));
      const [deleted] = await db.batch([
        db
          .delete(images)
          .where(and(eq(images.id, row.id), eq(images.revision, row.revision), deletable(row)))
          .returning({ id: images.id }),
        auditIfChanged(db, { actor: principal.name, action: "image.delete", resource: "image", resourceId: row.id, detail: { name: row.name, arch: row.arch } }),
      ]);
      if (!deleted[0]) {
        const users = await db.select({ name: profiles.name }).from(profiles).where(eq(profiles.image, row.name));
        if (users.length) throw new ApiError("conflict", `image "${row.name}" is used by profiles`, { image: row.name, profiles: users.map((p) => p.name) });
        throw concurrentChange();
      }
      return c.body(null, 204);
    },
  );
