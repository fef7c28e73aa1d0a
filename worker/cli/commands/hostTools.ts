// Host operations beyond CRUD: the next boot (`boot`), wake-on-LAN, dry-run renders, explain, and the event timeline.
import type { Command } from "commander";
import pc from "picocolors";
import { enc } from "../api.ts";
import type { Env } from "../config.ts";
import { CliError, usage } from "../errors.ts";
import { printList, printOne } from "../output.ts";
import { session, siteOf, type Session } from "../session.ts";

const hostPath = (s: Session, host: string) => `/v1/sites/${enc(siteOf(s))}/hosts/${enc(host)}`;
const RENDERABLE = ["ipxe", "meta-data", "user-data", "vendor-data", "network-config"];

export function hostToolCommands(program: Command, env: Env): void {
  program
    .command("boot")
    .argument("<host>", "hostname or MAC")
    .description("set what the host boots next: a profile once (--once), the local disk (--local), or clear the intent")
    .option("--once <profile>", "boot this profile once; the host returns to its own profile when it reports --revert-on")
    .option("--always <profile>", "boot this profile until cleared")
    .option("--local", "boot the local disk next (once)")
    .option("--revert-on <phase>", "phase that ends a --once intent (default: the API's)")
    .option("--clear", "remove the intent")
    .action(async (host: string, o: { once?: string; always?: string; local?: boolean; revertOn?: string; clear?: boolean }, cmd: Command) => {
      const chosen = [o.once, o.always, o.local, o.clear].filter((v) => v !== undefined && v !== false);
      if (chosen.length !== 1) throw usage("give exactly one of --once PROFILE, --always PROFILE, --local or --clear");
      const s = await session(cmd, env);
      const current = await s.api.get(hostPath(s, host));
      const intent = o.clear
        ? null
        : { target: o.local ? "local" : (o.once ?? o.always)!, mode: o.always ? "always" : "once", ...(o.revertOn && !o.always ? { revertOnPhase: o.revertOn } : {}) };
      // If-Match: an intent set from a stale read would silently undo someone else's change.
      const r = await s.api.request("PATCH", hostPath(s, host), { body: { intent }, ifMatch: current.etag });
      if (s.format === "table") process.stderr.write(intent ? `${host} boots ${intent.target} next (${intent.mode})\n` : `${host}: intent cleared\n`);
      else printOne(r.body, s.format);
    });

  program
    .command("wake")
    .argument("<host>", "hostname or MAC")
    .description("queue a wake-on-LAN packet; the site's relay sends it at its next sync")
    .action(async (host: string, _o: unknown, cmd: Command) => {
      const s = await session(cmd, env);
      const r = await s.api.request<{ command: { id: string; expiresAt: string }; relayHealthy: boolean }>("POST", `${hostPath(s, host)}/wake`);
      if (s.format !== "table") return printOne(r.body, s.format);
      process.stderr.write(`wake queued (command ${r.body.command.id}, expires ${r.body.command.expiresAt})\n`);
      if (!r.body.relayHealthy) process.stderr.write(pc.yellow("warning: no relay of this site synced recently; the packet goes out when one does\n"));
    });

  program
    .command("render")
    .argument("<host>", "hostname or MAC")
    .argument("[what]", `${RENDERABLE.join(", ")}`, "ipxe")
    .description("dry run: what the host would get now, with host tokens and secret values masked; nothing is recorded")
    .option("--arch <arch>", "the arch iPXE would report")
    .option("--platform <platform>", "efi or pcbios")
    .action(async (host: string, what: string, o: { arch?: string; platform?: string }, cmd: Command) => {
      if (!RENDERABLE.includes(what)) throw usage(`render what? one of ${RENDERABLE.join(", ")}`);
      const s = await session(cmd, env);
      const q = new URLSearchParams(Object.entries(o).filter(([, v]) => v) as [string, string][]).toString();
      const r = await s.api.request<string>("GET", `${hostPath(s, host)}/render/${what}${q ? `?${q}` : ""}`, { accept: "text/plain" });
      process.stdout.write(r.text.endsWith("\n") ? r.text : `${r.text}\n`);
    });

  program
    .command("explain")
    .argument("<host>", "MAC (or hostname)")
    .description("which host record, profile, image and intent apply to this machine, and why (for a MAC no host has: the site's policy and rules)")
    .option("--arch <arch>")
    .action(async (host: string, o: { arch?: string }, cmd: Command) => {
      const s = await session(cmd, env);
      const r = await s.api.get(`${hostPath(s, host)}/explain${o.arch ? `?arch=${enc(o.arch)}` : ""}`).catch(async (err: unknown) => {
        // A MAC no host has is an unknown machine: say what the site does with it instead of a bare 404.
        if (err instanceof CliError && err.status === 404 && MAC.test(host)) return explainUnknown(s, host, o.arch);
        throw err;
      });
      if (r === null) return;
      if (s.format !== "table") return printOne(r.body, s.format);
      const e = r.body;
      const line = (k: string, v: unknown) => process.stdout.write(`${pc.bold(k.padEnd(10))} ${v ?? pc.dim("-")}\n`);
      line("host", `${e.host.hostname ?? "(no hostname)"} ${e.host.mac ?? ""} state=${e.host.state}`);
      line("site", `${e.site.slug} bootAuth=${e.site.bootAuth} unknownHosts=${e.site.unknownHostPolicy}`);
      line("decision", `${e.decision.kind}${e.decision.source ? ` (${e.decision.source})` : ""}: ${e.decision.why}`);
      // Assignment rules (absent from APIs older than them): the winner, then why each other rule did not decide.
      if (e.rules?.items?.length) printRuleVerdicts(e.rules, line);
      if (e.boot) {
        line("profile", e.boot.profile.name);
        line("image", `${e.boot.image.name} ${e.boot.image.version} ${e.boot.image.arch}`);
        line("cmdline", e.boot.cmdline);
        if (e.boot.error) line("error", pc.red(`${e.boot.error.code}: ${e.boot.error.message}`));
      }
      if (e.menu) line("menu", `${e.menu.profile.name}: ${e.menu.items.map((i: { label: string }) => i.label).join(" | ")}`);
      line("artifacts", e.artifactsVia);
      if (e.error) line("error", pc.red(`${e.error.code}: ${e.error.message}`));
    });

  program
    .command("assignment")
    .description("which assignment rule a machine with this identity would get, and why not the others (try rules before the machine exists)")
    .option("--mac <mac>")
    .option("--uuid <uuid>")
    .option("--serial <serial>")
    .option("--arch <arch>", "iPXE's ${buildarch}: x86_64, i386, arm64")
    .option("--label <key=value>", "a label the machine's host record would have (repeatable)", (v: string, prev: string[] = []) => [...prev, v])
    .action(async (o: { mac?: string; uuid?: string; serial?: string; arch?: string; label?: string[] }, cmd: Command) => {
      const s = await session(cmd, env);
      const q = new URLSearchParams();
      for (const k of ["mac", "uuid", "serial", "arch"] as const) if (o[k] !== undefined) q.set(k, o[k]!);
      for (const l of o.label ?? []) q.append("label", l);
      const r = await s.api.get(`/v1/sites/${enc(siteOf(s))}/assignment${q.size ? `?${q}` : ""}`);
      if (s.format !== "table") return printOne(r.body, s.format);
      const line = (k: string, v: unknown) => process.stdout.write(`${pc.bold(k.padEnd(10))} ${v ?? pc.dim("-")}\n`);
      const m = r.body.machine;
      const labels = Object.entries(m.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(",");
      line("machine", [m.mac, m.uuid, m.serial, m.arch, labels].filter(Boolean).join(" ") || pc.dim("(nothing given)"));
      printRuleVerdicts(r.body.rules, line);
    });

  program
    .command("events")
    .description("the site's boot timeline, newest first; --follow prints new events as they arrive")
    .option("--host <host>", "one host (hostname, MAC or id)")
    .option("--phase <phase>")
    .option("--since <time>", "unix ms or ISO 8601")
    .option("--limit <n>", "how many (default 50)", "50")
    .option("-f, --follow", "keep polling for new events (Ctrl-C stops)")
    .option("--interval <seconds>", "poll interval with --follow", "2")
    .action(async (o: { host?: string; phase?: string; since?: string; limit: string; follow?: boolean; interval: string }, cmd: Command) => {
      const s = await session(cmd, env);
      const base = `/v1/sites/${enc(siteOf(s))}/events`;
      const query = (extra: Record<string, string>) => {
        const q = new URLSearchParams({ limit: o.limit, ...extra });
        if (o.host) q.set("host", o.host);
        if (o.phase) q.set("phase", o.phase);
        return `${base}?${q}`;
      };
      type Ev = { id: string; at: string; mac: string | null; source: string; phase: string; detail: unknown };
      const page = async (extra: Record<string, string>) => {
        const body = (await s.api.get(query(extra))).body;
        return (body.items ?? body.events) as Ev[];
      };
      const columns: [string, (e: Ev) => unknown][] = [["AT", (e) => e.at], ["MAC", (e) => e.mac], ["SOURCE", (e) => e.source], ["PHASE", (e) => e.phase], ["DETAIL", (e) => e.detail]];
      const first = await page(o.since ? { since: o.since } : {});
      if (!o.follow) return printList(first, columns, s.format);
      // Following: oldest first, one line per event, JSON lines with -o json.
      const seen = new Set<string>();
      const emit = (events: Ev[]) => {
        for (const e of [...events].reverse()) {
          if (seen.has(e.id)) continue;
          seen.add(e.id);
          if (s.format === "table") process.stdout.write(`${e.at}  ${(e.mac ?? "-").padEnd(17)}  ${e.source.padEnd(6)}  ${pc.bold(e.phase)}  ${e.detail ? JSON.stringify(e.detail) : ""}\n`);
          else process.stdout.write(`${JSON.stringify(e)}\n`);
        }
      };
      emit(first);
      let since = first[0]?.at ?? new Date().toISOString();
      const interval = Math.max(0.2, Number(o.interval) || 2) * 1000;
      for (;;) {
        await new Promise((r) => setTimeout(r, interval));
        const next = await page({ since });
        emit(next);
        if (next[0]) since = next[0].at;
        // Bounded memory: ids older than the window are not needed for de-duplication.
        if (seen.size > 10_000) seen.clear();
      }
    });
}

const MAC = /^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$/i;

// `explain MAC` for a machine the site has no record of: the site's unknown-host policy and the rules' verdicts on it.
async function explainUnknown(s: Session, mac: string, arch: string | undefined): Promise<null> {
  const site = (await s.api.get(`/v1/sites/${enc(siteOf(s))}`)).body;
  const q = new URLSearchParams({ mac, ...(arch ? { arch } : {}) });
  const a = (await s.api.get(`/v1/sites/${enc(siteOf(s))}/assignment?${q}`)).body;
  const policy: Record<string, string> = {
    discover: `recorded as discovered; iPXE asks again every ${site.discoverRetrySeconds ?? "few"} s until the machine is given a profile`,
    default: site.defaultProfile ? `boots the site's default profile ${site.defaultProfile}` : "the site has no default profile: nothing to boot",
    deny: "refused: iPXE exits to the next boot device",
  };
  const matched = a.rules?.matched ? a.rules.items?.find((i: RuleVerdict) => i.name === a.rules.matched) : null;
  const decision = matched ? `boot (rule): rule ${matched.name} gives it profile ${matched.profile}` : `unknown host (policy ${site.unknownHostPolicy}): ${policy[site.unknownHostPolicy] ?? site.unknownHostPolicy}`;
  if (s.format !== "table") {
    printOne({ host: null, site: { slug: site.slug, bootAuth: site.bootAuth, unknownHostPolicy: site.unknownHostPolicy, defaultProfile: site.defaultProfile }, decision, machine: a.machine, rules: a.rules }, s.format);
    return null;
  }
  const line = (k: string, v: unknown) => process.stdout.write(`${pc.bold(k.padEnd(10))} ${v ?? pc.dim("-")}\n`);
  line("host", `none: no host of site ${site.slug} has MAC ${a.machine?.mac ?? mac} (an unknown machine)`);
  line("site", `${site.slug} bootAuth=${site.bootAuth} unknownHosts=${site.unknownHostPolicy}`);
  line("decision", decision);
  printRuleVerdicts(a.rules, line);
  return null;
}

type RuleVerdict = { name: string; profile: string | null; specificity: number; result: string; why: string };

// The rules' verdicts as `explain` and `assignment` print them: the summary, then one line per rule.
function printRuleVerdicts(rules: { why: string; items?: RuleVerdict[] }, line: (k: string, v: unknown) => void): void {
  line("rules", rules.why);
  for (const r of rules.items ?? []) {
    const mark = r.result === "matched" ? pc.green("✓") : r.result === "outranked" ? pc.yellow("~") : pc.dim("✗");
    process.stdout.write(`${"".padEnd(11)}${mark} ${r.name} → ${r.profile ?? "-"} (${r.specificity}): ${r.why}\n`);
  }
}
