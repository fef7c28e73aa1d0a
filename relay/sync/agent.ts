import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { ArtifactCache } from "../cache/store.ts";
import { ApiError, type RelayApiClient } from "./api.ts";
import { writeFileAtomic } from "./files.ts";
import { loadOrCreateRelayKeys } from "../keys.ts";
import { apiKeys, verifyManifest, type ManifestKeys } from "./manifests.ts";
import type { EventQueue } from "./queue.ts";
import { SiteSnapshot } from "./snapshot.ts";
import { sendWake, type WakeTarget } from "./wol.ts";

export type AgentLog = { info(msg: string, fields?: object): void; warn(msg: string, fields?: object): void };

export type SyncAgentOptions = {
  api: RelayApiClient;
  stateDir: string;
  // What the relay tells the API about itself at registration.
  lanAddress: string;
  cacheUrl: string;
  version: string;
  queue: EventQueue;
  wake: WakeTarget;
  cache?: ArtifactCache;
  keys?: ManifestKeys;
  log?: AgentLog;
  onSnapshot?: (snapshot: SiteSnapshot) => void;
  // Seconds between syncs (the operator's --sync-interval); without it, what the API suggests.
  pollSeconds?: number;
  // Delay between event deliveries while events keep coming (batches them up).
  eventBatchDelayMs?: number;
  maxBackoffMs?: number;
};

const SNAPSHOT_FILE = "snapshot.json";
// The hashes of the last manifests that verified: still pinned after a restart while the API (and its keys) is away.
const PINS_FILE = "pins.json";
const MIN_POLL_S = 1;
const MAX_POLL_S = 300;

// The relay's link to the API: registers, polls the site snapshot (ETag), pins and prefetches what the signed
// manifests list, runs wake-on-LAN commands and acknowledges them, and drains the on-disk event queue. Every
// failure is retried with backoff; while the API is away, the last snapshot (kept on disk) stays in force.
export class SyncAgent {
  snapshot: SiteSnapshot | null = null;
  etag: string | null = null;
  registered = false;
  lastSyncAt: number | null = null;
  readonly done = new Map<string, { ok: boolean; error?: string; acked: boolean }>();
  #o: SyncAgentOptions;
  #log: AgentLog;
  #keys: ManifestKeys;
  #stop = new AbortController();
  #loops: Promise<void>[] = [];
  #prefetching: Promise<void> | null = null;
  #prefetchAgain = false;
  #pins: string[] = [];

  constructor(opts: SyncAgentOptions) {
    this.#o = opts;
    this.#log = opts.log ?? { info() {}, warn() {} };
    this.#keys = opts.keys ?? apiKeys(opts.api.apiUrl);
  }

  async start(): Promise<void> {
    await this.#loadPersisted();
    this.#loops.push(this.#syncLoop(), this.#eventLoop());
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await Promise.allSettled(this.#loops);
    await this.#prefetching?.catch(() => {});
  }

  async registerOnce(): Promise<void> {
    const key = await loadOrCreateRelayKeys(this.#o.stateDir);
    const res = await this.#o.api.register({
      publicKeyJwk: key.publicJwk,
      lanAddress: this.#o.lanAddress,
      cacheUrl: this.#o.cacheUrl,
      version: this.#o.version,
    });
    this.registered = true;
    this.#log.info("registered with the API", { relay: res.relay.name, site: res.relay.site });
  }

