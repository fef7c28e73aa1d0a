// proxyDHCP reply latency: 1,000 DISCOVERs (a real OVMF capture, a fresh xid and MAC each), one at a time, p50 and
// p99 from send to reply, the relay (a real `relay/main.ts` process) against dnsmasq in proxy mode, in one run.
// Both servers need port 67 and real broadcasts, which loopback does not give dnsmasq, so the bench builds two
// network namespaces joined by a veth pair (needs root): "srv" (10.77.0.1) runs one server at a time, "cli"
// (10.77.0.2) runs the client (this file with --client). Without root it measures ours on loopback only.
// Rows (stdout, JSON): {"what","ours","peer","peerName","unit":"ms","ratio","better":"lower"}; progress on stderr.
import { spawn, spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const COUNT = Number(process.env.BENCH_DISCOVERS ?? 1000);
const WARMUP = 200; // not counted, for both servers: lets V8 compile the relay's hot path before measuring
const log = (msg) => process.stderr.write(`${msg}\n`);
const DISCOVER = readFileSync(join(ROOT, "test/fixtures/captures/ovmf-x64-discover.bin"));

// ---- client mode: runs inside the "cli" namespace (or on loopback), prints {"latencies":[...]} -------------------
async function client(target, port, replyPort, asRequest) {
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
  const latencies = [];
  let lost = 0;
  for (let i = 0; i < COUNT + WARMUP; i++) {
    const pkt = Buffer.from(DISCOVER);
    const xid = (0x10000000 + i) >>> 0;
    pkt.writeUInt32BE(xid, 4);
    pkt.writeUInt32BE(0x02000000 + i, 30); // chaddr bytes 2..5: one MAC per DISCOVER (the relay rate-limits per MAC)
    if (asRequest) pkt[242] = 3; // option 53 (first option of the capture): DHCPREQUEST, as sent to 4011
    const got = new Promise((resolve) => {
      pending.set(xid, resolve);
      setTimeout(() => resolve(null), 1000);
    });
    const sent = process.hrtime.bigint();
    sock.send(pkt, port, target);
    const at = await got;
    if (i < WARMUP) continue;
    if (at === null) lost++;
    else latencies.push(Number(at - sent) / 1e6);
  }
  sock.close();
  console.log(JSON.stringify({ latencies, lost }));
}

if (process.argv[2] === "--client") {
  await client(process.argv[3], Number(process.argv[4]), Number(process.argv[5]), process.argv[6] === "request");
  process.exit(0);
}

// ---- orchestrator ------------------------------------------------------------------------------------------------
const sh = (cmd, ...args) => {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
};
const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const stateDir = mkdtempSync(join(tmpdir(), "edgeboot-dhcp-bench-"));
const children = [];
const stopAll = () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM");
};

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
      "--state-dir", stateDir,
      "--log-level", "error",
    ]),
    { env: { ...process.env, EDGEBOOT_RELAY_CREDENTIAL: "bench-only" }, stdio: ["ignore", "ignore", "inherit"] },
  );
  children.push(child);
  return child;
}

