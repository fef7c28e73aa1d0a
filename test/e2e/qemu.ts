// One VM under QEMU (TCG: KVM cannot be assumed, see test/e2e/README.md) on a tap of the test LAN.
// UEFI = OVMF with the NIC's option ROM disabled, so EDK2's own PXE client does proxyDHCP + TFTP;
// BIOS = SeaBIOS with the NIC's default iPXE ROM (a client that is already iPXE). The serial console goes to a
// file that is watched for stage markers; SeaBIOS's serial console puts iPXE's BIOS output there too.
// arm64 = qemu-system-aarch64 `virt` with AAVMF (EDK2 for arm64, Debian's qemu-efi-aarch64), UEFI only, the same way.
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type Daemon, startDaemon } from "./proc.ts";

export type Firmware = "uefi" | "bios";
/** The guest's architecture (QEMU binary and firmware); arm64 boots UEFI only. */
export type VmArch = "x86_64" | "arm64";

export interface VmOptions {
  name: string;
  firmware: Firmware;
  ns: string;
  tap: string;
  mac: string;
  workDir: string;
  /** QEMU is killed after this long; the test then fails with what the serial log shows. */
  timeoutMs: number;
  uuid?: string;
  serial?: string;
  stages?: Stage[];
  /** Guest RAM; the real OS keeps its squashfs root in RAM (default 512). */
  memoryMb?: number;
  /** Default x86_64. */
  arch?: VmArch;
  /** UEFI network boot: "pxe" (default), or "http": UEFI HTTP Boot only, the firmware's PXE client switched off. */
  netBoot?: NetBoot;
}

export type NetBoot = "pxe" | "http";

// Debian's OVMF and AAVMF are built with HTTP Boot (HttpBootDxe). With PXE off through fw_cfg (edk2
// OvmfPkg/RUNTIME_CONFIG.md: opt/org.tianocore/IPv4PXESupport, "does not affect HTTP boot"), the NIC's boot entries are
// "UEFI HTTPv4" and "UEFI HTTPv6", tried in that order: like a server whose setup says "HTTP Boot only".
const netBootArgs = (opts: VmOptions): string[] =>
  opts.netBoot === "http" ? ["-fw_cfg", "name=opt/org.tianocore/IPv4PXESupport,string=no", "-fw_cfg", "name=opt/org.tianocore/IPv6PXESupport,string=no"] : [];

// AAVMF from Debian's qemu-efi-aarch64: code read-only, a per-VM copy of the variable store (64 MiB each).
export const AAVMF_CODE = "/usr/share/AAVMF/AAVMF_CODE.fd";
export const AAVMF_VARS = "/usr/share/AAVMF/AAVMF_VARS.fd";

export type Stage = [stage: string, pattern: RegExp];

/** Stage markers seen on the serial console (ANSI escapes stripped), in boot order. `kernelName` is how the kernel
 * URL ends (a file name or its sha256), so "kernel fetched" finds iPXE's `<url>... ok` line for it. */
export function serialStages(kernelName = "vmlinuz"): Stage[] {
  return [
    ["firmware PXE", /Start PXE over IPv4|iPXE \(http:\/\/ipxe\.org\) /],
    ["NBP downloaded", /NBP file downloaded successfully/],
    ["iPXE running", /iPXE initialising devices/],
    ["iPXE DHCP ok", /Configuring \(net0 [^)]*\)[. ]*ok/],
    ["script fetched", /\/boot\.ipxe\S*\.\.\. ok/],
    // The BIOS console wraps long URLs at 80 columns and draws progress with backspaces: match the URL's tail.
    ["kernel fetched", new RegExp(`${kernelName.slice(-12)}\\.\\.\\.[^\\n]*\\bok`)],
    ["Linux started", /Linux version/],
    ["init", /EDGEBOOT init start/],
    ["OS network", /EDGEBOOT net up/],
    ["meta-data", /EDGEBOOT meta-data fetched/],
    ["user-data", /EDGEBOOT user-data fetched/],
    ["phase reported", /EDGEBOOT phase=\S+ reported/],
    ["poweroff", /EDGEBOOT poweroff/],
  ];
}

export interface Vm {
  readonly name: string;
  readonly serialLog: string;
  /** Date.now() when QEMU was started. */
  readonly startedAt: number;
  /** First time (ms after start) each serial stage or custom marker was seen. */
  readonly marks: Map<string, number>;
  serial(): string;
  /** Resolves with the ms-after-start when `pattern` first shows on the console; rejects on exit or timeout. */
  waitForSerial(pattern: RegExp, timeoutMs: number): Promise<number>;
  /** Resolves when QEMU exits (poweroff with -no-reboot, or the timeout kill). */
  readonly exited: Promise<{ code: number | null; timedOut: boolean }>;
  stop(): Promise<void>;
}

