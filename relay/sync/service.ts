import { join } from "node:path";
import { ArtifactCache, type CacheStats } from "../cache/store.ts";
import { artifactRoute } from "../cache/http.ts";
import { apiUpstream } from "../cache/upstream.ts";
import type { RelayConfig } from "../config.ts";
import { ipxeBuildsFrom } from "../dhcp/binaryChoice.ts";
import type { EventSink } from "../events.ts";
import type { Health, RouteHandler } from "../http/server.ts";
import type { Logger } from "../log.ts";
import type { MetricsRegistry } from "../metrics.ts";
import type { RelayState } from "../state.ts";
import { SyncAgent } from "./agent.ts";
import { RelayApiClient } from "./api.ts";
import { EventQueue } from "./queue.ts";

export type ArtifactSync = {
  cache: ArtifactCache;
  queue: EventQueue;
  route: RouteHandler;
  health: () => Health;
  // Needs the relay's HTTP base URL, known once the server listens.
  startSync(httpBase: string): Promise<void>;
  stop(): Promise<void>;
};

const COUNTERS: Record<keyof CacheStats, [string, string]> = {
  hits: ["edgeboot_cache_hits_total", "artifact requests served from disk"],
  misses: ["edgeboot_cache_misses_total", "artifact requests that started an upstream fetch"],
  joined: ["edgeboot_cache_joined_total", "artifact requests that joined a fetch already running"],
  bytesServed: ["edgeboot_cache_served_bytes_total", "artifact bytes sent to LAN clients"],
  bytesFetched: ["edgeboot_cache_fetched_bytes_total", "artifact bytes fetched from the API"],
  fills: ["edgeboot_cache_fills_total", "upstream fetches started"],
  fillFailures: ["edgeboot_cache_fill_failures_total", "upstream fetches that failed (nothing kept)"],
  hashFailures: ["edgeboot_cache_hash_failures_total", "upstream fetches whose bytes failed their SHA-256"],
  corruptFound: ["edgeboot_cache_corrupt_total", "cached files that failed re-verification and were dropped"],
  evictions: ["edgeboot_cache_evictions_total", "artifacts evicted to stay within the byte budget"],
  direct: ["edgeboot_cache_uncached_total", "artifact requests served straight from the API because the cache disk was full"],
};

// The artifact cache, the durable event queue and the API sync loop, wired for relay/main.ts.
export async function startArtifactSync(opts: {
  config: RelayConfig;
  advertise: string;
  version: string;
  state: RelayState;
  log: Logger;
  registry: MetricsRegistry;
  events: EventSink;
}): Promise<ArtifactSync> {
  const { config, log } = opts;
  const counters = Object.fromEntries(Object.entries(COUNTERS).map(([k, [name, help]]) => [k, opts.registry.counter(name, help)]));
  const cache = new ArtifactCache({
    dir: config.cacheDir,
    budgetBytes: config.cacheMaxBytes,
    upstream: apiUpstream({ apiUrl: config.apiUrl, credential: config.credential }),
    log: log.child({ part: "cache" }),
    onStat: (stat, by) => counters[stat]?.inc({}, by),
  });
  await cache.open();
  // Read at render from the cache itself, like /healthz: a gauge set on counter changes lagged evictions and fills.
  opts.registry.gaugeFn("edgeboot_cache_bytes", "bytes of artifacts on disk (what /healthz reports as cache.bytes)", () => cache.usedBytes);
  opts.registry.gaugeFn("edgeboot_cache_entries", "artifacts on disk (what /healthz reports as cache.entries)", () => cache.entryCount);
  const queue = new EventQueue({ dir: join(config.stateDir, "events"), log: log.child({ part: "events" }) });
  await queue.open();
  const route = artifactRoute(cache, {
    onServed: (e) => opts.events.emit({ phase: e.phase, at: Date.now(), detail: { sha256: e.sha256, bytes: e.bytes, status: e.status, ms: e.ms, client: e.client } }),
  });

  let agent: SyncAgent | null = null;
  const stopping = new AbortController();
  return {
    cache,
    queue,
    route,
    health: () => ({
      ok: true,
      detail: {
        sync: { registered: agent?.registered ?? false, lastSyncAt: agent?.lastSyncAt ?? null, eventsDropped: queue.droppedEvents },
        cache: {
          entries: cache.entryCount,
          bytes: cache.usedBytes,
          budget: cache.budgetBytes,
          pinned: cache.pinnedCount,
          // Boots go on (uncached, from the API) while the disk is full; this says so for the last 10 minutes.
          ...(cache.diskFullAt !== null && Date.now() - cache.diskFullAt < 600_000 ? { diskFull: true, diskFullAt: new Date(cache.diskFullAt).toISOString() } : {}),
        },
      },
    }),
    async startSync(httpBase) {
      agent = new SyncAgent({
        api: new RelayApiClient({ apiUrl: config.apiUrl, credential: config.credential, timeoutMs: config.apiTimeoutMs, signal: stopping.signal }),
        stateDir: config.stateDir,
        lanAddress: opts.advertise,
        cacheUrl: `${httpBase}/artifacts/`,
        version: opts.version,
        pollSeconds: config.syncIntervalSeconds,
        queue,
        cache,
        wake: { address: config.wolBroadcast, port: config.wolPort, bindAddress: config.listenAddress === "0.0.0.0" ? opts.advertise : config.listenAddress },
        log: log.child({ part: "sync" }),
        // What the API knows about this relay and its site reaches DHCP and /boot.ipxe through the shared state.
        onSnapshot: (s) => opts.state.update({ relayId: s.relay.id, allowDirect: s.site.allowDirect, ipxeBuilds: ipxeBuildsFrom(s.hosts) }),
      });
      await agent.start();
    },
    async stop() {
      stopping.abort();
      await agent?.stop();
      await queue.close();
      cache.close();
    },
  };
}