function runClient(prefix, target, port, replyPort, mode = "discover") {
  const r = spawnSync(...prefix(process.execPath, [SELF, "--client", target, String(port), String(replyPort), mode]), { encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`client failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

const stop = async (child) => {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
};
const settle = (ms) => new Promise((r) => setTimeout(r, ms));

const id = `ebbench-${process.pid}`;
const ns = { srv: `${id}-srv`, cli: `${id}-cli` };
let made = false;
function makeNetns() {
  sh("ip", "netns", "add", ns.srv);
  sh("ip", "netns", "add", ns.cli);
  made = true;
  sh("ip", "link", "add", `${id.slice(-9)}a`, "netns", ns.srv, "type", "veth", "peer", "name", `${id.slice(-9)}b`, "netns", ns.cli);
  const a = `${id.slice(-9)}a`;
  const b = `${id.slice(-9)}b`;
  sh("ip", "-n", ns.srv, "addr", "add", "10.77.0.1/24", "dev", a);
  sh("ip", "-n", ns.cli, "addr", "add", "10.77.0.2/24", "dev", b);
  for (const [n, dev] of [[ns.srv, a], [ns.cli, b]]) {
    sh("ip", "-n", n, "link", "set", "lo", "up");
    sh("ip", "-n", n, "link", "set", dev, "up");
  }
  sh("ip", "-n", ns.cli, "route", "add", "default", "dev", b);
  return a;
}
function removeNetns() {
  if (!made) return;
  for (const n of [ns.srv, ns.cli]) spawnSync("ip", ["netns", "delete", n]);
}
process.on("exit", () => {
  stopAll();
  removeNetns();
  rmSync(stateDir, { recursive: true, force: true });
});

const inNs = (name) => (cmd, args) => ["ip", ["netns", "exec", name, cmd, ...args]];
const direct = (cmd, args) => [cmd, args];
const summary = (r) => ({ p50: percentile(r.latencies, 50), p99: percentile(r.latencies, 99), lost: r.lost, n: r.latencies.length });

let rootOk = process.getuid?.() === 0;
let srvDev = null;
if (rootOk) {
  try {
    srvDev = makeNetns();
  } catch (err) {
    log(`network namespaces unavailable (${err.message.trim()}); measuring ours on loopback only`);
    rootOk = false;
  }
}

try {
  if (!rootOk) {
    // Loopback fallback: our relay answers "broadcasts" to 255.255.255.255, which loopback cannot carry back, so
    // this mode asks it on 4011 instead (same decision code, unicast reply).
    const relay = startRelay(direct, "127.0.0.1", "127.0.0.1", { dhcp: 0, http: 20000 + (process.pid % 20000) });
    await settle(1500);
    const ours = summary(runClient(direct, "127.0.0.1", 4011, 0, "request"));
    await stop(relay);
    for (const p of ["p50", "p99"]) console.log(JSON.stringify({ what: `proxyDHCP reply latency ${p} (loopback, 4011; no dnsmasq without root)`, ours: ours[p], peer: null, peerName: "dnsmasq (not run)", unit: "ms", ratio: null, better: "lower" }));
  } else {
    const relay = startRelay(inNs(ns.srv), "10.77.0.1", "0.0.0.0");
    await settle(1500);
    const ours = summary(runClient(inNs(ns.cli), "255.255.255.255", 67, 68));
    await stop(relay);
    log(`ours: p50 ${ours.p50.toFixed(3)} ms, p99 ${ours.p99.toFixed(3)} ms, ${ours.n} replies, ${ours.lost} lost`);

    const version = sh("dnsmasq", "--version").split("\n")[0].replace(/ +Copyright.*/, "");
    const dnsmasq = spawn(
      ...inNs(ns.srv)("dnsmasq", [
        "--no-daemon",
        "--conf-file=/dev/null",
        "--port=0",
        `--interface=${srvDev}`,
        "--bind-interfaces",
        "--dhcp-range=10.77.0.0,proxy",
        "--pxe-service=x86-64_EFI,Network Boot,ipxe.efi",
        "--pxe-service=x86PC,Network Boot,undionly.kpxe",
        "--pid-file=",
        "--quiet-dhcp",
        "--log-facility=/dev/null",
        "--dhcp-leasefile=/dev/null",
      ]),
      { stdio: ["ignore", "ignore", "inherit"] },
    );
    children.push(dnsmasq);
    await settle(1000);
    const peer = summary(runClient(inNs(ns.cli), "255.255.255.255", 67, 68));
    await stop(dnsmasq);
    log(`dnsmasq: p50 ${peer.p50.toFixed(3)} ms, p99 ${peer.p99.toFixed(3)} ms, ${peer.n} replies, ${peer.lost} lost`);
    for (const p of ["p50", "p99"]) {
      console.log(JSON.stringify({ what: `proxyDHCP reply latency ${p}, ${COUNT} DISCOVERs (target p99 < 2 ms)`, ours: ours[p], peer: peer[p], peerName: version, unit: "ms", ratio: ours[p] / peer[p], better: "lower" }));
    }
    if (ours.lost || peer.lost) log(`lost replies: ours ${ours.lost}, dnsmasq ${peer.lost}`);
  }
} finally {
  stopAll();
}