  async syncOnce(): Promise<"updated" | "unchanged"> {
    const result = await this.#o.api.sync(this.etag);
    this.lastSyncAt = Date.now();
    if (result.status === 304) return "unchanged";
    this.etag = result.etag;
    await writeFileAtomic(join(this.#o.stateDir, SNAPSHOT_FILE), JSON.stringify({ etag: result.etag, snapshot: result.snapshot }));
    await this.#apply(result.snapshot, { fresh: true });
    return "updated";
  }

  deliverEventsOnce(): Promise<number> {
    return this.#o.queue.deliver((batch) => this.#o.api.postEvents(batch));
  }

  // Resolves when the current prefetch round (if any) has finished.
  async prefetchIdle(): Promise<void> {
    while (this.#prefetching) await this.#prefetching;
  }

  async #apply(snapshot: SiteSnapshot, opts: { fresh: boolean }): Promise<void> {
    this.snapshot = snapshot;
    try {
      this.#o.onSnapshot?.(snapshot);
    } catch (err) {
      this.#log.warn("snapshot listener failed", { error: (err as Error).message });
    }
    await this.#pin(snapshot);
    // Commands from a snapshot read back from disk are stale by definition; only a fresh sync runs them.
    if (opts.fresh) await this.#runCommands(snapshot);
  }

  async #pin(snapshot: SiteSnapshot): Promise<void> {
    if (!this.#o.cache) return;
    const pins: string[] = [];
    let failures = 0;
    for (const jws of snapshot.manifests) {
      try {
        const manifest = await verifyManifest(jws, this.#keys);
        for (const a of manifest.artifacts) if (!pins.includes(a.sha256)) pins.push(a.sha256);
      } catch (err) {
        failures++;
        this.#log.warn("manifest did not verify; not prefetching it", { error: (err as Error).message });
      }
    }
    // Keys unreachable (every manifest failed): keep the previous pins rather than unpinning the whole site.
    if (failures > 0 && pins.length === 0 && this.#pins.length > 0) {
      this.#o.cache.setPinned(this.#pins);
      return;
    }
    this.#pins = pins;
    this.#o.cache.setPinned(pins);
    if (failures === 0) await writeFileAtomic(join(this.#o.stateDir, PINS_FILE), JSON.stringify(pins)).catch(() => {});
    this.#kickPrefetch();
  }

  #kickPrefetch(): void {
    if (this.#prefetching) {
      this.#prefetchAgain = true;
      return;
    }
    this.#prefetching = (async () => {
      do {
        this.#prefetchAgain = false;
        const result = await this.#o.cache!.prefetch(this.#pins);
        if (result.fetched.length || result.failed.length) this.#log.info("prefetch round done", { fetched: result.fetched.length, failed: result.failed.length });
      } while (this.#prefetchAgain && !this.#stop.signal.aborted);
    })().finally(() => {
      this.#prefetching = null;
    });
  }

  async #runCommands(snapshot: SiteSnapshot): Promise<void> {
    for (const cmd of snapshot.commands) {
      let outcome = this.done.get(cmd.id);
      if (!outcome) {
        outcome = { ...(await this.#execute(cmd)), acked: false };
        this.done.set(cmd.id, outcome);
      }
      if (outcome.acked) continue;
      try {
        await this.#o.api.ack(cmd.id, outcome.error ? { ok: outcome.ok, error: outcome.error } : { ok: outcome.ok });
        outcome.acked = true;
      } catch (err) {
        // The command stays in the snapshot until acked; the next sync acks again without re-running it.
        this.#log.warn("command ack failed; will retry", { id: cmd.id, error: (err as Error).message });
      }
    }
    // Forget acked commands the API no longer lists.
    const listed = new Set(snapshot.commands.map((c) => c.id));
    for (const [id, o] of this.done) if (o.acked && !listed.has(id)) this.done.delete(id);
  }

  async #execute(cmd: SiteSnapshot["commands"][number]): Promise<{ ok: boolean; error?: string }> {
    if (cmd.kind !== "wake") return { ok: false, error: `unknown command kind ${cmd.kind}` };
    const mac = typeof cmd.payload.mac === "string" ? cmd.payload.mac : "";
    try {
      await sendWake(mac, this.#o.wake);
      this.#o.queue.emit({ phase: "wake-sent", mac, detail: { commandId: cmd.id } });
      this.#log.info("sent wake-on-LAN", { mac, commandId: cmd.id });
      return { ok: true };
    } catch (err) {
      return { ok: false, error: (err as Error).message.slice(0, 300) };
    }
  }

  async #loadPersisted(): Promise<void> {
    try {
      const pins = JSON.parse(await readFile(join(this.#o.stateDir, PINS_FILE), "utf8")) as unknown;
      if (Array.isArray(pins)) this.#pins = pins.filter((p): p is string => typeof p === "string" && /^[0-9a-f]{64}$/.test(p));
    } catch {
      // No verified manifests yet.
    }
    try {
      const raw = JSON.parse(await readFile(join(this.#o.stateDir, SNAPSHOT_FILE), "utf8")) as { etag: string | null; snapshot: unknown };
      const parsed = SiteSnapshot.safeParse(raw.snapshot);
      if (!parsed.success) return;
      this.etag = raw.etag;
      await this.#apply(parsed.data, { fresh: false });
      this.#log.info("using the last snapshot from disk until the API answers");
    } catch {
      // First start, or an unreadable file: the first sync fills it in.
    }
  }

  async #syncLoop(): Promise<void> {
    let failures = 0;
    while (!this.#stop.signal.aborted) {
      try {
        if (!this.registered) await this.registerOnce();
        await this.syncOnce();
        failures = 0;
      } catch (err) {
        if (this.#stop.signal.aborted) break; // the relay is stopping: not a failure to report
        failures++;
        if (err instanceof ApiError && err.status === 401) this.registered = false;
        this.#log.warn("sync with the API failed; retrying", { error: (err as Error).message, attempt: failures });
      }
      const pollMs = clamp(this.#o.pollSeconds ?? this.snapshot?.pollSeconds ?? 15, MIN_POLL_S, MAX_POLL_S) * 1000;
      await sleep(failures ? this.#backoff(failures) : pollMs, this.#stop.signal);
    }
  }

  async #eventLoop(): Promise<void> {
    let failures = 0;
    while (!this.#stop.signal.aborted) {
      try {
        await this.deliverEventsOnce();
        failures = 0;
        // Checked and subscribed in one tick, so an event flushed meanwhile is not missed.
        if (this.#o.queue.idle) await this.#nextEvent();
        await sleep(this.#o.eventBatchDelayMs ?? 1000, this.#stop.signal);
      } catch (err) {
        if (this.#stop.signal.aborted) break;
        failures++;
        this.#log.warn("event delivery failed; events stay queued on disk", { error: (err as Error).message, attempt: failures });
        await sleep(this.#backoff(failures), this.#stop.signal);
      }
    }
  }

  #nextEvent(): Promise<void> {
    return new Promise<void>((resolve) => {
      // A stop that came while this loop was delivering: its abort event has fired already.
      if (this.#stop.signal.aborted) return resolve();
      const done = () => {
        this.#o.queue.added.delete(done);
        this.#stop.signal.removeEventListener("abort", done);
        resolve();
      };
      this.#o.queue.added.add(done);
      this.#stop.signal.addEventListener("abort", done, { once: true });
    });
  }

  // 1 s, 2 s, 4 s … up to maxBackoffMs, with jitter so a site's worth of relays does not retry in step.
  #backoff(attempt: number): number {
    const max = this.#o.maxBackoffMs ?? 60_000;
    const base = Math.min(max, 1000 * 2 ** Math.min(attempt - 1, 16));
    return Math.round(base / 2 + Math.random() * (base / 2));
  }
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
