// TFTP throughput on loopback: the relay (a real `relay/main.ts` process, TFTP only) against Debian's tftpd-hpa
// (`in.tftpd -L`, foreground), one 1 MiB file, the same client (atftp) for both, in one run:
//   blksize 512, blksize 1468, and blksize 1468 + windowsize 8 (RFC 7440; tftpd-hpa 5.2 ignores windowsize and
//   stays lock-step, which is the comparison the issue asks for).
// A fourth row repeats the windowed case with the small Node RFC 7440 client of the tests
// (test/relay/support/tftpClient.ts), the same client for both servers, since client speed shapes lock-step numbers.
// Before timing, each row checks what each server negotiated (its OACK: blksize, and windowsize 8 for ours, none for
// tftpd-hpa), so a row cannot silently compare something else. Rounds alternate which server goes first; the relay
// runs with the Node flags it ships with (BENCH_RELAY_NODE_OPTIONS overrides) at its default log level.
// Placement: lock-step figures on loopback swing with where the scheduler puts client and server (tftpd-hpa ran at
// 23-99 MB/s unpinned on a 2-CPU VM). In a deployment the relay and the booting machine are different computers, so
// with >= 2 CPUs available the bench pins (taskset, util-linux) every server under test (the relay, tftpd-hpa and
// its per-transfer children) to the first CPU it may use and every client (atftp, the Node client, which runs in
// this process, so this process too) to the second: the same placement for ours and the peer, printed on stderr and
// in each row's "what". With 1 CPU it runs unpinned and says so. BENCH_PLACEMENT=shared pins everything to the
// second CPU (per-packet cost alone, client and server competing); BENCH_PLACEMENT=none leaves it to the scheduler.
// With split placement the server CPU runs nothing but the server under test, so its /proc/stat counters across each
// timed fetch are that server's cost: rows "server CPU per DATA packet" give user time (the server's own code) and
// kernel time (the UDP path and wake-ups, alike for both servers) for the lock-step rows, in µs per packet.
// Rows (stdout, JSON): {"what","ours","peer","peerName","unit":"MB/s","ratio","better":"higher"}, and for the CPU rows
// "unit":"µs", "better":"lower"; progress on stderr.
import { execFile, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { checkPlacement, choosePlacement, cpuTimes, pinSelf } from "./placement.mjs";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const SIZE = 1024 * 1024;
const log = (msg) => process.stderr.write(`${msg}\n`);

// Placement (see the top comment and placement.mjs).
const placement = choosePlacement();
// [cmd, args] run on `cpu` (null: as is).
const pinned = (cpu, cmd, args) => (cpu === null ? [cmd, args] : ["taskset", ["-c", String(cpu), cmd, ...args]]);
// This process runs the Node client.
pinSelf(placement);
log(`placement: ${placement.text}; servers: relay, tftpd-hpa; clients: atftp, Node client (this process)`);

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

async function waitFor(check, what, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not come up`);
}

const dir = mkdtempSync(join(tmpdir(), "edgeboot-tftp-bench-"));
chmodSync(dir, 0o755); // tftpd-hpa drops to its own user after chroot and must still read the file
const data = randomBytes(SIZE);
writeFileSync(join(dir, "ipxe.efi"), data);
const children = [];
const cleanup = () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
};
process.on("exit", cleanup);

// Ours: the real relay process with only TFTP (and its HTTP port) on loopback; the API URL is unused here.
const oursPort = await freePort();
const httpPort = await freePort();
const relay = spawn(
  ...pinned(placement.server, process.execPath, [join(ROOT, "relay/main.ts"), "--api-url", "http://127.0.0.1:9", "--site", "bench", "--listen", "127.0.0.1", "--dhcp-port", "0", "--proxy-dhcp-port", "0", "--tftp-port", String(oursPort), "--http-port", String(httpPort), "--binaries-dir", dir, "--state-dir", join(dir, "state")]),
  {
    // What relay/Dockerfile and the systemd unit set.
    env: { ...process.env, NODE_OPTIONS: process.env.BENCH_RELAY_NODE_OPTIONS ?? "--max-semi-space-size=1", EDGEBOOT_RELAY_CREDENTIAL: "bench-only" },
    stdio: ["ignore", "ignore", openSync(join(dir, "relay.log"), "a")],
  },
);
children.push(relay);
await waitFor(async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).status > 0, "relay");

// Peer: tftpd-hpa in the foreground on a high port (-s chroots into the dir, which needs root; -L stays foreground).
const peerPort = await freePort();
const asRoot = process.getuid?.() === 0;
const hpa = spawn(...pinned(placement.server, "in.tftpd", ["-L", "-a", `127.0.0.1:${peerPort}`, ...(asRoot ? ["-s", dir] : [dir])]), { stdio: ["ignore", "ignore", "inherit"] });
children.push(hpa);
const hpaVersion = (spawnSync("in.tftpd", ["-V"], { encoding: "utf8" }).stdout || spawnSync("in.tftpd", ["-V"], { encoding: "utf8" }).stderr || "").trim().split("\n")[0] || "tftpd-hpa";

// BENCH_TFTP_FLOOR=1: also a minimal Node lock-step server (support/nodeLockStepFloor.mjs), placed like the relay, to
// show how much of the relay's per-packet cost is Node's own.
const floor = process.env.BENCH_TFTP_FLOOR === "1" ? { port: await freePort() } : null;
if (floor) {
  floor.child = spawn(...pinned(placement.server, process.execPath, [join(ROOT, "test/bench/support/nodeLockStepFloor.mjs"), String(floor.port), join(dir, "ipxe.efi")]), { stdio: ["ignore", "ignore", "inherit"] });
  children.push(floor.child);
}

const { tftpGet } = await import("../relay/support/tftpClient.ts");

// The options a server acknowledged, as {name: value} (lower-case names); {} when it sent no OACK.
const oackOf = (pairs) => Object.fromEntries((pairs ?? []).map(([k, v]) => [k.toLowerCase(), v]));

async function fetchOnce(port, options, client = "atftp", expectOack = null) {
  if (client === "node") {
    const started = process.hrtime.bigint();
    const r = await tftpGet({ port, file: "ipxe.efi", options: options.map((o) => o.split(" ")), totalMs: 30_000 });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (!r.data.equals(data)) throw new Error(`the Node client got a different file from port ${port}`);
    if (expectOack) checkOack(port, oackOf(r.oack), expectOack);
    return seconds;
  }
  const out = join(dir, `out-${port}`);
  const args = [...options.flatMap((o) => ["--option", o]), "-g", "-r", "ipxe.efi", "-l", out, "127.0.0.1", String(port)];
  const started = process.hrtime.bigint();
  await run(...pinned(placement.client, "atftp", args), { timeout: 30_000 });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (!readFileSync(out).equals(data)) throw new Error(`atftp got a different file from port ${port}`);
  return seconds;
}
await waitFor(() => fetchOnce(peerPort, []).then(() => true), "tftpd-hpa");
if (floor) await waitFor(() => fetchOnce(floor.port, []).then(() => true), "minimal Node server");
// Both servers (every thread of the relay) and this process run where the placement says.
checkPlacement([["relay", relay.pid, placement.server], ["tftpd-hpa", hpa.pid, placement.server], ...(floor ? [["minimal Node server", floor.child.pid, placement.server]] : []), ["client (this process)", process.pid, placement.client]], log);

function checkOack(port, got, expected) {
  const name = port === oursPort ? "relay" : "tftpd-hpa";
  for (const [k, v] of Object.entries(expected)) {
    if (v === null ? k in got : got[k] !== v) throw new Error(`${name} negotiated ${JSON.stringify(got)}; the bench expects ${JSON.stringify(expected)} (null: absent)`);
  }
}

// atftp's --trace prints the OACK it received ("received OACK <blksize: 1468, windowsize: 8, >") on stderr.
async function atftpOack(port, options) {
  const args = [...options.flatMap((o) => ["--option", o]), "--trace", "-g", "-r", "ipxe.efi", "-l", join(dir, `probe-${port}`), "127.0.0.1", String(port)];
  const { stderr } = await run(...pinned(placement.client, "atftp", args), { timeout: 30_000, maxBuffer: 64 * 1024 * 1024 });
  const m = /received OACK <([^>]*)>/.exec(stderr);
  return m ? Object.fromEntries([...m[1].matchAll(/(\w+): (\d+)/g)].map((x) => [x[1].toLowerCase(), x[2]])) : {};
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
// expect: what each server must acknowledge (null: must not). tftpd-hpa 5.2 has no windowsize, so it stays lock-step.
const lockStep = (blksize) => ({ blksize, windowsize: null });
const configs = [
  { what: "TFTP 1 MiB, blksize 512", ours: ["blksize 512"], peer: ["blksize 512"], expect: { ours: lockStep("512"), peer: lockStep("512") } },
  { what: "TFTP 1 MiB, blksize 1468", ours: ["blksize 1468"], peer: ["blksize 1468"], expect: { ours: lockStep("1468"), peer: lockStep("1468") } },
  { what: "TFTP 1 MiB, blksize 1468 + windowsize 8 (peer: lock-step 1468)", ours: ["blksize 1468", "windowsize 8"], peer: ["blksize 1468", "windowsize 8"], expect: { ours: { blksize: "1468", windowsize: "8" }, peer: lockStep("1468") } },
  { what: "TFTP 1 MiB, blksize 1468 + windowsize 8, Node client (peer: lock-step 1468)", ours: ["blksize 1468", "windowsize 8"], peer: ["blksize 1468", "windowsize 8"], expect: { ours: { blksize: "1468", windowsize: "8" }, peer: lockStep("1468") }, client: "node" },
];
try {
  for (const c of configs) {
    if (!c.client) {
      checkOack(oursPort, await atftpOack(oursPort, c.ours), c.expect.ours);
      checkOack(peerPort, await atftpOack(peerPort, c.peer), c.expect.peer);
    }
    const lockStepBlksize = c.expect.peer.windowsize === null && c.expect.ours.windowsize === null ? Number(c.expect.ours.blksize) : null;
    // The Node client reports its OACK on every fetch, so it is checked on every fetch.
    const sides = [
      { name: "ours", fetch: () => fetchOnce(oursPort, c.ours, c.client, c.expect.ours) },
      { name: "peer", fetch: () => fetchOnce(peerPort, c.peer, c.client, c.expect.peer) },
      ...(floor && lockStepBlksize && !c.client ? [{ name: "floor", fetch: () => fetchOnce(floor.port, c.ours, c.client) }] : []),
    ].map((side) => ({ ...side, seconds: [], user: 0, kernel: 0 }));
    // Server CPU spent during the timed fetches (split placement only: see the top comment).
    const counting = placement.server !== null && placement.server !== placement.client;
    const timed = async (side) => {
      const before = counting ? cpuTimes(placement.server) : null;
      side.seconds.push(await side.fetch());
      if (!before) return;
      const after = cpuTimes(placement.server);
      side.user += after.user - before.user;
      side.kernel += after.kernel - before.kernel;
    };
    for (let i = 0; i < 2; i++) for (const side of sides) await side.fetch();
    // Interleaved so all see the same machine load (2 cores, shared), each run in turn starting with another side.
    for (let i = 0; i < RUNS; i++) for (let k = 0; k < sides.length; k++) await timed(sides[(i + k) % sides.length]);
    const [ours, peer, nodeFloor] = sides;
    const mbps = (side) => SIZE / 1e6 / median(side.seconds);
    const peerName = hpaVersion.replace(/^tftp-hpa/, "tftpd-hpa");
    const emit = (row) => console.log(JSON.stringify({ ...row, ratio: row.peer > 0 ? row.ours / row.peer : null }));
    emit({ what: `${c.what} [${placement.tag}]`, ours: mbps(ours), peer: mbps(peer), peerName, unit: "MB/s", better: "higher" });
    log(`${c.what}: ours ${mbps(ours).toFixed(1)} MB/s, tftpd-hpa ${mbps(peer).toFixed(1)} MB/s (median of ${RUNS}, ${c.client ?? "atftp"} client, ${placement.tag})`);
    if (nodeFloor) emit({ what: `${c.what}, minimal Node server (the runtime's floor) [${placement.tag}]`, ours: mbps(nodeFloor), peer: mbps(peer), peerName, unit: "MB/s", better: "higher" });
    // Per DATA packet of a lock-step transfer (the windowed rows send 8 per ACK, so per-packet cost means less there).
    if (!counting || !lockStepBlksize) continue;
    const packets = RUNS * (Math.floor(SIZE / lockStepBlksize) + 1);
    const us = (side, kind) => (side[kind] * 1e6) / packets;
    for (const kind of ["user", "kernel"]) {
      const what = `server CPU per DATA packet, ${kind} time, lock-step blksize ${lockStepBlksize} [CPU ${placement.server}, /proc/stat]`;
      emit({ what, ours: us(ours, kind), peer: us(peer, kind), peerName, unit: "µs", better: "lower" });
      if (nodeFloor) emit({ what: `${what}, minimal Node server`, ours: us(nodeFloor, kind), peer: us(peer, kind), peerName, unit: "µs", better: "lower" });
      log(`${c.what}: server ${kind} CPU per DATA packet: ours ${us(ours, kind).toFixed(1)} µs, tftpd-hpa ${us(peer, kind).toFixed(1)} µs${nodeFloor ? `, minimal Node server ${us(nodeFloor, kind).toFixed(1)} µs` : ""}`);
    }
  }
} finally {
  cleanup();
}
