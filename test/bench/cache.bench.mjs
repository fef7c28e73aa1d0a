// Relay artifact cache benchmark (`npm run bench -- cache`): hit throughput for one artifact (256 MiB by default),
// 1 and 32 concurrent clients on loopback, beside nginx serving the same file in the same run; 32 concurrent
// misses (one upstream fetch expected, first byte vs the upstream's); the relay's resident memory under load.
// The relay is the real one, started as it ships (relay/bin.js, which runs its JS build; DHCP/TFTP off); the
// upstream is a small stand-in for the API's /relay/v1/artifacts route in its own process; clients are curl (hits)
// and Node http (misses, for timestamps).
// Rows: JSON lines {"what","ours","peer","peerName","unit","ratio","better"} on stdout; progress on stderr.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, createWriteStream, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const MiB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_CACHE_MB ?? 256) * MiB;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CLIENTS = 32;
const UPSTREAM_DELAY_MS = Number(process.env.BENCH_UPSTREAM_DELAY_MS ?? 500);
const root = fileURLToPath(new URL("../..", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "edgeboot-cache-bench-"));
// nginx workers run as an unprivileged user: they must be able to reach the file.
chmodSync(tmp, 0o755);
const children = [];
const log = (msg) => process.stderr.write(`${msg}\n`);
const row = (r) => process.stdout.write(`${JSON.stringify(r)}\n`);
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function freePort() {
  const srv = createServer();
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

function start(cmd, args, opts = {}) {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], ...opts });
  children.push(child);
  child.output = "";
  child.stdout.on("data", (d) => (child.output += d));
  child.stderr.on("data", (d) => (child.output += d));
  return child;
}

async function waitHttp(url, what) {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((resolve) => get(url, (res) => (res.resume(), resolve(res.statusCode < 500))).on("error", () => resolve(false)));
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`${what} did not come up at ${url}`);
}

async function writeArtifact(path) {
  const hash = createHash("sha256");
  const out = createWriteStream(path);
  for (let done = 0; done < SIZE; done += 4 * MiB) {
    const chunk = randomBytes(Math.min(4 * MiB, SIZE - done));
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise((r) => out.once("drain", r));
  }
  await new Promise((r) => out.end(r));
  return hash.digest("hex");
}

// The API stand-in: serves the artifact (counting fetches, printing the epoch ms of its first byte), and answers
// register/sync so the relay's sync loop is quiet. It answers artifact requests after a WAN-like delay, so all 32
// clients are connected and waiting when the first byte comes (the figure is the relay's fan-out, not connects).
const UPSTREAM = `
import { createReadStream, statSync } from "node:fs";
import { createServer } from "node:http";
const [file, sha, port, delay] = process.argv.slice(1);
const size = statSync(file).size;
let fetches = 0;
const snapshot = { site: { slug: "bench", name: "bench", bootAuth: "relay", allowDirect: false, unknownHostPolicy: "discover" },
  relay: { id: "r1", name: "bench" }, hosts: [], prefetch: [], commands: [], manifests: [], pollSeconds: 300 };
createServer((req, res) => {
  if (req.url === "/stats") return res.end(JSON.stringify({ fetches }));
  if (req.url === "/relay/v1/register") return req.resume(), res.end(JSON.stringify({ relay: { id: "r1", name: "bench", site: "bench" }, pollSeconds: 300 }));
  if (req.url === "/relay/v1/sync") return res.end(JSON.stringify(snapshot));
  if (req.url === "/relay/v1/artifacts/" + sha) {
    fetches++;
    setTimeout(() => send(res), Number(delay));
    return;
  }
  res.writeHead(404).end();
}).listen(Number(port), "127.0.0.1");
function send(res) {
    res.writeHead(200, { "content-length": size, "content-type": "application/octet-stream" });
    let first = true;
    const rs = createReadStream(file, { highWaterMark: 1 << 20 });
    rs.on("data", (c) => { if (first) { first = false; process.stdout.write("first-byte " + (performance.timeOrigin + performance.now()) + "\\n"); } if (!res.write(c)) { rs.pause(); res.once("drain", () => rs.resume()); } });
    rs.on("end", () => res.end());
}
`;

function rssOf(pid) {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) * 1024;
  } catch {
    return 0;
  }
}

