// The site's ordinary DHCP server: dnsmasq handing out addresses only (no boot options), as an office router
// would, plus IPv6 router advertisements so iPXE does not stall on autoconf (see test/e2e/README.md).
import { join } from "node:path";
import type { TestNet } from "./netns.ts";
import { type Daemon, startDaemon } from "./proc.ts";

// One server for both test LANs (the router's lan0 and lan1); dnsmasq picks the range by interface, and the
// router option defaults to its own address there.
export function startSiteDhcp(net: TestNet, workDir: string): Daemon {
  const ranges = Object.values(net.cidr).map((cidr) => {
    const base = cidr.replace(/\.0\/24$/, "");
    return `--dhcp-range=${base}.100,${base}.199,255.255.255.0,10m`;
  });
  return startDaemon({
    name: "site-dhcp",
    ns: net.ns.router,
    cmd: "dnsmasq",
    log: join(workDir, "site-dhcp.log"),
    args: [...dnsmasqBase(workDir, "site-dhcp", ["lan0", "lan1"]), ...ranges, "--enable-ra", "--dhcp-range=::,constructor:lan*,ra-only"],
  });
}

/** Flags every dnsmasq in the harness shares: foreground, no DNS, own pid/lease files, logs to stderr. */
export function dnsmasqBase(workDir: string, name: string, interfaces = ["lan0"]): string[] {
  return [
    "--keep-in-foreground",
    "--log-facility=-",
    "--log-dhcp",
    "--user=root", // the work dir is root-only
    "--port=0",
    "--no-resolv",
    "--no-hosts",
    ...interfaces.map((i) => `--interface=${i}`),
    "--bind-interfaces",
    `--pid-file=${join(workDir, `${name}.pid`)}`,
    `--dhcp-leasefile=${join(workDir, `${name}.leases`)}`,
  ];
}
