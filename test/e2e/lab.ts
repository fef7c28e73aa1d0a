// The shared fixture of the e2e suite: one boot image, one test network with the site's DHCP server, one work
// directory for logs, and VM launches on fresh taps. Cleanup always runs: afterAll normally, exit and signal
// handlers when the test process dies, and the next run's pre-clean after a SIGKILL (namespaces + daemon ledger).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type BootImage, ensureBootImage, workRoot } from "./image.ts";
import { createTestNet, preClean, type Segment, type TestNet } from "./netns.ts";
import { type Daemon, killAllDaemonsSync, killLedger, trackDaemons } from "./proc.ts";
import { type Firmware, launchVm, type NetBoot, serialStages, type Stage, tail, type Vm, type VmArch } from "./qemu.ts";
import { startSiteDhcp } from "./sitedhcp.ts";

export interface Lab {
  readonly image: BootImage;
  readonly net: TestNet;
  readonly work: string;
  /** Starts a VM on a new tap; `kernelName` is how the kernel URL ends (for the "kernel fetched" stage). */
  startVm(opts: { name: string; firmware: Firmware; arch?: VmArch; netBoot?: NetBoot; mac: string; segment?: Segment; uuid?: string; serial?: string; kernelName?: string; timeoutMs?: number; memoryMb?: number; stages?: Stage[] }): Vm;
  close(): Promise<void>;
}

// Seen here under TCG on 2 shared cores: 15-35 s per boot. Generous, still bounded.
export const VM_TIMEOUT_MS = 240_000;
const KEEP_RUNS = 3;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops what earlier runs whose test process is gone left behind, and keeps only the newest run directories. */
function cleanEarlierRuns(): void {
  preClean();
  if (!existsSync(workRoot)) return;
  const runs = readdirSync(workRoot)
    .filter((d) => d.startsWith("run-"))
    .map((d) => join(workRoot, d));
  for (const dir of runs) {
    const owner = Number(existsSync(join(dir, "owner")) ? readFileSync(join(dir, "owner"), "utf8") : NaN);
    if (!pidAlive(owner)) killLedger(join(dir, "daemons"));
  }
  const old = runs.filter((d) => !existsSync(join(d, "daemons"))).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  for (const dir of old.slice(KEEP_RUNS)) rmSync(dir, { recursive: true, force: true });
}

export async function openLab(): Promise<Lab> {
  cleanEarlierRuns();
  const image = ensureBootImage();
  mkdirSync(workRoot, { recursive: true });
  const work = mkdtempSync(join(workRoot, "run-"));
  writeFileSync(join(work, "owner"), String(process.pid));
  trackDaemons(join(work, "daemons"));
  const net = createTestNet();
  const vms: Vm[] = [];
  let daemon: Daemon | undefined;
  const emergency = () => {
    killAllDaemonsSync();
    net.teardown();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    emergency();
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.once("exit", emergency);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    daemon = startSiteDhcp(net, work);
  } catch (err) {
    emergency();
    throw err;
  }
  let taps = 0;
  return {
    image,
    net,
    work,
    startVm(opts) {
      const tap = net.addTap(`tap${taps++}`, opts.segment ?? "edgeboot");
      const vm = launchVm({ ...opts, ns: net.ns.lan, tap, workDir: work, timeoutMs: opts.timeoutMs ?? VM_TIMEOUT_MS, stages: opts.stages ?? serialStages(opts.kernelName) });
      vms.push(vm);
      return vm;
    },
    async close() {
      await Promise.all(vms.map((vm) => vm.stop()));
      await daemon?.stop();
      emergency();
      rmSync(join(work, "daemons"), { force: true });
      process.removeListener("exit", emergency);
      process.removeListener("SIGINT", onSignal);
      process.removeListener("SIGTERM", onSignal);
    },
  };
}

/** Waits for the VM to power off after reporting; fails with the console's tail if it stalls or errors. */
export async function expectCleanBoot(vm: Vm): Promise<{ bootedMs: number; phase: string; hostname: string }> {
  const { code, timedOut } = await vm.exited;
  const text = vm.serial();
  const reported = /EDGEBOOT phase=(\S+) reported/.exec(text);
  const error = /EDGEBOOT error: ([^\r\n]*)/.exec(text);
  if (timedOut || error || !reported || code !== 0) {
    throw new Error(`${vm.name}: ${timedOut ? "timed out" : error ? `failed: ${error[1]}` : `exited ${code} without reporting`} (serial log ${vm.serialLog})\n${tail(text)}`);
  }
  const hostname = /EDGEBOOT hostname=(\S+)/.exec(text)?.[1] ?? "";
  return { bootedMs: vm.marks.get("phase reported") ?? NaN, phase: reported[1]!, hostname };
}
