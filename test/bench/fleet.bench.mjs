// A 100,000-host site (issue 17): bulk import through the admin API (the JSON bulk route for one site, dnsmasq
// dhcp-host lines for another, in chunks of the route's 1,000-host limit), then the chain for a known, an unknown, a
// UUID-matched and a serial-matched host at 10, 10,000 and 100,000 hosts: D1 statements, rows read and rows written
// per request as D1's result metadata counts them (test/bench/support/countingWorker.ts), and the admin host list:
// ms per page for the first pages, by state, and by label. The real Worker under wrangler dev (local D1).
// BENCH_FLEET_N (default 100000) sets the largest size. Rows: JSON lines on stdout (run.mjs); progress on stderr.
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { startCountingApi } from "./support/countingApi.mjs";

const log = (m) => process.stderr.write(`[fleet] ${m}\n`);
const BIG = Number(process.env.BENCH_FLEET_N ?? 100_000);
const SIZES = [10, 10_000, BIG].filter((n, i, a) => n <= BIG && a.indexOf(n) === i);
const CHUNK = 1000; // MAX_IMPORT of POST /v1/sites/:site/hosts/import
const work = mkdtempSync(join(tmpdir(), "edgeboot-fleet-"));
let child = null;
const cleanup = () => {
  if (child?.pid) {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {}
  }
  rmSync(work, { recursive: true, force: true });
};
process.on("exit", cleanup);
process.on("SIGINT", () => process.exit(130));

const hex = (n, w) => n.toString(16).padStart(w, "0");
const host = (site, i) => ({
  hostname: `n${site}-${String(i).padStart(6, "0")}`,
  mac: `52:55:${hex(site, 2)}:${hex((i >> 16) & 255, 2)}:${hex((i >> 8) & 255, 2)}:${hex(i & 255, 2)}`,
  uuid: `4c4c4544-00${hex(site, 2)}-4000-8000-${hex(i, 12)}`,
  serial: `F${site}-${String(i).padStart(7, "0")}`,
  labels: { rack: `r${i % 50}` },
});

