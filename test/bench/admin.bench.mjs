// Admin API throughput (issue 2) on local workerd under wrangler dev: a list read, a single read and a host create,
// each run side by side with /healthz (a static-text route of the same Worker) in the same run, as a ratio.
// Rows are JSON lines on stdout (see run.mjs); progress goes to stderr.
import autocannon from "autocannon";
import { startWranglerDev } from "../helpers/wrangler.ts";

const DURATION = Number(process.env.BENCH_SECONDS ?? 6);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const log = (...a) => console.error("[admin.bench]", ...a);

const blast = (opts) =>
  new Promise((resolve, reject) => {
    autocannon({ connections: CONNECTIONS, duration: DURATION, ...opts }, (err, result) => (err ? reject(err) : resolve(result)));
  });

function checked(result, label) {
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad > 0) throw new Error(`${label}: ${bad} failed requests of ${result.requests.total}`);
  return result.requests.average;
}

const api = await startWranglerDev();
try {
  const auth = { authorization: `Bearer ${api.adminToken}` };
  const post = async (path, body) => {
    const res = await fetch(`${api.url}${path}`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(body) });
    if (res.status !== 201) throw new Error(`seed ${path}: ${res.status} ${await res.text()}`);
  };
  await post("/v1/profiles", { name: "bench", cmdline: "console=ttyS0" });
  await post("/v1/sites", { slug: "bench", name: "Bench" });
  for (let i = 0; i < 50; i++) {
    await post("/v1/sites/bench/hosts", { hostname: `node-${i}`, mac: `52:54:00:00:10:${i.toString(16).padStart(2, "0")}`, profile: "bench" });
  }
  log("seeded; measuring for", DURATION, "s per route with", CONNECTIONS, "connections");

  let created = 0;
  const hostBody = () => {
    const n = created++;
    const mac = ["52", "54", "01", (n >> 16) & 255, (n >> 8) & 255, n & 255].map((b) => (typeof b === "number" ? b.toString(16).padStart(2, "0") : b)).join(":");
    return JSON.stringify({ hostname: `w-${n}`, mac, profile: "bench" });
  };

  const static1 = checked(await blast({ url: `${api.url}/healthz` }), "healthz");
  const list = checked(await blast({ url: `${api.url}/v1/sites/bench/hosts?limit=50`, headers: auth }), "list hosts");
  const one = checked(await blast({ url: `${api.url}/v1/sites/bench/hosts/node-7`, headers: auth }), "get host");
  const write = checked(
    await blast({
      url: `${api.url}/v1/sites/bench/hosts`,
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      requests: [{ setupRequest: (req) => ({ ...req, body: hostBody() }) }],
    }),
    "create host",
  );
  const static2 = checked(await blast({ url: `${api.url}/healthz` }), "healthz");
  const peer = (static1 + static2) / 2;
  const row = (what, ours) => console.log(JSON.stringify({ what, ours, peer, peerName: "/healthz same worker", unit: "req/s", ratio: ours / peer }));
  row("GET /v1/sites/:site/hosts (50 items)", list);
  row("GET /v1/sites/:site/hosts/:host", one);
  row("POST /v1/sites/:site/hosts (audit in batch)", write);
} finally {
  await api.stop();
}
