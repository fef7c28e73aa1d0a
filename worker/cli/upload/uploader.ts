import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { UploadApiError, type ArtifactApi } from "./api.ts";
import { Progress } from "./progress.ts";
import { StateFile, type UploadState } from "./state.ts";

export const MiB = 1024 ** 2;
// Parts must fit the Workers request-body limit (100 MB) and R2's 5 MiB minimum for all but the last part.
export const PART_MIN = 5 * MiB;
export const PART_MAX = 95 * MiB;
const PART_ATTEMPTS = 5;

export type UploadOptions = {
  file: string;
  partSize: number;
  concurrency: number;
  stateDir: string;
  contentType?: string;
  log: (line: string) => void;
  progress?: (label: string, total: number) => Progress;
  sleep?: (ms: number) => Promise<void>;
};

export type UploadOutcome = { sha256: string; size: number; result: "exists" | "uploaded" | "resumed" };

export async function hashFile(file: string, progress: Progress): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * MiB })) {
    hash.update(chunk as Buffer);
    progress.add((chunk as Buffer).length);
  }
  progress.finish();
  return hash.digest("hex");
}

// Hash, skip if the API already has it, then one PUT (small files) or a resumable parallel multipart upload.
export async function uploadFile(api: ArtifactApi, opts: UploadOptions): Promise<UploadOutcome> {
  const size = (await stat(opts.file)).size;
  const bar = opts.progress ?? ((label: string, total: number) => new Progress(label, total));
  const sha256 = await hashFile(opts.file, bar("hashing  ", size));
  opts.log(`sha256 ${sha256} (${size} bytes)`);
  const stateFile = new StateFile(opts.stateDir, sha256);
  const saved = await stateFile.load();
  // An upload we started earlier is resumed, whatever HEAD says about the artifact (it is pending until complete).
  if (!saved && (await api.exists(sha256))) return { sha256, size, result: "exists" };

  if (size <= opts.partSize && !saved) {
    const progress = bar("uploading", size);
    await withRetries(opts, "upload", async () => {
      let sent = 0;
      try {
        await api.put(sha256, opts.file, size, (n) => ((sent += n), progress.add(n)), opts.contentType);
      } catch (err) {
        progress.sub(sent);
        throw err;
      }
    });
    progress.finish();
    return { sha256, size, result: "uploaded" };
  }
  return multipart(api, opts, { sha256, size, stateFile, saved });
}

async function multipart(api: ArtifactApi, opts: UploadOptions, ctx: { sha256: string; size: number; stateFile: StateFile; saved: UploadState | null }): Promise<UploadOutcome> {
  const { sha256, size, stateFile } = ctx;
  let state = ctx.saved;
  const resumed = state !== null && state.api === api.apiUrl && state.size === size;
  if (!resumed || !state) {
    if (state) await stateFile.remove();
    const created = await api.createUpload(sha256, opts.contentType).catch((err: unknown) => {
      if (err instanceof UploadApiError && err.status === 409) {
        const other = (err.details as { uploadId?: string } | null)?.uploadId;
        throw new Error(`another upload of this file is in progress${other ? ` (upload id ${other})` : ""}; wait for it, or abort it with DELETE /v1/artifacts/${sha256}/uploads/<id>`);
      }
      throw err;
    });
    if (created.exists) return { sha256, size, result: "exists" };
    state = { api: api.apiUrl, sha256, size, partSize: opts.partSize, uploadId: created.uploadId!, parts: {} };
    await stateFile.save(state);
  } else {
    opts.log(`resuming upload ${state.uploadId}: ${Object.keys(state.parts).length} part(s) already sent`);
  }
  const s = state;
  const count = Math.max(1, Math.ceil(size / s.partSize));
  const todo = Array.from({ length: count }, (_, i) => i + 1).filter((n) => !s.parts[n]);
  const progress = (opts.progress ?? ((l: string, t: number) => new Progress(l, t)))("uploading", size);
  progress.add(size - todo.reduce((sum, n) => sum + partLength(n, s.partSize, size), 0));

  // Saves are serialised: parts finish in any order, the file must always hold a consistent set.
  let saving = Promise.resolve();
  const next = todo[Symbol.iterator]();
  const worker = async () => {
    for (let r = next.next(); !r.done; r = next.next()) {
      const n = r.value;
      const start = (n - 1) * s.partSize;
      const length = partLength(n, s.partSize, size);
      const part = await withRetries(opts, `part ${n}`, async () => {
        let sent = 0;
        try {
          return await api.putPart(sha256, s.uploadId, n, opts.file, start, length, (b) => ((sent += b), progress.add(b)));
        } catch (err) {
          progress.sub(sent);
          throw err;
        }
      });
      s.parts[n] = part.etag;
      saving = saving.then(() => stateFile.save(s));
      await saving;
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(opts.concurrency, Math.max(1, todo.length)) }, worker));
  } catch (err) {
    progress.finish();
    // An upload the API no longer knows cannot be resumed: forget it so the next run starts afresh.
    if (err instanceof UploadApiError && err.status === 404) await stateFile.remove();
    throw err;
  }
  progress.finish();
  const parts = Object.entries(s.parts).map(([n, etag]) => ({ partNumber: Number(n), etag })).sort((a, b) => a.partNumber - b.partNumber);
  try {
    await withRetries(opts, "complete", () => api.complete(sha256, s.uploadId, parts));
  } catch (err) {
    if (err instanceof UploadApiError && (err.status === 404 || err.code === "hash_mismatch")) await stateFile.remove();
    throw err;
  }
  await stateFile.remove();
  return { sha256, size, result: resumed ? "resumed" : "uploaded" };
}

const partLength = (n: number, partSize: number, size: number) => Math.max(0, Math.min(partSize, size - (n - 1) * partSize));

async function withRetries<T>(opts: UploadOptions, what: string, fn: () => Promise<T>): Promise<T> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof UploadApiError) || !err.transient || attempt >= PART_ATTEMPTS) throw err;
      const wait = Math.min(30_000, 1000 * 2 ** (attempt - 1));
      opts.log(`${what} failed (${err.message}); retrying in ${wait / 1000}s`);
      await sleep(wait);
    }
  }
}
