// proxyDHCP reply latency: 1,000 DISCOVERs (a real OVMF capture, a fresh xid and MAC each), one at a time, p50 and
// p99 from send to reply, the relay (a real `relay/main.ts` process) against dnsmasq in proxy mode, in one run.
// Both servers need port 67 and real broadcasts, which loopback does not give dnsmasq, so the bench builds two
// identical pairs of network namespaces joined by veth pairs (needs root): "srv" (10.77.0.1) runs a server, "cli"
// (10.77.0.2) a client (this file with --client). Both servers run throughout and the rounds alternate between them
// (ABBA order), so machine load drifting during the run hits both alike. Each server logs every offer to a file,
// as both do by default (the relay at info, dnsmasq without --quiet-dhcp), and the relay runs with the Node flags it
// ships with (Dockerfile, systemd unit; BENCH_RELAY_NODE_OPTIONS overrides). Without root it measures ours on
// loopback only.
// Placement: in a deployment the relay and the booting machine are different computers, so with >= 2 CPUs available
// the bench pins (taskset, util-linux) both servers (the relay, dnsmasq) to the first CPU it may use and both client
// processes (and this orchestrator) to the second: the same placement for ours and the peer, printed on stderr and
// in each row's "what". With 1 CPU it runs unpinned and says so. BENCH_PLACEMENT=shared pins everything to the second
// CPU; BENCH_PLACEMENT=none leaves it to the scheduler.
// Rows (stdout, JSON): {"what","ours","peer","peerName","unit":"ms","ratio","better":"lower"}; progress on stderr.
import { spawn, spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { checkPlacement, choosePlacement, pinSelf } from "./placement.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const COUNT = Number(process.env.BENCH_DISCOVERS ?? 1000);
const WARMUP = 200; // not counted, for both servers: lets V8 compile the relay's hot path before measuring
const ROUNDS = 10; // COUNT is split into this many rounds per server, alternating
const log = (msg) => process.stderr.write(`${msg}\n`);
const DISCOVER = readFileSync(join(ROOT, "test/fixtures/captures/ovmf-x64-discover.bin"));

// ---- client mode: a long-lived process inside a client namespace (or on loopback). Each stdin line is a round size;
// it answers with one line {"latencies":[...],"lost":n}. Long-lived so its JIT is warm and rounds can interleave.
async function client(target, port, replyPort, asRequest, macBase) {
  const sock = createSocket({ type: "udp4", reuseAddr: true });
  await new Promise((r) => sock.bind(replyPort, "0.0.0.0", r));
  sock.setBroadcast(true);
  const pending = new Map();
  sock.on("message", (msg) => {
    if (msg.length < 240 || msg[0] !== 2) return;
    const xid = msg.readUInt32BE(4);
    const done = pending.get(xid);
    if (done) {
      pending.delete(xid);
      done(process.hrtime.bigint());
    }
  });
  let seq = 0;
  const round = async (count) => {
    const latencies = [];
    let lost = 0;
    for (let i = 0; i < count; i++, seq++) {
      const pkt = Buffer.from(DISCOVER);
      const xid = (0x10000000 + seq) >>> 0;
      pkt.writeUInt32BE(xid, 4);
      pkt.writeUInt32BE(macBase + seq, 30); // chaddr bytes 2..5: one MAC per DISCOVER (the relay rate-limits per MAC)
      if (asRequest) pkt[242] = 3; // option 53 (first option of the capture): DHCPREQUEST, as sent to 4011
      let timer;
      const got = new Promise((resolve) => {
        pending.set(xid, resolve);
        timer = setTimeout(() => resolve(null), 1000);
      });
      const sent = process.hrtime.bigint();
      sock.send(pkt, port, target);
      const at = await got;
      clearTimeout(timer);
      pending.delete(xid);
      if (at === null) lost++;
      else latencies.push(Number(at - sent) / 1e6);
    }
    return { latencies, lost };
  };
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    process.stdout.write(`${JSON.stringify(await round(Number(line)))}\n`);
  }
  sock.close();
}

if (process.argv[2] === "--client") {
  await client(process.argv[3], Number(process.argv[4]), Number(process.argv[5]), process.argv[6] === "request", Number(process.argv[7] ?? 0x02000000));
  process.exit(0);
}

// ---- orchestrator ------------------------------------------------------------------------------------------------
// Placement (see the top comment and placement.mjs).
const placement = choosePlacement();
// A prefix (see inNs below) whose command runs on `cpu` (null: as is).
const pinned = (cpu, prefix) => (cmd, args) => (cpu === null ? prefix(cmd, args) : prefix("taskset", ["-c", String(cpu), cmd, ...args]));
pinSelf(placement);
log(`placement: ${placement.text}; servers: relay, dnsmasq; clients: the two DHCP load generators, this orchestrator`);

