import { open, type FileHandle } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import type { Fill } from "./fill.ts";

// Two buffers per response, reused: one is read into while the other is still being written. Reusing them (fs
// streams allocate a fresh buffer per chunk) saves page faults and garbage, which is most of what a hit costs in
// CPU and memory. Reads shrink as responses multiply, so all responses together touch about READ_BUDGET bytes:
// up to 16 clients get 512 KiB reads (fewer syscalls), 32 clients 256 KiB, 128 clients 64 KiB.
const MAX_READ = 512 * 1024;
const MIN_READ = 64 * 1024;
const READ_BUDGET = 16 * 1024 * 1024;
// Freed buffers are kept for the next responses, up to the same budget: a steady set of buffers instead of new
// ones (and malloc fragmentation) for every burst of clients.
const pool: Buffer[] = [];
let pooledBytes = 0;
let active = 0;
const readSize = () => Math.max(MIN_READ, Math.min(MAX_READ, Math.floor(READ_BUDGET / (2 * Math.max(1, active)) / MIN_READ) * MIN_READ));
// A buffer sized for the current load (a pooled one if it is big enough, a smaller one is dropped).
const takeBuffer = () => {
  const want = readSize();
  const buf = pool.pop();
  if (buf) pooledBytes -= buf.length;
  return buf && buf.length >= want ? buf : Buffer.allocUnsafeSlow(want);
};
const giveBack = (buf: Buffer | null) => {
  if (!buf || pooledBytes + buf.length > READ_BUDGET) return;
  pool.push(buf);
  pooledBytes += buf.length;
};

// Where the bytes come from: a whole file, or a fill whose readable end grows until it is verified.
type Source = {
  // Bytes up to this position (exclusive) may be sent now; throws when the source failed.
  limit(): number;
  // Calls `done` once limit() may have moved.
  onMore(done: () => void): void;
  read(buf: Buffer, position: number, length: number): Promise<number>;
  // Bytes already in memory at this position, as a view to write as-is (fills only).
  peek?(position: number, maxLen: number): Buffer | null;
};

// A verified file (or a byte range of it); the handle is closed when done. Returns bytes sent.
export async function sendFile(res: ServerResponse, fh: FileHandle, start: number, endInclusive: number): Promise<number> {
  try {
    return await pump(res, start, endInclusive + 1, {
      limit: () => endInclusive + 1,
      onMore: (done) => done(),
      read: async (buf, position, length) => (await fh.read(buf, 0, length, position)).bytesRead,
    });
  } finally {
    await fh.close().catch(() => {});
  }
}

// Streams from a fill in progress, following its temp file as bytes arrive. The last byte is held back until the
// fill is verified: if the hash fails the connection is cut short, so no client ever completes unverified bytes.
export async function sendFromFill(res: ServerResponse, fill: Fill, start: number, endInclusive: number): Promise<number> {
  const fh = fill.retain();
  if (!fh) {
    if (fill.state !== "done") {
      res.destroy(fill.error ?? new Error("fill failed"));
      return 0;
    }
    // Finished and closed before we joined: it is an ordinary file now.
    return sendFile(res, await open(fill.finalPath, "r"), start, endInclusive);
  }
  try {
    // An empty body has no last byte to hold back: wait for the verdict before ending it.
    if (endInclusive < start && !(await fill.finished)) {
      res.destroy(fill.error ?? new Error("fill failed"));
      return 0;
    }
    return await pump(res, start, endInclusive + 1, {
      limit: () => {
        if (fill.state === "failed") throw fill.error ?? new Error("fill failed");
        return fill.state === "done" ? endInclusive + 1 : Math.min(fill.received, endInclusive);
      },
      peek: (position, maxLen) => fill.peek(position, maxLen),
      onMore: (done) => void fill.changed.wait().then(done),
      // Only what is on disk already (the tail covers the rest).
      read: async (buf, position, length) => {
        const onDisk = fill.state === "done" ? length : Math.min(length, fill.written - position);
        return onDisk > 0 ? (await fh.read(buf, 0, onDisk, position)).bytesRead : 0;
      },
    });
  } finally {
    fill.release();
  }
}

// Moves bytes [start, end) from the source to the response, at most two writes in flight: a buffer is refilled only
// after res.write has handed it to the kernel (its callback). Any failure or a client that
// goes away destroys the response (a Content-Length response cut short is an error to the client, never padding).
async function pump(res: ServerResponse, start: number, end: number, src: Source): Promise<number> {
  // Allocated on first use: a reader served from a fill's memory tail never needs them.
  const buffers: Array<Buffer | null> = [null, null];
  const inFlight: Array<Promise<void> | null> = [null, null];
  const writing = [false, false];
  // Every wait registers here, so a closing client releases all of them at once (and nothing piles up per chunk).
  const pending = new Set<() => void>();
  let closed = false;
  const onClose = () => {
    closed = true;
    for (const release of pending) release();
    pending.clear();
  };
  res.once("close", onClose);
  active++;
  const wait = (register: (done: () => void) => void) =>
    new Promise<void>((resolve) => {
      if (closed) return resolve();
      const done = () => {
        pending.delete(done);
        resolve();
      };
      pending.add(done);
      register(done);
    });

  const readInto = async (buf: Buffer, position: number, length: number) => {
    const n = await src.read(buf, position, length);
    if (n <= 0) throw new Error("artifact file shorter than expected");
    return n === buf.length ? buf : buf.subarray(0, n);
  };
  let pos = start;
  try {
    for (let i = 0; pos < end; ) {
      if (closed) return pos - start;
      const limit = src.limit();
      if (pos >= limit) {
        await wait((done) => src.onMore(done));
        continue;
      }
      if (inFlight[i]) await inFlight[i];
      if (closed) return pos - start;
      const out = src.peek?.(pos, limit - pos) ?? (await readInto((buffers[i] ??= takeBuffer()), pos, Math.min(buffers[i]!.length, limit - pos)));
      pos += out.length;
      // No 'drain' wait: two buffers in flight are the backpressure (waiting for the socket to empty would leave
      // nothing to overlap the next read with).
      const slot = i;
      writing[slot] = true;
      inFlight[slot] = wait((done) => void res.write(out, () => ((writing[slot] = false), done())));
      i ^= 1;
    }
    await Promise.all(inFlight);
    if (!closed) res.end();
  } catch (err) {
    res.destroy(err as Error);
  } finally {
    active--;
    res.off("close", onClose);
    // Only buffers no pending write still refers to go back to the pool (the others are left to the GC).
    for (const [i, buf] of buffers.entries()) if (!writing[i]) giveBack(buf);
  }
  return pos - start;
}
