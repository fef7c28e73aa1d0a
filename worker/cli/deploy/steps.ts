// `edgeboot deploy`: create or reuse the D1 database and R2 bucket, apply remote migrations, generate the missing
// Worker secrets and deploy with them. Every step is a wrangler command; --dry-run prints them and runs nothing.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CliError } from "../errors.ts";
import { generateSecret, WORKER_SECRETS, type WorkerSecret } from "./secrets.ts";
import { createdDatabaseId, deployConfig, deployedUrl, findDatabase, hasBucket, readToml, secretNames } from "./wranglerConfig.ts";

export type DeployOptions = {
  root: string; // the checkout (wrangler.toml, migrations/)
  dryRun: boolean;
  publicUrl?: string;
  workerName?: string;
  log: (line: string) => void;
  wrangler?: (args: string[], input?: string) => { status: number; stdout: string; stderr: string };
};

export const DEPLOY_CONFIG = "wrangler.deploy.toml";

// The secrets the Worker has. Only "this Worker does not exist yet" means none: any other failure (network, login,
// an unreadable answer) stops the deploy, since generating in its place would replace the SECRETS_KEY and
// SIGNING_KEYS in use, leaving every stored secret unreadable and every host token invalid.
export function existingSecrets(r: { status: number; stdout: string; stderr: string }): string[] {
  const out = `${r.stderr}\n${r.stdout}`;
  if (r.status !== 0 && /Worker "[^"]*"(?: \(env: [^)]*\))? not found|\[code: 10007\]|Worker does not exist/i.test(out)) return [];
  const names = r.status === 0 ? secretNames(r.stdout) : null;
  if (names === null) throw new CliError("deploy_failed", `could not list the Worker's secrets, so none were generated or deployed (new ones would replace those in use):\n${out.trim().slice(-1000)}`);
  return names;
}

function realWrangler(root: string) {
  const bin = join(root, "node_modules", "wrangler", "bin", "wrangler.js");
  return (args: string[], input?: string) => {
    const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, input, encoding: "utf8", env: { ...process.env, WRANGLER_SEND_METRICS: "false" }, maxBuffer: 64 << 20 });
    return { status: r.status ?? 1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  };
}

export async function deploy(o: DeployOptions): Promise<{ url: string | null; adminToken: string | null }> {
  const toml = readFileSync(join(o.root, "wrangler.toml"), "utf8");
  const dbName = readToml(toml, "database_name") ?? "edgeboot";
  const bucket = readToml(toml, "bucket_name") ?? "edgeboot-artifacts";
  const run = o.wrangler ?? realWrangler(o.root);
  const step = (what: string, args: string[], input?: string) => {
    o.log(`$ wrangler ${args.join(" ")}${input !== undefined ? "   (values on stdin)" : ""}   # ${what}`);
    if (o.dryRun) return { status: 0, stdout: "", stderr: "" };
    const r = run(args, input);
    if (r.status !== 0) throw new CliError("deploy_failed", `${what} failed (wrangler ${args[0]} ${args[1] ?? ""} exited ${r.status}):\n${(r.stderr || r.stdout).trim().slice(-2000)}`);
    return r;
  };

  if (!o.dryRun) step("check the Cloudflare login (run `npx wrangler login` first, or set CLOUDFLARE_API_TOKEN)", ["whoami", "--json"]);

  // D1: reuse the database named in wrangler.toml, or create it.
  let databaseId = findDatabase(step("find the D1 database", ["d1", "list", "--json"]).stdout || "[]", dbName);
  if (!databaseId) {
    const created = step(`create the D1 database ${dbName}`, ["d1", "create", dbName]);
    databaseId = o.dryRun ? "00000000-0000-4000-8000-000000000000" : createdDatabaseId(created.stdout);
    if (!databaseId) throw new CliError("deploy_failed", `could not read the new database's id from wrangler's output:\n${created.stdout.slice(-1000)}`);
  } else o.log(`  D1 database ${dbName} exists: ${databaseId}`);

  // R2: reuse or create the artifacts bucket.
  if (!hasBucket(step("find the R2 bucket", ["r2", "bucket", "list"]).stdout, bucket)) step(`create the R2 bucket ${bucket}`, ["r2", "bucket", "create", bucket]);
  else o.log(`  R2 bucket ${bucket} exists`);

  const configPath = join(o.root, DEPLOY_CONFIG);
  const config = deployConfig(toml, { databaseId, workerName: o.workerName });
  if (o.dryRun) o.log(`  would write ${DEPLOY_CONFIG} (wrangler.toml with database_id = "${databaseId}")`);
  else writeFileSync(configPath, config);

  step("apply the D1 migrations remotely", ["d1", "migrations", "apply", "DB", "--remote", "--config", DEPLOY_CONFIG]);

  // Secrets: only the missing ones are generated. Existing ones are never replaced: a new SECRETS_KEY would make
  // every stored secret unreadable, a new SIGNING_KEYS would invalidate every issued host token.
  const existing = o.dryRun ? [] : existingSecrets(run(["secret", "list", "--format", "json", "--config", DEPLOY_CONFIG]));
  const missing = WORKER_SECRETS.filter((s) => !existing.includes(s));
  const generated: Partial<Record<WorkerSecret, string>> = {};
  for (const name of missing) generated[name] = await generateSecret(name);
  if (o.dryRun) o.log(`  would run wrangler secret list and generate only the missing ones of ${WORKER_SECRETS.join(", ")} (existing secrets are kept)`);
  else if (missing.length) o.log(`  generating ${missing.join(", ")}${existing.length ? ` (keeping ${existing.filter((s) => (WORKER_SECRETS as readonly string[]).includes(s)).join(", ")})` : ""}`);

  // Deploy with the new secrets in the same version (--secrets-file adds, never deletes), so the Worker never runs
  // without them. The file lives in a private temp dir and is removed at once.
  const dir = mkdtempSync(join(tmpdir(), "edgeboot-deploy-"));
  try {
    const args = ["deploy", "--config", DEPLOY_CONFIG];
    if (missing.length) {
      const file = join(dir, "secrets.json");
      writeFileSync(file, JSON.stringify(generated), { mode: 0o600 });
      args.push("--secrets-file", o.dryRun ? "<temp file with the generated secrets>" : file);
    }
    if (o.publicUrl) args.push("--var", `PUBLIC_URL:${o.publicUrl}`, "--keep-vars");
    const out = step("deploy the Worker", args);
    return { url: o.publicUrl ?? deployedUrl(out.stdout + out.stderr), adminToken: o.dryRun ? null : (generated.ADMIN_TOKEN ?? null) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
