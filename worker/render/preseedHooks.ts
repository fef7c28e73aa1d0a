// edgeboot's own installer progress in every served preseed (kind `preseed`): `preseed/early_command` reports
// `installing` (d-i runs it right after loading the preseed), `preseed/late_command` reports `installed` at the end
// of the install, or `failed` when the operator's own late command fails. The reports are GETs of the events URL
// (`?phase=`): netboot d-i has GNU wget, other d-i images busybox wget, which cannot POST. GNU wget gets a timeout
// and two tries (its defaults, 900 s and 20 tries, could hold the install for hours on an unreachable API); busybox
// 1.35's wget crashes on -T, so it is told apart the way d-i's own fetch-url does (`wget --version` says GNU Wget).
// A report never fails the command: d-i shows a critical "command failed" dialog, and an automatic install would
// stop there.
//
// The operator's own commands are kept and chained, never replaced: early = `<ours>; <theirs>` (their exit status
// stays the command's); late = their command run by `sh -c '<theirs>'` (quoted, so a trailing `;`, `&`, `# comment`
// or `exit` of theirs cannot swallow or break ours), then ours, then their exit status. Only the logical line of that
// question changes (d-i's last value wins, so the last one is the one edited); every other line stays as written.
// Without such a line edgeboot's lines go after the leading comment block (a `#_preseed_V1` header stays first),
// never at the end: a last line ending in `\` would join them to it.
import { TemplateError } from "./template.ts";

export const EARLY_COMMAND = "preseed/early_command";
export const LATE_COMMAND = "preseed/late_command";

export class PreseedHookError extends TemplateError {
  override name = "PreseedHookError";
}

// The URL goes inside double quotes of a shell command: nothing the shell reads there ($ ` \ "), no whitespace or
// control characters. (The dry run's placeholder token, `<host-token>`, is text there.)
const SAFE_URL = /^https?:\/\/[^\s"$`\\\x00-\x1f\x7f]+$/;
const WGET_OPTIONS = "edgeboot_t=; wget --version 2>/dev/null | grep -q 'GNU Wget' && edgeboot_t='-T 10 -t 2'";

function report(eventsUrl: string, phase: string): string {
  return `wget -q $edgeboot_t -O /dev/null "${eventsUrl}?phase=${phase}" || true`;
}

/** The early command: report `installing`, then the operator's command (whose exit status is kept). */
export function earlyCommand(eventsUrl: string, theirs: string): string {
  const ours = `${WGET_OPTIONS}; ${report(eventsUrl, "installing")}`;
  return theirs.trim() ? `${ours}; ${theirs.trim()}` : ours;
}

/** The late command: the operator's command in its own shell, then `installed` or `failed`, then its status. */
export function lateCommand(eventsUrl: string, theirs: string): string {
  if (!theirs.trim()) return `${WGET_OPTIONS}; ${report(eventsUrl, "installed")}`;
  const quoted = `'${theirs.trim().replaceAll("'", `'\\''`)}'`;
  return `sh -c ${quoted}; edgeboot_rc=$?; ${WGET_OPTIONS}; if [ $edgeboot_rc = 0 ]; then ${report(eventsUrl, "installed")}; else ${report(eventsUrl, "failed")}; fi; exit $edgeboot_rc`;
}

interface LogicalLine {
  first: number; // physical line indexes, inclusive
  last: number;
  owner: string;
  question: string;
  type: string;
  value: string;
}

// The logical lines as d-i's debconf-set-selections reads them: lines starting with `#` and blank lines are dropped
// first (also inside a continuation), leading whitespace is stripped, a line ending in `\` is joined to the next with
// one space (its trailing whitespace and `\` removed), CRs are removed; then owner, question, type, value are split on
// whitespace.
function logicalLines(lines: string[]): LogicalLine[] {
  const out: LogicalLine[] = [];
  let pending: { first: number; text: string } | null = null;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replaceAll("\r", "");
    if (raw.startsWith("#") || raw.trim() === "") continue;
    const line = raw.replace(/^\s+/, "");
    if (/\\$/.test(line)) {
      const part = line.replace(/\s*\\$/, "");
      pending = pending ? { first: pending.first, text: `${pending.text} ${part}` } : { first: i, text: part };
      continue;
    }
    const text = pending ? `${pending.text} ${line}` : line;
    const first = pending ? pending.first : i;
    pending = null;
    const m = /^(\S+)\s+(\S+)(?:\s+(\S+))?(?:\s+([\s\S]*))?$/.exec(text);
    if (m) out.push({ first, last: i, owner: m[1]!, question: m[2]!, type: m[3] ?? "string", value: m[4] ?? "" });
  }
  return out;
}

/** The preseed with edgeboot's progress reports to `eventsUrl` (the host's `{{ boot.eventsUrl }}`). */
export function withProgressHooks(preseed: string, eventsUrl: string): string {
  if (!SAFE_URL.test(eventsUrl)) throw new PreseedHookError("the events URL cannot be written into the installer's progress commands (an http(s) URL without whitespace, quotes, $, ` or \\)");
  const lines = preseed.split("\n");
  const parsed = logicalLines(lines);
  const edits: { first: number; last: number; text: string }[] = [];
  const added: string[] = [];
  for (const [question, build] of [
    [EARLY_COMMAND, earlyCommand],
    [LATE_COMMAND, lateCommand],
  ] as const) {
    const theirs = parsed.filter((l) => l.question === question).at(-1);
    if (theirs) edits.push({ first: theirs.first, last: theirs.last, text: `${theirs.owner} ${question} ${theirs.type} ${build(eventsUrl, theirs.value)}` });
    else added.push(`d-i ${question} string ${build(eventsUrl, "")}`);
  }
  for (const e of edits.sort((a, b) => b.first - a.first)) lines.splice(e.first, e.last - e.first + 1, e.text);
  if (added.length) {
    let at = 0;
    while (at < lines.length - 1 && (lines[at]!.startsWith("#") || lines[at]!.trim() === "")) at++;
    lines.splice(at, 0, "# edgeboot: installer progress to the boot timeline (installing, installed)", ...added);
  }
  return lines.join("\n");
}
