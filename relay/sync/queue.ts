import { randomUUID } from "node:crypto";
import { mkdir, open, readdir, readFile, stat, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { ApiError, type QueuedEvent } from "./api.ts";
import { fsyncDir } from "./files.ts";

export type EventInput = { phase: string; mac?: string | null; bootSession?: string | null; detail?: Record<string, unknown>; at?: number };
export type QueueLog = { info(msg: string, fields?: object): void; warn(msg: string, fields?: object): void };

// Limits of POST /relay/v1/events (worker/relayapi/events.ts), kept with margin.
const BATCH_MAX_EVENTS = 500;
const BATCH_MAX_BYTES = 256 * 1024;
const DETAIL_MAX_CHARS = 4096;
const SEGMENT_RE = /^(\d{12})\.jsonl$/;
// Group commit window: one append + one fdatasync per window, not per event (a DHCP burst emits one per offer).
export const FLUSH_DELAY_MS = 50;
// Lines kept in memory while the disk refuses writes (ENOSPC, EIO); past this the oldest are dropped.
const PENDING_MAX_LINES = 20_000;
// Lines parsed between yields to the event loop when reading a segment back (~0.2 ms of work).
const PARSE_SLICE = 100;

// Durable outbox for relay events: append-only JSONL segments, delivered oldest first in batches and deleted once
// the API has them. Events carry their own id, and the API stores an id once, so a segment resent after a crash or
// a lost response is harmless. Durability: an event is on disk (fdatasync'd) within FLUSH_DELAY_MS of emit plus
// one write; a crash inside that window loses at most that window's events. Once on disk, events stay there, however
// long the API is away, until delivered; the only other way out is the size cap: past maxBytes the oldest go.
export class EventQueue {
  readonly dir: string;
  #maxBytes: number;
  #segmentMaxBytes: number;
  #log: QueueLog;
  #now: () => number;
  #seq = 0;
  #active: { seq: number; fh: FileHandle; bytes: number } | null = null;
  #pending: string[] = [];
  #timer: NodeJS.Timeout | null = null;
  #flushDelayMs: number;
  // Bytes per segment on disk, oldest first: the size cap without a readdir + stat per commit.
  #sizes = new Map<number, number>();
  #total = 0;
  #lock: Promise<unknown> = Promise.resolve();
  #dropped = 0;
  readonly added = new Set<() => void>();

  constructor(opts: { dir: string; maxBytes?: number; segmentMaxBytes?: number; flushDelayMs?: number; log?: QueueLog; now?: () => number }) {
    this.dir = opts.dir;
    this.#maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
    this.#segmentMaxBytes = opts.segmentMaxBytes ?? 256 * 1024;
    this.#log = opts.log ?? { info() {}, warn() {} };
    this.#now = opts.now ?? Date.now;
    this.#flushDelayMs = opts.flushDelayMs ?? FLUSH_DELAY_MS;
  }

  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const segs = await this.#segments();
    // Never append to a segment from a previous run: its last line may be torn. New writes get a new segment.
    this.#seq = segs.at(-1) ?? 0;
    for (const seq of segs) this.#setSize(seq, (await stat(this.#path(seq)).catch(() => null))?.size ?? 0);
    if (segs.length) this.#log.info("event queue has undelivered segments", { segments: segs.length });
  }

  // EventSink: fire and forget for the caller; on disk after the next group commit (FLUSH_DELAY_MS).
  emit(input: EventInput): void {
    // Shaped here to what the API accepts, so one odd event cannot get a whole batch refused. Serialised once (the
    // detail is stringified anyway for its size check) and without spread copies: this runs for every DHCP offer.
    const mac = input.mac ? normalizeMac(input.mac) : null;
    let detail = input.detail;
    if (input.mac && !mac) detail = { ...detail, rawMac: String(input.mac).slice(0, 64) };
    const head: QueuedEvent = { id: randomUUID(), phase: toPhase(input.phase), at: Math.round(input.at ?? this.#now()) };
    if (mac) head.mac = mac;
    if (input.bootSession) head.bootSession = String(input.bootSession).slice(0, 128);
    const json = JSON.stringify(head);
    const detailText = detail ? boundedDetail(detail) : null;
    this.#pending.push(detailText ? `${json.slice(0, -1)},"detail":${detailText}}\n` : `${json}\n`);
    this.#timer ??= setTimeout(this.#onTimer, this.#flushDelayMs);
  }

  #onTimer = () => {
    this.#timer = null;
    // Never an unhandled rejection: a full or failing disk must not take DHCP down with it.
    this.flush().catch((err: Error) => this.#log.warn("cannot write relay events; keeping them in memory and retrying", { error: err.message }));
  };

  // Resolves when everything emitted so far is on disk.
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const lines = this.#pending.splice(0);
    if (lines.length === 0) return this.#exclusive(async () => {});
    return this.#exclusive(async () => {
      try {
        if (!this.#active) {
          this.#seq++;
          this.#active = { seq: this.#seq, fh: await open(this.#path(this.#seq), "a", 0o600), bytes: 0 };
          await fsyncDir(this.dir);
        }
        const data = lines.join("");
        await this.#active.fh.appendFile(data);
        await this.#active.fh.datasync();
        this.#active.bytes += Buffer.byteLength(data);
        this.#setSize(this.#active.seq, this.#active.bytes);
      } catch (err) {
        // Retried with the next commit, in a fresh segment (this one may end in a torn line).
        this.#pending = lines.concat(this.#pending);
        const over = this.#pending.length - PENDING_MAX_LINES;
        if (over > 0) {
          this.#pending.splice(0, over);
          this.#dropped += over;
        }
        await this.#seal().catch(() => {});
        // Unref'd: a disk that keeps failing must not hold the process open after close().
        this.#timer ??= setTimeout(this.#onTimer, Math.max(this.#flushDelayMs, 1000)).unref();
        throw err;
      }
      if (this.#active.bytes >= this.#segmentMaxBytes) await this.#seal();
      await this.#enforceCap();
      for (const notify of this.added) notify();
    });
  }

  async close(): Promise<void> {
    await this.flush();
    await this.#exclusive(() => this.#seal());
  }

  // Nothing written since the last delivery round sealed the segments.
  get idle(): boolean {
    return this.#active === null && this.#pending.length === 0;
  }

  get droppedEvents(): number {
    return this.#dropped;
  }

  // Events waiting on disk (a count from segment sizes would need parsing; this one reads the files).
  async backlog(): Promise<number> {
    await this.flush();
    let n = 0;
    for (const seq of await this.#segments()) n += (await this.#read(seq)).length;
    return n;
  }

  // Deliver everything on disk, oldest first. Stops (throws) at the first "unavailable" so the caller can back off;
  // a batch the API rejects as malformed is dropped with a warning rather than blocking the queue forever.
  async deliver(send: (batch: QueuedEvent[]) => Promise<unknown>): Promise<number> {
    await this.flush();
    // Seal and list under the lock: segments opened by later emits are not in this round.
    const sealed = await this.#exclusive(async () => {
      await this.#seal();
      return this.#segments();
    });
    let sent = 0;
    for (const seq of sealed) {
      for await (const batch of this.#batches(seq)) {
        try {
          await send(batch);
          sent += batch.length;
        } catch (err) {
          if (err instanceof ApiError && err.kind === "rejected" && err.status !== 401 && err.status !== 403) {
            this.#dropped += batch.length;
            this.#log.warn("API rejected an event batch; dropping it", { events: batch.length, error: err.message });
            continue;
          }
          throw err;
        }
      }
      await unlink(this.#path(seq)).catch(() => {});
      this.#setSize(seq, null);
    }
    return sent;
  }

  // A segment's events in batches within the API's limits, parsed a slice at a time with a yield in between: parsing
  // a whole segment (~1,000 events) in one go held the event loop, and so DHCP replies, for milliseconds. While the
  // API is down only the first batch is parsed before the send fails.
  async *#batches(seq: number): AsyncGenerator<QueuedEvent[]> {
    const text = await readFile(this.#path(seq), "utf8").catch(() => "");
    let batch: QueuedEvent[] = [];
    let bytes = 0;
    let parsed = 0;
    for (let start = 0; start < text.length; ) {
      let end = text.indexOf("\n", start);
      if (end < 0) end = text.length;
      const line = text.slice(start, end);
      start = end + 1;
      if (!line) continue;
      if (++parsed % PARSE_SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
      let event: QueuedEvent;
      try {
        event = JSON.parse(line) as QueuedEvent;
      } catch {
        continue; // a torn last line from a crash mid-append: that event was never acknowledged to anyone
      }
      const size = line.length + 1; // what it weighs in the request body, as written
      if (batch.length && (batch.length >= BATCH_MAX_EVENTS || bytes + size > BATCH_MAX_BYTES)) {
        yield batch;
        batch = [];
        bytes = 0;
      }
      batch.push(event);
      bytes += size;
    }
    if (batch.length) yield batch;
  }

  async #read(seq: number): Promise<QueuedEvent[]> {
    const text = await readFile(this.#path(seq), "utf8").catch(() => "");
    const events: QueuedEvent[] = [];
    for (const line of text.split("\n")) {
      if (!line) continue;
      try {
        events.push(JSON.parse(line) as QueuedEvent);
      } catch {
        // A torn last line from a crash mid-append: that event was never acknowledged to anyone.
      }
    }
    return events;
  }

  async #seal(): Promise<void> {
    if (!this.#active) return;
    const { fh } = this.#active;
    this.#active = null;
    await fh.close();
  }

  // Segments are numbered upwards and only ever added with a higher number, so the map stays oldest first.
  #setSize(seq: number, bytes: number | null): void {
    this.#total -= this.#sizes.get(seq) ?? 0;
    if (bytes === null) this.#sizes.delete(seq);
    else {
      this.#sizes.set(seq, bytes);
      this.#total += bytes;
    }
  }

  async #enforceCap(): Promise<void> {
    for (const seq of [...this.#sizes.keys()]) {
      if (this.#total <= this.#maxBytes || seq === this.#active?.seq) break;
      const lost = (await this.#read(seq)).length;
      await unlink(this.#path(seq)).catch(() => {});
      this.#setSize(seq, null);
      this.#dropped += lost;
      this.#log.warn("event queue over its size cap; dropped the oldest segment", { events: lost });
    }
  }

  async #segments(): Promise<number[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    return names.flatMap((n) => (SEGMENT_RE.test(n) ? [Number(SEGMENT_RE.exec(n)![1])] : [])).sort((a, b) => a - b);
  }

  #path(seq: number): string {
    return join(this.dir, `${String(seq).padStart(12, "0")}.jsonl`);
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn);
    this.#lock = run.catch(() => {});
    return run;
  }
}

// The detail as JSON, or null when empty (no `detail` key then).
function boundedDetail(detail: Record<string, unknown>): string | null {
  const text = JSON.stringify(detail);
  if (text === "{}") return null;
  return text.length <= DETAIL_MAX_CHARS ? text : JSON.stringify({ truncated: true, preview: text.slice(0, 512) });
}

// The API's phase alphabet: 1-32 of a-z, 0-9 and '-'. Producers already use it; the test skips the rewrite.
const PHASE_RE = /^[a-z0-9-]{1,32}$/;
function toPhase(phase: string): string {
  if (typeof phase === "string" && PHASE_RE.test(phase)) return phase;
  return String(phase).toLowerCase().replace(/[^a-z0-9-]/g, "-").slice(0, 32) || "unknown";
}

// aa:bb:cc:dd:ee:ff, what the DHCP server passes, goes through as is.
const CANONICAL_MAC_RE = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;
function normalizeMac(mac: string): string | null {
  if (typeof mac === "string" && CANONICAL_MAC_RE.test(mac)) return mac;
  const hex = String(mac).toLowerCase().replace(/[:\-.]/g, "");
  return /^[0-9a-f]{12}$/.test(hex) ? hex.match(/../g)!.join(":") : null;
}
