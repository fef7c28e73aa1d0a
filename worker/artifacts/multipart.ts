import { and, eq, lt } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { artifacts } from "../db/schema.ts";
import { ApiError } from "../errors.ts";
import { hashObject } from "./verify.ts";
import { auditArtifact, findArtifact, pendingUpload, toView, type ArtifactView } from "./rows.ts";
import { ignoreNoSuchUpload, R2_ENTITY_TOO_SMALL, R2_INVALID_PART, R2_NO_SUCH_UPLOAD, r2ErrorCode, uploadNotFound } from "./r2errors.ts";
import { uploadInProgress } from "./upload.ts";
import { artifactKey } from "./store.ts";

// Multipart uploads write the final key directly. The pending row is the lock: one writer per hash, and
// serveArtifact ignores pending rows, so bytes are usable only after complete() has hashed them.
export const MULTIPART_LIMITS = { minPartBytes: 5 * 1024 ** 2, maxPartBytes: 5 * 1024 ** 3, maxParts: 10_000 };
// An upload left open this long is abandoned: a new one may take the lock, and GC removes it.
export const STALE_UPLOAD_MS = 24 * 3600_000;

export type CreateUploadResult = { kind: "exists"; artifact: ArtifactView } | { kind: "created"; uploadId: string };

export async function createUpload(
  db: Db,
  bucket: R2Bucket,
  input: { sha256: string; contentType: string; now: number },
): Promise<CreateUploadResult> {
  const { sha256 } = input;
  const key = artifactKey(sha256);
  const existing = await findArtifact(db, sha256);
  if (existing?.state === "ready") return { kind: "exists", artifact: toView(existing) };
  if (existing) {
    if (existing.createdAt > input.now - STALE_UPLOAD_MS) throw uploadInProgress(sha256, existing.uploadId);
    if (existing.uploadId) await ignoreNoSuchUpload(bucket.resumeMultipartUpload(key, existing.uploadId).abort());
    await db.delete(artifacts).where(and(eq(artifacts.sha256, sha256), eq(artifacts.state, "pending"), lt(artifacts.createdAt, input.now - STALE_UPLOAD_MS)));
  }

  const upload = await bucket.createMultipartUpload(key, { httpMetadata: { contentType: input.contentType } });
  const [claimed] = await db
    .insert(artifacts)
    .values({ sha256, size: 0, contentType: input.contentType, state: "pending", uploadId: upload.uploadId })
    .onConflictDoNothing()
    .returning();
  if (!claimed) {
    await ignoreNoSuchUpload(upload.abort());
    const now = await findArtifact(db, sha256);
    if (now?.state === "ready") return { kind: "exists", artifact: toView(now) };
    throw uploadInProgress(sha256, now?.uploadId ?? null);
  }
  return { kind: "created", uploadId: upload.uploadId };
}

async function requirePending(db: Db, sha256: string, uploadId: string) {
  const row = await findArtifact(db, sha256);
  if (!row || row.state !== "pending" || row.uploadId !== uploadId) throw uploadNotFound(sha256, uploadId);
  return row;
}

export async function uploadPart(
  db: Db,
  bucket: R2Bucket,
  input: { sha256: string; uploadId: string; partNumber: number; body: ReadableStream<Uint8Array> },
): Promise<R2UploadedPart> {
  try {
    await requirePending(db, input.sha256, input.uploadId);
  } catch (err) {
    await input.body.cancel();
    throw err;
  }
  try {
    return await bucket.resumeMultipartUpload(artifactKey(input.sha256), input.uploadId).uploadPart(input.partNumber, input.body);
  } catch (err) {
    if (r2ErrorCode(err) === R2_NO_SUCH_UPLOAD) throw uploadNotFound(input.sha256, input.uploadId);
    throw err;
  }
}

export type CompleteResult = { created: boolean; artifact: ArtifactView };

// R2 has no whole-object checksum for multipart objects, so the completed object is hashed here (streamed through
// DigestStream: CPU cost ≈ one SHA-256 pass over the object) before its row turns ready; a mismatch deletes it.
export async function completeUpload(
  db: Db,
  bucket: R2Bucket,
  input: { sha256: string; uploadId: string; parts: R2UploadedPart[]; actor: string },
): Promise<CompleteResult> {
  const { sha256, uploadId } = input;
  const row = await findArtifact(db, sha256);
  // A retried complete after a lost response finds the artifact ready: answer as a repeat upload would.
  if (row?.state === "ready") return { created: false, artifact: toView(row) };
  if (!row || row.uploadId !== uploadId) throw uploadNotFound(sha256, uploadId);

  const key = artifactKey(sha256);
  let object: R2Object;
  try {
    object = await bucket.resumeMultipartUpload(key, uploadId).complete(input.parts);
  } catch (err) {
    const code = r2ErrorCode(err);
    if (code === R2_NO_SUCH_UPLOAD) throw uploadNotFound(sha256, uploadId);
    if (code === R2_INVALID_PART) throw new ApiError("invalid_input", "one or more parts were not found; check part numbers and etags", { uploadId });
    if (code === R2_ENTITY_TOO_SMALL) {
      throw new ApiError("invalid_input", `every part but the last must be at least ${MULTIPART_LIMITS.minPartBytes} bytes`, { uploadId });
    }
    throw err;
  }

  const actual = await hashObject(bucket, key);
  if (actual !== sha256) {
    await bucket.delete(key);
    await db.delete(artifacts).where(pendingUpload(sha256, uploadId));
    throw new ApiError("hash_mismatch", "the uploaded parts do not match the SHA-256 in the URL; the object was deleted", {
      expected: sha256,
      actual,
    });
  }

  const [ready] = await db.batch([
    db
      .update(artifacts)
      .set({ state: "ready", size: object.size, uploadId: null })
      .where(pendingUpload(sha256, uploadId))
      .returning(),
    auditArtifact(db, input.actor, "artifact.upload", sha256, { size: object.size, method: "multipart", parts: input.parts.length }),
  ]);
  if (!ready[0]) throw uploadNotFound(sha256, uploadId);
  return { created: true, artifact: toView(ready[0]) };
}

export async function abortUpload(db: Db, bucket: R2Bucket, input: { sha256: string; uploadId: string }): Promise<void> {
  await requirePending(db, input.sha256, input.uploadId);
  await ignoreNoSuchUpload(bucket.resumeMultipartUpload(artifactKey(input.sha256), input.uploadId).abort());
  await db.delete(artifacts).where(pendingUpload(input.sha256, input.uploadId));
}
