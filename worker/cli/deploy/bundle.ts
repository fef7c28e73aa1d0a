// `npm run bundle:check`: what Cloudflare would receive (`wrangler deploy --dry-run --outdir`), and its gzip size
// against the Workers free plan's 3 MiB compressed limit.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { CliError } from "../errors.ts";

export const FREE_PLAN_LIMIT = 3 * 1024 * 1024;

export function measure(dir: string): { files: number; raw: number; gzip: number } {
  let raw = 0;
  let gzip = 0;
  let files = 0;
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (!name.endsWith(".map") && name !== "bundle-meta.json") {
        const bytes = readFileSync(p);
        raw += bytes.length;
        gzip += gzipSync(bytes, { level: 9 }).length;
        files++;
      }
    }
  };
  walk(dir);
  return { files, raw, gzip };
}

export function bundleCheck(root: string, o: { limit?: number; keep?: string } = {}) {
  const dir = o.keep ?? mkdtempSync(join(tmpdir(), "edgeboot-bundle-"));
  try {
    const r = spawnSync(process.execPath, [join(root, "node_modules", "wrangler", "bin", "wrangler.js"), "deploy", "--dry-run", "--outdir", dir], {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1" },
    });
    if (r.status !== 0) throw new CliError("bundle_failed", `wrangler deploy --dry-run failed:\n${(r.stderr || r.stdout).slice(-2000)}`);
    const size = measure(dir);
    const limit = o.limit ?? FREE_PLAN_LIMIT;
    return { ...size, limit, ok: size.gzip <= limit, dir };
  } finally {
    if (!o.keep) rmSync(dir, { recursive: true, force: true });
  }
}
