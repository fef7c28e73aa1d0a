import type { Db } from "../db/client.ts";
import { artifacts } from "../db/schema.ts";
import { ApiError } from "../errors.ts";
import { findArtifact, toView, auditArtifact, type ArtifactView } from "./rows.ts";
import { R2_CHECKSUM_MISMATCH, r2ErrorCode } from "./r2errors.ts";
import { artifactKey } from "./store.ts";

// R2's single-request upload limit; larger files must use multipart.
export const MAX_SINGLE_PUT_BYTES = 5 * 1024 ** 3 - 5 * 1024 ** 2;

export type UploadResult = { created: boolean; artifact: ArtifactView };

export function uploadInProgress(sha256: string, uploadId: string | null) {
  return new ApiError("conflict", "a multipart upload of this artifact is in progress; complete or abort it first", { sha256, uploadId });
}

// One request body streamed into R2 with the expected SHA-256: R2 verifies it and refuses to store other bytes,
// so a mismatch leaves neither an object nor a row. The row is written only after the object exists.
export async function putArtifact(
  db: Db,
  bucket: R2Bucket,
  input: { sha256: string; body: ReadableStream<Uint8Array>; size: number; contentType: string; actor: string },
): Promise<UploadResult> {
  const { sha256 } = input;
  const existing = await findArtifact(db, sha256);
  if (existing?.state === "ready") {
    // Already stored: the answer is 200 only for the same bytes. Another length is refused before the body is read;
    // the same length is hashed as it streams by (nothing is buffered or stored).
    if (input.size !== existing.size) {
      await input.body.cancel();
      throw new ApiError("hash_mismatch", "the body's length differs from the stored artifact with this SHA-256; nothing was changed", {
        expected: sha256,
        size: input.size,
        storedSize: existing.size,
      });
    }
    const actual = await streamSha256(input.body);
    if (actual !== sha256) {
      throw new ApiError("hash_mismatch", "the uploaded bytes do not match the SHA-256 in the URL; nothing was changed", { expected: sha256, actual });
    }
    return { created: false, artifact: toView(existing) };
  }
  if (existing) {
    await input.body.cancel();
    throw uploadInProgress(sha256, existing.uploadId);
  }

  try {
    await bucket.put(artifactKey(sha256), input.body, { sha256, httpMetadata: { contentType: input.contentType } });
  } catch (err) {
    if (r2ErrorCode(err) !== R2_CHECKSUM_MISMATCH) throw err;
    const actual = /Actual SHA-256 was: ([0-9a-f]{64})/i.exec((err as Error).message)?.[1]?.toLowerCase() ?? null;
    throw new ApiError("hash_mismatch", "the uploaded bytes do not match the SHA-256 in the URL; nothing was stored", {
      expected: sha256,
      actual,
    });
  }

  const [inserted] = await db.batch([
    db
      .insert(artifacts)
      .values({ sha256, size: input.size, contentType: input.contentType, state: "ready" })
      .onConflictDoNothing()
      .returning(),
    auditArtifact(db, input.actor, "artifact.upload", sha256, { size: input.size, method: "put" }),
  ]);
  if (inserted[0]) return { created: true, artifact: toView(inserted[0]) };

  // Lost a race: the same bytes landed meanwhile (fine) or a multipart upload claimed the hash.
  const now = await findArtifact(db, sha256);
  if (now?.state === "ready") return { created: false, artifact: toView(now) };
  throw uploadInProgress(sha256, now?.uploadId ?? null);
}

// SHA-256 of a stream, chunk by chunk (Workers' DigestStream), in hex.
async function streamSha256(body: ReadableStream<Uint8Array>): Promise<string> {
  const digest = new crypto.DigestStream("SHA-256");
  await body.pipeTo(digest);
  return [...new Uint8Array(await digest.digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
