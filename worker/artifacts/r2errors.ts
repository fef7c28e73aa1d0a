import { ApiError } from "../errors.ts";

// R2 reports failures as Errors whose message ends with a numeric code, e.g. "put: … (10037)".
export const R2_CHECKSUM_MISMATCH = 10037;
export const R2_NO_SUCH_UPLOAD = 10024;
export const R2_ENTITY_TOO_SMALL = 10011;
export const R2_INVALID_PART = 10025;

export function r2ErrorCode(err: unknown): number | null {
  if (!(err instanceof Error)) return null;
  const m = /\((\d{5})\)\s*$/.exec(err.message);
  return m ? Number(m[1]) : null;
}

export function uploadNotFound(sha256: string, uploadId: string) {
  return new ApiError("not_found", "multipart upload not found (aborted, completed or never created)", { sha256, uploadId });
}

export async function ignoreNoSuchUpload(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (r2ErrorCode(err) !== R2_NO_SUCH_UPLOAD) throw err;
  }
}
