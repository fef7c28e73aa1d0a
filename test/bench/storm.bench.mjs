// Boot storm (issue 17): N simulated UEFI machines (test/bench/support/simMachine.mjs) power on within one second on
// one LAN segment and boot through the edgeboot relay (site DHCP from dnsmasq, proxyDHCP + TFTP + /boot.ipxe + the
// artifact cache + the /h/ proxy to the API for NoCloud and phone_home), then the same N against the DIY setup on
// a second segment (dnsmasq proxyDHCP + TFTP, nginx with the same files and per-MAC scripts), in one run.
// N = BENCH_STORM_N (default "100,500,1000"). Then a storm of BENCH_STORM_OUTAGE_N machines (default the smallest
// N; 0 skips it) with the API unreachable for BENCH_STORM_OUTAGE_S seconds (default 30) from 2 s in: no
// acknowledged event may be lost.
// The API is the real Worker under wrangler dev (test/bench/support/countingWorker.ts counts D1 statements and rows),
// reached by the relay through an HTTP proxy in the root namespace that counts requests and can be taken down.
// Placement (placement.mjs): relay, dnsmasq and nginx on the server CPU, the client process on the other; wrangler
// (the cloud) is not pinned. Needs root, dnsmasq, nginx, taskset. Artifacts are random bytes of
// BENCH_STORM_KERNEL_KIB / _INITRD_KIB / _ROOTFS_KIB (default 256 / 1024 / 2048) and the Debian ipxe.efi over TFTP.
// BENCH_STORM_MIX: the machines' kinds as percentages of N, e.g. "uefi=70,bios=20,unknown=10" (default "uefi=100"):
// uefi = OVMF PXE → TFTP ipxe.efi → iPXE, bios = SeaBIOS with QEMU's iPXE ROM (no TFTP), arm64 = AAVMF PXE → TFTP
// ipxe-arm64.efi → iPXE (the binary from BENCH_STORM_ARM64_EFI, else the e2e cache's copy that test/e2e/arm64image.ts
// fetches from Debian 13; the image gets an arm64 build with the same artifacts), unknown = UEFI machines the
// site does not know (policy discover), whose expected outcome is "discovered" after following the discover script
// (the site's discoverRetrySeconds = BENCH_STORM_DISCOVER_S, default 10) up to 3 times or 60 s. Unknown machines
// are not applicable to DIY (nginx has no file for them); the DIY storm runs the known ones. The totals rows are over
// known machines; with a mix, rows per kind follow, and the unknown ones are checked against discovered events.
// Rows: JSON lines on stdout (run.mjs); progress on stderr. BENCH_STORM_KEEP=1 keeps the work dir.
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createConnection, createServer as netServer } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { choosePlacement, pinSelf } from "./placement.mjs";
import { startCountingApi } from "./support/countingApi.mjs";
import { bootMachine, createDhcpHub } from "./support/simMachine.mjs";
import { API_HOST, createStormNet, rangeAddress, SEGMENTS } from "./support/stormNet.mjs";
import { hasTcpdump, percentile, serverReplyLatencies, startWireCapture } from "./support/wireDhcp.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const log = (msg) => process.stderr.write(`[storm] ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- client mode: inside a client namespace, boots the machines listed in a JSON file, one JSON line each -------
if (process.argv[2] === "--client") {
  const { machines, spreadMs, attempts, deadlineMs } = JSON.parse(readFileSync(process.argv[3], "utf8"));
  const hub = await createDhcpHub();
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  await new Promise((r) => process.stdin.once("data", r)); // "go"
  const t0 = Date.now();
  await Promise.all(
    machines.map(async (m) => {
      const offset = Math.random() * spreadMs;
      await sleep(offset);
      const r = await bootMachine(hub, m, { attempts, deadlineMs });
      process.stdout.write(`${JSON.stringify({ mac: m.mac, kind: m.kind ?? "uefi", expect: m.expect ?? "booted", offset, endAt: Date.now() - t0, ...r })}\n`);
    }),
  );
  hub.close();
  process.exit(0);
}

// ---- orchestrator ---------------------------------------------------------------------------------------------------
if (process.getuid?.() !== 0) throw new Error("the storm bench needs root (network namespaces, ports 67/69)");
for (const tool of ["dnsmasq", "nginx", "ip"]) if (spawnSync("which", [tool]).status !== 0) throw new Error(`${tool} is needed (apt-get install ${tool === "ip" ? "iproute2" : tool})`);

const SIZES = (process.env.BENCH_STORM_N ?? "100,500,1000").split(",").map(Number).filter((n) => n > 0);
const OUTAGE_N = Number(process.env.BENCH_STORM_OUTAGE_N ?? Math.min(...SIZES));
const OUTAGE_S = Number(process.env.BENCH_STORM_OUTAGE_S ?? 30);
const KIB = (name, d) => Number(process.env[`BENCH_STORM_${name}_KIB`] ?? d) * 1024;
const SPREAD_MS = 1000;
const KINDS = ["uefi", "bios", "arm64", "unknown"];
const KNOWN_KINDS = ["uefi", "bios", "arm64"];
const MIX = parseMix(process.env.BENCH_STORM_MIX ?? "uefi=100");
const MIXED = MIX.uefi !== 100;
const DISCOVER_S = Number(process.env.BENCH_STORM_DISCOVER_S ?? 10);

