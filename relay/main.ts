// Composition root: the only file that wires config, logger, metrics, DHCP (67 + 4011), TFTP, HTTP, cache and sync.
// `npx node relay/main.ts --help` or `relay/bin.js` (the `edgeboot-relay` bin) run the CLI below.
import { readFileSync, realpathSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { fileURLToPath } from "node:url";
import { createApiGate } from "./apiGate.ts";
import { remoteApiKeys } from "./apiKeys.ts";
import { BinaryCatalog } from "./binaries.ts";
import { createChainFetcher } from "./boot/chain.ts";
import { createBootIpxeHandler } from "./boot/handler.ts";
import { ipxeTrustOption } from "./boot/trust.ts";
import { hostProxyRoute } from "./boot/hostProxy.ts";
import { parseConfig, pickAdvertiseAddress, type RelayConfig } from "./config.ts";
import { ClientTable } from "./dhcp/clients.ts";
import { startDhcpServer, type DhcpServer } from "./dhcp/server.ts";
import { sameIpxeBuilds, startDhcpThread, type DhcpThread } from "./dhcp/thread.ts";
import { logSink, teeSink, type EventSink } from "./events.ts";
import { createRelayHttpServer, listenHttp, type Health, type RouteHandler } from "./http/server.ts";
import { loadOrCreateRelayKeys } from "./keys.ts";
import { createLogger, type Logger } from "./log.ts";
import { MetricsRegistry, relayMetrics } from "./metrics.ts";
import { RelayState } from "./state.ts";
import { startArtifactSync } from "./sync/service.ts";
import { startTftpServer, type TftpServer } from "./tftp/server.ts";

export const RELAY_VERSION = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;

// How long SIGTERM/SIGINT waits for listeners and the event queue to close (systemd's default stop timeout is 90 s).
export const STOP_GRACE_MS = 10_000;

export type RelayHandle = {
  advertise: string;
  ports: { dhcp: number; proxyDhcp: number; tftp: number; http: number };
  close(): Promise<void>;
  // Settles only if the relay cannot go on (the proxyDHCP worker keeps crashing): the caller stops it.
  failed: Promise<Error>;
};

export async function startRelay(config: RelayConfig, log: Logger): Promise<RelayHandle> {
  const picked = pickAdvertiseAddress(config, networkInterfaces());
  if (!picked.ok) throw new Error(picked.message);
  const advertise = picked.address;

  const registry = new MetricsRegistry();
  const metrics = relayMetrics(registry);
  const state = new RelayState({ relayId: config.relayId ?? null, allowDirect: config.allowDirect });
  const keys = await loadOrCreateRelayKeys(config.stateDir);
  const binaries = new BinaryCatalog(config.binariesDir, config.symlinkRoots, [config.stateDir, config.cacheDir]); // never its key or queue
  await binaries.ready();
  // Each firmware family whose default binary is missing is told once at start (per-host ipxeBuild files are checked
  // when a machine asks).
  const missingDefaults = [config.biosBinary, config.uefiBinary, config.arm64Binary].filter((name) => !binaries.has(name));
  if (missingDefaults.length === 3) {
    log.warn("no iPXE binaries found: PXE ROM clients cannot be served", { binariesDir: config.binariesDir });
  } else if (missingDefaults.length > 0) {
    log.info("some default iPXE binaries are missing: those firmware families cannot be served", { binariesDir: config.binariesDir, missing: missingDefaults });
  }
  const extraRoutes: RouteHandler[] = [];
  const stoppers: Array<() => Promise<void> | void> = [];
  const healthChecks: Array<() => Health> = [];
  // Events go to the log until the sync part adds its queued sink.
  const sinks: EventSink[] = [logSink(log)];
  const events = teeSink(sinks);

  // ---- cache + sync (artifacts engineer) -----------------------------------------------------------------------
  const artifacts = await startArtifactSync({ config, advertise, version: RELAY_VERSION, state, log, registry, events });
  extraRoutes.push(artifacts.route);
  sinks.push(artifacts.queue);
  healthChecks.push(artifacts.health);
  stoppers.push(() => artifacts.stop());
  // ---- end cache + sync ---------------------------------------------------------------------------------------

  // Host-token paths for the `bound` secret-delivery policy: only via this relay, for the address it saw.
  const clients = new ClientTable();
  // Per-host iPXE build overrides from the last sync snapshot: the proxy offer reads local state only.
  const ipxeBuildFor = (mac: string | null) => (mac ? (state.get().ipxeBuilds?.get(mac) ?? null) : null);
  // proxyDHCP on a worker thread (--dhcp-thread): the chain paths wait for its posted claims on a miss (thread.ts).
  let dhcpThread: DhcpThread | null = null;
  const dhcpSettle = config.dhcpThread === "on" ? () => dhcpThread?.settle() ?? Promise.resolve() : undefined;
  let fail: (err: Error) => void = () => {};
  const failed = new Promise<Error>((resolve) => (fail = resolve));
  // One bound on machine-driven requests at the API: chains and /h/ paths (NoCloud, files, events) share it. A request
  // waits at most twice the API timeout, so wait plus API time stays under a client's usual 30 s: in the N = 1,000
  // storm against wrangler dev (~14 API requests/s) a wait of one timeout turned 9 machines' NoCloud reads into 503s.
  const gate = createApiGate({ limit: config.apiMaxRequests, maxWaitMs: 2 * config.apiTimeoutMs });
  extraRoutes.push(hostProxyRoute({ apiUrl: config.apiUrl, credential: config.credential, timeoutMs: config.apiTimeoutMs, clients, dhcpSettle, gate, log: log.child({ part: "host-proxy" }) }));
  let httpBase = `http://${advertise}:${config.httpPort}`;
  const jwks = remoteApiKeys(config.apiUrl, { timeoutMs: config.apiTimeoutMs });
  const fetchChain = createChainFetcher({ apiUrl: config.apiUrl, site: config.site, credential: config.credential, timeoutMs: config.apiTimeoutMs, getKey: jwks, gate });
  const bootIpxe = createBootIpxeHandler({ config, state, keys, getKey: jwks, clients, dhcpSettle, relayBase: () => httpBase, log: log.child({ part: "boot" }), metrics, events, fetchChain });
  const http = createRelayHttpServer({
    bootIpxe,
    binaries,
    registry,
    metrics,
    log: log.child({ part: "http" }),
    extraRoutes,
    events,
    clients,
    health: () => {
      const results = healthChecks.map((check) => check());
      return {
        ok: results.every((r) => r.ok),
        detail: Object.assign({ version: RELAY_VERSION, site: config.site, binaries: binaries.names().length }, ...results.map((r) => r.detail)),
      };
    },
  });

  const started: Array<{ close(): Promise<void> | void }> = [];
  const closeAll = async () => {
    for (const stop of stoppers.reverse()) await stop();
    await Promise.allSettled(started.map((s) => s.close()));
  };
  try {
    const httpPort = await listenHttp(http, config.httpPort, config.listenAddress);
    started.push({
      close: () =>
        new Promise<void>((res) => {
          http.close(() => res());
          http.closeAllConnections(); // idle keep-alive sockets would otherwise hold close() open
        }),
    });
    httpBase = `http://${advertise}:${httpPort}`; // the bound port (config may say 0)
    await artifacts.startSync(httpBase);
    // The client table links DHCP to /boot.ipxe (the MAC seen for an IP, and whether its iPXE can do HTTPS).
    const ipxeTrust = ipxeTrustOption(config.apiTrustSha256);
    const dhcpOpts = { config, advertise, httpBase, binaries, clients, ipxeTrust, log: log.child({ part: "dhcp" }), metrics, events };
    let dhcp: DhcpServer | null = null;
    let proxy: DhcpServer | null = null;
    let tftp: TftpServer | null = null;
    const dhcpRoles = [
      ...(config.dhcpPort !== 0 ? [{ role: "dhcp" as const, port: config.dhcpPort }] : []),
      ...(config.proxyDhcpPort !== 0 ? [{ role: "proxy" as const, port: config.proxyDhcpPort }] : []),
    ];
    if (config.dhcpThread === "on" && dhcpRoles.length > 0) {
      // Only what the decision reads crosses to the thread (never the credential).
      const { listenAddress, biosBinary, uefiBinary, arm64Binary, offerMode, offerModeOverrides, relayAgentNetworks } = config;
      const thread = await startDhcpThread({
        roles: dhcpRoles,
        config: { listenAddress, biosBinary, uefiBinary, arm64Binary, offerMode, offerModeOverrides, relayAgentNetworks },
        advertise,
        httpBase,
        ipxeTrust,
        binaries: binaries.names(),
        ipxeBuilds: state.get().ipxeBuilds ?? new Map(),
        clients,
        log: dhcpOpts.log,
        metrics,
        events,
        onFatal: fail,
      });
      dhcpThread = thread;
      started.push(thread);
      binaries.onChange((names) => thread.setBinaries(names));
      let builds = state.get().ipxeBuilds;
      state.onUpdate((s) => {
        if (sameIpxeBuilds(builds, s.ipxeBuilds)) return;
        builds = s.ipxeBuilds;
        thread.setIpxeBuilds(builds ?? new Map());
      });
    } else {
      if (config.dhcpPort !== 0) started.push((dhcp = await startDhcpServer({ ...dhcpOpts, ipxeBuildFor, role: "dhcp", port: config.dhcpPort })));
      if (config.proxyDhcpPort !== 0) started.push((proxy = await startDhcpServer({ ...dhcpOpts, ipxeBuildFor, role: "proxy", port: config.proxyDhcpPort })));
    }
    if (config.tftpPort !== 0) {
      tftp = await startTftpServer({
        port: config.tftpPort,
        address: config.listenAddress,
        binaries,
        limits: { maxBlksize: config.tftpMaxBlksize, maxWindow: config.tftpMaxWindow, maxTransfers: config.tftpMaxTransfers },
        log: log.child({ part: "tftp" }),
        metrics,
        events,
        clients,
      });
      started.push(tftp);
    }
    const rescan = setInterval(() => void binaries.rescan(), 60_000);
    rescan.unref();
    stoppers.push(() => clearInterval(rescan));
    const ports = { dhcp: dhcp?.port ?? dhcpThread?.ports.dhcp ?? 0, proxyDhcp: proxy?.port ?? dhcpThread?.ports.proxy ?? 0, tftp: tftp?.port ?? 0, http: httpPort };
    log.info("relay started", { version: RELAY_VERSION, site: config.site, api: config.apiUrl, advertise, ports, dhcpThread: dhcpThread !== null, binaries: binaries.names() });
    return { advertise, ports, close: closeAll, failed };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

export async function runCli(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const result = parseConfig(argv, env, (p) => readFileSync(p, "utf8"));
  if (result.kind === "help") return void process.stdout.write(result.text), 0;
  if (result.kind === "version") return void process.stdout.write(`${RELAY_VERSION}\n`), 0;
  if (result.kind === "error") {
    process.stderr.write(`edgeboot-relay: invalid configuration:\n${result.errors.map((e) => `  ${e}`).join("\n")}\n`);
    return 2;
  }
  const log = createLogger({ level: result.config.logLevel });
  for (const w of result.warnings) log.warn(w);
  let relay: RelayHandle;
  try {
    relay = await startRelay(result.config, log);
  } catch (err) {
    // A listener that cannot start stops the daemon (e.g. port 67 without CAP_NET_BIND_SERVICE).
    log.error("relay failed to start", { error: err });
    return 1;
  }
  const fatal = await new Promise<boolean>((resolve) => {
    const stop = (signal: string) => {
      log.info("stopping", { signal });
      resolve(false);
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
    void relay.failed.then(() => resolve(true)); // logged where it happened
  });
  // A stop that hangs (a client or API connection that never ends) must not outlast the service manager's patience:
  // queued events are on disk, so after the grace period the relay exits anyway.
  let grace: NodeJS.Timeout | undefined;
  const closed = await Promise.race([
    relay.close().then(() => true),
    new Promise<false>((resolve) => {
      grace = setTimeout(() => resolve(false), STOP_GRACE_MS);
    }),
  ]);
  clearTimeout(grace);
  if (!closed) {
    log.warn("stopping took too long; exiting without waiting for open connections", { graceMs: STOP_GRACE_MS });
    process.exit(1);
  }
  return fatal ? 1 : 0;
}

const isEntry = (() => {
  try {
    return !!process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
})();
if (isEntry) process.exitCode = await runCli(process.argv.slice(2), process.env);
