// The one way tests, the e2e lab and the benches start a real `wrangler dev`: a free HTTP port and inspector port, a
// persist dir with the D1 migrations applied (temporary unless given), fresh secrets in an env file (never the
// repo's .dev.vars), and a stop() that ends wrangler AND its workerd children (own process group, plus every
// descendant PID found in /proc, SIGTERM then SIGKILL). Safe to run several at once. Options cover the e2e lab (an
// address of the test network, PUBLIC_URL, HTTPS, a log file) and the benches (another entry, e.g. the counting
// wrapper; `frozen`: the sources as they are at start, so edits others make to the tree mid-run do not reload it).
//
//   const api = await startWranglerDev();          // api.url, api.adminToken, api.signingJwk
//   try { ... } finally { await api.stop(); }
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { exportJWK, generateKeyPair } from "jose";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");

export type WranglerDev = {
  url: string;
  port: number;
  pid: number; // wrangler's; descendants(pid) lists its workerd children
  persistDir: string;
  adminToken: string;
  signingJwk: Record<string, string>; // private JWK (kid included) the Worker signs chains and host tokens with
  vars: Record<string, string>;
  logs(): string;
  stop(): Promise<void>;
};

export type WranglerDevOptions = {
  vars?: Record<string, string>; // extra or overriding Worker vars
  timeoutMs?: number; // for migrations + /healthz (default 120 s: a cold wrangler build on 2 cores is slow)
  logLevel?: "debug" | "info" | "log" | "warn" | "error" | "none";
  ip?: string; // address to serve on (default 127.0.0.1), e.g. the e2e uplink
  persistDir?: string; // kept on stop() when given (default: a temporary dir, removed)
  entry?: string; // Worker entry, relative to the repo (default: wrangler.toml's main)
  // Serve the sources as they are at start: "bundle" builds once (wrangler deploy --dry-run) and serves that with
  // --no-bundle (the e2e lab); { copy } runs wrangler dev in a copy of the Worker's sources plus these repo paths
  // (the benches, whose entry imports test files).
  frozen?: "bundle" | { copy: string[] };
  publicUrl?: boolean; // set PUBLIC_URL to the served URL, so chains and seeds point there
  tls?: { keyPath: string; certPath: string }; // serve HTTPS (--local-protocol https); the caller trusts its CA
  adminToken?: string;
  signingKid?: string;
  logFile?: string; // wrangler's output appended here too
};

