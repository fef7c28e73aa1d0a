import { createHash, randomBytes } from "node:crypto";
import { open, rename, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { TMP_PREFIX } from "./names.ts";
import { ChangeSignal } from "./signal.ts";
import type { Upstream } from "./upstream.ts";

export type FillState = "starting" | "filling" | "done" | "failed";

export class FillError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "FillError";
    this.status = status;
  }
}

// How much of the most recently received data a fill keeps in memory for readers that keep up with it.
const TAIL_BYTES = 1024 * 1024;

// One upstream fetch of one artifact into a temp file, hashed as it arrives. Readers that keep up are served the
// upstream's own chunks from a small in-memory tail (no file read, no copy, shared by all of them); readers that fall
// behind read the temp file through the shared handle. The file is renamed to its final name only when whole and
// verified; any failure unlinks it.
export class Fill {
  readonly sha256: string;
  readonly tmpPath: string;
  readonly finalPath: string;
  state: FillState = "starting";
  size = -1;
  // Bytes received from upstream (readable from the tail) and bytes on disk (readable from the file). Appends are
  // sequential, so `written` trails `received` by at most one chunk, which the tail always holds.
  received = 0;
  written = 0;
  error: FillError | null = null;
  readonly changed = new ChangeSignal();
  // Resolves once the upstream answered with a size (or rejects), so readers can send headers.
  readonly ready: Promise<number>;
  // Settles when the file is verified and renamed (true) or failed (false); never rejects.
  readonly finished: Promise<boolean>;
  #fh: FileHandle | null = null;
  #readers = 0;
  #abort = new AbortController();
  #onReady: (n: number) => void = () => {};
  #onReadyFail: (e: Error) => void = () => {};
  #tail: { offset: number; bytes: Uint8Array }[] = [];
  #tailBytes = 0;

  constructor(sha256: string, dir: string, run: (fill: Fill) => Promise<void>) {
    this.sha256 = sha256;
    this.finalPath = join(dir, sha256);
    this.tmpPath = join(dir, `${TMP_PREFIX}${sha256}-${randomBytes(6).toString("hex")}`);
    this.ready = new Promise<number>((res, rej) => {
      this.#onReady = res;
      this.#onReadyFail = rej;
    });
    this.ready.catch(() => {});
    this.finished = run(this).then(
      () => true,
      (err: unknown) => {
        this.#fail(err instanceof FillError ? err : new FillError(502, `upstream fetch failed: ${(err as Error).message}`));
        return false;
      },
    );
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  get handle(): FileHandle | null {
    return this.#fh;
  }

  // Readers hold the shared handle open; the last one out (or the fill, if none) closes it.
  retain(): FileHandle | null {
    if (!this.#fh) return null;
    this.#readers++;
    return this.#fh;
  }

  release(): void {
    this.#readers--;
    this.#maybeClose();
  }

  abort(reason: string): void {
    this.#abort.abort(new FillError(503, reason));
  }

  async create(): Promise<void> {
    this.#fh = await open(this.tmpPath, "w+", 0o644);
  }

  begin(size: number): void {
    this.size = size;
    this.state = "filling";
    this.#onReady(size);
    this.changed.notify();
  }

  async append(chunk: Uint8Array, hash: ReturnType<typeof createHash>): Promise<void> {
    if (chunk.byteLength === 0) return;
    if (this.received + chunk.byteLength > this.size) throw new FillError(502, "upstream sent more bytes than it announced");
    hash.update(chunk);
    const offset = this.received;
    this.#tail.push({ offset, bytes: chunk });
    this.#tailBytes += chunk.byteLength;
    while (this.#tail.length > 1 && this.#tailBytes - this.#tail[0]!.bytes.byteLength >= TAIL_BYTES) this.#tailBytes -= this.#tail.shift()!.bytes.byteLength;
    this.received += chunk.byteLength;
    // Readers may take these bytes from memory right away; the disk write below is for readers that lag.
    this.changed.notify();
    let off = 0;
    while (off < chunk.byteLength) {
      const { bytesWritten } = await this.#fh!.write(chunk, off, chunk.byteLength - off, offset + off);
      off += bytesWritten;
    }
    this.written += chunk.byteLength;
  }

  // Up to maxLen bytes at `position` from the in-memory tail, as a view (no copy), or null if they are not there.
  peek(position: number, maxLen: number): Buffer | null {
    for (const { offset, bytes } of this.#tail) {
      if (position >= offset && position < offset + bytes.byteLength) {
        const start = position - offset;
        return Buffer.from(bytes.buffer, bytes.byteOffset + start, Math.min(maxLen, bytes.byteLength - start));
      }
    }
    return null;
  }

  // Whole and verified: make it durable, then visible under its final name.
  async commit(hash: ReturnType<typeof createHash>): Promise<void> {
    if (this.written !== this.size) throw new FillError(502, `upstream closed after ${this.written} of ${this.size} bytes`);
    const actual = hash.digest("hex");
    if (actual !== this.sha256) throw new FillError(502, `sha256 mismatch: upstream sent ${actual}`);
    await this.#fh!.sync();
    await rename(this.tmpPath, this.finalPath);
    this.#dropTail();
    this.state = "done";
    this.changed.notify();
    this.#maybeClose();
  }

  #fail(err: FillError): void {
    if (this.state === "done") return;
    this.state = "failed";
    this.error = err;
    this.#dropTail();
    this.#onReadyFail(err);
    this.changed.notify();
    unlink(this.tmpPath).catch(() => {});
    this.#maybeClose();
  }

  #dropTail(): void {
    this.#tail = [];
    this.#tailBytes = 0;
  }

  #maybeClose(): void {
    if (this.#readers > 0 || (this.state !== "done" && this.state !== "failed") || !this.#fh) return;
    const fh = this.#fh;
    this.#fh = null;
    fh.close().catch(() => {});
  }
}

export type FillOptions = { idleTimeoutMs: number; makeRoom: (bytes: number) => Promise<void> };

// The fill driver: upstream response → temp file, with a stall timeout so a dead upstream cannot pin readers forever.
export async function fetchInto(fill: Fill, upstream: Upstream, opts: FillOptions): Promise<void> {
  await fill.create();
  let idle: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(idle);
    idle = setTimeout(() => fill.abort(`upstream stalled for ${opts.idleTimeoutMs} ms`), opts.idleTimeoutMs);
  };
  try {
    arm();
    const res = await upstream.fetchArtifact(fill.sha256, fill.signal);
    if (res.status !== 200) {
      res.discard();
      throw res.status === 404 ? new FillError(404, "artifact not found upstream") : new FillError(502, `upstream answered ${res.status}`);
    }
    const size = res.contentLength;
    if (size === null) {
      res.discard();
      throw new FillError(502, "upstream sent no Content-Length");
    }
    await opts.makeRoom(size);
    fill.begin(size);
    const hash = createHash("sha256");
    for await (const chunk of res.body) {
      arm();
      await fill.append(chunk, hash);
    }
    await fill.commit(hash);
  } catch (err) {
    // An abort surfaces as the fetch's AbortError: report the reason we aborted for.
    if (fill.signal.aborted && fill.signal.reason instanceof FillError) throw fill.signal.reason;
    throw err;
  } finally {
    clearTimeout(idle);
  }
}
