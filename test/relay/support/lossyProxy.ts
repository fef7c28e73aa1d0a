// A UDP proxy between a TFTP client and server that drops packets, for "a transfer survives loss" tests. The client
// talks to `port`; the server's transfer replies (from its per-transfer TID) reach the client from a second proxy
// socket, so the client still sees one RRQ port and one TID. Drops are deterministic (seeded) and capped.
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";

export type LossyProxy = { port: number; dropped: { toServer: number; toClient: number }; close(): Promise<void> };

function bind(): Promise<Socket> {
  return new Promise((resolve) => {
    const s = createSocket("udp4");
    s.bind(0, "127.0.0.1", () => resolve(s));
  });
}

// mulberry32: a tiny seeded PRNG so a failing run can be replayed.
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function startLossyProxy(opts: { serverPort: number; dropRate: number; maxDrops: number; seed?: number }): Promise<LossyProxy> {
  const front = await bind(); // client -> proxy (RRQ)
  const tid = await bind(); // proxy -> client for transfer traffic
  const back = await bind(); // proxy <-> server
  const random = prng(opts.seed ?? 42);
  const dropped = { toServer: 0, toClient: 0 };
  let client: RemoteInfo | null = null;
  let serverTid: { address: string; port: number } | null = null;
  const drop = (dir: "toServer" | "toClient") => {
    if (dropped.toServer + dropped.toClient >= opts.maxDrops || random() >= opts.dropRate) return false;
    dropped[dir]++;
    return true;
  };
  front.on("message", (msg, rinfo) => {
    client = rinfo;
    back.send(msg, opts.serverPort, "127.0.0.1"); // the RRQ itself is never dropped: the test is about the transfer
  });
  tid.on("message", (msg) => {
    if (!serverTid || drop("toServer")) return;
    back.send(msg, serverTid.port, serverTid.address);
  });
  back.on("message", (msg, rinfo) => {
    if (!client) return;
    if (rinfo.port !== opts.serverPort) serverTid = { address: rinfo.address, port: rinfo.port };
    if (drop("toClient")) return;
    tid.send(msg, client.port, client.address);
  });
  return {
    port: front.address().port,
    dropped,
    close: async () => {
      await Promise.all([front, tid, back].map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}
