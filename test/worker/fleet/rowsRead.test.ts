// Fleet size must not show in a boot's D1 cost: the same requests against a 10-host site and a 10,000-host site (in
// one database) read and write the same number of rows, statement by statement, as D1's result metadata counts them
// (rows_read / rows_written). The EXPLAIN QUERY PLAN of every statement is printed, and none scans a fleet-sized table.
// The 100,000-host figures come from `npm run bench -- fleet`.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../../worker/index.ts";
import { countingD1, queryPlan, type StatementCost, totals } from "./countingD1.ts";
import { fleetHost, resetDb, seedFleet, seedHistory } from "./fleetSeed.ts";

const SIZES = { small: 10, big: 10_000 } as const;
const SITE_NO = { small: 1, big: 2 } as const;
type Size = keyof typeof SIZES;

async function call(path: string, init: RequestInit = {}) {
  const log: StatementCost[] = [];
  const ctx = createExecutionContext();
  const bindings = { ...env, DB: countingD1(env.DB, log) };
  const res = await worker.fetch(new Request(`http://api.test${path}`, init) as never, bindings as never, ctx);
  const body = await res.text();
  await waitOnExecutionContext(ctx);
  return { status: res.status, body, log };
}

const chainPath = (size: Size, q: Record<string, string>) => `/boot/${size}/ipxe?${new URLSearchParams({ arch: "x86_64", platform: "efi", ...q })}`;
const tokenIn = (script: string) => /\/boot\/h\/([^/\s]+)\//.exec(script)?.[1];
const admin = { authorization: `Bearer ${env.ADMIN_TOKEN}` };

// Each scenario runs once per site on a host index that exists in both (0..9), each host's first request, so the
// two sites see the same request in the same state; each site carries a history proportional to its size.
// `bound`: a listing returns more rows from a bigger site, so instead of equality its rows read must stay within a
// few pages' worth at 10,000 hosts.
type Scenario = { name: string; host: number; bound?: number; rule?: string; run(size: Size, i: number): Promise<{ status: number; body: string; log: StatementCost[] }> };
const scenarios: Scenario[] = [
  { name: "chain, known host (MAC)", host: 0, run: (s, i) => call(chainPath(s, { mac: fleetHost(SITE_NO[s], i).mac })) },
  { name: "chain, unknown host (discover)", host: 0, run: (s, i) => call(chainPath(s, { mac: `0a:00:00:00:${SITE_NO[s].toString(16).padStart(2, "0")}:${i.toString(16).padStart(2, "0")}` })) },
  { name: "chain, UUID-matched host", host: 1, run: (s, i) => call(chainPath(s, { mac: `0e:00:00:00:${SITE_NO[s].toString(16).padStart(2, "0")}:${i.toString(16).padStart(2, "0")}`, uuid: fleetHost(SITE_NO[s], i).uuid })) },
  // Assignment rules (worker/assign/): every site carries RULES; host 4 has labels and no profile of its own.
  { name: "chain, known host by labels (rule)", host: 4, rule: "workers", run: (s, i) => call(chainPath(s, { mac: fleetHost(SITE_NO[s], i).mac })) },
  { name: "chain, unknown host by MAC prefix (rule)", host: 0, rule: "lab-nics", run: (s, i) => call(chainPath(s, { mac: `0b:00:00:00:${SITE_NO[s].toString(16).padStart(2, "0")}:${i.toString(16).padStart(2, "0")}` })) },
  { name: "chain, serial-matched host", host: 2, run: (s, i) => call(chainPath(s, { mac: `0c:00:00:00:${SITE_NO[s].toString(16).padStart(2, "0")}:${i.toString(16).padStart(2, "0")}`, serial: fleetHost(SITE_NO[s], i).serial })) },
  {
    name: "NoCloud meta-data + booted event",
    host: 3,
    async run(s, i) {
      const chain = await call(chainPath(s, { mac: fleetHost(SITE_NO[s], i).mac }));
      const token = tokenIn(chain.body);
      if (!token) throw new Error(`no host token in chain: ${chain.body}`);
      const meta = await call(`/boot/h/${token}/nocloud/meta-data`);
      const booted = await call(`/boot/h/${token}/events?phase=booted`, { method: "POST" });
      return { status: Math.max(meta.status, booted.status), body: meta.body, log: [...meta.log, ...booted.log] };
    },
  },
  {
    name: "admin import of 100 new hosts (JSON bulk route)",
    host: 0,
    bound: 2000,
    run: (s) =>
      call(`/v1/sites/${s}/hosts/import?profile=os`, {
        method: "POST",
        headers: { ...admin, "content-type": "application/json" },
        body: JSON.stringify(Array.from({ length: 100 }, (_, j) => ({ hostname: `imported-${j}`, mac: `06:00:00:00:${SITE_NO[s].toString(16).padStart(2, "0")}:${j.toString(16).padStart(2, "0")}`, profile: "os" }))),
      }),
  },
  { name: "admin host list, page of 100", host: 0, bound: 400, run: (s) => call(`/v1/sites/${s}/hosts?limit=100`, { headers: admin }) },
  {
    name: "admin host list, 6th page of 100 (cursor)",
    host: 0,
    bound: 400,
    async run(s) {
      let cursor = "";
      for (let p = 0; p < 5; p++) cursor = JSON.parse((await call(`/v1/sites/${s}/hosts?limit=100${cursor ? `&cursor=${cursor}` : ""}`, { headers: admin })).body).nextCursor ?? "";
      return call(`/v1/sites/${s}/hosts?limit=100${cursor ? `&cursor=${cursor}` : ""}`, { headers: admin });
    },
  },
  // A host found by name through a join (sites + hosts share column names), then its events: a page at any size.
  { name: "admin events of one host (by hostname)", host: 0, bound: 400, run: (s, i) => call(`/v1/sites/${s}/events?host=${fleetHost(SITE_NO[s], i).hostname}&limit=50`, { headers: admin }) },
  { name: "admin host list, state=failed, page of 100", host: 0, bound: 400, run: (s) => call(`/v1/sites/${s}/hosts?limit=100&state=failed`, { headers: admin }) },
];

