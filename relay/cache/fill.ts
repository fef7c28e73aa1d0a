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
  // Direct mode (the cache disk is full): nothing is written; the fill's readers are served from the tail, and the
  // upstream is read only as fast as the slowest of them (their positions below), so memory stays at the tail size.
  direct = false;
  #positions = new Map<symbol, number>();
  readonly #moved = new ChangeSignal();
  // A reader moved: the fill driver re-arms its stall timer (a slow client is not a stalled upstream).
  onProgress: () => void = () => {};

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

  // Serve this artifact straight from the upstream without caching it (called before begin(), when the cache disk
  // has no room for it). Later requests do not join a direct fill: each gets its own.
  async goDirect(): Promise<void> {
    this.direct = true;
    const fh = this.#fh;
    this.#fh = null;
    await fh?.close().catch(() => {});
    await unlink(this.tmpPath).catch(() => {});
  }

  get trackedReaders(): number {
    return this.#positions.size;
  }

  // A direct fill's reader says how far it has sent; the upstream waits for the slowest.
  track(start: number): { at(position: number): void; done(): void } {
    const id = Symbol("reader");
    this.#positions.set(id, start);
    return {
      at: (position) => {
        this.#positions.set(id, position);
        this.#moved.notify();
        this.onProgress();
      },
      done: () => {
        this.#positions.delete(id);
        this.#moved.notify();
        // The last reader of a direct fill left: nobody will take the rest.
        if (this.#positions.size === 0 && this.state === "filling") this.abort("every reader of an uncached (disk full) transfer went away");
      },
    };
  }

  async append(chunk: Uint8Array, hash: ReturnType<typeof createHash>): Promise<void> {
    if (chunk.byteLength === 0) return;
    if (this.direct) return this.#appendDirect(chunk, hash);
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

  async #appendDirect(chunk: Uint8Array, hash: ReturnType<typeof createHash>): Promise<void> {
    if (this.received + chunk.byteLength > this.size) throw new FillError(502, "upstream sent more bytes than it announced");
    // Wait until no reader is more than the tail behind (or nobody reads yet: the first reader is on its way).
    const slowest = () => (this.#positions.size ? Math.min(...this.#positions.values()) : this.received - TAIL_BYTES);
    while (this.received - slowest() >= TAIL_BYTES && !this.signal.aborted) await Promise.race([this.#moved.wait(), abortWait(this.signal)]);
    if (this.signal.aborted) throw this.signal.reason instanceof Error ? this.signal.reason : new FillError(503, "aborted");
    hash.update(chunk);
    this.#tail.push({ offset: this.received, bytes: chunk });
    this.#tailBytes += chunk.byteLength;
    const keepFrom = this.#positions.size ? Math.min(...this.#positions.values()) : this.received;
    while (this.#tail.length > 1 && this.#tail[0]!.offset + this.#tail[0]!.bytes.byteLength <= keepFrom) this.#tailBytes -= this.#tail.shift()!.bytes.byteLength;
    this.received += chunk.byteLength;
    this.written = this.received; // "accounted for": nothing is on disk in direct mode
    this.changed.notify();
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
    if (this.direct) {
      // Verified: readers may send their last byte. Nothing is kept (the tail goes when they are done with it).
      this.state = "done";
      this.changed.notify();
      return;
    }
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

const abortWait = (signal: AbortSignal) => new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));

const diskFull = (err: unknown) => ["ENOSPC", "EDQUOT"].includes((err as NodeJS.ErrnoException)?.code ?? "");

export type FillOptions = {
  idleTimeoutMs: number;
  makeRoom: (bytes: number) => Promise<void>;
  // Whether the cache disk has room for this many more bytes (free space minus other running fills).
  hasRoom?: (bytes: number) => Promise<boolean>;
  // A request is waiting for it: if the disk is full, serve it from upstream uncached instead of failing.
  allowDirect?: boolean;
  onDirect?: (fill: Fill, why: string) => void;
};

// The fill driver: upstream response → temp file, with a stall timeout so a dead upstream cannot pin readers forever.
export async function fetchInto(fill: Fill, upstream: Upstream, opts: FillOptions): Promise<void> {
  const direct = async (why: string) => {
    if (!opts.allowDirect) throw new FillError(507, `artifact cache disk is full (${why}); not prefetching`);
    await fill.goDirect();
    opts.onDirect?.(fill, why);
  };
  try {
    await fill.create();
  } catch (err) {
    if (!diskFull(err)) throw err;
    await direct((err as Error).message);
  }
  let idle: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(idle);
    idle = setTimeout(() => fill.abort(`upstream stalled for ${opts.idleTimeoutMs} ms`), opts.idleTimeoutMs);
  };
  fill.onProgress = () => {
    if (fill.direct) arm();
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
    if (!fill.direct && opts.hasRoom && !(await opts.hasRoom(size))) await direct(`no room for ${size} bytes`);
    fill.begin(size);
    // An uncached transfer nobody reads (a HEAD) is dropped at once rather than held open until the stall timeout.
    if (fill.direct) setTimeout(() => fill.trackedReaders === 0 && fill.state === "filling" && fill.abort("no reader for an uncached transfer"), 2000).unref();
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