function sampleRss(pid) {
  let max = 0;
  const timer = setInterval(() => (max = Math.max(max, rssOf(pid))), 20);
  return () => (clearInterval(timer), max);
}

// n curl processes downloading the whole artifact at once; aggregate bytes per second over the wall time.
async function curlThroughput(url, n) {
  const t0 = now();
  const results = await Promise.all(
    Array.from({ length: n }, () => {
      const c = spawn("curl", ["-s", "-o", "/dev/null", "-w", "%{size_download} %{http_code}", url], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      c.stdout.on("data", (d) => (out += d));
      // "close", not "exit": exit can fire before the last of stdout has been read.
      return new Promise((resolve) => c.on("close", () => resolve(out.trim())));
    }),
  );
  const secs = (now() - t0) / 1000;
  for (const r of results) if (r !== `${SIZE} 200`) throw new Error(`download from ${url} ended with "${r}"`);
  return (n * SIZE) / MiB / secs;
}

// One Node client: epoch ms of the first body byte, and (for one of them) a hash of everything it read.
function missClient(url, verify) {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let first = 0;
      let bytes = 0;
      const hash = verify ? createHash("sha256") : null;
      res.on("data", (c) => {
        if (!first) first = now();
        bytes += c.length;
        hash?.update(c);
      });
      res.on("end", () => resolve({ status: res.statusCode, first, bytes, sha: hash?.digest("hex") }));
      res.on("error", reject);
    }).on("error", reject);
  });
}