const sh = (cmd, ...args) => {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
};
const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const tmp = mkdtempSync(join(tmpdir(), "edgeboot-dhcp-bench-"));
const children = [];
const stopAll = () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM");
};
// What the relay ships with (relay/Dockerfile, relay/deploy/edgeboot-relay.service).
const RELAY_NODE_OPTIONS = process.env.BENCH_RELAY_NODE_OPTIONS ?? "--max-semi-space-size=1";
const RELAY_LOG_LEVEL = process.env.BENCH_RELAY_LOG_LEVEL ?? "info";

function startRelay(prefix, advertise, listen, ports = { dhcp: 67, http: 18067 }) {
  const child = spawn(
    ...prefix(process.execPath, [
      join(ROOT, "relay/main.ts"),
      "--api-url", "http://127.0.0.1:9",
      "--site", "bench",
      "--listen", listen,
      "--advertise", advertise,
      "--dhcp-port", String(ports.dhcp),
      "--proxy-dhcp-port", "4011",
      "--tftp-port", "0",
      "--http-port", String(ports.http),
      "--state-dir", join(tmp, "relay-state"),
      "--log-level", RELAY_LOG_LEVEL,
    ]),
    {
      env: { ...process.env, NODE_OPTIONS: RELAY_NODE_OPTIONS, EDGEBOOT_RELAY_CREDENTIAL: "bench-only" },
      stdio: ["ignore", "ignore", openSync(join(tmp, "relay.log"), "a")],
    },
  );
  children.push(child);
  return child;
}

// A long-lived client; run(n) sends n DISCOVERs one at a time and resolves with their latencies.
function startClient(prefix, target, port, replyPort, mode, macBase) {
  const child = spawn(...prefix(process.execPath, [SELF, "--client", target, String(port), String(replyPort), mode, String(macBase)]), { stdio: ["pipe", "pipe", "inherit"] });
  children.push(child);
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    async run(n) {
      child.stdin.write(`${n}\n`);
      const { value, done } = await lines.next();
      if (done) throw new Error(`client exited (${child.exitCode ?? child.signalCode})`);
      return JSON.parse(value);
    },
    close: () => child.stdin.end(),
    pid: child.pid,
  };
}

const settle = (ms) => new Promise((r) => setTimeout(r, ms));

const id = `ebbench-${process.pid}`;
const short = id.slice(-9);
const pairs = ["a", "b"].map((k) => ({ srv: `${id}-srv${k}`, cli: `${id}-cli${k}`, srvDev: `${short}${k}s`, cliDev: `${short}${k}c` }));
const made = [];
// One server namespace and one client namespace per server, addressed identically: the same path for both.
function makeNetns(pair) {
  for (const n of [pair.srv, pair.cli]) {
    sh("ip", "netns", "add", n);
    made.push(n);
  }
  sh("ip", "link", "add", pair.srvDev, "netns", pair.srv, "type", "veth", "peer", "name", pair.cliDev, "netns", pair.cli);
  sh("ip", "-n", pair.srv, "addr", "add", "10.77.0.1/24", "dev", pair.srvDev);
  sh("ip", "-n", pair.cli, "addr", "add", "10.77.0.2/24", "dev", pair.cliDev);
  for (const [n, dev] of [[pair.srv, pair.srvDev], [pair.cli, pair.cliDev]]) {
    sh("ip", "-n", n, "link", "set", "lo", "up");
    sh("ip", "-n", n, "link", "set", dev, "up");
  }
  sh("ip", "-n", pair.cli, "route", "add", "default", "dev", pair.cliDev);
}
function removeNetns() {
  for (const n of made.splice(0)) spawnSync("ip", ["netns", "delete", n]);
}
process.on("exit", () => {
  stopAll();
  removeNetns();
  rmSync(tmp, { recursive: true, force: true });
});

const inNs = (name) => (cmd, args) => ["ip", ["netns", "exec", name, cmd, ...args]];
const direct = (cmd, args) => [cmd, args];
const summary = (r) => ({ p50: percentile(r.latencies, 50), p99: percentile(r.latencies, 99), max: Math.max(...r.latencies), lost: r.lost, n: r.latencies.length });
const merge = (rs) => ({ latencies: rs.flatMap((r) => r.latencies), lost: rs.reduce((a, r) => a + r.lost, 0) });

let rootOk = process.getuid?.() === 0;
if (rootOk) {
  try {
    for (const pair of pairs) makeNetns(pair);
  } catch (err) {
    log(`network namespaces unavailable (${err.message.trim()}); measuring ours on loopback only`);
    removeNetns();
    rootOk = false;
  }
}