function parseMix(text) {
  const mix = Object.fromEntries(KINDS.map((k) => [k, 0]));
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const [k, v, extra] = part.split("=");
    if (!KINDS.includes(k) || extra !== undefined || !/^\d+(\.\d+)?$/.test(v ?? "")) throw new Error(`BENCH_STORM_MIX: "${part}" is not kind=percent with kind one of ${KINDS.join(", ")}`);
    mix[k] = Number(v);
  }
  const total = KINDS.reduce((a, k) => a + mix[k], 0);
  if (Math.abs(total - 100) > 1e-9) throw new Error(`BENCH_STORM_MIX: the percentages add up to ${total}, not 100`);
  return mix;
}
const knownCount = (c) => KNOWN_KINDS.reduce((a, k) => a + c[k], 0);
// The kinds of n known machines, interleaved (the kind furthest behind its share goes next).
function knownKinds(counts) {
  const n = knownCount(counts);
  const given = Object.fromEntries(KNOWN_KINDS.map((k) => [k, 0]));
  return Array.from({ length: n }, (_, i) => {
    const k = KNOWN_KINDS.reduce((a, b) => ((counts[b] * (i + 1)) / n - given[b] > (counts[a] * (i + 1)) / n - given[a] ? b : a));
    given[k]++;
    return k;
  });
}
// ipxe-arm64.efi for arm64 machines: BENCH_STORM_ARM64_EFI, else the e2e cache's (test/e2e/arm64image.ts).
function arm64Efi() {
  if (process.env.BENCH_STORM_ARM64_EFI) return process.env.BENCH_STORM_ARM64_EFI;
  const cache = process.env.E2E_CACHE_DIR || "/var/cache/edgeboot-e2e";
  const dir = existsSync(cache) ? readdirSync(cache).find((d) => /^arm64-[0-9a-f]{16}$/.test(d) && existsSync(join(cache, d, "ipxe-arm64.efi"))) : null;
  if (!dir) throw new Error(`arm64 machines need ipxe-arm64.efi: set BENCH_STORM_ARM64_EFI, or run an arm64 e2e scenario once to fill ${cache}`);
  return join(cache, dir, "ipxe-arm64.efi");
}
// Machines of each kind in a storm of n: each share rounded down, the rest to the largest share.
function mixCounts(n) {
  const c = Object.fromEntries(KINDS.map((k) => [k, Math.floor((n * MIX[k]) / 100)]));
  const largest = KINDS.reduce((a, k) => (MIX[k] > MIX[a] ? k : a));
  c[largest] += n - KINDS.reduce((a, k) => a + c[k], 0);
  return c;
}
const SITE = "storm";
const PROFILE = "storm-live";

const placement = choosePlacement();
pinSelf(placement);
const onServerCpu = (prefix) => (cmd, args) => (placement.server === null ? prefix(cmd, args) : prefix("taskset", ["-c", String(placement.server), cmd, ...args]));
const onClientCpu = (prefix) => (cmd, args) => (placement.client === null ? prefix(cmd, args) : prefix("taskset", ["-c", String(placement.client), cmd, ...args]));
log(`placement: ${placement.text}; load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);

const work = mkdtempSync(join(tmpdir(), "edgeboot-storm-"));
const children = [];
let net = null;
let wranglerChild = null;
const cleanup = () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  if (wranglerChild?.pid) {
    try {
      process.kill(-wranglerChild.pid, "SIGKILL");
    } catch {}
  }
  net?.teardown();
  if (!process.env.BENCH_STORM_KEEP) rmSync(work, { recursive: true, force: true });
};
process.on("exit", cleanup);
process.on("SIGINT", () => process.exit(130));
process.on("SIGTERM", () => process.exit(143));

const freePort = () =>
  new Promise((resolve, reject) => {
    const s = netServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

function daemon(name, prefix, cmd, args, opts = {}) {
  const child = spawn(...prefix(cmd, args), { stdio: ["ignore", openSync(join(work, `${name}.out`), "a"), openSync(join(work, `${name}.log`), "a")], ...opts });
  children.push(child);
  child.on("exit", (code, sig) => {
    if (!stopping) log(`${name} exited (${code ?? sig}); see ${join(work, `${name}.log`)}`);
  });
  return child;
}
let stopping = false;

async function waitFor(what, ms, fn) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${ms} ms`);
    await sleep(250);
  }
}

// A TCP proxy in the root namespace on the relay's uplink to wrangler dev; down() closes it and every connection
// (the API unreachable), up() listens again. Requests are counted by the Worker (countingWorker.ts).
async function startApiProxy(targetPort) {
  const sockets = new Set();
  let server = null;
  let port = 0;
  const up = () =>
    new Promise((resolve) => {
      server = netServer((client) => {
        const upstream = createConnection(targetPort, "127.0.0.1");
        // Either side gone ends both: a half-close passed on by pipe() left the upstream socket open for as long as
        // wrangler kept working on a request the relay had already given up on (an N = 1,000 mix run ran this
        // process out of file descriptors).
        const both = () => (client.destroy(), upstream.destroy());
        for (const sock of [client, upstream]) {
          sockets.add(sock);
          sock.on("close", () => (sockets.delete(sock), both()));
          sock.on("error", both);
        }
        client.pipe(upstream).pipe(client);
      });
      server.listen(port, API_HOST, () => {
        port = server.address().port;
        resolve();
      });
    });
  const down = () =>
    new Promise((resolve) => {
      const srv = server;
      server = null;
      for (const sock of sockets) sock.destroy();
      srv.close(() => resolve());
    });
  await up();
  // Peak sockets open through the proxy (relay side and wrangler side), since the last call.
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, sockets.size)), 250);
  timer.unref();
  const peakSockets = () => [Math.max(peak, sockets.size), (peak = sockets.size)][0];
  return { url: () => `http://${API_HOST}:${port}`, up, down, peakSockets };
}

// ---- the catalogue: artifacts, image, profile, site, relay, hosts ---------------------------------------------------
function blob(name, size) {
  const bytes = randomBytes(size);
  return { name, bytes, sha: createHash("sha256").update(bytes).digest("hex") };
}
const USER_DATA = (eventsUrl) => `#cloud-config\nphone_home:\n  url: ${eventsUrl}?phase=booted\n  post: all\n  tries: 10\n`;

