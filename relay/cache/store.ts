import { mkdir, open, readdir, stat, statfs, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { Fill, fetchInto, FillError } from "./fill.ts";
import { hashFile } from "./hash.ts";
import { isSha256, isTempName } from "./names.ts";
import type { Upstream } from "./upstream.ts";

export type CacheLog = { info(msg: string, fields?: object): void; warn(msg: string, fields?: object): void };

export type CacheOptions = {
  dir: string;
  budgetBytes: number;
  upstream: Upstream;
  log?: CacheLog;
  now?: () => number;
  // A fill whose upstream sends nothing for this long fails (readers are cut off, nothing is kept).
  idleTimeoutMs?: number;
  // Verify every file found at start in the background (first serve of an unverified file always waits for it).
  verifyInBackground?: boolean;
  // Called for every counter change (metrics export).
  onStat?: (stat: keyof CacheStats, by: number) => void;
  // Free bytes on the cache's file system (default: statfs); a seam for tests of the full-disk path.
  freeBytes?: () => Promise<number | null>;
};

type Entry = {
  size: number;
  // In memory; after a restart the order starts from the files' atime (kept by the kernel, coarsely under relatime).
  lastAccess: number;
  // Identity of the file when it was last hashed; a changed file is hashed again before it is served.
  verified: { mtimeMs: number; ino: number; size: number } | null;
  verifying: Promise<boolean> | null;
};

export type CacheStats = {
  hits: number;
  misses: number;
  joined: number;
  bytesServed: number;
  bytesFetched: number;
  fills: number;
  fillFailures: number;
  hashFailures: number;
  corruptFound: number;
  evictions: number;
  direct: number;
};

// What a request gets: an open, verified file (hit) or a running fill to follow (miss).
export type Lookup = { kind: "hit"; fh: FileHandle; size: number } | { kind: "fill"; fill: Fill };


// Content-addressed artifact cache on disk: `<dir>/<sha256>` files, read-through from the API, single-flight
// fills, LRU eviction by a byte budget with pinned (prefetch) entries kept.
export class ArtifactCache {
  readonly dir: string;
  readonly budgetBytes: number;
  readonly stats: CacheStats = { hits: 0, misses: 0, joined: 0, bytesServed: 0, bytesFetched: 0, fills: 0, fillFailures: 0, hashFailures: 0, corruptFound: 0, evictions: 0, direct: 0 };
  #entries = new Map<string, Entry>();
  #fills = new Map<string, Fill>();
  #pinned = new Set<string>();
  #upstream: Upstream;
  #log: CacheLog;
  #now: () => number;
  #idleTimeoutMs: number;
  #verifyInBackground: boolean;
  #onStat: (stat: keyof CacheStats, by: number) => void;
  #freeBytes: () => Promise<number | null>;
  #closed = false;
  // When the cache disk last had no room for an artifact (those are served straight from the API, uncached).
  diskFullAt: number | null = null;

  constructor(opts: CacheOptions) {
    this.dir = opts.dir;
    this.budgetBytes = opts.budgetBytes;
    this.#upstream = opts.upstream;
    this.#log = opts.log ?? { info() {}, warn() {} };
    this.#now = opts.now ?? Date.now;
    this.#idleTimeoutMs = opts.idleTimeoutMs ?? 60_000;
    this.#verifyInBackground = opts.verifyInBackground ?? true;
    this.#onStat = opts.onStat ?? (() => {});
    this.#freeBytes = opts.freeBytes ?? (() => statfs(this.dir).then((fs) => fs.bavail * fs.bsize, () => null));
  }

  #bump(stat: keyof CacheStats, by = 1): void {
    this.stats[stat] += by;
    this.#onStat(stat, by);
  }

  // Bytes sent to a client (hit or miss), counted by the HTTP route.
  countServed(bytes: number): void {
    this.#bump("bytesServed", bytes);
  }

  get pinnedCount(): number {
    return this.#pinned.size;
  }

  // Scan the directory: temp files are leftovers of interrupted fills and go; artifacts come back unverified.
  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o755 });
    let removed = 0;
    for (const name of await readdir(this.dir)) {
      const path = join(this.dir, name);
      if (isTempName(name)) {
        await unlink(path).catch(() => {});
        removed++;
        continue;
      }
      if (!isSha256(name)) continue;
      const st = await stat(path).catch(() => null);
      if (!st?.isFile()) continue;
      const lastAccess = Math.max(st.atimeMs, st.mtimeMs);
      this.#entries.set(name, { size: st.size, lastAccess, verified: null, verifying: null });
    }
    this.#log.info("artifact cache opened", { dir: this.dir, entries: this.#entries.size, bytes: this.usedBytes, tempFilesRemoved: removed });
    if (this.#verifyInBackground) void this.#verifyAll();
  }

  close(): void {
    this.#closed = true;
    for (const fill of this.#fills.values()) fill.abort("cache closing");
  }

  get usedBytes(): number {
    let n = 0;
    for (const e of this.#entries.values()) n += e.size;
    return n;
  }

  get entryCount(): number {
    return this.#entries.size;
  }

  has(sha256: string): boolean {
    return this.#entries.has(sha256);
  }

  isPinned(sha256: string): boolean {
    return this.#pinned.has(sha256);
  }

  // Pinned entries (the site's prefetch list) are never evicted; unpinning makes them ordinary LRU entries.
  setPinned(hashes: Iterable<string>): void {
    this.#pinned = new Set([...hashes].filter(isSha256));
  }

  // Hit: a verified file, opened before returning (eviction after this point cannot take it away).
  // Miss: the running fill for this hash, started if there is none (single flight).
  async lookup(sha256: string): Promise<Lookup> {
    if (!isSha256(sha256)) throw new FillError(404, "not an artifact hash");
    const entry = this.#entries.get(sha256);
    if (entry) {
      const hit = await this.#openVerified(sha256, entry);
      if (hit) {
        this.#bump("hits");
        this.#touch(entry);
        return hit;
      }
    }
    const running = this.#fills.get(sha256);
    if (running) {
      this.#bump("joined");
      return { kind: "fill", fill: running };
    }
    this.#bump("misses");
    return { kind: "fill", fill: this.#startFill(sha256, true) };
  }

  // Fetch what is missing, one artifact at a time, so a boot storm's misses are not competing with a bulk download.
  async prefetch(hashes: Iterable<string>): Promise<{ fetched: string[]; failed: string[] }> {
    const fetched: string[] = [];
    const failed: string[] = [];
    for (const sha256 of hashes) {
      if (this.#closed) break;
      if (!isSha256(sha256) || this.#entries.has(sha256)) continue;
      const fill = this.#fills.get(sha256) ?? this.#startFill(sha256, false);
      (await fill.finished ? fetched : failed).push(sha256);
    }
    return { fetched, failed };
  }

  // allowDirect: a client waits for it, so a full disk means "serve it uncached" rather than "fail".
  #startFill(sha256: string, allowDirect: boolean): Fill {
    this.#bump("fills");
    const fill = new Fill(sha256, this.dir, (f) =>
      fetchInto(f, this.#upstream, {
        idleTimeoutMs: this.#idleTimeoutMs,
        makeRoom: (bytes) => this.#makeRoom(bytes, sha256),
        hasRoom: (bytes) => this.#hasRoom(bytes, sha256),
        allowDirect,
        onDirect: (direct, why) => {
          // Not shared: a later request starts its own (and finds room, if some was freed meanwhile).
          if (this.#fills.get(sha256) === direct) this.#fills.delete(sha256);
          this.diskFullAt = this.#now();
          this.#bump("direct");
          this.#log.warn("artifact cache disk is full: serving this artifact straight from the API, uncached", { sha256, dir: this.dir, why });
        },
      }),
    );
    this.#fills.set(sha256, fill);
    void fill.finished.then(async (ok) => {
      this.#bump("bytesFetched", fill.written);
      if (ok && fill.direct) return;
      if (ok) {
        const st = await stat(fill.finalPath).catch(() => null);
        const now = this.#now();
        this.#entries.set(sha256, {
          size: fill.size,
          lastAccess: now,
          verified: st ? { mtimeMs: st.mtimeMs, ino: st.ino, size: st.size } : null,
          verifying: null,
        });
      } else if (fill.error?.status === 507) {
        this.diskFullAt = this.#now();
        this.#log.warn("artifact cache disk is full: not prefetching", { sha256, dir: this.dir });
      } else if (fill.error?.status === 404) {
        this.#log.info("artifact not found upstream", { sha256 });
      } else {
        this.#bump("fillFailures");
        if (fill.error?.message.includes("sha256 mismatch")) this.#bump("hashFailures");
        this.#log.warn("artifact fill failed", { sha256, error: fill.error?.message });
      }
      if (this.#fills.get(sha256) === fill) this.#fills.delete(sha256);
    });
    return fill;
  }

  // Free space on the cache's file system, less what other running fills will still write. statfs failing (an
  // exotic file system) counts as room: the write itself then reports a full disk.
  async #hasRoom(bytes: number, incoming: string): Promise<boolean> {
    const free = await this.#freeBytes();
    if (free === null) return true;
    let pending = 0;
    for (const f of this.#fills.values()) if (f.sha256 !== incoming && !f.direct && f.size > 0 && f.state === "filling") pending += f.size - f.written;
    return free - pending >= bytes;
  }

  // The entry's file, if it is (still) the verified one; a corrupt or vanished file is dropped, never served.
  async #openVerified(sha256: string, entry: Entry): Promise<Lookup | null> {
    const path = join(this.dir, sha256);
    for (let attempt = 0; attempt < 2; attempt++) {
      const fh = await open(path, "r").catch(() => null);
      if (!fh) {
        this.#drop(sha256, "file vanished");
        return null;
      }
      const st = await fh.stat();
      const v = entry.verified;
      if (v && v.mtimeMs === st.mtimeMs && v.ino === st.ino && v.size === st.size && st.size === entry.size) return { kind: "hit", fh, size: st.size };
      await fh.close();
      // Not verified since start, or changed on disk since: hash it (shared with any concurrent request).
      if (!(await this.#verify(sha256, entry))) return null;
    }
    return null;
  }

  #verify(sha256: string, entry: Entry): Promise<boolean> {
    entry.verifying ??= (async () => {
      const path = join(this.dir, sha256);
      try {
        const before = await stat(path);
        const actual = await hashFile(path);
        const after = await stat(path);
        if (actual === sha256 && before.mtimeMs === after.mtimeMs && before.size === after.size) {
          entry.size = after.size;
          entry.verified = { mtimeMs: after.mtimeMs, ino: after.ino, size: after.size };
          return true;
        }
        this.#bump("corruptFound");
        this.#log.warn("cached artifact failed verification; removing it", { sha256 });
      } catch (err) {
        this.#log.warn("cached artifact unreadable; removing it", { sha256, error: (err as Error).message });
      }
      this.#drop(sha256, "corrupt");
      await unlink(path).catch(() => {});
      return false;
    })().finally(() => {
      entry.verifying = null;
    });
    return entry.verifying;
  }

  async #verifyAll(): Promise<void> {
    for (const [sha256, entry] of [...this.#entries]) {
      if (this.#closed) return;
      if (!entry.verified && this.#entries.get(sha256) === entry) await this.#verify(sha256, entry);
    }
  }

  #drop(sha256: string, _why: string): void {
    this.#entries.delete(sha256);
  }

  #touch(entry: Entry): void {
    entry.lastAccess = this.#now();
  }

  // Evict least recently used, unpinned entries until `bytes` more fit. Open readers keep their unlinked file.
  async #makeRoom(bytes: number, incoming: string): Promise<void> {
    let reserved = 0;
    for (const f of this.#fills.values()) if (f.sha256 !== incoming && f.size > 0 && f.state !== "done") reserved += f.size;
    let used = this.usedBytes + reserved;
    if (used + bytes <= this.budgetBytes) return;
    const victims = [...this.#entries].filter(([sha]) => !this.#pinned.has(sha)).sort((a, b) => a[1].lastAccess - b[1].lastAccess);
    for (const [sha256, entry] of victims) {
      if (used + bytes <= this.budgetBytes) break;
      this.#entries.delete(sha256);
      await unlink(join(this.dir, sha256)).catch(() => {});
      used -= entry.size;
      this.#bump("evictions");
      this.#log.info("evicted artifact", { sha256, size: entry.size });
    }
    if (used + bytes > this.budgetBytes) {
      this.#log.warn("artifact cache over budget (pinned artifacts and running fills do not fit)", { budget: this.budgetBytes, used, incoming: bytes });
    }
  }
}