try {
  if (!rootOk) {
    // Loopback fallback: our relay answers "broadcasts" to 255.255.255.255, which loopback cannot carry back, so
    // this mode asks it on 4011 instead (same decision code, unicast reply).
    const relay = startRelay(pinned(placement.server, direct), "127.0.0.1", "127.0.0.1", { dhcp: 0, http: 20000 + (process.pid % 20000) });
    await settle(1500);
    const c = startClient(pinned(placement.client, direct), "127.0.0.1", 4011, 0, "request", 0x02000000);
    await c.run(WARMUP);
    checkPlacement([["relay", relay.pid, placement.server], ["client", c.pid, placement.client], ["orchestrator", process.pid, placement.client]], log);
    const ours = summary(await c.run(COUNT));
    c.close();
    for (const p of ["p50", "p99"]) console.log(JSON.stringify({ what: `proxyDHCP reply latency ${p} (loopback, 4011; no dnsmasq without root) [${placement.tag}]`, ours: ours[p], peer: null, peerName: "dnsmasq (not run)", unit: "ms", ratio: null, better: "lower" }));
  } else {
    const [a, b] = pairs;
    const relay = startRelay(pinned(placement.server, inNs(a.srv)), "10.77.0.1", "0.0.0.0");
    const version = sh("dnsmasq", "--version").split("\n")[0].replace(/ +Copyright.*/, "");
    const dnsmasq = spawn(
      ...pinned(placement.server, inNs(b.srv))("dnsmasq", [
        "--keep-in-foreground", // not --no-daemon, which also copies every log line to stderr
        "--conf-file=/dev/null",
        "--port=0",
        `--interface=${b.srvDev}`,
        "--bind-interfaces",
        "--dhcp-range=10.77.0.0,proxy",
        "--pxe-service=x86-64_EFI,Network Boot,ipxe.efi",
        "--pxe-service=x86PC,Network Boot,undionly.kpxe",
        "--pid-file=",
        `--log-facility=${join(tmp, "dnsmasq.log")}`,
        "--dhcp-leasefile=/dev/null",
      ]),
      { stdio: ["ignore", "ignore", "inherit"] },
    );
    children.push(dnsmasq);
    await settle(1500);
    const ours = startClient(pinned(placement.client, inNs(a.cli)), "255.255.255.255", 67, 68, "discover", 0x02000000);
    const peer = startClient(pinned(placement.client, inNs(b.cli)), "255.255.255.255", 67, 68, "discover", 0x03000000);
    await ours.run(WARMUP);
    await peer.run(WARMUP);
    checkPlacement([
      ["relay", relay.pid, placement.server],
      ["dnsmasq", dnsmasq.pid, placement.server],
      ["client for ours", ours.pid, placement.client],
      ["client for dnsmasq", peer.pid, placement.client],
      ["orchestrator", process.pid, placement.client],
    ], log);
    const got = { ours: [], peer: [] };
    const per = Math.ceil(COUNT / ROUNDS);
    for (let i = 0; i < ROUNDS; i++) {
      const order = i % 2 === 0 ? ["ours", "peer"] : ["peer", "ours"];
      for (const who of order) got[who].push(await (who === "ours" ? ours : peer).run(per));
    }
    ours.close();
    peer.close();
    const o = summary(merge(got.ours));
    const p = summary(merge(got.peer));
    const show = (s) => `p50 ${s.p50.toFixed(3)} ms, p99 ${s.p99.toFixed(3)} ms, max ${s.max.toFixed(3)} ms, ${s.n} replies, ${s.lost} lost`;
    log(`ours: ${show(o)} (NODE_OPTIONS=${RELAY_NODE_OPTIONS}, log level ${RELAY_LOG_LEVEL}, ${placement.tag})`);
    log(`dnsmasq: ${show(p)}`);
    log(`p99 per round, ours: ${got.ours.map((r) => percentile(r.latencies, 99).toFixed(2)).join(" ")}; dnsmasq: ${got.peer.map((r) => percentile(r.latencies, 99).toFixed(2)).join(" ")}`);
    for (const k of ["p50", "p99"]) {
      console.log(JSON.stringify({ what: `proxyDHCP reply latency ${k}, ${per * ROUNDS} DISCOVERs (target p99 < 2 ms) [${placement.tag}]`, ours: o[k], peer: p[k], peerName: version, unit: "ms", ratio: o[k] / p[k], better: "lower" }));
    }
    if (o.lost || p.lost) log(`lost replies: ours ${o.lost}, dnsmasq ${p.lost}`);
    const count = (file, re) => readFileSync(join(tmp, file), "utf8").split("\n").filter((l) => re.test(l)).length;
    log(`log lines: relay ${count("relay.log", /proxy offer/)} offers, ${count("relay.log", /"level":"error"/)} errors; dnsmasq ${count("dnsmasq.log", /PXE/)} PXE lines`);
  }
} finally {
  stopAll();
}
