// Chain route benchmark (issue 3): wrangler dev (test/helpers/wrangler.ts: free loopback port, throw-away persist dir), seeded
// through the admin API, then autocannon against the chain route and /healthz (a static-text route of the same
// Worker), interleaved in one run; then the CPU per chain render measured inside workerd (test/bench/chainCpu.worker.ts).
// Result rows are JSON lines on stdout (see run.mjs); progress goes to stderr.
import { createHash, randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import autocannon from "autocannon";
import { startWranglerDev } from "../helpers/wrangler.ts";

const log = (...a) => console.error("[chain.bench]", ...a);
const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const MAC = "52:54:00:be:0c:01";

const token = `ebt_bench_${randomBytes(24).toString("base64url")}`;
let dev = null;
const stop = async () => {
  await dev?.stop();
};
process.on("SIGINT", () => void stop().then(() => process.exit(130)));
process.on("SIGTERM", () => void stop().then(() => process.exit(143)));

try {
  log("starting wrangler dev (test/helpers/wrangler.ts) with test/bench/chainCpu.worker.ts");
  dev = await startWranglerDev({ entry: "test/bench/chainCpu.worker.ts", adminToken: token, signingKid: "bench-1" });
  const base = dev.url;
  log("wrangler dev on", base);

  // Seed like an operator: artifacts, image, profile, an open site and one host.
  const api = async (method, path, body, raw) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: raw ?? (body ? JSON.stringify(body) : undefined),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  const blob = (label) => {
    const bytes = randomBytes(4096);
    return { bytes, sha: createHash("sha256").update(bytes).digest("hex"), label };
  };
  const kernel = blob("kernel");
  const initrd = blob("initrd");
  for (const a of [kernel, initrd]) await api("PUT", `/v1/artifacts/${a.sha}`, null, a.bytes);
  await api("POST", "/v1/images", { name: "bench-os", arch: "x86_64", version: "1", artifacts: { kernel: kernel.sha, initrd: [initrd.sha] } });
  await api("POST", "/v1/profiles", { name: "bench-live", image: "bench-os", cmdline: "console=ttyS0 hostname={{ host.hostname }} ntp={{ var.ntp }}", userData: "#cloud-config\n" });
  await api("POST", "/v1/sites", { slug: "bench", name: "Bench", bootAuth: "open", vars: { ntp: "10.0.0.1" } });
  await api("POST", "/v1/sites/bench/hosts", { hostname: "bench-1", mac: MAC, profile: "bench-live" });

  const chainPath = `/boot/bench/ipxe?mac=${MAC}&arch=x86_64&platform=efi`;
  const check = await fetch(`${base}${chainPath}`);
  const body = await check.text();
  if (check.status !== 200 || !body.startsWith("#!ipxe") || !check.headers.get("edgeboot-chain-signature")) throw new Error(`chain check failed: ${check.status} ${body.slice(0, 200)}`);
  log(`chain ok (${body.length} bytes, signed)`);

  const run = (path, duration = DURATION) =>
    new Promise((resolve, reject) =>
      autocannon({ url: `${base}${path}`, connections: CONNECTIONS, duration }, (err, res) => (err ? reject(err) : resolve(res))),
    );
  const routes = [["healthz", "/healthz"], ["oneQuery", "/__bench/one-query"], ["chain", chainPath]];
  for (const [, path] of routes) await run(path, 2); // warm-up, not counted
  // Interleaved rounds, each starting with another route (ABC, BCA, CAB, …), so drift on a shared machine and the
  // after-effects of the previous route (GC, caches) hit all routes alike. Each round pairs the routes measured
  // seconds apart; the ratio rows give the median of the per-round ratios (a burst of outside load spoils one round,
  // not the figure) and say the pooled ratio and the range.
  const runs = { chain: [], healthz: [], oneQuery: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < routes.length; k++) {
      const [name, path] = routes[(round + k) % routes.length];
      const res = await run(path);
      if (res.non2xx > 0 || res.errors > 0) throw new Error(`${name}: ${res.non2xx} non-2xx, ${res.errors} errors`);
      runs[name].push(res);
      log(`round ${round + 1} ${name}: ${res.requests.average.toFixed(0)} req/s, p50 ${res.latency.p50} ms, p99 ${res.latency.p99} ms`);
    }
  }
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const median = (xs) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const mid = sorted.length / 2;
    return Number.isInteger(mid) ? (sorted[mid - 1] + sorted[mid]) / 2 : sorted[Math.floor(mid)];
  };
  const rps = (name) => mean(runs[name].map((r) => r.requests.average));
  const p50 = (name) => mean(runs[name].map((r) => r.latency.p50));
  const perRound = (a, b) => runs[a].map((r, i) => r.requests.average / runs[b][i].requests.average);
  const ratioOf = (a, b) => {
    const rounds = perRound(a, b);
    return { ratio: median(rounds), note: `median of ${rounds.length} rounds; rounds ${Math.min(...rounds).toFixed(2)}–${Math.max(...rounds).toFixed(2)}, pooled ${(rps(a) / rps(b)).toFixed(2)}` };
  };
  const vsHealthz = ratioOf("chain", "healthz");
  const vsOneQuery = ratioOf("chain", "oneQuery");
  log(`chain / healthz: ${vsHealthz.ratio.toFixed(3)} (${vsHealthz.note}); chain / oneQuery: ${vsOneQuery.ratio.toFixed(3)} (${vsOneQuery.note})`);

  const cpuRes = await fetch(`${base}/__bench/chain-cpu?site=bench&mac=${MAC}&arch=x86_64&platform=efi&n=2000`);
  if (!cpuRes.ok) throw new Error(`cpu bench: ${cpuRes.status} ${await cpuRes.text()}`);
  const cpu = await cpuRes.json();
  log(`cpu per render: median ${cpu.medianMs.toFixed(3)} ms, p90 ${cpu.p90Ms.toFixed(3)} ms, p99 ${cpu.p99Ms.toFixed(3)} ms, mean ${cpu.meanMs.toFixed(3)} ms over ${cpu.n} renders in batches of ${cpu.batch} (timers advanced: ${cpu.timersAdvanced}); load average ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);

  const row = (r) => console.log(JSON.stringify(r));
  row({ what: `chain route throughput (wrangler dev, loopback; ratio: ${vsHealthz.note})`, ours: rps("chain"), peer: rps("healthz"), peerName: "/healthz (static text, same Worker)", unit: "req/s", ratio: vsHealthz.ratio, better: "higher" });
  row({ what: `chain route throughput vs a one-D1-query route (ratio: ${vsOneQuery.note})`, ours: rps("chain"), peer: rps("oneQuery"), peerName: "text route doing one D1 SELECT (same Worker)", unit: "req/s", ratio: vsOneQuery.ratio, better: "higher" });
  row({ what: "chain route p50 latency", ours: p50("chain"), peer: p50("healthz"), peerName: "/healthz", unit: "ms", ratio: p50("chain") / p50("healthz"), better: "lower" });
  row({ what: "CPU per chain render, median of 20-render batches (in workerd)", ours: cpu.medianMs, peer: 1, peerName: "budget (issue 3)", unit: "ms", ratio: cpu.medianMs / 1, better: "lower" });
  row({ what: "CPU per chain render, p90 of 20-render batches (in workerd)", ours: cpu.p90Ms, peer: 1, peerName: "budget (issue 3)", unit: "ms", ratio: cpu.p90Ms / 1, better: "lower" });
} catch (err) {
  log(err.stack ?? String(err));
  process.exitCode = 1;
} finally {
  await stop();
}
