import { and, eq, inArray, lt, or, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { artifacts, images } from "../db/schema.ts";
import { ApiError, notFound } from "../errors.ts";
import { audit } from "../db/queries/audit.ts";
import { auditArtifact, findArtifact } from "./rows.ts";
import { ignoreNoSuchUpload } from "./r2errors.ts";
import { imagesByArtifact } from "./refs.ts";
import { STALE_UPLOAD_MS } from "./multipart.ts";
import { ARTIFACT_PREFIX, artifactKey } from "./store.ts";

// Guard evaluated inside the DELETE itself, so an image created after our reference check still protects its
// artifacts. A 64-hex hash cannot occur in image JSON by accident, so a substring test is an exact test.
const unreferenced = sql`not exists (select 1 from ${images} where instr(${images.artifacts}, ${artifacts.sha256}) > 0)`;

export async function deleteArtifact(db: Db, bucket: R2Bucket, input: { sha256: string; actor: string }): Promise<void> {
  const { sha256 } = input;
  const row = await findArtifact(db, sha256);
  if (!row) throw notFound("artifact", { sha256 });
  const refs = (await imagesByArtifact(db)).get(sha256);
  if (refs?.length) throw new ApiError("conflict", "artifact is referenced by images; remove it from them first", { sha256, images: refs });

  const [deleted] = await db.batch([
    db.delete(artifacts).where(and(eq(artifacts.sha256, sha256), unreferenced)).returning({ sha256: artifacts.sha256 }),
    auditArtifact(db, input.actor, "artifact.delete", sha256, { size: row.size, state: row.state }),
  ]);
  if (!deleted[0]) throw new ApiError("conflict", "artifact became referenced by an image", { sha256 });
  // Row first, then bytes: a moment of object-without-row is harmless, the reverse is not.
  if (row.uploadId) await ignoreNoSuchUpload(bucket.resumeMultipartUpload(artifactKey(sha256), row.uploadId).abort());
  await bucket.delete(artifactKey(sha256));
}

export type GcEntry = { sha256: string; size: number; reason: "unreferenced" | "stale_upload" | "orphan_object" };
export type GcReport = { dryRun: boolean; deleted: GcEntry[]; freedBytes: number };

// An object younger than this may belong to a PUT whose row is being written right now.
export const ORPHAN_GRACE_MS = 3600_000;
const MAX_LIST_PAGES = 100;
// D1 allows 100 bound parameters per statement.
const CHUNK = 90;

export async function collectGarbage(db: Db, bucket: R2Bucket, input: { dryRun: boolean; now: number; actor: string }): Promise<GcReport> {
  const refs = await imagesByArtifact(db);
  const rows = await db.select().from(artifacts);
  const known = new Set(rows.map((r) => r.sha256));
  const candidates: GcEntry[] = [];
  for (const row of rows) {
    if (row.state === "ready" && !refs.has(row.sha256)) candidates.push({ sha256: row.sha256, size: row.size, reason: "unreferenced" });
    if (row.state === "pending" && row.createdAt < input.now - STALE_UPLOAD_MS) candidates.push({ sha256: row.sha256, size: row.size, reason: "stale_upload" });
  }
  const orphans: GcEntry[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_LIST_PAGES; page++) {
    const listed = await bucket.list({ prefix: ARTIFACT_PREFIX, ...(cursor ? { cursor } : {}) });
    for (const obj of listed.objects) {
      const sha256 = obj.key.slice(ARTIFACT_PREFIX.length);
      if (!known.has(sha256) && obj.uploaded.getTime() < input.now - ORPHAN_GRACE_MS) orphans.push({ sha256, size: obj.size, reason: "orphan_object" });
    }
    if (!listed.truncated) break;
    cursor = listed.cursor;
  }

  if (input.dryRun) {
    const deleted = [...candidates, ...orphans];
    return { dryRun: true, deleted, freedBytes: deleted.reduce((n, e) => n + e.size, 0) };
  }

  const removed = new Set<string>();
  for (let i = 0; i < candidates.length; i += CHUNK) {
    const chunk = candidates.slice(i, i + CHUNK);
    const ready = chunk.filter((c) => c.reason === "unreferenced").map((c) => c.sha256);
    const stale = chunk.filter((c) => c.reason === "stale_upload").map((c) => c.sha256);
    const [gone] = await db.batch([
      db
        .delete(artifacts)
        .where(
          or(
            and(inArray(artifacts.sha256, ready.length ? ready : [""]), eq(artifacts.state, "ready"), unreferenced),
            and(inArray(artifacts.sha256, stale.length ? stale : [""]), eq(artifacts.state, "pending"), lt(artifacts.createdAt, input.now - STALE_UPLOAD_MS)),
          ),
        )
        .returning({ sha256: artifacts.sha256, uploadId: artifacts.uploadId }),
      auditArtifact(db, input.actor, "artifact.gc", null, { candidates: chunk.map((c) => c.sha256) }),
    ]);
    for (const row of gone) {
      removed.add(row.sha256);
      if (row.uploadId) await ignoreNoSuchUpload(bucket.resumeMultipartUpload(artifactKey(row.sha256), row.uploadId).abort());
    }
  }
  // An upload may have given an orphan its row since the listing: check again right before deleting bytes.
  const orphansLeft: GcEntry[] = [];
  for (let i = 0; i < orphans.length; i += CHUNK) {
    const chunk = orphans.slice(i, i + CHUNK);
    const claimed = new Set(
      (await db.select({ sha256: artifacts.sha256 }).from(artifacts).where(inArray(artifacts.sha256, chunk.map((o) => o.sha256)))).map((r) => r.sha256),
    );
    orphansLeft.push(...chunk.filter((o) => !claimed.has(o.sha256)));
  }
  if (orphansLeft.length) await audit(db, { actor: input.actor, action: "artifact.gc", resource: "artifact", resourceId: null, detail: { orphanObjects: orphansLeft.map((o) => o.sha256) } });
  const deleted = [...candidates.filter((c) => removed.has(c.sha256)), ...orphansLeft];
  const keys = deleted.map((e) => artifactKey(e.sha256));
  for (let i = 0; i < keys.length; i += 1000) await bucket.delete(keys.slice(i, i + 1000));
  return { dryRun: false, deleted, freedBytes: deleted.reduce((n, e) => n + e.size, 0) };
}
