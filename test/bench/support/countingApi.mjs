// wrangler dev serving the real Worker through test/bench/support/countingWorker.ts (D1 statements, rows read and
// written, requests by route at /__bench/d1-stats), started by test/helpers/wrangler.ts (the one wrangler starter)
// with a persist dir in the bench's work dir, migrations applied and fresh secrets. onChild receives { pid } of
// wrangler (its own process group) so the caller can kill it on exit.
import { randomBytes } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { startWranglerDev } from "../../helpers/wrangler.ts";

export async function startCountingApi(work, onChild) {
  const persist = join(work, "wrangler");
  const token = `ebt_storm_${randomBytes(24).toString("base64url")}`;
  // Frozen (bundled once): others edit this tree while a bench runs, and a reload mid-storm resets the counters.
  const dev = await startWranglerDev({
    entry: "test/bench/support/countingWorker.ts",
    frozen: { copy: ["test/bench/support/countingWorker.ts", "test/worker/fleet/countingD1.ts"] },
    persistDir: persist,
    adminToken: token,
    signingKid: "storm-1",
    logFile: join(work, "wrangler.log"),
    timeoutMs: 180_000,
  });
  onChild({ pid: dev.pid });
  const { port } = dev;
  const base = dev.url;
  const api = async (method, path, body, raw, type) => {
    const res = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body || type ? { "content-type": type ?? "application/json" } : {}) }, body: raw ?? (body ? JSON.stringify(body) : undefined) });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status} ${text.slice(0, 500)}`);
    return text ? JSON.parse(text) : null;
  };
  const d1Files = () => {
    let bytes = 0;
    const walk = (d) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (/\.sqlite(-wal)?$/.test(e.name) && p.includes("D1")) bytes += statSync(p).size;
      }
    };
    walk(persist);
    return bytes;
  };
  // Bytes per table and index (SQLite's dbstat over the local D1 file, read beside wrangler: WAL readers are fine)
  // and row counts, for growth per boot.
  const d1Tables = (countTables = []) => {
    const out = { bytes: {}, rows: {} };
    const files = [];
    const walk = (d) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (/\.sqlite$/.test(e.name) && p.includes("D1")) files.push(p);
      }
    };
    walk(persist);
    for (const f of files) {
      const db = new DatabaseSync(f, { readOnly: true });
      try {
        for (const r of db.prepare("SELECT name, sum(pgsize) AS b FROM dbstat GROUP BY name").all()) out.bytes[r.name] = (out.bytes[r.name] ?? 0) + r.b;
        for (const t of countTables) {
          try {
            out.rows[t] = (out.rows[t] ?? 0) + db.prepare(`SELECT count(*) AS n FROM "${t}"`).get().n;
          } catch {}
        }
      } finally {
        db.close();
      }
    }
    return out;
  };
  return { base, port, token, api, stats: async () => (await fetch(`${base}/__bench/d1-stats`)).json(), d1Bytes: d1Files, d1Tables };
}
