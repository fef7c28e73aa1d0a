// The test's private network, made of network namespaces (names unique per run). Two LANs behind one router:
// the edgeboot site and a DIY site, so the baseline and edgeboot run side by side and boots can alternate.
//
//   root ns ── ebw<pid> 10.214.K.1 ══ wan0 10.214.K.2 ── [router]  site DHCP (dnsmasq, both LANs) + IPv4 forwarding
//     (wrangler dev binds 10.214.K.1)                     lan0 10.213.K.2 ── br0 ─┬─ [relay] lan0 10.213.K.3 (edgeboot relay)
//                                                                                 └─ VM taps
//                                                         lan1 10.215.K.2 ── br1 ─┬─ [diy]   lan0 10.215.K.4 (dnsmasq proxy + nginx)
//                                                                                 └─ VM taps
// (br0 and br1 live in the [lan] namespace.) Nothing leaves these namespaces except the one veth into the root
// namespace, whose routes go with it. teardown() kills every process inside the namespaces and deletes them;
// preClean() does the same for runs whose test process is gone (killed before it could clean up).
import { sh } from "./proc.ts";

const prefix = "ebe2e-";

export type Segment = "edgeboot" | "diy";

export interface TestNet {
  readonly run: string;
  readonly ns: { lan: string; router: string; relay: string; diy: string };
  readonly ip: { router: string; routerDiy: string; relay: string; diy: string; api: string };
  readonly cidr: Record<Segment, string>;
  /** Creates a tap for one VM on that segment's bridge; name must be unique in this run (max 15 chars). */
  addTap(name: string, segment: Segment): string;
  teardown(): void;
}

export function preClean(): void {
  for (const line of sh("ip", ["netns", "list"]).split("\n")) {
    const name = line.split(" ")[0] ?? "";
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split("-")[0]);
    if (Number.isInteger(pid) && pidAlive(pid)) continue;
    deleteNamespace(name);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function deleteNamespace(name: string): void {
  try {
    for (const pid of sh("ip", ["netns", "pids", name]).split("\n").filter(Boolean)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {}
    }
    sh("ip", ["netns", "delete", name]);
  } catch {}
}

/** K such that no address or route in the root namespace is in 10.213-215.K.0/24 yet. */
function freeSubnetIndex(): number {
  const used = sh("ip", ["-4", "route", "show", "table", "all"]) + sh("ip", ["-4", "addr", "show"]);
  for (let i = 0; i < 200; i++) {
    const k = ((process.pid + i) % 200) + 20;
    if (![213, 214, 215].some((b) => used.includes(`10.${b}.${k}.`))) return k;
  }
  throw new Error("no free 10.213-215.K.0/24 test subnets");
}

export function createTestNet(): TestNet {
  const run = `${prefix}${process.pid}`;
  const ns = { lan: `${run}-lan`, router: `${run}-router`, relay: `${run}-relay`, diy: `${run}-diy` };
  const k = freeSubnetIndex();
  const ip = { router: `10.213.${k}.2`, routerDiy: `10.215.${k}.2`, relay: `10.213.${k}.3`, diy: `10.215.${k}.4`, api: `10.214.${k}.1` };
  const cidr: Record<Segment, string> = { edgeboot: `10.213.${k}.0/24`, diy: `10.215.${k}.0/24` };
  const bridge: Record<Segment, string> = { edgeboot: "br0", diy: "br1" };
  const uplink = `ebw${process.pid}`;
  const ipIn = (name: string, ...args: string[]) => sh("ip", ["-n", name, ...args]);
  const net: TestNet = {
    run,
    ns,
    ip,
    cidr,
    addTap(name, segment) {
      ipIn(ns.lan, "tuntap", "add", name, "mode", "tap");
      ipIn(ns.lan, "link", "set", name, "master", bridge[segment], "up");
      return name;
    },
    teardown() {
      for (const name of Object.values(ns)) deleteNamespace(name);
      try {
        sh("ip", ["link", "delete", uplink]);
      } catch {} // normally gone with its peer
    },
  };
  try {
    for (const name of Object.values(ns)) {
      sh("ip", ["netns", "add", name]);
      ipIn(name, "link", "set", "lo", "up");
    }
    for (const br of Object.values(bridge)) {
      ipIn(ns.lan, "link", "add", br, "type", "bridge");
      ipIn(ns.lan, "link", "set", br, "up");
    }
    const links = [
      // [namespace, its interface, bridge port name, bridge, address, IPv6 for RAs]
      [ns.router, "lan0", "r0", bridge.edgeboot, ip.router, `fdeb:${k}::2`],
      [ns.router, "lan1", "r1", bridge.diy, ip.routerDiy, `fdeb:${k}:1::2`],
      [ns.relay, "lan0", "p0", bridge.edgeboot, ip.relay, null],
      [ns.diy, "lan0", "d0", bridge.diy, ip.diy, null],
    ] as const;
    for (const [host, ifname, port, br, addr, v6] of links) {
      ipIn(ns.lan, "link", "add", port, "type", "veth", "peer", "name", ifname, "netns", host);
      ipIn(ns.lan, "link", "set", port, "master", br, "up");
      ipIn(host, "addr", "add", `${addr}/24`, "dev", ifname);
      // IPv6 RAs on each LAN (sent by the site DHCP server) stop iPXE waiting ~15 s for autoconf per DHCP round.
      if (v6) ipIn(host, "-6", "addr", "add", `${v6}/64`, "dev", ifname, "nodad");
      ipIn(host, "link", "set", ifname, "up");
    }
    ipIn(ns.relay, "route", "add", "default", "via", ip.router);
    ipIn(ns.diy, "route", "add", "default", "via", ip.routerDiy);
    sh("ip", ["link", "add", uplink, "type", "veth", "peer", "name", "wan0", "netns", ns.router]);
    sh("ip", ["addr", "add", `${ip.api}/30`, "dev", uplink]);
    sh("ip", ["link", "set", uplink, "up"]);
    ipIn(ns.router, "addr", "add", `10.214.${k}.2/30`, "dev", "wan0");
    ipIn(ns.router, "link", "set", "wan0", "up");
    sh("ip", ["netns", "exec", ns.router, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    for (const c of Object.values(cidr)) sh("ip", ["route", "add", c, "via", `10.214.${k}.2`, "dev", uplink]);
  } catch (err) {
    net.teardown();
    throw err;
  }
  return net;
}
