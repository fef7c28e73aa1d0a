// `edgeboot diff|apply|export|schema`: the declarative site file.
import { writeFile } from "node:fs/promises";
import type { Command } from "commander";
import pc from "picocolors";
import { stringify } from "yaml";
import type { Env } from "../config.ts";
import { CliError, usage } from "../errors.ts";
import { session } from "../session.ts";
import type { Plan } from "../site/plan.ts";
import { readFile } from "node:fs/promises";

// Loaded when a site-file command runs: zod and the admin schemas cost a second of start-up on a busy machine.
const site = async () => {
  const [load, plan, apply, print, exp, schema] = await Promise.all([
    import("../site/load.ts"),
    import("../site/plan.ts"),
    import("../site/apply.ts"),
    import("../site/print.ts"),
    import("../site/export.ts"),
    import("../site/schema.ts"),
  ]);
  return { ...load, ...plan, ...apply, ...print, ...exp, ...schema };
};

export function siteFileCommands(program: Command, env: Env): void {
  program
    .command("diff")
    .description("show what `apply -f` would change (nothing is written)")
    .requiredOption("-f, --file <site.yaml>", "the site file")
    .option("--prune", "also list hosts and secrets of the site that the file does not name (to delete)")
    .option("--rotate-secrets", "rewrite secrets that exist too (their values cannot be compared)")
    .option("--out <plan.json>", "save the plan; `apply --plan` applies exactly it, refusing anything changed since")
    .option("--exit-code", "exit 1 when there are changes")
    .action(async (o: { file: string; prune?: boolean; rotateSecrets?: boolean; out?: string; exitCode?: boolean }, cmd: Command) => {
      const { loadSiteFile, makePlan, printPlan } = await site();
      const loaded = await loadSiteFile(o.file);
      const s = await session(cmd, env);
      const plan = await makePlan(s.api, loaded, { prune: o.prune, rotateSecrets: o.rotateSecrets });
      if (s.format === "table") printPlan(plan);
      else process.stdout.write(s.format === "json" ? `${JSON.stringify(plan, null, 2)}\n` : stringify(plan));
      if (o.out) await writeFile(o.out, JSON.stringify({ planVersion: 1, api: s.target.api, ...plan }, null, 2), { mode: 0o600 });
      if (o.exitCode && plan.changes.length) throw new CliError("changes", `${plan.changes.length} change(s) pending`, null, 0, 1);
    });

  program
    .command("apply")
    .description("make the API match the site file: uploads, images, profiles, site, hosts, secrets in that order; idempotent")
    .option("-f, --file <site.yaml>", "the site file")
    .option("--plan <plan.json>", "apply a plan saved by `diff --out` instead (refused where anything changed since)")
    .option("--prune", "delete the site's hosts and secrets the file does not name (profiles and images are shared, never pruned)")
    .option("--rotate-secrets", "rewrite existing secrets from their references")
    .option("--dry-run", "print the plan only (same as diff)")
    .action(async (o: { file?: string; plan?: string; prune?: boolean; rotateSecrets?: boolean; dryRun?: boolean }, cmd: Command) => {
      if (!o.file === !o.plan) throw usage("give -f SITE_FILE or --plan PLAN_FILE");
      const { loadSiteFile, makePlan, printPlan, applyPlan } = await site();
      const s = await session(cmd, env);
      let plan: Plan;
      if (o.plan) {
        const saved = JSON.parse(await readFile(o.plan, "utf8").catch(() => { throw usage(`cannot read ${o.plan}`); })) as Plan & { planVersion?: number; api?: string };
        if (saved.planVersion !== 1) throw usage(`${o.plan} is not a plan saved by \`edgeboot diff --out\``);
        if (saved.api !== s.target.api) throw usage(`${o.plan} was made against ${saved.api}, not ${s.target.api}`);
        plan = saved;
      } else {
        plan = await makePlan(s.api, await loadSiteFile(o.file!), { prune: o.prune, rotateSecrets: o.rotateSecrets });
      }
      printPlan(plan, process.stderr);
      if (o.dryRun || plan.changes.length === 0) return;
      const done = await applyPlan(s.api, s.target, plan, env);
      process.stderr.write(`${pc.green(`Applied ${done} change(s).`)}\n`);
    });

  program
    .command("export")
    .description("write the site's current state as a site file (secret values are never exported: references only)")
    .argument("[slug]", "the site (default: --site / the context's)")
    .option("--out <file>", "write here instead of stdout")
    .action(async (slug: string | undefined, o: { out?: string }, cmd: Command) => {
      const s = await session(cmd, env);
      const slugOf = slug ?? s.target.site;
      if (!slugOf) throw usage("which site? edgeboot export SLUG");
      const { exportSite } = await import("../site/export.ts");
      const doc = await exportSite(s.api, slugOf);
      const text = `# edgeboot site file, exported from ${s.target.api} on ${new Date().toISOString()}\n${stringify(doc, { blockQuote: "literal", lineWidth: 0 })}`;
      if (o.out) await writeFile(o.out, text);
      else process.stdout.write(text);
    });

  program
    .command("schema")
    .description("print the site file's JSON Schema (for editors; also in worker/cli/site.schema.json)")
    .action(async () => {
      const { siteFileJsonSchema } = await import("../site/schema.ts");
      process.stdout.write(`${JSON.stringify(siteFileJsonSchema(), null, 2)}\n`);
    });
}