// A site's rules, as the admin API would store them (no two can tie): the chain reads them all on every boot.
const RULES = [
  { name: "arm", selector: { arch: "arm64" } },
  { name: "db", selector: { labels: { role: "db" } } },
  { name: "workers", selector: { labels: { role: "worker" } } },
  { name: "lab-nics", selector: { macPrefix: "0b" } },
];

async function seedRules(siteId: string) {
  const d1 = env.DB;
  await d1.batch([
    ...RULES.map((r) => d1.prepare("INSERT INTO assignment_rules (id, site_id, name, profile_id, selector) VALUES (?, ?, ?, 'prf-os', ?)").bind(`${siteId}-${r.name}`, siteId, r.name, JSON.stringify(r.selector))),
    // Host 4: labelled, no profile of its own, so the "workers" rule decides.
    d1.prepare("UPDATE hosts SET profile_id = NULL, labels = '{\"role\":\"worker\"}' WHERE site_id = ? AND hostname = 'node-000004'").bind(siteId),
  ]);
}

beforeAll(async () => {
  await resetDb();
  const t0 = Date.now();
  for (const size of ["small", "big"] as const) {
    const { siteId } = await seedFleet(SITE_NO[size], SIZES[size], { slug: size });
    await seedHistory(siteId);
    await seedRules(siteId);
  }
  console.log(`seeded ${SIZES.small} + ${SIZES.big} hosts with a day of history (a boot session and 10 events each) in ${Date.now() - t0} ms`);
  // Warm the isolate (profile cache under the catalogue token) so both sites are measured warm; host 7 of each.
  for (const size of ["small", "big"] as const) await call(chainPath(size, { mac: fleetHost(SITE_NO[size], 7).mac }));
});

describe(`D1 rows per request at ${SIZES.small} vs ${SIZES.big.toLocaleString("en")} hosts`, () => {
  const table: string[] = [];
  for (const [k, scenario] of scenarios.entries()) {
    it(scenario.name, async () => {
      const small = await scenario.run("small", scenario.host);
      const big = await scenario.run("big", scenario.host);
      expect(small.status, small.body).toBeLessThan(300);
      expect(big.status, big.body).toBeLessThan(300);
      if (scenario.rule) {
        // The rule decided (not the host's own profile or the site's policy), at both sizes.
        for (const size of ["small", "big"] as const) {
          const last = await env.DB.prepare("select detail from events where site_id = ? order by id desc limit 1").bind(`site-${size}`).first<{ detail: string }>();
          expect(JSON.parse(last!.detail)).toMatchObject({ source: "rule", why: expect.stringContaining(`assignment rule "${scenario.rule}"`) });
        }
      }
      const t = totals(big.log);
      table.push(`${scenario.name.padEnd(44)} statements ${String(t.statements).padStart(2)}  rows_read ${String(t.rowsRead).padStart(5)} (${SIZES.small} hosts: ${String(totals(small.log).rowsRead).padStart(5)})  rows_written ${String(t.rowsWritten).padStart(3)}`);
      const plans: string[] = [];
      const scans: string[] = [];
      for (const s of big.log) {
        if (/^\s*insert\b/i.test(s.sql) && !/\bselect\b/i.test(s.sql)) continue; // a plain INSERT … VALUES has no plan to show
        const plan = await queryPlan(env.DB, s);
        plans.push(`  ${s.sql.replace(/\s+/g, " ").slice(0, 200)}${s.sql.length > 200 ? " …" : ""}\n    rows_read ${s.rowsRead}, rows_written ${s.rowsWritten}\n${plan.map((l) => `    | ${l}`).join("\n")}`);
        // A full scan of a fleet-sized table makes the cost grow with the fleet.
        scans.push(...plan.filter((l) => /^\s*SCAN (hosts|events|boot_sessions|secrets)\b/.test(l)));
      }
      console.log(`${scenario.name} (${SIZES.big} hosts):\n${plans.join("\n")}`);
      // Statement by statement: same SQL, same rows read and written.
      // D1's per-statement meta inside one batch can shift a row between neighbouring statements (seen on an
      // INSERT … SELECT that inserts nothing), so each count may differ by one; a fleet-sized read differs by thousands.
      if (scenario.bound === undefined) {
        expect(big.log.map((s) => s.sql)).toEqual(small.log.map((s) => s.sql));
        big.log.forEach((s, i) => {
          expect(Math.abs(s.rowsRead - small.log[i]!.rowsRead), `rows_read of ${s.sql}`).toBeLessThanOrEqual(1);
          expect(Math.abs(s.rowsWritten - small.log[i]!.rowsWritten), `rows_written of ${s.sql}`).toBeLessThanOrEqual(1);
        });
      }
      else expect(t.rowsRead).toBeLessThanOrEqual(scenario.bound);
      expect(scans).toEqual([]);
    });
  }
  it("prints the table", () => {
    console.log(`D1 cost per request, identical at ${SIZES.small} and ${SIZES.big} hosts:\n${table.join("\n")}`);
    expect(table.length).toBe(scenarios.length);
  });
});
