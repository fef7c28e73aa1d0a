// wrangler dev serving the real Worker through test/bench/support/countingWorker.ts (D1 statements, rows read and
// written, requests by route at /__bench/d1-stats), with a throw-away persist dir, migrations applied and fresh
// secrets. onChild receives the wrangler process (its own process group) so the caller can kill it on exit.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, mkdirSync, openSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DatabaseSync } from "node:sqlite";
import { exportJWK, generateKeyPair } from "jose";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const freePort = () =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
async function waitFor(what, ms, fn) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if (await fn()) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${ms} ms`);
    await sleep(250);
  }
}

export async function startCountingApi(work, onChild) {
  const persist = join(work, "wrangler");
  mkdirSync(persist);
  const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const token = `ebt_storm_${randomBytes(24).toString("base64url")}`;
  const envFile = join(persist, "bench.vars");
  writeFileSync(envFile, [`ADMIN_TOKEN=${token}`, `SIGNING_KEYS='${JSON.stringify([{ ...(await exportJWK(privateKey)), kid: "storm-1" }])}'`, `SECRETS_KEY=${randomBytes(32).toString("base64")}`, ""].join("\n"), { mode: 0o600 });
  const wrangler = join(ROOT, "node_modules/wrangler/bin/wrangler.js");
  const env = { ...process.env, CI: "1", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" };
  const migrate = spawnSync(process.execPath, [wrangler, "d1", "migrations", "apply", "DB", "--local", "--persist-to", persist], { cwd: ROOT, env, encoding: "utf8" });
  if (migrate.status !== 0) throw new Error(`migrations: ${migrate.stderr}`);
  // wrangler dev rebuilds and restarts the Worker whenever a watched source changes (503 "restarted mid-request",
  // counters reset), and others edit this tree while a bench runs: serve a snapshot of the sources instead.
  const src = join(work, "src");
  for (const rel of ["worker", "migrations", "wrangler.toml", "package.json", "tsconfig.json", "test/bench/support/countingWorker.ts", "test/worker/fleet/countingD1.ts"]) cpSync(join(ROOT, rel), join(src, rel), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(src, "node_modules"));
  const port = await freePort();
  const child = spawn(process.execPath, [wrangler, "dev", "test/bench/support/countingWorker.ts", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(await freePort()), "--persist-to", persist, "--env-file", envFile, "--show-interactive-dev-session=false", "--log-level", "warn"], {
    cwd: src,
    env,
    detached: true,
    stdio: ["ignore", openSync(join(work, "wrangler.log"), "a"), openSync(join(work, "wrangler.log"), "a")],
  });
  onChild(child);
  const base = `http://127.0.0.1:${port}`;
  await waitFor("wrangler dev", 180_000, async () => (await fetch(`${base}/healthz`)).ok);
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
