import { open, type FileHandle } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import type { Fill } from "./fill.ts";

// Two buffers per response, reused: one is read into while the other is still being written. Reusing them (fs
// streams allocate a fresh buffer per chunk) saves page faults and garbage. Reads are sized by how many responses
// are running, so all of them together hold about READ_BUDGET bytes: 1-6 clients read 2 MiB at a time (fewer reads
// and wake-ups per byte than 512 KiB: what lets one client keep up with nginx's sendfile), 16 clients 768 KiB,
// 32 clients 384 KiB (with 256 KiB, 32 clients were about 8% slower). A response starts at FIRST_READ and doubles
// towards its share, so a burst of clients cannot each start big.
const MAX_READ = 2 * 1024 * 1024;
const MIN_READ = 64 * 1024;
const FIRST_READ = 256 * 1024;
const READ_BUDGET = 24 * 1024 * 1024;
let active = 0;
const readSize = () => Math.max(MIN_READ, Math.min(MAX_READ, Math.floor(READ_BUDGET / (2 * Math.max(1, active)) / MIN_READ) * MIN_READ));
// Gives the memory back now: a dropped Buffer is freed only when V8 next collects its old generation, and under
// load that came 16 MiB or more later. Only for buffers no write refers to any more.
const free = (buf: Buffer | null | undefined) => void (buf?.buffer as (ArrayBuffer & { transfer(n: number): ArrayBuffer }) | undefined)?.transfer(0);

// Where the bytes come from: a whole file, or a fill whose readable end grows until it is verified.
type Source = {
  // Bytes up to this position (exclusive) may be sent now; throws when the source failed.
  limit(): number;
  // Calls `done` once limit() may have moved.
  onMore(done: () => void): void;
  read(buf: Buffer, position: number, length: number): Promise<number>;
  // Bytes already in memory at this position, as a view to write as-is (fills only).
  peek?(position: number, maxLen: number): Buffer | null;
  // Everything before this position has been handed to the socket (uncached fills pace the upstream by it).
  sent?(position: number): void;
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
  if (fill.direct) return sendDirect(res, fill, start, endInclusive);
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

// A fill that is not being cached (disk full): only its in-memory tail exists, and the upstream waits for this
// reader (track). The last byte is held back until the hash verifies, as for any fill.
async function sendDirect(res: ServerResponse, fill: Fill, start: number, endInclusive: number): Promise<number> {
  const reader = fill.track(start);
  try {
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
      read: async () => {
        throw new Error("uncached transfer fell behind its buffer");
      },
      sent: (position) => reader.at(position),
    });
  } finally {
    reader.done();
  }
}

// Moves bytes [start, end) from the source to the response, at most two writes in flight: a buffer is refilled only
// after res.write has handed it to the kernel (its callback); no 'drain' wait, the two buffers are the backpressure.
// The next chunk is asked for before the current one is written: res.write copies into the socket on this thread and
// the read runs on libuv's pool, so the two overlap (asked for after, each read waited for the copy). Any failure or a
// client that goes away destroys the response (a Content-Length response cut short is an error to the client, never
// padding).
async function pump(res: ServerResponse, start: number, end: number, src: Source): Promise<number> {
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

  // The buffer for `slot` (its last write is done), sized for the current load: allocated on first use (a reader
  // served from a fill's memory never needs one), doubled while under its share and more is left to send, halved
  // or more once other responses made it twice its share.
  const bufferFor = (slot: number, remaining: number) => {
    const share = readSize();
    const buf = buffers[slot];
    if (buf && buf.length < 2 * share && (2 * buf.length > share || remaining <= buf.length)) return buf;
    const size = !buf ? Math.min(FIRST_READ, share) : buf.length >= 2 * share ? share : Math.min(2 * buf.length, share);
    free(buf); // (after its length was read: freeing empties it)
    return (buffers[slot] = Buffer.allocUnsafeSlow(Math.min(size, remaining)));
  };
  // The chunk at `position` for buffer `slot`, once that buffer's last write is done (also for views of a fill's
  // memory: the two-writes limit is the backpressure); null once the client is gone.
  const chunkAt = async (slot: number, position: number): Promise<Buffer | null> => {
    if (inFlight[slot]) await inFlight[slot];
    for (;;) {
      if (closed) return null;
      const limit = src.limit();
      if (position < limit) {
        const view = src.peek?.(position, limit - position);
        if (view) return view;
        const buf = bufferFor(slot, end - position);
        const n = await src.read(buf, position, Math.min(buf.length, limit - position));
        if (n <= 0) throw new Error("artifact file shorter than expected");
        return closed ? null : n === buf.length ? buf : buf.subarray(0, n);
      }
      await wait((done) => src.onMore(done));
    }
  };
  let pos = start;
  let next: Promise<Buffer | null> | null = null;
  try {
    for (let slot = 0; pos < end; slot ^= 1) {
      const out = await (next ?? chunkAt(slot, pos));
      if (!out) return pos - start;
      pos += out.length;
      next = pos < end ? chunkAt(slot ^ 1, pos) : null;
      const s = slot;
      writing[s] = true;
      const after = pos;
      inFlight[s] = wait((done) => void res.write(out, () => ((writing[s] = false), src.sent?.(after), done())));
    }
    await Promise.all(inFlight);
    if (!closed) res.end();
  } catch (err) {
    res.destroy(err as Error);
  } finally {
    // A read still running when the loop left (an error, a client gone) must finish before its buffer is freed.
    if (next) await next.catch(() => null);
    active--;
    res.off("close", onClose);
    // Buffers a pending write still refers to (a client gone mid-write) are left to the GC.
    for (const [i, buf] of buffers.entries()) if (!writing[i]) free(buf);
  }
  return pos - start;
}