function machinesFor(total) {
  const hex = (n, w) => n.toString(16).padStart(w, "0");
  return Array.from({ length: total }, (_, i) => ({
    hostname: `storm-${String(i).padStart(5, "0")}`,
    mac: `52:54:01:${hex((i >> 16) & 255, 2)}:${hex((i >> 8) & 255, 2)}:${hex(i & 255, 2)}`,
    uuid: `4c4c4544-0053-4000-8000-${hex(i, 12)}`,
    serial: `STORM${String(i).padStart(6, "0")}`,
  }));
}
// Machines the site does not know (never imported; the site DHCP server still leases them an address).
function unknownMachinesFor(total) {
  const hex = (n, w) => n.toString(16).padStart(w, "0");
  return Array.from({ length: total }, (_, i) => ({
    mac: `52:54:02:${hex((i >> 16) & 255, 2)}:${hex((i >> 8) & 255, 2)}:${hex(i & 255, 2)}`,
    uuid: `4c4c4544-0055-4000-8000-${hex(i, 12)}`,
    serial: `UNKNOWN${String(i).padStart(6, "0")}`,
    expect: "discovered",
  }));
}

// ---- site DHCP, the relay, the DIY servers ---------------------------------------------------------------------------
function dnsmasqCommon(name, ifaces) {
  return ["--keep-in-foreground", "--log-facility=-", "--user=root", "--port=0", "--no-resolv", "--no-hosts", ...ifaces.map((i) => `--interface=${i}`), "--bind-interfaces", `--pid-file=${join(work, `${name}.pid`)}`, `--dhcp-leasefile=${join(work, `${name}.leases`)}`];
}

// Reserved addresses (dhcp-host per MAC, on both segments), as a site with a known fleet has them. A dynamic pool
// under a storm makes dnsmasq offer one free address to two machines at once (no ping check here: the client
// namespaces own the range); the loser's REQUEST is NAKed, but the relay has already seen both REQUESTs claim the
// address and refuses both chains as contested until the older claim expires (reported: relay/dhcp/clients.ts).
function startSiteDhcp(machines) {
  const range = (net) => `--dhcp-range=${net}.16.0,static,255.255.0.0,2h`;
  const hostsFile = join(work, "site-dhcp.hosts");
  writeFileSync(hostsFile, machines.map((m, i) => `${m.mac},${rangeAddress("a", i)}\n${m.mac},${rangeAddress("b", i)}`).join("\n") + "\n");
  // --no-ping: the client namespaces own every address of the range; a lease storm of 1,000 needs a bigger table.
  return daemon("site-dhcp", net.inNs(net.ns.rtr), "dnsmasq", [...dnsmasqCommon("site-dhcp", ["a0", "b0"]), range(SEGMENTS.a.net), range(SEGMENTS.b.net), `--dhcp-hostsfile=${hostsFile}`, "--no-ping", "--dhcp-lease-max=20000", "--quiet-dhcp"]);
}

// Debian's x86 binaries; with arm64 machines in the mix, a copy of them plus ipxe-arm64.efi.
function binariesDir() {
  if (MIX.arm64 === 0) return "/usr/lib/ipxe";
  const dir = join(work, "ipxe");
  mkdirSync(dir, { recursive: true });
  for (const f of ["ipxe.efi", "undionly.kpxe"]) copyFileSync(join("/usr/lib/ipxe", f), join(dir, f));
  copyFileSync(arm64Efi(), join(dir, "ipxe-arm64.efi"));
  return dir;
}

async function startRelay(apiUrl, credential) {
  const credFile = join(work, "relay-credential");
  writeFileSync(credFile, credential, { mode: 0o600 });
  const child = daemon("relay", onServerCpu(net.inNs(net.ns.rly)), process.execPath, [
    join(ROOT, "relay/bin.js"),
    "--api-url", apiUrl,
    "--site", SITE,
    "--credential-file", credFile,
    "--interface", "eth0",
    "--state-dir", join(work, "relay-state"),
    "--cache-max-bytes", "2G",
    "--binaries-dir", binariesDir(),
    "--sync-interval", "2",
    // BENCH_RELAY_TFTP_MAX: --tftp-max-transfers (default: the relay's own, 1024), as DIY's dnsmasq gets --tftp-max.
    ...(process.env.BENCH_RELAY_TFTP_MAX ? ["--tftp-max-transfers", process.env.BENCH_RELAY_TFTP_MAX] : []),
    "--log-level", process.env.BENCH_RELAY_LOG_LEVEL ?? "info",
    // BENCH_RELAY_ARGS: more relay flags, space-separated (e.g. "--dhcp-thread off").
    ...(process.env.BENCH_RELAY_ARGS ?? "").split(/\s+/).filter(Boolean),
    // The environment the Dockerfile and the systemd unit give it (relay/cache/README.md).
  ], { env: { ...process.env, NODE_OPTIONS: process.env.BENCH_RELAY_NODE_OPTIONS ?? "--max-semi-space-size=1", MALLOC_MMAP_THRESHOLD_: "131072" } });
  const url = `http://${SEGMENTS.a.server}:8067`;
  await waitFor("relay /healthz", 60_000, () => inNsFetch(net.ns.rly, `${url}/healthz`).then((r) => r.status === 200));
  return { child, url };
}