export function freePort(ip = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, ip, () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

// Every descendant of `pid`, from /proc (Linux); workerd may outlive wrangler if only wrangler is signalled.
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // The process ended while we looked.
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

export const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

function signalAll(pids: number[], group: number | null, signal: NodeJS.Signals) {
  if (group) {
    try {
      process.kill(-group, signal);
    } catch {
      // Group already gone.
    }
  }
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

async function stopTree(child: ChildProcess): Promise<void> {
  if (!child.pid) return;
  const pids = [child.pid, ...descendants(child.pid)];
  signalAll(pids, child.pid, "SIGTERM");
  const deadline = Date.now() + 5000;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (pids.some(alive)) signalAll(pids.filter(alive), child.pid, "SIGKILL");
}

const dotenvQuote = (v: string) => `'${v.replace(/'/g, "")}'`;

function applyMigrations(persistDir: string, env: NodeJS.ProcessEnv, timeoutMs: number) {
  const migrate = spawnSync(process.execPath, [WRANGLER, "d1", "migrations", "apply", "DB", "--local", "--persist-to", persistDir], {
    cwd: ROOT,
    env,
    encoding: "utf8",
    timeout: timeoutMs,
  });
  if (migrate.status !== 0) throw new Error(`wrangler d1 migrations apply failed (${migrate.status}):\n${migrate.stdout}\n${migrate.stderr}`);
}

// A fresh persist dir gets a copy of a local D1 that the migrations were applied to once per set of migrations,
// wrangler config and version (a migration apply is ~10 s of CPU: a test run starts a dozen wranglers). A dir that
// already holds a D1 (a restart on kept state) is migrated in place as before. Concurrent first builds each apply
// into their own dir; the first rename wins.
function migrateInto(persistDir: string, env: NodeJS.ProcessEnv, timeoutMs: number) {
  const d1 = join("v3", "d1");
  if (existsSync(join(persistDir, d1))) return applyMigrations(persistDir, env, timeoutMs);
  // Keyed by wrangler's version too: another miniflare may lay out its local D1 differently.
  const hash = createHash("sha256").update(readFileSync(join(ROOT, "node_modules", "wrangler", "package.json"))).update(readFileSync(join(ROOT, "wrangler.toml")));
  for (const f of readdirSync(join(ROOT, "migrations")).filter((n) => n.endsWith(".sql")).sort()) hash.update(`${f}\0`).update(readFileSync(join(ROOT, "migrations", f)));
  const template = join(tmpdir(), `edgeboot-d1-template-${hash.digest("hex").slice(0, 16)}`);
  if (!existsSync(join(template, d1))) {
    const building = mkdtempSync(`${template}.tmp-`);
    try {
      applyMigrations(building, env, timeoutMs);
      renameSync(building, template);
    } catch (err) {
      rmSync(building, { recursive: true, force: true });
      if (!existsSync(join(template, d1))) throw err; // else another start built it first
    }
  }
  cpSync(join(template, d1), join(persistDir, d1), { recursive: true });
}

export async function startWranglerDev(opts: WranglerDevOptions = {}): Promise<WranglerDev> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const ip = opts.ip ?? "127.0.0.1";
  const ownPersist = opts.persistDir === undefined;
  const persistDir = opts.persistDir ?? mkdtempSync(join(tmpdir(), "edgeboot-wrangler-"));
  mkdirSync(persistDir, { recursive: true });
  const removePersist = () => {
    if (ownPersist) rmSync(persistDir, { recursive: true, force: true });
  };
  const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const signingJwk = { ...(await exportJWK(privateKey)), kid: opts.signingKid ?? `test-${randomBytes(4).toString("hex")}` } as unknown as Record<string, string>;
  const vars: Record<string, string> = {
    ADMIN_TOKEN: opts.adminToken ?? `test-root-${randomBytes(16).toString("hex")}`,
    SIGNING_KEYS: JSON.stringify([signingJwk]),
    SECRETS_KEY: randomBytes(32).toString("base64"),
    ...opts.vars,
  };
  const envFile = join(persistDir, "test.env");
  writeFileSync(envFile, Object.entries(vars).map(([k, v]) => `${k}=${dotenvQuote(v)}`).join("\n") + "\n", { mode: 0o600 });

  const env = { ...process.env, CI: "1", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" };
  try {
    migrateInto(persistDir, env, timeoutMs);
  } catch (err) {
    removePersist();
    throw err;
  }
  // Frozen: one bundle of the sources as they are now; wrangler dev would otherwise rebuild and reload the Worker
  // (503 "restarted mid-request", counters reset) whenever someone edits a watched file.
  let entry = opts.entry ? [opts.entry] : [];
  let cwd = ROOT;
  if (opts.frozen && opts.frozen !== "bundle") {
    cwd = join(persistDir, "src");
    for (const rel of ["worker", "migrations", "wrangler.toml", "package.json", "tsconfig.json", ...opts.frozen.copy]) cpSync(join(ROOT, rel), join(cwd, rel), { recursive: true });
    symlinkSync(join(ROOT, "node_modules"), join(cwd, "node_modules"));
  } else if (opts.frozen) {
    const outdir = join(persistDir, "bundle");
    const built = spawnSync(process.execPath, [WRANGLER, "deploy", ...entry, "--dry-run", "--outdir", outdir], { cwd: ROOT, env, encoding: "utf8", timeout: timeoutMs });
    const main = built.status === 0 ? readdirSync(outdir).find((f) => f.endsWith(".js")) : undefined;
    if (!main) {
      removePersist();
      throw new Error(`wrangler deploy --dry-run failed (${built.status}):\n${built.stdout}\n${built.stderr}`);
    }
    entry = [join(outdir, main), "--no-bundle"];
  }

  const port = await freePort(ip);
  const inspectorPort = await freePort();
  const url = `${opts.tls ? "https" : "http"}://${ip}:${port}`;
  const args = [
    WRANGLER,
    "dev",
    ...entry,
    // Named, not found: wrangler looks for its config from the entry's directory, and a bundle or copy lives
    // outside the repo (a bundle in /tmp ran without its D1 and R2 bindings).
    "--config",
    join(cwd, "wrangler.toml"),
    "--ip",
    ip,
    "--port",
    String(port),
    "--inspector-port",
    String(inspectorPort),
    "--persist-to",
    persistDir,
    "--env-file",
    envFile,
    "--show-interactive-dev-session=false",
    "--log-level",
    opts.logLevel ?? "warn",
    ...(opts.publicUrl ? ["--var", `PUBLIC_URL:${url}`] : []),
    ...(opts.tls ? ["--local-protocol", "https", "--https-key-path", opts.tls.keyPath, "--https-cert-path", opts.tls.certPath] : []),
  ];
  // detached: its own process group, so stop() can signal wrangler and workerd together.
  const child = spawn(process.execPath, args, { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  if (opts.logFile) writeFileSync(opts.logFile, "", { flag: "a" });
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
    if (opts.logFile) appendFileSync(opts.logFile, chunk);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  let exited: number | null = null;
  child.on("exit", (code) => {
    exited = code ?? -1;
  });
  // If the test process dies first, do not leave a wrangler behind.
  const onExit = () => {
    if (child.pid) signalAll([child.pid, ...descendants(child.pid)], child.pid, "SIGKILL");
  };
  process.once("exit", onExit);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.off("exit", onExit);
    await stopTree(child);
    removePersist();
  };

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited !== null) {
      await stop();
      throw new Error(`wrangler dev exited with ${exited} before answering /healthz:\n${output}`);
    }
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) break;
    } catch {
      // Not up yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not answer /healthz within ${timeoutMs} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return { url, port, pid: child.pid!, persistDir, adminToken: vars.ADMIN_TOKEN!, signingJwk, vars, logs: () => output, stop };
}
