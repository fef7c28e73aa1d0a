// `edgeboot import dnsmasq <file>`: dhcp-host= reservations become hosts. The API reports, per line, what it created,
// what was already there unchanged, what it skipped and why, and (409) which lines clash with existing hosts.
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import pc from "picocolors";
import { enc } from "../api.ts";
import type { Env } from "../config.ts";
import { CliError } from "../errors.ts";
import { printOne } from "../output.ts";
import { session, siteOf } from "../session.ts";

type Line = { line: number; message?: string; reason?: string };
type Conflict = { line?: number; field: string; value: string; existing?: string; differences?: Record<string, { existing: unknown; import: unknown }> };

// "mac 52:54:… is host imp-a, which differs: ipv4 10.0.0.51 (site) → 10.0.0.61 (file)": what to change, and where.
function describeConflict(c: Conflict): string {
  const who = `${c.field} ${c.value} ${c.existing ? `belongs to existing host ${c.existing}` : "is taken"}`;
  const diffs = Object.entries(c.differences ?? {}).map(([f, d]) => `${f} ${JSON.stringify(d.existing ?? null)} (site) → ${JSON.stringify(d.import ?? null)} (file)`);
  return diffs.length ? `${who}, which differs: ${diffs.join(", ")}` : who;
}

export function importCommands(program: Command, env: Env): void {
  program
    .command("import")
    .description("bulk-import hosts")
    .command("dnsmasq")
    .argument("<file>", "a dnsmasq.conf (or - for stdin); dhcp-host= lines are read, others ignored")
    .option("--profile <profile>", "profile for hosts that name none")
    .action(async (file: string, o: { profile?: string }, cmd: Command) => {
      const s = await session(cmd, env);
      const text = file === "-" ? await new Response(process.stdin as unknown as ReadableStream).text() : await readFile(file, "utf8").catch(() => {
        throw new CliError("no_file", `cannot read ${file}`);
      });
      const q = o.profile ? `?profile=${enc(o.profile)}` : "";
      try {
        const r = await s.api.request<{ created: number; unchanged?: number; skipped?: Line[]; warnings?: Line[] }>("POST", `/v1/sites/${enc(siteOf(s))}/hosts/import${q}`, { text, contentType: "text/plain" });
        if (s.format !== "table") return printOne(r.body, s.format);
        process.stderr.write(`${pc.green(`created ${r.body.created}`)}, unchanged ${r.body.unchanged ?? 0}, skipped ${r.body.skipped?.length ?? 0}\n`);
        for (const l of r.body.skipped ?? []) process.stderr.write(`  ${file}:${l.line}: skipped: ${l.reason ?? l.message}\n`);
        for (const l of r.body.warnings ?? []) process.stderr.write(`  ${file}:${l.line}: ${pc.yellow("warning")}: ${l.message}\n`);
      } catch (err) {
        // Per-line reasons in the message, so the operator sees which lines to fix.
        if (err instanceof CliError) {
          const d = err.details as { errors?: Line[]; conflicts?: Conflict[] } | null;
          const lines = [...(d?.errors ?? []).map((l) => `${file}:${l.line}: ${l.message}`), ...(d?.conflicts ?? []).map((c) => `${file}:${c.line ?? "?"}: ${describeConflict(c)}`)];
          // The lines say everything the details do: no JSON dump after them.
          if (lines.length) throw new CliError(err.code, `${err.message}\n  ${lines.join("\n  ")}`, null, err.status);
        }
        throw err;
      }
    });
}
