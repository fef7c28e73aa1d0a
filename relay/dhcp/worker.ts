// The proxyDHCP worker thread's entry (started by thread.ts): both DHCP sockets (67, 4011) on an event loop and heap of
// their own, so a reply never waits behind TFTP/HTTP callbacks or the main heap's GC. It decides from a mirror of
// what the decision reads (binary names, per-MAC iPXE builds: the main thread posts them when they change) and posts
// everything else to the main thread in one batch per loop turn, after the replies are on the wire: claims and
// noteClient calls (the ClientTable lives on main), events, metric increments, log lines.
import { parentPort, workerData } from "node:worker_threads";
import { redact, sinkLogger, type LogFields, type Logger } from "../log.ts";
import type { RelayEvent } from "../events.ts";
import type { IpxeBuild } from "../../worker/shared/ipxeBuild.ts";
import type { Claim } from "./clients.ts";
import { startDhcpServer, type DhcpServer } from "./server.ts";
import type { DhcpThreadInit, FromWorker, Op, ToWorker } from "./threadProtocol.ts";

const port = parentPort!;
const init = workerData as DhcpThreadInit;

let ops: Op[] = [];
const counts = new Map<string, { name: "dhcpIgnored" | "dhcpOffers"; labels: Record<string, string>; by: number }>();
let scheduled = false;
const post = (m: FromWorker) => port.postMessage(m);
const flush = () => {
  scheduled = false;
  if (counts.size) ops.push({ t: "metrics", counts: [...counts.values()] });
  counts.clear();
  if (!ops.length) return;
  const batch = ops;
  ops = [];
  post({ t: "batch", ops: batch });
};
const queue = (op: Op | null) => {
  if (op) ops.push(op);
  if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
};

// Log lines go to the main thread's logger (one stderr writer, one format); fields are made plain here.
const log: Logger = sinkLogger(init.logLevel, (level, msg, base, fields) => queue({ t: "log", level, msg, fields: redact({ ...base, ...fields }) as LogFields }));

const counter = (name: "dhcpIgnored" | "dhcpOffers") => ({
  labels: (labels: Record<string, string>) => {
    const key = `${name} ${JSON.stringify(labels)}`;
    return {
      inc: (by = 1) => {
        const c = counts.get(key);
        if (c) c.by += by;
        else counts.set(key, { name, labels, by });
        queue(null);
      },
    };
  },
  inc: () => {
    throw new Error("unlabelled DHCP counter");
  },
  set: () => {},
});
const metrics = { dhcpIgnored: counter("dhcpIgnored"), dhcpOffers: counter("dhcpOffers") } as never;

// The mirror the decision reads.
let binaryNames = new Set(init.binaries);
let ipxeBuilds: ReadonlyMap<string, IpxeBuild> = init.ipxeBuilds;

const servers: DhcpServer[] = [];
const common = {
  config: init.config,
  advertise: init.advertise,
  httpBase: init.httpBase,
  binaries: { has: (name: string) => binaryNames.has(name) },
  ipxeBuildFor: (mac: string | null) => (mac ? (ipxeBuilds.get(mac) ?? null) : null),
  ipxeTrust: init.ipxeTrust,
  bindings: {
    claim: (claim: Claim, sender: string) => queue({ t: "claim", claim, sender }),
    noteClient: (mac: string, info: { https: boolean; arch: number | null }) => queue({ t: "note", mac, info }),
  },
  log,
  metrics,
  events: { emit: (event: RelayEvent) => queue({ t: "event", event }) },
};

port.on("message", (m: ToWorker) => {
  if (m.t === "binaries") binaryNames = new Set(m.names);
  else if (m.t === "ipxeBuilds") ipxeBuilds = m.map;
  else if (m.t === "ping") {
    // After this turn's I/O callbacks (a packet already read in this poll phase posts its claim first), everything
    // queued so far, then the pong: MessagePort order makes the main thread apply the claims before it sees the pong.
    setImmediate(() => {
      flush();
      post({ t: "pong", id: m.id });
    });
  } else if (m.t === "close") {
    void Promise.all(servers.map((s) => s.close())).then(() => {
      flush();
      post({ t: "closed" });
      port.close();
    });
  }
});

try {
  for (const { role, port: p } of init.roles) servers.push(await startDhcpServer({ ...common, role, port: p }));
  flush();
  post({ t: "ready", ports: servers.map((s) => s.port) });
} catch (err) {
  await Promise.all(servers.map((s) => s.close()));
  flush();
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  post({ t: "failed", error: { message: e.message, name: e.name, code: e.code, errno: e.errno, syscall: e.syscall, address: e.address, port: e.port } });
  port.close();
}
