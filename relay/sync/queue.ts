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

// Durable outbox for relay events: append-only JSONL segments, fsync'd in small group commits, delivered oldest
// first in batches and deleted once the API has them. Events carry their own id, and the API stores an id once,
// so a segment resent after a crash or a lost response is harmless. Bounded: past maxBytes the oldest go.
export class EventQueue {
  readonly dir: string;
  #maxBytes: number;
  #segmentMaxBytes: number;
  #log: QueueLog;
  #now: () => number;
  #seq = 0;
  #active: { seq: number; fh: FileHandle; bytes: number } | null = null;
  #pending: string[] = [];
  #flushScheduled: Promise<void> | null = null;
  #lock: Promise<unknown> = Promise.resolve();
  #dropped = 0;
  readonly added = new Set<() => void>();

  constructor(opts: { dir: string; maxBytes?: number; segmentMaxBytes?: number; log?: QueueLog; now?: () => number }) {
    this.dir = opts.dir;
    this.#maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
    this.#segmentMaxBytes = opts.segmentMaxBytes ?? 256 * 1024;
    this.#log = opts.log ?? { info() {}, warn() {} };
    this.#now = opts.now ?? Date.now;
  }

  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const segs = await this.#segments();
    // Never append to a segment from a previous run: its last line may be torn. New writes get a new segment.
    this.#seq = segs.at(-1) ?? 0;
    if (segs.length) this.#log.info("event queue has undelivered segments", { segments: segs.length });
  }

  // EventSink: fire and forget for the caller; on disk within one group commit (a few ms).
  emit(input: EventInput): void {
    // Shaped here to what the API accepts, so one odd event cannot get a whole batch refused.
    const mac = input.mac ? normalizeMac(input.mac) : null;
    const detail = { ...(input.detail ?? {}), ...(input.mac && !mac ? { rawMac: String(input.mac).slice(0, 64) } : {}) };
    const event: QueuedEvent = {
      id: randomUUID(),
      phase: toPhase(input.phase),
      at: Math.round(input.at ?? this.#now()),
      ...(mac ? { mac } : {}),
      ...(input.bootSession ? { bootSession: String(input.bootSession).slice(0, 128) } : {}),
      ...(Object.keys(detail).length ? { detail: boundedDetail(detail) } : {}),
    };
    this.#pending.push(JSON.stringify(event) + "\n");
    this.#flushScheduled ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flush());
  }

  // Resolves when everything emitted so far is on disk.
  flush(): Promise<void> {
    this.#flushScheduled = null;
    const lines = this.#pending.splice(0);
    if (lines.length === 0) return this.#exclusive(async () => {});
    return this.#exclusive(async () => {
      if (!this.#active) {
        this.#seq++;
        this.#active = { seq: this.#seq, fh: await open(this.#path(this.#seq), "a", 0o600), bytes: 0 };
        await fsyncDir(this.dir);
      }
      const data = lines.join("");
      await this.#active.fh.appendFile(data);
      await this.#active.fh.datasync();
      this.#active.bytes += Buffer.byteLength(data);
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
      const events = await this.#read(seq);
      for (const batch of batches(events)) {
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
    }
    return sent;
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
    await this.#active.fh.close();
    this.#active = null;
  }

  async #enforceCap(): Promise<void> {
    const segs = await this.#segments();
    const sizes = await Promise.all(segs.map(async (s) => (await stat(this.#path(s)).catch(() => null))?.size ?? 0));
    let total = sizes.reduce((a, b) => a + b, 0);
    for (let i = 0; i < segs.length && total > this.#maxBytes; i++) {
      if (segs[i] === this.#active?.seq) break;
      const lost = (await this.#read(segs[i]!)).length;
      await unlink(this.#path(segs[i]!)).catch(() => {});
      total -= sizes[i]!;
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

function* batches(events: QueuedEvent[]): Generator<QueuedEvent[]> {
  let batch: QueuedEvent[] = [];
  let bytes = 0;
  for (const e of events) {
    const size = JSON.stringify(e).length + 1;
    if (batch.length && (batch.length >= BATCH_MAX_EVENTS || bytes + size > BATCH_MAX_BYTES)) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(e);
    bytes += size;
  }
  if (batch.length) yield batch;
}

function boundedDetail(detail: Record<string, unknown>): Record<string, unknown> {
  const text = JSON.stringify(detail);
  return text.length <= DETAIL_MAX_CHARS ? detail : { truncated: true, preview: text.slice(0, 512) };
}

// The API's phase alphabet: 1-32 of a-z, 0-9 and '-'.
function toPhase(phase: string): string {
  return String(phase).toLowerCase().replace(/[^a-z0-9-]/g, "-").slice(0, 32) || "unknown";
}

function normalizeMac(mac: string): string | null {
  const hex = String(mac).toLowerCase().replace(/[:\-.]/g, "");
  return /^[0-9a-f]{12}$/.test(hex) ? hex.match(/../g)!.join(":") : null;
}
