// Reading the real OS's serial console: boot stages (firmware, iPXE, live-boot, systemd, cloud-init's stages) and
// the report os/report.sh prints between `==== EDGEBOOT-OS BEGIN <name> ====` / `END` markers once cloud-init is done.
import { type Stage, serialStages, tail, type Vm } from "./qemu.ts";

export function osStages(kernelName: string): Stage[] {
  const firmware = serialStages(kernelName).slice(0, 6); // firmware PXE … kernel fetched
  return [
    ...firmware,
    ["Linux started", /Linux version/],
    ["squashfs fetch", /Trying wget \S*root\.squashfs/],
    ["systemd", /systemd\[1\]: systemd \d+\S* running in system mode/],
    ["cloud-init local", /running 'init-local'/],
    ["cloud-init network", /running 'init' at/],
    ["cloud-init config", /running 'modules:config'/],
    ["cloud-init final", /running 'modules:final'/],
    ["cloud-init finished", /Cloud-init v\. \S+ finished at/],
    ["report", /EDGEBOOT-OS report start/],
    ["report done", /EDGEBOOT-OS report done/],
    ["power down", /reboot: Power down/],
  ];
}

export interface OsReport {
  sections: Map<string, string>;
  /** A section's text; throws naming it (with the console's tail) when the OS did not print it. */
  get(name: string): string;
  json<T = unknown>(name: string): T;
}

export function parseReport(vm: Vm): OsReport {
  const text = vm.serial().replace(/\r/g, "");
  const sections = new Map<string, string>();
  for (const m of text.matchAll(/^==== EDGEBOOT-OS BEGIN (.+?) ====\n([\s\S]*?)^==== EDGEBOOT-OS END \1 ====$/gm)) sections.set(m[1]!, m[2]!.trimEnd());
  const get = (name: string) => {
    const v = sections.get(name);
    if (v === undefined) throw new Error(`${vm.name}: the OS report has no "${name}" section (serial log ${vm.serialLog})\n${tail(text, 40)}`);
    return v;
  };
  return {
    sections,
    get,
    json<T>(name: string): T {
      const raw = get(name);
      try {
        return JSON.parse(raw) as T;
      } catch {
        throw new Error(`${vm.name}: report section "${name}" is not JSON: ${raw.slice(0, 300)}`);
      }
    },
  };
}

/** Waits for the OS to power off after its report; fails with the console's tail if it stalls or never reports. */
export async function expectOsReport(vm: Vm): Promise<OsReport> {
  const { code, timedOut } = await vm.exited;
  const text = vm.serial();
  if (timedOut || code !== 0 || !/EDGEBOOT-OS report done/.test(text)) {
    throw new Error(`${vm.name}: ${timedOut ? "timed out" : `exited ${code}`} ${/EDGEBOOT-OS report done/.test(text) ? "" : "without its report"} (serial log ${vm.serialLog})\n${tail(text, 40)}`);
  }
  return parseReport(vm);
}

// `ip -j addr` / `ip -j route` shapes, as far as the checks read them.
export interface IpAddr {
  ifname: string;
  address?: string;
  operstate?: string;
  addr_info: { family: string; local: string; prefixlen: number; dynamic?: boolean }[];
}
export interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  /** A multipath route (e.g. the static IPv6 default beside the RA router's) lists its gateways here. */
  nexthops?: { gateway?: string; dev?: string }[];
}

/** A default route through `gateway` on `dev`, alone or as one path of a multipath route. */
export const hasDefaultVia = (routes: IpRoute[], gateway: string, dev: string) =>
  routes.some((r) => r.dst === "default" && ((r.gateway === gateway && r.dev === dev) || (r.nexthops ?? []).some((h) => h.gateway === gateway && h.dev === dev)));
