// proxyDHCP on a worker thread (worker.ts), seen from the main thread: starts it, keeps its mirror of binary names and
// per-MAC iPXE builds current, applies what it posts (claims into the ClientTable with the same mac-rebind reports as
// in-thread, events, metrics, log lines), and offers a barrier: after `settle()`, every claim the worker posted before
// it is in the table (MessagePort is FIFO), which /boot.ipxe and the /h/ proxy wait for when an address is unknown.
// A crashed worker is logged and restarted on the same ports, at most MAX_RESTARTS times in RESTART_WINDOW_MS; past
// that `onFatal` stops the relay (a relay that serves HTTP but never answers DHCP looks alive while nothing boots).
import { Worker } from "node:worker_threads";
import type { EventSink } from "../events.ts";
import { LOG_LEVELS, type Logger } from "../log.ts";
import type { RelayMetrics } from "../metrics.ts";
import type { IpxeBuild } from "../../worker/shared/ipxeBuild.ts";
import { applyClaim } from "./bindings.ts";
import type { ClientTable } from "./clients.ts";
import type { ReceivedOn } from "./proxy.ts";
import type { DhcpThreadInit, FromWorker, Op, ToWorker } from "./threadProtocol.ts";

export const SETTLE_TIMEOUT_MS = 500;
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 10 * 60_000;
const CLOSE_TIMEOUT_MS = 2_000;

export type DhcpThread = {
  ports: Partial<Record<ReceivedOn, number>>;
  // Resolves once every claim the worker posted before this call has been applied (or after SETTLE_TIMEOUT_MS).
  settle(): Promise<void>;
  setBinaries(names: string[]): void;
  setIpxeBuilds(map: ReadonlyMap<string, IpxeBuild>): void;
  close(): Promise<void>;
};

export type DhcpThreadOptions = Omit<DhcpThreadInit, "logLevel"> & {
  clients: ClientTable;
  log: Logger;
  metrics: Pick<RelayMetrics, "dhcpIgnored" | "dhcpOffers">;
  events: EventSink;
  onFatal: (err: Error) => void;
  now?: () => number;
  entry?: URL; // test seam: another worker script
};

// The worker's .ts entry under type stripping, its .js twin in relay/bin.js's stripped copy (bin.js rewrites this).
const ENTRY = new URL("./worker.ts", import.meta.url);

const bindError = (e: Extract<FromWorker, { t: "failed" }>["error"]) => Object.assign(new Error(e.message), e);