// A one-off HTTP GET from inside a namespace (curl), asynchronous: the API proxy lives in this process's event loop.
function inNsFetch(ns, url) {
  return new Promise((resolve) => {
    const child = spawn("ip", ["netns", "exec", ns, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", url], { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("close", () => resolve({ status: Number(out) || 0 }));
  });
}

function startDiy(files, machines) {
  const base = `http://${SEGMENTS.b.server}`;
  const www = join(work, "diy-www");
  const tftp = join(work, "diy-tftp");
  for (const d of [www, tftp, join(www, "hosts"), join(www, "artifacts", files.rootfs.sha)]) mkdirSync(d, { recursive: true });
  writeFileSync(join(www, "vmlinuz"), files.kernel.bytes);
  writeFileSync(join(www, "initrd.img"), files.initrd.bytes);
  writeFileSync(join(www, "artifacts", files.rootfs.sha, "root.squashfs"), files.rootfs.bytes);
  copyFileSync("/usr/lib/ipxe/ipxe.efi", join(tftp, "ipxe.efi"));
  if (MIX.arm64 > 0) copyFileSync(arm64Efi(), join(tftp, "ipxe-arm64.efi"));
  writeFileSync(join(www, "boot.ipxe"), `#!ipxe\nchain ${base}/hosts/\${mac:hexhyp}.ipxe\n`);
  for (const m of machines) {
    const seed = `${base}/h/${m.hostname}/nocloud/`;
    const script = ["#!ipxe", `kernel ${base}/vmlinuz initrd=initrd.img console=ttyS0 fetch=${base}/artifacts/${files.rootfs.sha}/root.squashfs ds=nocloud;s=${seed}`, `initrd --name initrd.img ${base}/initrd.img`, "boot", ""].join("\n");
    writeFileSync(join(www, "hosts", `${m.mac.replaceAll(":", "-")}.ipxe`), script);
    const nc = join(www, "h", m.hostname, "nocloud");
    mkdirSync(nc, { recursive: true });
    writeFileSync(join(nc, "meta-data"), `instance-id: diy-${m.hostname}\nlocal-hostname: ${m.hostname}\n`);
    writeFileSync(join(nc, "user-data"), USER_DATA(`${base}/h/${m.hostname}/events`));
  }
  const ngx = join(work, "diy-nginx");
  mkdirSync(ngx, { recursive: true });
  const conf = join(ngx, "nginx.conf");
  // As diy.ts, sized for a storm: enough connections for every machine at once.
  writeFileSync(
    conf,
    `user root root;
worker_processes 1;
worker_rlimit_nofile 16384;
daemon off;
pid ${ngx}/nginx.pid;
error_log ${ngx}/error.log;
events { worker_connections 8192; }
http {
  log_format timed '$msec "$request" $status $body_bytes_sent $request_time';
  access_log ${ngx}/access.log timed;
  default_type application/octet-stream;
  sendfile on;
  keepalive_requests 10000;
  client_body_temp_path ${ngx}/body;
  proxy_temp_path ${ngx}/proxy;
  fastcgi_temp_path ${ngx}/fastcgi;
  uwsgi_temp_path ${ngx}/uwsgi;
  scgi_temp_path ${ngx}/scgi;
  server {
    listen ${SEGMENTS.b.server}:80 backlog=4096;
    root ${www};
    location ~ ^/h/[^/]+/events$ { return 200 "ok"; }
  }
}
`,
  );
  const nginx = daemon("diy-nginx", onServerCpu(net.inNs(net.ns.diy)), "nginx", ["-p", ngx, "-c", conf, "-e", join(ngx, "error.log")]);
  const dnsmasq = daemon("diy-dnsmasq", onServerCpu(net.inNs(net.ns.diy)), "dnsmasq", [
    ...dnsmasqCommon("diy-dnsmasq", ["eth0"]),
    `--dhcp-range=${SEGMENTS.b.net}.0.0,proxy,255.255.0.0`,
    "--dhcp-userclass=set:ipxe,iPXE",
    '--pxe-service=tag:!ipxe,X86-64_EFI,"diy",ipxe.efi',
    `--pxe-service=tag:ipxe,X86-64_EFI,"diy",${base}/boot.ipxe`,
    // SeaBIOS's iPXE ROM (BIOS machines in the mix): the same script URL.
    ...(MIX.bios > 0 ? [`--pxe-service=tag:ipxe,x86PC,"diy",${base}/boot.ipxe`] : []),
    ...(MIX.arm64 > 0 ? ['--pxe-service=tag:!ipxe,ARM64_EFI,"diy",ipxe-arm64.efi', `--pxe-service=tag:ipxe,ARM64_EFI,"diy",${base}/boot.ipxe`] : []),
    "--enable-tftp",
    `--tftp-root=${tftp}`,
    // dnsmasq's default is 50 concurrent transfers; an operator expecting a storm raises it.
    "--tftp-max=4096",
    "--quiet-dhcp",
  ]);
  return { nginx, dnsmasq, accessLog: join(ngx, "access.log") };
}

// ---- process metrics ------------------------------------------------------------------------------------------------
const CLK = 100;
function procCpu(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / CLK;
  } catch {
    return 0;
  }
}
// VmRSS, and its anonymous and file-backed parts (the node binary's pages are file-backed), in KiB.
function procRss(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = (field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { rss: kib("VmRSS"), anon: kib("RssAnon"), file: kib("RssFile") };
  } catch {
    return { rss: 0, anon: 0, file: 0 };
  }
}
function sampler(pids) {
  const peak = Object.fromEntries(pids.map((p) => [p, { rss: 0, anon: 0, file: 0 }]));
  const cpu0 = Object.fromEntries(pids.map((p) => [p, procCpu(p)]));
  const sample = () => {
    for (const p of pids) {
      const now = procRss(p);
      if (now.rss > peak[p].rss) peak[p] = now;
    }
  };
  const timer = setInterval(sample, 100);
  return () => {
    clearInterval(timer);
    sample();
    const sum = (k) => pids.reduce((a, p) => a + peak[p][k], 0) / 1024;
    return { rssMiB: sum("rss"), anonMiB: sum("anon"), fileMiB: sum("file"), cpuS: pids.reduce((a, p) => a + procCpu(p) - cpu0[p], 0) };
  };
}

// ---- one storm ------------------------------------------------------------------------------------------------------
async function storm(label, clientNs, machines, { during } = {}) {
  const file = join(work, `${label}.machines.json`);
  writeFileSync(file, JSON.stringify({ machines, spreadMs: SPREAD_MS, attempts: 3, deadlineMs: 240_000 }));
  const child = spawn(...onClientCpu(net.inNs(clientNs))(process.execPath, [SELF, "--client", file]), { stdio: ["pipe", "pipe", "inherit"] });
  children.push(child);
  const results = [];
  const lines = createInterface({ input: child.stdout });
  let ready;
  const readyP = new Promise((r) => (ready = r));
  lines.on("line", (l) => {
    const v = JSON.parse(l);
    if (v.ready) ready();
    else results.push(v);
  });
  await readyP;
  const t0 = Date.now();
  child.stdin.write("go\n");
  const extra = during?.(t0);
  const exited = new Promise((r) => child.on("close", r));
  await exited;
  await extra;
  const wall = (Date.now() - t0) / 1000;
  // Every machine's result, for a look afterwards (BENCH_STORM_KEEP=1).
  writeFileSync(join(work, `${label}.results.jsonl`), results.map((r) => JSON.stringify(r)).join("\n") + "\n");
  return { results, wall };
}

const pct = (xs, p) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
function summarize(results) {
  const ok = results.filter((r) => r.ok);
  const secs = ok.map((r) => r.ms / 1000);
  const sum = (f) => results.reduce((a, r) => a + f(r), 0);
  return {
    n: results.length,
    booted: ok.length,
    failed: results.length - ok.length,
    p50: pct(secs, 50),
    p95: pct(secs, 95),
    p99: pct(secs, 99),
    max: secs.length ? Math.max(...secs) : NaN,
    retried: results.filter((r) => Object.values(r.retries).some((v) => v > 0)).length,
    // Machines that retried, by step (one machine may count in several).
    retriedBy: Object.fromEntries(["dhcp", "tftp", "http", "boot"].map((k) => [k, results.filter((r) => r.retries[k] > 0).length])),
    dhcpErrors: sum((r) => r.errors.dhcp),
    tftpErrors: sum((r) => r.errors.tftp),
    httpErrors: sum((r) => r.errors.http),
    proxyP99: pct(results.flatMap((r) => r.proxyMs.filter((x) => x !== null)), 99),
    failures: results.filter((r) => !r.ok).map((r) => r.lastError).slice(0, 5),
    // Median ms of each step of a boot (firmware DHCP, TFTP, iPXE DHCP, chain+artifacts+NoCloud+phone_home split).
    steps: Object.fromEntries(["dhcp", "tftp", "ipxeDhcp", "artifacts", "nocloud", "booted", "http"].map((k) => [k, pct(ok.map((r) => r.steps[k] ?? 0), 50)])),
  };
}

// Failure reasons, counted, with numbers folded so that one cause reads as one line.
function reasons(results) {
  const count = new Map();
  for (const r of results.filter((x) => !x.ok)) {
    const why = String(r.lastError ?? "no error recorded").replace(/https?:\/\/\S+/g, "<url>").replace(/\d+(\.\d+)*/g, "#");
    count.set(why, (count.get(why) ?? 0) + 1);
  }
  return [...count].sort((a, b) => b[1] - a[1]).map(([why, n]) => `${n}× ${why}`);
}

// MACs with a `phase` event the API recorded since `since` (admin events API, all pages).
async function phaseRecorded(api, phase, since) {
  const seen = new Set();
  let cursor = null;
  for (let page = 0; page < 200; page++) {
    const q = new URLSearchParams({ phase, since: String(since), limit: "500", ...(cursor ? { cursor } : {}) });
    const res = await api("GET", `/v1/sites/${SITE}/events?${q}`);
    for (const e of res.items) seen.add(e.mac ?? e.host ?? JSON.stringify(e));
    cursor = res.nextCursor;
    if (!cursor) break;
  }
  return seen;
}
const bootedRecorded = (api, since) => phaseRecorded(api, "booted", since);

// With a mix: one log line and rows per kind (known kinds against DIY when it ran, unknown against discovered events).
function kindRows(tag, ours, peer, discovered, row) {
  const diyName = "DIY (dnsmasq proxy+TFTP, nginx)";
  for (const kind of KNOWN_KINDS) {
    const mine = ours.filter((r) => r.kind === kind && r.expect === "booted");
    if (mine.length === 0) continue;
    const k = summarize(mine);
    const theirs = peer?.filter((r) => r.kind === kind);
    const d = theirs ? summarize(theirs) : null;
    const why = reasons(mine);
    log(`  ${kind}: edgeboot booted ${k.booted}/${k.n}, p50 ${k.p50?.toFixed(2)} p99 ${k.p99?.toFixed(2)} s${d ? `; DIY ${d.booted}/${d.n}, p50 ${d.p50?.toFixed(2)} p99 ${d.p99?.toFixed(2)} s` : ""}${why.length ? `; edgeboot failures: ${why.join(" | ")}` : ""}${d && reasons(theirs).length ? `; DIY failures: ${reasons(theirs).join(" | ")}` : ""}`);
    const r = (what, o, q, unit, better = "lower") => row({ what: `storm ${tag}: ${kind} ${what}`, ours: o, peer: q, peerName: d ? diyName : "-", unit, ratio: q ? o / q : null, better });
    r("booted / known", k.booted, d?.booted ?? null, `machines of ${k.n}${why.length ? ` (failures: ${why.slice(0, 3).join("; ")})` : ""}`, "higher");
    r("completion p50", k.p50, d?.p50 ?? null, "s");
    r("completion p99", k.p99, d?.p99 ?? null, "s");
  }
  const unknown = ours.filter((r) => r.expect === "discovered");
  if (unknown.length === 0) return;
  const u = summarize(unknown);
  const reached = unknown.filter((r) => r.ok);
  const unrecorded = reached.filter((r) => !discovered.has(r.mac)).length;
  const why = reasons(unknown);
  log(`  unknown: discovered ${u.booted}/${u.n} (${reached.length - unrecorded} with a discovered event, ${unrecorded} without), discover scripts per machine median ${pct(reached.map((r) => r.discoverScripts ?? 0), 50)}, done p50 ${u.p50?.toFixed(2)} p99 ${u.p99?.toFixed(2)} s${why.length ? `; failures: ${why.join(" | ")}` : ""}`);
  row({ what: `storm ${tag}: unknown machines discovered (policy discover; DIY: not applicable)`, ours: u.booted, peer: null, peerName: "-", unit: `machines of ${u.n}${why.length ? ` (failures: ${why.slice(0, 3).join("; ")})` : ""}`, ratio: null, better: "higher" });
  row({ what: `storm ${tag}: unknown machines discovered without a discovered event`, ours: unrecorded, peer: null, peerName: "-", unit: "machines", ratio: null, better: "lower" });
}

// ---- main -----------------------------------------------------------------------------------------------------------
const rows = [];
const row = (r) => {
  rows.push(r);
  console.log(JSON.stringify(r));
};
try {
  net = createStormNet();
  log(`network up (${Object.values(net.ns).join(", ")})`);
  const apiDev = await startCountingApi(work, (c) => (wranglerChild = c));
  const proxy = await startApiProxy(apiDev.port);
  const { api } = apiDev;
  log(`API (wrangler dev) at ${apiDev.base}, relay side ${proxy.url()}`);

  const files = { kernel: blob("vmlinuz", KIB("KERNEL", 256)), initrd: blob("initrd.img", KIB("INITRD", 1024)), rootfs: blob("root.squashfs", KIB("ROOTFS", 2048)) };
  for (const f of Object.values(files)) await api("PUT", `/v1/artifacts/${f.sha}`, null, f.bytes, "application/octet-stream");
  await api("POST", "/v1/images", { name: "storm-os", arch: "x86_64", version: "1", artifacts: { kernel: files.kernel.sha, initrd: [files.initrd.sha], rootfs: files.rootfs.sha } });
  // The arm64 build (a storm never runs the kernel: the same bytes do).
  if (MIX.arm64 > 0) await api("POST", "/v1/images", { name: "storm-os", arch: "arm64", version: "1", artifacts: { kernel: files.kernel.sha, initrd: [files.initrd.sha], rootfs: files.rootfs.sha } });
  await api("POST", "/v1/profiles", { name: PROFILE, image: "storm-os", cmdline: "console=ttyS0 fetch={{ boot.artifacts.rootfs }}", userData: USER_DATA("{{ boot.eventsUrl }}") });
  await api("POST", "/v1/sites", { slug: SITE, name: "Storm", bootAuth: "relay", unknownHostPolicy: "discover", secretDelivery: "bound", ...(MIX.unknown > 0 ? { discoverRetrySeconds: DISCOVER_S } : {}) });
  const { credential } = await api("POST", `/v1/sites/${SITE}/relays`, { name: "storm-relay" });
  const runs = [...SIZES.map((n) => ({ n, outage: false })), ...(OUTAGE_N > 0 ? [{ n: OUTAGE_N, outage: true }] : [])].map((r) => ({ ...r, counts: mixCounts(r.n) }));
  const total = runs.reduce((a, r) => a + knownCount(r.counts), 0);
  const all = machinesFor(total);
  const unknownAll = unknownMachinesFor(runs.reduce((a, r) => a + r.counts.unknown, 0));
  if (MIXED) log(`mix ${JSON.stringify(MIX)}: ${runs.map((r) => `N=${r.n}${r.outage ? " (outage)" : ""} ${KINDS.map((k) => `${k} ${r.counts[k]}`).join(", ")}`).join("; ")}`);
  const importT0 = Date.now();
  for (let i = 0; i < all.length; i += 1000) await api("POST", `/v1/sites/${SITE}/hosts/import?profile=${PROFILE}`, all.slice(i, i + 1000).map((m) => ({ ...m, profile: PROFILE })));
  log(`catalogue: ${total} hosts imported in ${Date.now() - importT0} ms`);

  startSiteDhcp([...all, ...unknownAll]);
  const relay = await startRelay(proxy.url(), credential);
  // Fill the cache the way a first boot would, and wait until the API hands out the relay's cache URLs.
  for (const f of Object.values(files)) await waitFor(`relay cache ${f.name}`, 60_000, () => inNsFetch(net.ns.rly, `${relay.url}/artifacts/${f.sha}`).then((r) => r.status === 200));
  if (all.length) await waitFor("the relay registered as the site's cache", 10_000, async () => {
    const res = await fetch(`${apiDev.base}/v1/sites/${SITE}/hosts/${all[0].hostname}/render/ipxe?arch=x86_64&platform=efi`, { headers: { authorization: `Bearer ${apiDev.token}` } });
    return (await res.text()).includes(`${SEGMENTS.a.server}:8067/artifacts/`);
  }).catch((err) => log(`(could not confirm the cache URL through the render route: ${err.message})`));
  const diy = startDiy(files, all);
  await waitFor("DIY nginx", 20_000, () => inNsFetch(net.ns.diy, `http://${SEGMENTS.b.server}/boot.ipxe`).then((r) => r.status === 200));
  await sleep(500);
  log(`servers up: relay pid ${relay.child.pid}, DIY dnsmasq ${diy.dnsmasq.pid} + nginx ${diy.nginx.pid}; load ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);

  const GROWING = ["events", "boot_sessions"];
  const grows = (name) => GROWING.some((t) => name === t || name.startsWith(`${t}_`));
  const d1Before = apiDev.d1Tables(GROWING);
  let bootsRecorded = 0;
  let offset = 0;
  let unknownOffset = 0;
  for (const run of runs) {
    // Known machines (kinds interleaved), then the unknown ones; start times are random anyway.
    const nKnown = knownCount(run.counts);
    const kinds = knownKinds(run.counts);
    const known = all.slice(offset, offset + nKnown).map((m, i) => ({ ...m, kind: kinds[i] }));
    offset += nKnown;
    const unknown = unknownAll.slice(unknownOffset, unknownOffset + run.counts.unknown);
    unknownOffset += run.counts.unknown;
    const machines = [...known, ...unknown];
    const tag = run.outage ? `N=${run.n}, API down ${OUTAGE_S} s` : `N=${run.n}`;
    // edgeboot
    const since = Date.now();
    const stats0 = await apiDev.stats();
    const sample = sampler([relay.child.pid]);
    proxy.peakSockets();
    const during = run.outage
      ? async (t0) => {
          await sleep(Math.max(0, t0 + 2000 - Date.now()));
          await proxy.down();
          log(`API down at +${((Date.now() - t0) / 1000).toFixed(1)} s`);
          await sleep(OUTAGE_S * 1000);
          await proxy.up();
          log(`API up at +${((Date.now() - t0) / 1000).toFixed(1)} s`);
        }
      : undefined;
    const wireOurs = hasTcpdump() ? startWireCapture(net.ns.rly, "eth0", join(work, `wire-edgeboot-${run.n}.pcap`)) : null;
    const ours = await storm(`edgeboot-${run.n}${run.outage ? "-outage" : ""}`, net.ns.ca, machines, { during });
    const relayUse = sample();
    await wireOurs?.stop();
    const wireMs = wireOurs ? serverReplyLatencies(join(work, `wire-edgeboot-${run.n}.pcap`), SEGMENTS.a.server) : [];
    // Acknowledged phone_homes must all be in D1 (the relay's /h/ proxy answered only after the API did).
    await sleep(3000);
    const acked = new Set(ours.results.filter((r) => r.ok && r.outcome === "booted").map((r) => r.mac));
    const recorded = await bootedRecorded(api, since - 1000);
    const discovered = unknown.length ? await phaseRecorded(api, "discovered", since - 1000) : new Set();
    const lost = [...acked].filter((mac) => !recorded.has(mac)).length;
    bootsRecorded += acked.size;
    const stats1 = await apiDev.stats();
    const apiRequests = stats1.requests - stats0.requests;
    const reloaded = stats1.requests < stats0.requests; // wrangler dev reloaded the Worker mid-storm: counters reset
    // The totals are over known machines (an unknown machine's "completion" is its discover loop).
    const s = summarize(ours.results.filter((r) => r.expect === "booted"));
    log(`edgeboot ${tag}: booted ${s.booted}/${s.n} in ${ours.wall.toFixed(1)} s; p50 ${s.p50?.toFixed(2)} p95 ${s.p95?.toFixed(2)} p99 ${s.p99?.toFixed(2)} max ${s.max?.toFixed(2)} s; retried ${s.retried} ${JSON.stringify(s.retriedBy)}; errors dhcp ${s.dhcpErrors} tftp ${s.tftpErrors} http ${s.httpErrors}; proxyDHCP p99 ${s.proxyP99?.toFixed(2)} ms; API proxy peak sockets ${proxy.peakSockets()}; relay peak RSS ${relayUse.rssMiB.toFixed(1)} MiB (anon ${relayUse.anonMiB.toFixed(1)}, file ${relayUse.fileMiB.toFixed(1)}), CPU ${relayUse.cpuS.toFixed(1)} s; API requests ${apiRequests}, D1 statements ${stats1.statements - stats0.statements}; lost ${lost}; median step ms ${JSON.stringify(s.steps)}${s.failures.length ? `; failures: ${s.failures.join(" | ")}` : ""}`);
    if (run.outage) {
      row({ what: `storm ${tag}: machines failed`, ours: s.failed, peer: null, peerName: "-", unit: "machines", ratio: null, better: "lower" });
      row({ what: `storm ${tag}: acknowledged booted events lost`, ours: lost, peer: null, peerName: "-", unit: "events", ratio: null, better: "lower" });
      row({ what: `storm ${tag}: p99 completion`, ours: s.p99, peer: null, peerName: "-", unit: "s", ratio: null, better: "lower" });
      if (MIXED) kindRows(tag, ours.results, null, discovered, row);
      continue;
    }
    // DIY, same known machines (own segment, own servers); nginx has nothing for unknown ones.
    const diyMachines = known;
    const diyLog0 = existsSync(diy.accessLog) ? readFileSync(diy.accessLog, "utf8").length : 0;
    const sampleDiy = sampler([diy.dnsmasq.pid, diy.nginx.pid]);
    const wirePeer = hasTcpdump() ? startWireCapture(net.ns.diy, "eth0", join(work, `wire-diy-${run.n}.pcap`)) : null;
    const peer = await storm(`diy-${run.n}`, net.ns.cb, diyMachines);
    const diyUse = sampleDiy();
    await wirePeer?.stop();
    const wirePeerMs = wirePeer ? serverReplyLatencies(join(work, `wire-diy-${run.n}.pcap`), SEGMENTS.b.server) : [];
    const p = summarize(peer.results);
    const diyBooted = readFileSync(diy.accessLog, "utf8").slice(diyLog0).split("\n").filter((l) => / "POST \/h\/[^/]+\/events\?phase=booted[^"]*" 200 /.test(l)).length;
    const diyLost = Math.max(0, p.booted - diyBooted);
    log(`DIY ${tag}: booted ${p.booted}/${p.n} in ${peer.wall.toFixed(1)} s; p50 ${p.p50?.toFixed(2)} p95 ${p.p95?.toFixed(2)} p99 ${p.p99?.toFixed(2)} max ${p.max?.toFixed(2)} s; retried ${p.retried} ${JSON.stringify(p.retriedBy)}; errors dhcp ${p.dhcpErrors} tftp ${p.tftpErrors} http ${p.httpErrors}; proxyDHCP p99 ${p.proxyP99?.toFixed(2)} ms; dnsmasq+nginx peak RSS ${diyUse.rssMiB.toFixed(1)} MiB, CPU ${diyUse.cpuS.toFixed(1)} s; median step ms ${JSON.stringify(p.steps)}${p.failures.length ? `; failures: ${p.failures.join(" | ")}` : ""}`);
    const r = (what, o, q, unit, better = "lower") => row({ what: `storm ${tag}: ${what}`, ours: o, peer: q, peerName: "DIY (dnsmasq proxy+TFTP, nginx)", unit, ratio: q ? o / q : null, better });
    r("completion p50", s.p50, p.p50, "s");
    r("completion p95", s.p95, p.p95, "s");
    r("completion p99", s.p99, p.p99, "s");
    r("completion max", s.max, p.max, "s");
    r("machines failed", s.failed, p.failed, "machines");
    r("machines that retried", s.retried, p.retried, "machines");
    r("DHCP / TFTP / HTTP errors", s.dhcpErrors + s.tftpErrors + s.httpErrors, p.dhcpErrors + p.tftpErrors + p.httpErrors, `errors (ours ${s.dhcpErrors}/${s.tftpErrors}/${s.httpErrors}, DIY ${p.dhcpErrors}/${p.tftpErrors}/${p.httpErrors})`);
    r("proxyDHCP offer p99 (under the storm, as the simulated clients saw it)", s.proxyP99, p.proxyP99, "ms");
    if (wireMs.length && wirePeerMs.length) {
      // The server's own time, request in → reply out on its interface (tcpdump stamps), without the clients' delay.
      log(`proxyDHCP on the wire: edgeboot ${wireMs.length} replies p50 ${percentile(wireMs, 50).toFixed(2)} p99 ${percentile(wireMs, 99).toFixed(2)} max ${percentile(wireMs, 100).toFixed(2)} ms; DIY ${wirePeerMs.length} replies p50 ${percentile(wirePeerMs, 50).toFixed(2)} p99 ${percentile(wirePeerMs, 99).toFixed(2)} ms`);
      r("proxyDHCP reply p50 on the wire (server's own time)", percentile(wireMs, 50), percentile(wirePeerMs, 50), "ms");
      r("proxyDHCP reply p99 on the wire (server's own time)", percentile(wireMs, 99), percentile(wirePeerMs, 99), "ms");
    }
    r("server peak RSS (relay vs dnsmasq + nginx)", relayUse.rssMiB, diyUse.rssMiB, "MiB");
    r("server peak RSS, anonymous part (file-backed: program pages)", relayUse.anonMiB, diyUse.anonMiB, `MiB (file-backed ${relayUse.fileMiB.toFixed(1)} vs ${diyUse.fileMiB.toFixed(1)})`);
    r("server CPU (relay vs dnsmasq + nginx)", relayUse.cpuS, diyUse.cpuS, "s");
    r("booted events lost", lost, diyLost, "events");
    if (MIXED) kindRows(tag, ours.results, peer.results, discovered, row);
    if (reloaded) log("wrangler dev reloaded the Worker during this storm (a source file changed): API/D1 counts are partial");
    row({ what: `storm ${tag}: API requests per boot (relay → API)${unknown.length ? `, ${unknown.length} unknown machines' chains included` : ""}${reloaded ? " (partial: Worker reloaded)" : ""}`, ours: apiRequests / Math.max(1, s.booted), peer: null, peerName: "-", unit: "requests", ratio: null });
    row({ what: `storm ${tag}: D1 statements / rows read / rows written per boot`, ours: (stats1.statements - stats0.statements) / Math.max(1, s.booted), peer: null, peerName: "-", unit: `statements (rows read ${((stats1.rowsRead - stats0.rowsRead) / Math.max(1, s.booted)).toFixed(1)}, written ${((stats1.rowsWritten - stats0.rowsWritten) / Math.max(1, s.booted)).toFixed(1)})`, ratio: null });
  }
  // What a boot adds for good: event and boot-session rows with their indexes (dbstat over the local D1 file).
  const d1After = apiDev.d1Tables(GROWING);
  const grown = Object.entries(d1After.bytes).filter(([n]) => grows(n)).reduce((a, [n, b]) => a + b - (d1Before.bytes[n] ?? 0), 0);
  const perBoot = (t) => ((d1After.rows[t] ?? 0) - (d1Before.rows[t] ?? 0)) / Math.max(1, bootsRecorded);
  log(`D1 growth: ${grown} bytes in events + boot_sessions (tables and indexes) over ${bootsRecorded} boots; ${perBoot("events").toFixed(1)} events and ${perBoot("boot_sessions").toFixed(2)} boot sessions per boot`);
  row({ what: `D1 bytes per 1,000 boots (events ${perBoot("events").toFixed(1)}/boot + boot sessions ${perBoot("boot_sessions").toFixed(2)}/boot, indexes included; dbstat over ${bootsRecorded} boots)`, ours: (grown / Math.max(1, bootsRecorded)) * 1000, peer: null, peerName: "-", unit: "bytes", ratio: null });
  log(`done; load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  stopping = true;
} catch (err) {
  stopping = true;
  log(`FAILED: ${err.stack ?? err}`);
  log(`work dir: ${work} (set BENCH_STORM_KEEP=1 to keep it)`);
  process.exitCode = 1;
}
process.exit();
