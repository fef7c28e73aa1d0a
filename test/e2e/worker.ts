// The Worker for the e2e suite: `wrangler dev` with a fresh local D1/R2 (migrations applied) in the run's work dir,
// bound to the test uplink address (never a real interface), with per-run secrets. PUBLIC_URL is that address, so
// chains and seeds point where the relay and the VMs can reach. The Worker is bundled once up front and served
// with --no-bundle: wrangler dev would otherwise rebuild and reload mid-boot whenever a source file changes.
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { exportJWK, generateKeyPair } from "jose";
import { type Daemon, sh, startDaemon, waitFor } from "./proc.ts";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const wrangler = join(repo, "node_modules/.bin/wrangler");

export interface WorkerDev {
  readonly url: string;
  readonly adminToken: string;
  readonly log: string;
  stop(): Promise<void>;
}

function freePort(ip: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, ip, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** `tls`: serve HTTPS with this key and certificate (wrangler dev --local-protocol https); the caller trusts its CA. */
export async function startWorker(ip: string, workDir: string, opts: { tls?: { keyPath: string; certPath: string } } = {}): Promise<WorkerDev> {
  const persist = join(workDir, "wrangler-state");
  mkdirSync(persist, { recursive: true });
  const { privateKey } = await generateKeyPair("EdDSA", { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: "e2e-key-1" };
  const adminToken = randomBytes(24).toString("hex");
  const envFile = join(persist, "secrets.env");
  const secrets = [`ADMIN_TOKEN=${adminToken}`, `SIGNING_KEYS='${JSON.stringify([signingKey])}'`, `SECRETS_KEY=${randomBytes(32).toString("base64")}`];
  writeFileSync(envFile, `${secrets.join("\n")}\n`, { mode: 0o600 });
  const env = { ...process.env, CI: "1", WRANGLER_SEND_METRICS: "false" };
  sh("env", ["CI=1", "WRANGLER_SEND_METRICS=false", wrangler, "d1", "migrations", "apply", "DB", "--local", "--persist-to", persist], { cwd: repo });

  const bundle = join(workDir, "worker-bundle");
  sh("env", ["CI=1", "WRANGLER_SEND_METRICS=false", wrangler, "deploy", "--dry-run", "--outdir", bundle], { cwd: repo });

  const port = await freePort(ip);
  const url = `${opts.tls ? "https" : "http"}://${ip}:${port}`;
  const log = join(workDir, "wrangler.log");
  const args = ["dev", join(bundle, "index.js"), "--no-bundle", "--ip", ip, "--port", String(port), "--persist-to", persist, "--env-file", envFile, "--var", `PUBLIC_URL:${url}`];
  args.push("--inspector-port", "0", "--show-interactive-dev-session=false");
  if (opts.tls) args.push("--local-protocol", "https", "--https-key-path", opts.tls.keyPath, "--https-cert-path", opts.tls.certPath);
  const daemon: Daemon = startDaemon({ name: "wrangler", cmd: wrangler, args, log, env, cwd: repo });
  try {
    await waitFor("wrangler dev to answer /healthz", 180_000, async () => {
      if (daemon.child.exitCode !== null) throw new Error(`wrangler dev exited with ${daemon.child.exitCode}; see ${log}`);
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
      return res?.ok ? true : undefined;
    }, 500);
  } catch (err) {
    await daemon.stop();
    throw err;
  }
  return { url, adminToken, log, stop: () => daemon.stop(5000) };
}