export async function startDhcpThread(opts: DhcpThreadOptions): Promise<DhcpThread> {
  const { clients, log, events } = opts;
  const now = opts.now ?? Date.now;
  const logLevel = LOG_LEVELS.find((l) => log.enabled(l)) ?? "error";
  const init: DhcpThreadInit = { roles: opts.roles, config: opts.config, advertise: opts.advertise, httpBase: opts.httpBase, ipxeTrust: opts.ipxeTrust, binaries: opts.binaries, ipxeBuilds: opts.ipxeBuilds, logLevel };
  const series = new Map<string, { inc(by?: number): void }>();
  const apply = (op: Op) => {
    switch (op.t) {
      case "claim":
        return applyClaim(clients, op.claim, op.sender, { events, log, now });
      case "note":
        return clients.noteClient(op.mac, op.info);
      case "event":
        return events.emit(op.event);
      case "log":
        return log[op.level](op.msg, op.fields);
      case "metrics":
        for (const c of op.counts) {
          const key = `${c.name} ${JSON.stringify(c.labels)}`;
          let s = series.get(key);
          if (!s) series.set(key, (s = opts.metrics[c.name].labels(c.labels)));
          s.inc(c.by);
        }
    }
  };

  let worker: Worker;
  let running = false; // the current worker has not exited
  let closing = false;
  let nextPing = 1;
  const pings = new Map<number, () => void>();
  const releasePings = () => {
    for (const done of pings.values()) done();
    pings.clear();
  };
  let onClosed: (() => void) | null = null;
  const restarts: number[] = [];

  // Starts a worker; resolves with its ports once both sockets are bound, rejects with the bind error.
  const spawn = (roles: DhcpThreadInit["roles"]) =>
    new Promise<number[]>((resolve, reject) => {
      let started = false;
      const w = new Worker(opts.entry ?? ENTRY, { workerData: { ...init, roles }, stdout: false, stderr: false });
      worker = w;
      running = true;
      w.on("message", (m: FromWorker) => {
        if (m.t === "batch") for (const op of m.ops) apply(op);
        else if (m.t === "pong") {
          pings.get(m.id)?.();
          pings.delete(m.id);
        } else if (m.t === "ready") {
          started = true;
          resolve(m.ports);
        } else if (m.t === "failed") {
          reject(bindError(m.error));
          void w.terminate();
        } else if (m.t === "closed") onClosed?.();
      });
      w.on("error", (err) => {
        if (!started) return reject(err);
        log.error("proxyDHCP worker crashed", { error: err });
      });
      w.on("exit", (code) => {
        if (w !== worker) return;
        running = false;
        releasePings();
        if (!started) return reject(new Error(`proxyDHCP worker exited (code ${code}) before its sockets were bound`));
        if (closing) return onClosed?.();
        restart(code);
      });
    });

  const ports = await spawn(opts.roles);
  const bound = opts.roles.map((r, i) => ({ role: r.role, port: ports[i]! }));

  const restart = (code: number) => {
    const t = now();
    while (restarts.length && t - restarts[0]! > RESTART_WINDOW_MS) restarts.shift();
    if (restarts.length >= MAX_RESTARTS) {
      const err = new Error(`proxyDHCP worker exited (code ${code}) ${MAX_RESTARTS + 1} times within ${RESTART_WINDOW_MS / 60_000} minutes`);
      log.error("proxyDHCP worker keeps failing; stopping the relay", { error: err });
      return opts.onFatal(err);
    }
    restarts.push(t);
    log.warn("restarting the proxyDHCP worker", { code, restarts: restarts.length });
    spawn(bound).then(
      () => log.info("proxyDHCP worker restarted", { ports: bound }),
      (err: Error) => {
        log.error("cannot restart the proxyDHCP worker; stopping the relay", { error: err });
        opts.onFatal(err);
      },
    );
  };

  const send = (m: ToWorker) => {
    if (!closing) worker.postMessage(m);
  };
  return {
    ports: Object.fromEntries(bound.map((b) => [b.role, b.port])),
    settle: () =>
      new Promise<void>((resolve) => {
        if (closing) return resolve();
        const id = nextPing++;
        const timer = setTimeout(() => {
          pings.delete(id);
          resolve();
        }, SETTLE_TIMEOUT_MS);
        pings.set(id, () => {
          clearTimeout(timer);
          resolve();
        });
        send({ t: "ping", id });
      }),
    setBinaries: (names) => {
      init.binaries = names;
      send({ t: "binaries", names });
    },
    setIpxeBuilds: (map) => {
      init.ipxeBuilds = map;
      send({ t: "ipxeBuilds", map });
    },
    close: async () => {
      closing = true;
      const w = worker;
      if (!running) return releasePings();
      const done = new Promise<void>((resolve) => {
        onClosed = resolve;
        setTimeout(resolve, CLOSE_TIMEOUT_MS).unref();
      });
      w.postMessage({ t: "close" } satisfies ToWorker);
      await done;
      await w.terminate();
      releasePings();
    },
  };
}

// Whether two sync snapshots' iPXE build maps say the same (each sync makes a new Map; most change nothing).
export function sameIpxeBuilds(a: ReadonlyMap<string, IpxeBuild> | undefined, b: ReadonlyMap<string, IpxeBuild> | undefined): boolean {
  if (a === b) return true;
  if ((a?.size ?? 0) !== (b?.size ?? 0)) return false;
  for (const [mac, build] of a ?? []) if (b?.get(mac) !== build) return false;
  return true;
}
