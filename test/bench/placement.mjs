// Where a relay bench runs its processes (BENCH_PLACEMENT): `split` (default) pins every server under test to one
// CPU and every client to another, as on a LAN where relay and booting machine are different computers; `shared`
// pins everything to one CPU; `none` leaves it to the scheduler. With one CPU, nothing is pinned. Used by the TFTP
// and DHCP benches, the same placement for ours and the peer.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

// The CPUs a process may run on, from a Cpus_allowed_list such as "0-1" or "0,2-3".
const cpuList = (text) =>
  /Cpus_allowed_list:\s*(\S+)/.exec(text)[1].split(",").flatMap((r) => {
    const [a, b = a] = r.split("-").map(Number);
    return Array.from({ length: b - a + 1 }, (_, i) => a + i);
  });

export const cpusOf = (pid) => readdirSync(`/proc/${pid}/task`).map((t) => cpuList(readFileSync(`/proc/${pid}/task/${t}/status`, "utf8")).join(","));

export function choosePlacement() {
  const allowed = cpuList(readFileSync("/proc/self/status", "utf8"));
  const mode = process.env.BENCH_PLACEMENT ?? "split";
  if (!["split", "shared", "none"].includes(mode)) throw new Error(`BENCH_PLACEMENT=${mode}: expected split, shared or none`);
  if (mode === "none") return { server: null, client: null, tag: "unpinned", text: "unpinned (BENCH_PLACEMENT=none): the scheduler places servers and clients" };
  if (allowed.length < 2) return { server: null, client: null, tag: "unpinned, 1 CPU", text: `unpinned: only CPU ${allowed.join(",")} is available, so servers and clients share it` };
  if (spawnSync("taskset", ["-V"]).status !== 0) throw new Error("taskset (util-linux) is needed to pin servers and clients; BENCH_PLACEMENT=none runs unpinned");
  const [server, client] = mode === "shared" ? [allowed[1], allowed[1]] : [allowed[0], allowed[1]];
  return mode === "shared"
    ? { server, client, tag: `all on CPU ${server}`, text: `shared (BENCH_PLACEMENT=shared): servers and clients all pinned to CPU ${server}` }
    : { server, client, tag: `servers CPU ${server}, clients CPU ${client}`, text: `servers pinned to CPU ${server}, clients to CPU ${client} (taskset)` };
}

// The calling process is a client (it runs the load generator or orchestrates): pin all its threads, and the
// threads it makes later, to the client CPU.
export function pinSelf(placement) {
  if (placement.client === null) return;
  const r = spawnSync("taskset", ["-a", "-p", "-c", String(placement.client), String(process.pid)], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`taskset -a -p -c ${placement.client} ${process.pid}: ${r.stderr}`);
}

// Fails the bench if a process (every thread of it) is not where the placement put it; logs where each one runs.
export function checkPlacement(procs, log) {
  for (const [name, pid, cpu] of procs) {
    const got = [...new Set(cpusOf(pid))];
    if (cpu !== null && (got.length !== 1 || got[0] !== String(cpu))) throw new Error(`${name} may run on CPUs ${got.join(" / ")}, expected ${cpu}`);
    log(`${name}: pid ${pid}, CPUs ${got.join(" / ")}`);
  }
}

// Time one CPU has spent (seconds, from /proc/stat): user (user + nice) and kernel (system + irq + softirq).
const TICKS_PER_SECOND = 100; // USER_HZ, what /proc/stat counts in on Linux
export function cpuTimes(cpu) {
  const line = readFileSync("/proc/stat", "utf8").split("\n").find((l) => l.startsWith(`cpu${cpu} `));
  if (!line) throw new Error(`no cpu${cpu} line in /proc/stat`);
  const [user, nice, system, , , irq, softirq] = line.trim().split(/\s+/).slice(1).map(Number);
  return { user: (user + nice) / TICKS_PER_SECOND, kernel: (system + irq + softirq) / TICKS_PER_SECOND };
}
