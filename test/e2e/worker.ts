// The Worker for the e2e suite: `wrangler dev` started by test/helpers/wrangler.ts (the one wrangler starter) with a
// fresh local D1/R2 (migrations applied) in the run's work dir, bound to the test uplink address (never a real
// interface), with per-run secrets. PUBLIC_URL is that address, so chains and seeds point where the relay and the VMs
// can reach. The Worker is bundled once up front and served with --no-bundle: wrangler dev would otherwise rebuild
// and reload mid-boot whenever a source file changes.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { startWranglerDev } from "../helpers/wrangler.ts";
import { recordInLedger } from "./proc.ts";

export interface WorkerDev {
  readonly url: string;
  readonly adminToken: string;
  readonly log: string;
  stop(): Promise<void>;
}

/** `tls`: serve HTTPS with this key and certificate (wrangler dev --local-protocol https); the caller trusts its CA. */
export async function startWorker(ip: string, workDir: string, opts: { tls?: { keyPath: string; certPath: string } } = {}): Promise<WorkerDev> {
  const log = join(workDir, "wrangler.log");
  const dev = await startWranglerDev({
    ip,
    persistDir: join(workDir, "wrangler-state"),
    frozen: "bundle",
    publicUrl: true,
    ...(opts.tls ? { tls: opts.tls } : {}),
    adminToken: randomBytes(24).toString("hex"),
    signingKid: "e2e-key-1",
    logFile: log,
    // Its request log ("GET /boot/… 200") is evidence some scenarios read (https.test.ts: what came over HTTPS).
    logLevel: "info",
    timeoutMs: 180_000,
  });
  // In the run's daemon ledger, so a run killed before teardown has its wrangler stopped by the next one.
  recordInLedger(dev.pid, "wrangler");
  return { url: dev.url, adminToken: dev.adminToken, log, stop: () => dev.stop() };
}