// Interrupted (Ctrl-C, a runner's timeout): stop the relay, upstream and nginx too, and remove the files.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.once(signal, () => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
    rmSync(tmp, { recursive: true, force: true });
    process.exit(130);
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  const file = join(tmp, "artifact");
  log(`writing a ${SIZE / MiB} MiB artifact`);
  const sha = await writeArtifact(file);

  const upstreamPort = await freePort();
  const upstream = start(process.execPath, ["--input-type=module", "-e", UPSTREAM, file, sha, String(upstreamPort), String(UPSTREAM_DELAY_MS)]);
  const upstreamUrl = `http://127.0.0.1:${upstreamPort}`;
  await waitHttp(`${upstreamUrl}/stats`, "upstream");

  const relayPort = await freePort();
  mkdirSync(join(tmp, "bin"));
  const relay = start(
    process.execPath,
    [
      join(root, "relay/bin.js"),
      "--api-url", upstreamUrl, "--site", "bench", "--listen", "127.0.0.1", "--advertise", "127.0.0.1",
      "--http-port", String(relayPort), "--dhcp-port", "0", "--proxy-dhcp-port", "0", "--tftp-port", "0",
      "--state-dir", join(tmp, "state"), "--binaries-dir", join(tmp, "bin"), "--cache-max-bytes", "4G", "--log-level", "error",
    ],
    // The relay runs with the environment it ships with (Dockerfile, systemd unit): BENCH_RELAY_NODE_OPTIONS overrides
    // its Node flags, BENCH_RELAY_GLIBC_MALLOC=default drops its malloc setting.
    {
      env: {
        ...process.env,
        NODE_OPTIONS: process.env.BENCH_RELAY_NODE_OPTIONS ?? "--max-semi-space-size=1",
        ...(process.env.BENCH_RELAY_GLIBC_MALLOC === "default" ? {} : { MALLOC_MMAP_THRESHOLD_: "131072" }),
        EDGEBOOT_RELAY_CREDENTIAL: "bench-credential-0123456789abcdef",
      },
    },
  );
  const relayUrl = `http://127.0.0.1:${relayPort}/artifacts/${sha}`;
  await waitHttp(`http://127.0.0.1:${relayPort}/healthz`, "relay");
  log(`relay pid ${relay.pid} up, idle RSS ${(rssOf(relay.pid) / MiB).toFixed(0)} MiB`);

  // --- 32 concurrent misses ---------------------------------------------------------------------------------
  log(`${CLIENTS} concurrent misses`);
  const stopMissRss = sampleRss(relay.pid);
  const misses = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => missClient(relayUrl, i === 0)));
  const missRss = stopMissRss();
  const fetches = JSON.parse(await new Promise((r) => get(`${upstreamUrl}/stats`, (res) => { let b = ""; res.on("data", (d) => (b += d)); res.on("end", () => r(b)); }))).fetches;
  const upstreamFirst = Number(/first-byte (\d+(\.\d+)?)/.exec(upstream.output)?.[1]);
  for (const m of misses) if (m.status !== 200 || m.bytes !== SIZE) throw new Error(`a miss client got ${m.status} with ${m.bytes} bytes`);
  if (misses[0].sha !== sha) throw new Error("a miss client received bytes that do not hash to the artifact");
  const lags = misses.map((m) => m.first - upstreamFirst);
  if (process.env.BENCH_TRACE) log(relay.output.split("\n").filter((l) => l.startsWith("TRACE")).map((l) => { const [, what, t] = l.split(" "); return what + " " + (Number(t) - upstreamFirst).toFixed(1); }).slice(0, 12).join("\n") + "\nclients " + lags.map((l) => l.toFixed(0)).join(","));
  row({ what: `${CLIENTS} concurrent misses: upstream fetches`, ours: fetches, peer: 1, peerName: "expected", unit: "fetches", ratio: fetches / 1, better: "lower" });
  row({ what: `${CLIENTS} concurrent misses: first byte after upstream's, slowest client`, ours: Math.max(...lags), peer: 50, peerName: "target", unit: "ms", ratio: Math.max(...lags) / 50, better: "lower" });
  row({ what: `${CLIENTS} concurrent misses: first byte after upstream's, median client`, ours: median(lags), peer: 50, peerName: "target", unit: "ms", ratio: median(lags) / 50, better: "lower" });

  // --- nginx on the same file (a hard link: same inode, same page cache) --------------------------------------
  const nginxPort = await freePort();
  const prefix = join(tmp, "nginx");
  mkdirSync(join(prefix, "root/artifacts"), { recursive: true });
  mkdirSync(join(prefix, "tmp"));
  linkSync(file, join(prefix, "root/artifacts", sha));
  writeFileSync(
    join(prefix, "nginx.conf"),
    `worker_processes 1;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path ${prefix}/tmp; proxy_temp_path ${prefix}/tmp; fastcgi_temp_path ${prefix}/tmp; uwsgi_temp_path ${prefix}/tmp; scgi_temp_path ${prefix}/tmp;
  server { listen 127.0.0.1:${nginxPort}; root ${prefix}/root; }
}
`,
  );
  start(process.env.NGINX ?? "/usr/sbin/nginx", ["-p", prefix, "-c", join(prefix, "nginx.conf")]);
  const nginxUrl = `http://127.0.0.1:${nginxPort}/artifacts/${sha}`;
  await waitHttp(nginxUrl, "nginx");

  // --- hits: alternate relay and nginx each round, so background load hits both alike; medians reported ------
  const results = { relay1: [], nginx1: [], relay32: [], nginx32: [] };
  let hitRss = 0;
  await curlThroughput(relayUrl, 1);
  await curlThroughput(nginxUrl, 1);
  for (let r = 0; r < ROUNDS; r++) {
    log(`hit round ${r + 1}/${ROUNDS}`);
    const stop = sampleRss(relay.pid);
    results.relay1.push(await curlThroughput(relayUrl, 1));
    results.relay32.push(await curlThroughput(relayUrl, CLIENTS));
    hitRss = Math.max(hitRss, stop());
    results.nginx1.push(await curlThroughput(nginxUrl, 1));
    results.nginx32.push(await curlThroughput(nginxUrl, CLIENTS));
  }
  for (const n of [1, CLIENTS]) {
    const ours = median(results[`relay${n === 1 ? 1 : 32}`]);
    const peer = median(results[`nginx${n === 1 ? 1 : 32}`]);
    row({ what: `cache hit, ${SIZE / MiB} MiB, ${n} client${n > 1 ? "s" : ""} (aggregate)`, ours, peer, peerName: "nginx-light 1 worker sendfile", unit: "MiB/s", ratio: ours / peer, better: "higher" });
  }
  const peakRss = Math.max(missRss, hitRss) / MiB;
  log(`relay RSS peak: misses ${(missRss / MiB).toFixed(0)} MiB, hits ${(hitRss / MiB).toFixed(0)} MiB`);
  row({ what: "relay RSS peak during misses and hits", ours: peakRss, peer: 150, peerName: "target", unit: "MiB", ratio: peakRss / 150, better: "lower" });
} finally {
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  await sleep(300);
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  rmSync(tmp, { recursive: true, force: true });
}