try {
  const apiDev = await startCountingApi(work, (c) => (child = c));
  const { api } = apiDev;
  const blob = () => {
    const b = randomBytes(1024);
    return { b, sha: createHash("sha256").update(b).digest("hex") };
  };
  const k = blob();
  const r = blob();
  for (const a of [k, r]) await api("PUT", `/v1/artifacts/${a.sha}`, null, a.b, "application/octet-stream");
  await api("POST", "/v1/images", { name: "fleet-os", arch: "x86_64", version: "1", artifacts: { kernel: k.sha, initrd: [r.sha] } });
  await api("POST", "/v1/profiles", { name: "fleet", image: "fleet-os", cmdline: "console=ttyS0 hostname={{ host.hostname }}", userData: "#cloud-config\n" });
  for (const slug of ["json", "dnsmasq"]) await api("POST", "/v1/sites", { slug, name: slug, bootAuth: "open", unknownHostPolicy: "discover" });

  const measure = async (path, init) => {
    const s0 = await apiDev.stats();
    const t = performance.now();
    const res = await fetch(`${apiDev.base}${path}`, init);
    const body = await res.text();
    const ms = performance.now() - t;
    await new Promise((r) => setTimeout(r, 150)); // waitUntil writes land
    const s1 = await apiDev.stats();
    if (res.status >= 300) throw new Error(`${path} → ${res.status} ${body.slice(0, 300)}`);
    return { ms, body, statements: s1.statements - s0.statements - 0, rowsRead: s1.rowsRead - s0.rowsRead, rowsWritten: s1.rowsWritten - s0.rowsWritten };
  };
  const admin = { headers: { authorization: `Bearer ${apiDev.token}` } };
  const results = {};
  const hostBytesNow = () => Object.entries(apiDev.d1Tables().bytes).filter(([n]) => n === "hosts" || n.startsWith("hosts_") || n.startsWith("sqlite_autoindex_hosts")).reduce((a, [, b]) => a + b, 0);
  const bytes0 = hostBytesNow();
  let have = { json: 0, dnsmasq: 0 };
  const importTime = { json: 0, dnsmasq: 0 };
  for (const size of SIZES) {
    for (const [slug, siteNo] of [["json", 1], ["dnsmasq", 2]]) {
      const t = performance.now();
      for (let i = have[slug]; i < size; i += CHUNK) {
        const batch = Array.from({ length: Math.min(CHUNK, size - i) }, (_, j) => host(siteNo, i + j));
        if (slug === "json") await api("POST", `/v1/sites/${slug}/hosts/import?profile=fleet`, batch.map((h) => ({ ...h, profile: "fleet" })));
        else await api("POST", `/v1/sites/${slug}/hosts/import?profile=fleet`, null, batch.map((h) => `dhcp-host=${h.mac},${h.hostname}`).join("\n") + "\n", "text/plain");
        if ((i / CHUNK) % 10 === 9) log(`${slug}: ${i + CHUNK} hosts imported (${((performance.now() - t) / 1000).toFixed(1)} s this step)`);
      }
      importTime[slug] += performance.now() - t;
      have[slug] = size;
    }
    log(`${size} hosts per site; import so far: JSON ${(importTime.json / 1000).toFixed(1)} s, dnsmasq ${(importTime.dnsmasq / 1000).toFixed(1)} s`);
    // Warm the isolate's caches on a host not measured.
    await measure(`/boot/json/ipxe?mac=${host(1, 9).mac}&arch=x86_64&platform=efi`);
    const tag = (s) => `0a:${hex(s % 256, 2)}:${hex(size >> 16 & 255, 2)}:${hex(size >> 8 & 255, 2)}:${hex(size & 255, 2)}`;
    const i = Math.min(size - 1, 3 + SIZES.indexOf(size)); // a host index present at every size, new each round
    const q = (o) => `/boot/json/ipxe?${new URLSearchParams({ arch: "x86_64", platform: "efi", ...o })}`;
    const r = {
      known: await measure(q({ mac: host(1, i).mac })),
      unknown: await measure(q({ mac: `${tag(1)}:01` })),
      uuid: await measure(q({ mac: `${tag(2)}:02`, uuid: host(1, i + 1).uuid })),
      serial: await measure(q({ mac: `${tag(3)}:03`, serial: host(1, i + 2).serial })),
    };
    // Host list: five pages following the cursor, then a state filter and a label filter (all of the site).
    const pages = [];
    let cursor = null;
    for (let p = 0; p < 5; p++) {
      const m = await measure(`/v1/sites/json/hosts?limit=100${cursor ? `&cursor=${cursor}` : ""}`, admin);
      pages.push(m);
      cursor = JSON.parse(m.body).nextCursor;
      if (!cursor) break;
    }
    r.page = { ms: pages.reduce((a, p) => a + p.ms, 0) / pages.length, rowsRead: Math.max(...pages.map((p) => p.rowsRead)), statements: pages[0].statements, rowsWritten: 0 };
    r.state = await measure(`/v1/sites/json/hosts?limit=100&state=booting`, admin);
    r.label = await measure(`/v1/sites/json/hosts?limit=100&label=rack=r7`, admin);
    results[size] = r;
    for (const [what, m] of Object.entries(r)) log(`${size} hosts, ${what}: ${m.ms.toFixed(1)} ms, ${m.statements} statements, rows read ${m.rowsRead}, written ${m.rowsWritten}`);
  }
  const hostBytes = (hostBytesNow() - bytes0) / (2 * BIG); // both sites: the hosts table and its indexes (dbstat)
  const small = results[SIZES[0]];
  const big = results[SIZES.at(-1)];
  const row = (x) => console.log(JSON.stringify(x));
  const names = { known: "chain, known host (MAC)", unknown: "chain, unknown host (discover)", uuid: "chain, UUID-matched host", serial: "chain, serial-matched host", page: "host list page of 100 (first 5 pages)", state: "host list, state filter", label: "host list, label filter" };
  for (const key of Object.keys(names)) {
    const mid = results[10_000];
    row({ what: `${names[key]}: D1 rows read per request at ${BIG.toLocaleString("en")} hosts (10k: ${mid?.[key].rowsRead ?? "-"}; written ${big[key].rowsWritten}, statements ${big[key].statements})`, ours: big[key].rowsRead, peer: small[key].rowsRead, peerName: `same at ${SIZES[0]} hosts`, unit: "rows", ratio: small[key].rowsRead ? big[key].rowsRead / small[key].rowsRead : null, better: "lower" });
  }
  for (const key of ["page", "state", "label"]) row({ what: `${names[key]}: ms per request at ${BIG.toLocaleString("en")} hosts (wrangler dev)`, ours: big[key].ms, peer: small[key].ms, peerName: `same at ${SIZES[0]} hosts`, unit: "ms", ratio: big[key].ms / small[key].ms, better: "lower" });
  row({ what: `bulk import of ${BIG.toLocaleString("en")} hosts, JSON route (chunks of ${CHUNK})`, ours: importTime.json / 1000, peer: importTime.dnsmasq / 1000, peerName: "dnsmasq dhcp-host import, same route", unit: "s", ratio: importTime.json / importTime.dnsmasq });
  row({ what: `D1 bytes per host (hosts table + its indexes, dbstat, over ${(2 * BIG).toLocaleString("en")} imported hosts)`, ours: hostBytes, peer: null, peerName: "-", unit: "bytes", ratio: null });
  log(`done; load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
} catch (err) {
  log(`FAILED: ${err.stack ?? err}`);
  process.exitCode = 1;
}
process.exit();
