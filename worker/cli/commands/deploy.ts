// `edgeboot deploy` and `edgeboot bundle-check` (npm run deploy / npm run bundle:check).
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import pc from "picocolors";
import type { Env } from "../config.ts";
import { CliError } from "../errors.ts";

// The checkout (wrangler.toml, migrations/): bin.js says where it is, since the code may run from a JS copy.
const ROOT = process.env.EDGEBOOT_ROOT ?? fileURLToPath(new URL("../../..", import.meta.url));
const MiB = (n: number) => `${(n / 1024 ** 2).toFixed(2)} MiB`;

export function deployCommands(program: Command, _env: Env): void {
  program
    .command("deploy")
    .description("deploy the API to Cloudflare: D1 database and R2 bucket (created or reused), remote migrations, generated secrets, the Worker")
    .option("--dry-run", "print the wrangler commands without running any")
    .option("--public-url <url>", "the API's public base URL (PUBLIC_URL), when it is served on your own domain")
    .option("--name <worker>", "Worker name (default: wrangler.toml's)")
    .action(async (o: { dryRun?: boolean; publicUrl?: string; name?: string }) => {
      const log = (l: string) => void process.stderr.write(`${l}\n`);
      const { deploy } = await import("../deploy/steps.ts");
      const out = await deploy({ root: ROOT, dryRun: Boolean(o.dryRun), publicUrl: o.publicUrl, workerName: o.name, log });
      if (o.dryRun) return log(pc.yellow("dry run: nothing was created, changed or deployed"));
      log(pc.green(`deployed${out.url ? `: ${out.url}` : ""}`));
      if (out.adminToken) {
        log("the root token (ADMIN_TOKEN) was generated now and is shown once; store it (e.g. in a password manager), then:");
        log(`  edgeboot context set prod --api ${out.url ?? "https://<your worker>"} --token-stdin`);
        process.stdout.write(`${out.adminToken}\n`);
      }
    });

  program
    .command("bundle-check")
    .description("bundle the Worker as `wrangler deploy` would (--dry-run --outdir) and print its size, gzip included; fails over the limit")
    .option("--limit-mib <n>", "fail above this many MiB gzipped", "3")
    .option("--outdir <dir>", "keep the bundle here")
    .action(async (o: { limitMib: string; outdir?: string }) => {
      const { bundleCheck } = await import("../deploy/bundle.ts");
      const r = bundleCheck(ROOT, { limit: Number(o.limitMib) * 1024 ** 2, keep: o.outdir });
      process.stdout.write(`worker bundle: ${r.files} file(s), ${MiB(r.raw)} raw, ${MiB(r.gzip)} gzip (limit ${MiB(r.limit)} gzip)\n`);
      if (!r.ok) throw new CliError("bundle_too_large", `the bundle is ${MiB(r.gzip)} gzipped, over ${MiB(r.limit)}`);
    });
}
