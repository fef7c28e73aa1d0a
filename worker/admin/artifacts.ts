import { and, asc, eq, gt } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import { requireAdmin, requireCatalogueAccess } from "../auth/bearer.ts";
import type { AppEnv } from "../context.ts";
import { artifacts } from "../db/schema.ts";
import { ApiError, notFound } from "../errors.ts";
import { bodyStream, requireContentLength, uploadContentType, zv } from "../artifacts/http.ts";
import { abortUpload, completeUpload, createUpload, MULTIPART_LIMITS, uploadPart } from "../artifacts/multipart.ts";
import { imagesByArtifact } from "../artifacts/refs.ts";
import { collectGarbage, deleteArtifact } from "../artifacts/remove.ts";
import { findArtifact, toView } from "../artifacts/rows.ts";
import { Sha256 } from "../artifacts/store.ts";
import { MAX_SINGLE_PUT_BYTES, putArtifact } from "../artifacts/upload.ts";

export const ShaParam = z.object({ sha256: Sha256 });
export const UploadParam = ShaParam.extend({ uploadId: z.string().min(1).max(1024) });
export const PartParam = UploadParam.extend({ partNumber: z.coerce.number().int().min(1).max(MULTIPART_LIMITS.maxParts) });
export const ListQuery = z.object({
  state: z.enum(["ready", "pending"]).default("ready"),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: Sha256.optional(),
});
export const GcQuery = z.object({ dryRun: z.enum(["0", "1", "true", "false"]).optional() });
export const CompleteBody = z.object({
  parts: z
    .array(z.object({ partNumber: z.number().int().min(1).max(MULTIPART_LIMITS.maxParts), etag: z.string().min(1).max(256) }))
    .min(1)
    .max(MULTIPART_LIMITS.maxParts),
});

// `/v1/artifacts`: content-addressed uploads (single PUT or multipart), metadata, delete and garbage collection.
// Artifacts are shared by every site: any token reads them, writes need an admin token.
export const artifactsAdmin = new Hono<AppEnv>()
  .get("/artifacts", zv("query", ListQuery), async (c) => {
    requireCatalogueAccess(c, "read");
    const { state, limit, cursor } = c.req.valid("query");
    const db = c.get("db");
    const rows = await db
      .select()
      .from(artifacts)
      .where(and(eq(artifacts.state, state), cursor ? gt(artifacts.sha256, cursor) : undefined))
      .orderBy(asc(artifacts.sha256))
      .limit(limit + 1);
    const refs = await imagesByArtifact(db);
    const page = rows.slice(0, limit);
    return c.json({
      artifacts: page.map((row) => ({ ...toView(row), images: refs.get(row.sha256) ?? [] })),
      nextCursor: rows.length > limit ? (page.at(-1)?.sha256 ?? null) : null,
    });
  })
  .post("/artifacts/gc", zv("query", GcQuery), async (c) => {
    const principal = requireAdmin(c);
    const dryRun = ["1", "true"].includes(c.req.valid("query").dryRun ?? "0");
    const report = await collectGarbage(c.get("db"), c.get("env").ARTIFACTS, { dryRun, now: Date.now(), actor: actorOf(principal) });
    return c.json(report);
  })
  // HEAD is answered by this route too (Hono drops the body): 200 only for ready artifacts.
  .get("/artifacts/:sha256", zv("param", ShaParam), async (c) => {
    requireCatalogueAccess(c, "read");
    const { sha256 } = c.req.valid("param");
    const db = c.get("db");
    const row = await findArtifact(db, sha256);
    if (!row) throw notFound("artifact", { sha256 });
    if (row.state !== "ready") throw new ApiError("not_found", "artifact upload not completed", { sha256, state: row.state, uploadId: row.uploadId });
    return c.json({ artifact: { ...toView(row), images: (await imagesByArtifact(db)).get(sha256) ?? [] } });
  })
  .put("/artifacts/:sha256", zv("param", ShaParam), async (c) => {
    const principal = requireAdmin(c);
    const { sha256 } = c.req.valid("param");
    const size = requireContentLength(c, MAX_SINGLE_PUT_BYTES);
    const result = await putArtifact(c.get("db"), c.get("env").ARTIFACTS, {
      sha256,
      body: bodyStream(c),
      size,
      contentType: uploadContentType(c),
      actor: actorOf(principal),
    });
    return c.json({ artifact: result.artifact }, result.created ? 201 : 200);
  })
  .delete("/artifacts/:sha256", zv("param", ShaParam), async (c) => {
    const principal = requireAdmin(c);
    await deleteArtifact(c.get("db"), c.get("env").ARTIFACTS, { sha256: c.req.valid("param").sha256, actor: actorOf(principal) });
    return c.body(null, 204);
  })
  .post("/artifacts/:sha256/uploads", zv("param", ShaParam), async (c) => {
    requireAdmin(c);
    const { sha256 } = c.req.valid("param");
    const result = await createUpload(c.get("db"), c.get("env").ARTIFACTS, { sha256, contentType: uploadContentType(c), now: Date.now() });
    if (result.kind === "exists") return c.json({ exists: true, artifact: result.artifact }, 200);
    return c.json({ exists: false, sha256, uploadId: result.uploadId, limits: MULTIPART_LIMITS }, 201);
  })
  .put("/artifacts/:sha256/uploads/:uploadId/parts/:partNumber", zv("param", PartParam), async (c) => {
    requireAdmin(c);
    const { sha256, uploadId, partNumber } = c.req.valid("param");
    requireContentLength(c, MULTIPART_LIMITS.maxPartBytes);
    const part = await uploadPart(c.get("db"), c.get("env").ARTIFACTS, { sha256, uploadId, partNumber, body: bodyStream(c) });
    return c.json({ partNumber: part.partNumber, etag: part.etag });
  })
  .post("/artifacts/:sha256/uploads/:uploadId/complete", zv("param", UploadParam), zv("json", CompleteBody), async (c) => {
    const principal = requireAdmin(c);
    const { sha256, uploadId } = c.req.valid("param");
    const parts = [...c.req.valid("json").parts].sort((a, b) => a.partNumber - b.partNumber);
    if (parts.some((p, i) => i > 0 && parts[i - 1]?.partNumber === p.partNumber)) throw new ApiError("invalid_input", "part numbers must be unique");
    const result = await completeUpload(c.get("db"), c.get("env").ARTIFACTS, { sha256, uploadId, parts, actor: actorOf(principal) });
    return c.json({ artifact: result.artifact }, result.created ? 201 : 200);
  })
  .delete("/artifacts/:sha256/uploads/:uploadId", zv("param", UploadParam), async (c) => {
    requireAdmin(c);
    const { sha256, uploadId } = c.req.valid("param");
    await abortUpload(c.get("db"), c.get("env").ARTIFACTS, { sha256, uploadId });
    return c.body(null, 204);
  });

const actorOf = (principal: { name: string }) => principal.name;