function x86Args(opts: VmOptions, serialLog: string): [string, string[]] {
  const nic = `virtio-net-pci,netdev=n0,mac=${opts.mac}${opts.firmware === "uefi" ? ",romfile=" : ""}`;
  const args = ["-accel", "tcg", "-m", String(opts.memoryMb ?? 512), "-smp", "1", "-display", "none", "-monitor", "none", "-no-reboot"];
  args.push("-serial", `file:${serialLog}`, "-netdev", `tap,id=n0,ifname=${opts.tap},script=no,downscript=no`, "-device", nic, "-boot", "n");
  if (opts.uuid || opts.serial) args.push("-smbios", ["type=1", opts.uuid && `uuid=${opts.uuid}`, opts.serial && `serial=${opts.serial}`].filter(Boolean).join(","));
  if (opts.firmware === "uefi") {
    const vars = join(opts.workDir, `${opts.name}.vars.fd`);
    copyFileSync("/usr/share/OVMF/OVMF_VARS_4M.fd", vars);
    args.push("-drive", "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd", "-drive", `if=pflash,format=raw,file=${vars}`);
  } else {
    args.push("-machine", "graphics=off"); // SeaBIOS's serial console: iPXE's BIOS output reaches the log too
  }
  return ["qemu-system-x86_64", args];
}

/** QEMU's command and arguments for an arm64 UEFI VM: `virt`, TCG, AAVMF pflash, the NIC's ROM disabled. */
function arm64Args(opts: VmOptions, serialLog: string): [string, string[]] {
  if (opts.firmware !== "uefi") throw new Error(`${opts.name}: arm64 VMs boot UEFI only (AAVMF), not ${opts.firmware}`);
  const vars = join(opts.workDir, `${opts.name}.vars.fd`);
  copyFileSync(AAVMF_VARS, vars);
  // -cpu max with the QEMU-defined pointer-auth algorithm: the architected one (QARMA) costs a lot under TCG.
  const args = ["-M", "virt", "-cpu", "max,pauth-impdef=on", "-accel", "tcg", "-m", String(opts.memoryMb ?? 512), "-smp", "1"];
  args.push("-display", "none", "-monitor", "none", "-no-reboot", "-serial", `file:${serialLog}`);
  args.push("-drive", `if=pflash,format=raw,readonly=on,file=${AAVMF_CODE}`, "-drive", `if=pflash,format=raw,file=${vars}`);
  // bootindex (fw_cfg bootorder, which AAVMF follows) puts the NIC first, so AAVMF's own PXE client runs.
  args.push("-netdev", `tap,id=n0,ifname=${opts.tap},script=no,downscript=no`, "-device", `virtio-net-pci,netdev=n0,mac=${opts.mac},romfile=,bootindex=0`);
  if (opts.uuid || opts.serial) args.push("-smbios", ["type=1", opts.uuid && `uuid=${opts.uuid}`, opts.serial && `serial=${opts.serial}`].filter(Boolean).join(","));
  return ["qemu-system-aarch64", args];
}

export function launchVm(opts: VmOptions): Vm {
  const serialLog = join(opts.workDir, `${opts.name}.serial.log`);
  const [cmd, args] = opts.arch === "arm64" ? arm64Args(opts, serialLog) : x86Args(opts, serialLog);
  if (opts.netBoot === "http" && opts.firmware !== "uefi") throw new Error(`${opts.name}: UEFI HTTP Boot needs firmware "uefi"`);
  args.push(...netBootArgs(opts));
  const startedAt = Date.now();
  const qemu: Daemon = startDaemon({ name: opts.name, ns: opts.ns, cmd, args, log: join(opts.workDir, `${opts.name}.qemu.log`) });

  const stages = opts.stages ?? serialStages();
  const marks = new Map<string, number>();
  const waiters: { pattern: RegExp; resolve: (ms: number) => void }[] = [];
  let text = "";
  const poll = () => {
    if (!existsSync(serialLog)) return;
    text = readFileSync(serialLog, "latin1").replace(/\x1b(\[[0-9;?=]*[A-Za-z]|c)/g, "");
    const now = Date.now() - startedAt;
    for (const [stage, pattern] of stages) if (!marks.has(stage) && pattern.test(text)) marks.set(stage, now);
    for (const w of [...waiters]) {
      if (w.pattern.test(text)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(now);
      }
    }
  };
  const watcher = setInterval(poll, 100);
  let timedOut = false;
  const killer = setTimeout(() => {
    timedOut = true;
    void qemu.stop(500);
  }, opts.timeoutMs);
  const exited = qemu.exited.then((code) => {
    clearInterval(watcher);
    clearTimeout(killer);
    poll();
    return { code, timedOut };
  });

  return {
    name: opts.name,
    serialLog,
    startedAt,
    marks,
    serial: () => text,
    waitForSerial(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${opts.name}: ${pattern} not on the console after ${timeoutMs / 1000} s\n${tail(text)}`)), timeoutMs);
        const waiter = { pattern, resolve: (ms: number) => (clearTimeout(timer), resolve(ms)) };
        waiters.push(waiter);
        poll();
        void exited.then(({ timedOut: t }) => {
          if (!waiters.includes(waiter)) return;
          clearTimeout(timer);
          reject(new Error(`${opts.name}: QEMU ${t ? "timed out" : "exited"} before ${pattern} showed\n${tail(text)}`));
        });
      });
    },
    exited,
    stop: () => qemu.stop(500),
  };
}

/** The last lines of a serial log, for error messages. */
export function tail(text: string, lines = 25): string {
  return text.replace(/\r/g, "").split("\n").slice(-lines).join("\n");
}
