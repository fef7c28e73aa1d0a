// The hosts view of a 10,000-host site, against a real wrangler dev: hosts seeded through the bulk import route,
// one relay event per host (so "last phase" has data), then pages timed: first, deep (cursor after 20 pages),
// filtered by state and by label. The figure is wall time per page over loopback (the Worker's time plus one local
// round trip): workerd's clock only advances across I/O, so the page's own Server-Timing leaves out pure CPU time.
// No browser needed; part of the browser project because it measures the status page.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWranglerDev, type WranglerDev } from "../helpers/wrangler.ts";
import { type Admin, adminApi, relayEvents } from "./support.ts";

const SITE = "big";
const HOSTS = 10_000;
const IMPORT_BATCH = 1000;
const BUDGET_MS = 300;
const ROUNDS = 7;
const STATES = ["ready", "booted", "installed", "failed"] as const;

let api: WranglerDev;
let admin: Admin;

const mac = (i: number) => `02:00:00:${((i >> 16) & 255).toString(16).padStart(2, "0")}:${((i >> 8) & 255).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`;

beforeAll(async () => {
  // Frozen: edits to the tree during the run (other work in the same checkout) must not reload the Worker mid-test.
  api = await startWranglerDev({ frozen: "bundle" });
  admin = adminApi(api.url, api.adminToken);
  await admin("POST", "/v1/profiles", { name: "linux" });
  await admin("POST", "/v1/sites", { slug: SITE, name: "Big site" });
  const started = Date.now();
  for (let from = 0; from < HOSTS; from += IMPORT_BATCH) {
    const batch = Array.from({ length: IMPORT_BATCH }, (_, j) => {
      const i = from + j;
      return { hostname: `node-${String(i).padStart(5, "0")}`, mac: mac(i), profile: "linux", state: STATES[i % STATES.length], labels: { rack: `r${i % 40}` } };
    });
    await admin("POST", `/v1/sites/${SITE}/hosts/import`, batch);
  }
  const { credential } = await admin("POST", `/v1/sites/${SITE}/relays`, { name: "relay-1" });
  for (let from = 0; from < HOSTS; from += 500) {
    await relayEvents(api.url, credential, Array.from({ length: 500 }, (_, j) => ({ phase: "dhcp-offer", mac: mac(from + j), detail: { client: "10.0.0.1" } })));
  }
  console.log(`seeded ${HOSTS} hosts (bulk import) and ${HOSTS} relay events in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}, 15 * 60_000);

afterAll(async () => {
  await api?.stop();
});

async function timePage(path: string) {
  const started = performance.now();
  const res = await fetch(`${api.url}${path}`, { headers: { cookie: `edgeboot_session=${encodeURIComponent(api.adminToken)}` }, redirect: "manual" });
  const body = await res.text();
  const wall = performance.now() - started;
  if (res.status !== 200) throw new Error(`${path} → ${res.status}: ${body.slice(0, 300)}`);
  const server = Number(/app;dur=([\d.]+)/.exec(res.headers.get("server-timing") ?? "")?.[1] ?? NaN);
  return { wall, server, body };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe(`hosts view of a ${HOSTS}-host site`, () => {
  it(`renders each page in < ${BUDGET_MS} ms`, async () => {
    // A cursor 20 pages in, found the way a user gets there.
    let deep = `/ui/sites/${SITE}/hosts?limit=100`;
    for (let p = 0; p < 20; p++) {
      const { body } = await timePage(deep);
      deep = /rel="next" href="([^"]*)"/.exec(body)![1]!.replace(/&amp;/g, "&");
    }
    const cases: [string, string, number][] = [
      ["first page, 100 hosts", `/ui/sites/${SITE}/hosts?limit=100`, 100],
      ["first page, 200 hosts", `/ui/sites/${SITE}/hosts?limit=200`, 200],
      ["page 21, 100 hosts (cursor)", deep, 100],
      ["state=failed, 100 hosts", `/ui/sites/${SITE}/hosts?state=failed&limit=100`, 100],
      ["label rack=r7, 100 hosts", `/ui/sites/${SITE}/hosts?label=rack%3Dr7&limit=100`, 100],
      ["site overview", `/ui/sites/${SITE}`, 0],
    ];
    const rows: string[] = [];
    for (const [what, path, rowsExpected] of cases) {
      await timePage(path); // warm: the isolate and D1's statement cache, as for an operator who keeps the page open
      const walls: number[] = [];
      const servers: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const t = await timePage(path);
        if (rowsExpected) expect(t.body.match(/<tr>\s*<th scope="row" data-label="Host">/g)?.length).toBe(rowsExpected);
        walls.push(t.wall);
        servers.push(t.server);
      }
      rows.push(`  ${what.padEnd(30)} wall median ${median(walls).toFixed(1).padStart(6)} ms, max ${Math.max(...walls).toFixed(1).padStart(6)} ms; Server-Timing median ${median(servers).toFixed(1)} ms`);
      expect(median(walls), `${what}: median ${median(walls).toFixed(1)} ms`).toBeLessThan(BUDGET_MS);
    }
    console.log(`status page, ${HOSTS}-host site, ${ROUNDS} rounds each:\n${rows.join("\n")}`);
  });
});
