// Child processes for the e2e harness: synchronous commands that throw with their stderr, and long-running
// daemons in their own process group (so stopping one also stops what it forked), logging to a file.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { appendFileSync, existsSync, openSync, readFileSync, rmSync } from "node:fs";

export function sh(cmd: string, args: string[], opts: { input?: string; cwd?: string } = {}): string {
  try {
    return execFileSync(cmd, args, { stdio: ["pipe", "pipe", "pipe"], input: opts.input, cwd: opts.cwd, maxBuffer: 64 << 20 }).toString();
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`${cmd} ${args.join(" ")} failed: ${e.stderr?.toString().trim() || e.message}`);
  }
}

export interface Daemon {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  /** SIGTERM to the group, SIGKILL after graceMs; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

export interface DaemonOptions {
  name: string;
  /** Network namespace to run in (via `ip netns exec`), or none for the root namespace. */
  ns?: string;
  cmd: string;
  args: string[];
  log: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

// Every daemon still running, so a dying test process can stop them all synchronously (exit and signal handlers),
// and a ledger file per run (`<pid>\t<command>` lines) so the next run can stop what a SIGKILLed one left behind.
const live = new Set<ChildProcess>();
let ledger: string | undefined;

export function trackDaemons(file: string): void {
  ledger = file;
}

export function killAllDaemonsSync(): void {
  for (const child of live) {
    try {
      if (child.pid) process.kill(-child.pid, "SIGKILL");
    } catch {}
  }
  live.clear();
}

/** Records a process group started elsewhere (wrangler, by test/helpers/wrangler.ts) so the next run stops it too. */
export function recordInLedger(pid: number, cmd: string): void {
  if (ledger) appendFileSync(ledger, `${pid}\t${cmd}\n`);
}

/** Stops the process groups a ledger lists, if they still run the command recorded (pids get reused). */
export function killLedger(file: string): void {
  if (!existsSync(file)) return;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const [pid, cmd] = line.split("\t");
    if (!pid || !cmd) continue;
    try {
      const running = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      if (running.includes(cmd)) process.kill(-Number(pid), "SIGKILL");
    } catch {} // gone already
  }
  rmSync(file, { force: true });
}

export function startDaemon(opts: DaemonOptions): Daemon {
  const fd = openSync(opts.log, "a");
  const [cmd, args] = opts.ns ? ["ip", ["netns", "exec", opts.ns, opts.cmd, ...opts.args]] : [opts.cmd, opts.args];
  const child = spawn(cmd, args, { stdio: ["ignore", fd, fd], detached: true, env: opts.env ?? process.env, cwd: opts.cwd });
  live.add(child);
  if (ledger && child.pid) appendFileSync(ledger, `${child.pid}\t${opts.cmd}\n`); // what runs after `ip netns exec`
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => (live.delete(child), resolve(code)));
    child.once("error", () => (live.delete(child), resolve(null)));
  });
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, signal);
    } catch {}
  };
  return {
    name: opts.name,
    child,
    exited,
    async stop(graceMs = 3000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      signalGroup("SIGTERM");
      const timer = setTimeout(() => signalGroup("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
      signalGroup("SIGKILL"); // stragglers the leader left behind
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a value, at most `timeoutMs`; throws with `what` on timeout. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined> | T | undefined, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await sleep(everyMs);
  }
}
