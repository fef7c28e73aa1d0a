// The `edgeboot` CLI: wires the command groups; `run` returns the exit code (0 ok, 1 refused/failed, 2 usage).
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import pc from "picocolors";
import { contextCommands } from "./commands/context.ts";
import { deployCommands } from "./commands/deploy.ts";
import { hostToolCommands } from "./commands/hostTools.ts";
import { importCommands } from "./commands/importHosts.ts";
import { resourceCommands } from "./commands/resources.ts";
import { siteFileCommands } from "./commands/siteFile.ts";
import { uploadCommand } from "./commands/upload.ts";
import type { Env } from "./config.ts";
import { CliError } from "./errors.ts";

const version = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

export function buildProgram(env: Env): Command {
  const program = new Command("edgeboot")
    .description("drive an edgeboot API: sites, hosts, profiles, images, secrets, site files, uploads, deployment")
    .version(version)
    .option("--context <name>", "use this context instead of the current one [EDGEBOOT_CONTEXT]")
    .option("--api <url>", "API base URL [EDGEBOOT_API]")
    .option("--site <slug>", "site for site-scoped commands [EDGEBOOT_SITE]")
    .option("-o, --output <format>", "table, json or yaml", "table")
    .showHelpAfterError("(edgeboot --help lists the commands)")
    .addHelpText("after", "\nThe token comes from EDGEBOOT_TOKEN or the context (`edgeboot context set`), never from a flag.");
  contextCommands(program, env);
  resourceCommands(program, env);
  hostToolCommands(program, env);
  uploadCommand(program, env);
  importCommands(program, env);
  siteFileCommands(program, env);
  deployCommands(program, env);
  // Subcommands report usage errors through us, not process.exit.
  const each = (c: Command) => {
    c.exitOverride();
    c.commands.forEach(each);
  };
  each(program);
  return program;
}

export async function run(argv: string[], env: Env): Promise<number> {
  const program = buildProgram(env);
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (err) {
    return report(err);
  }
}

function report(err: unknown): number {
  if (err instanceof CommanderError) {
    // Help and version are "errors" to commander; its own message is already printed.
    return err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof CliError) {
    const status = err.status ? ` (HTTP ${err.status})` : "";
    const hint = err.status === 401 ? "\n  (the API refused the token: check EDGEBOOT_TOKEN, or the context's token: edgeboot context list)" : "";
    process.stderr.write(`${pc.red(`error[${err.code}]`)}${status}: ${err.message}${hint}\n`);
    const details = describeDetails(err);
    if (details) process.stderr.write(`${details}\n`);
    return err.exitCode;
  }
  // Anything else is a bug in the CLI; still no stack trace unless asked for.
  process.stderr.write(`${pc.red("error[internal]")}: ${(err as Error)?.message ?? String(err)}${process.env.EDGEBOOT_DEBUG ? `\n${(err as Error)?.stack}` : ""}\n`);
  return 1;
}

// The API's details, one line per issue for validation errors, JSON otherwise.
function describeDetails(err: CliError): string | null {
  const d = err.details;
  if (d === null || d === undefined) return null;
  if (Array.isArray(d) && d.every((i) => i && typeof i === "object" && "message" in i)) {
    return d.map((i: { path?: (string | number)[]; message: string }) => `  ${i.path?.length ? `${i.path.join(".")}: ` : ""}${i.message}`).join("\n");
  }
  if (typeof d === "object" && "rendered" in (d as object)) return null;
  return `  details: ${JSON.stringify(d)}`;
}

export { version };
