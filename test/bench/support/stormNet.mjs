// The storm bench's private network (root only): two LAN segments on bridges in a `lan` namespace, each with a /16,
// a site DHCP server (dnsmasq, addresses only) on both, the edgeboot relay on segment A, the DIY servers on segment
// B, and one client namespace per segment that owns the whole DHCP range (so every simulated machine can bind the
// address it leased). One veth joins the relay namespace to the root namespace, where the API proxy listens.
//
//   [lan] brA ─┬─ [rtr] a0 10.90.0.2   (site DHCP for A: 10.90.16.1–10.90.23.254)
//              ├─ [rly] eth0 10.90.0.3 (relay) ── up0 10.92.0.2 ══ root ebs<pid> 10.92.0.1 (API proxy)
//              └─ [ca]  eth0 10.90.0.100 + 10.90.16.0/21 (simulated machines)
//         brB ─┬─ [rtr] b0 10.91.0.2   (site DHCP for B)
//              ├─ [diy] eth0 10.91.0.4 (dnsmasq proxy + TFTP, nginx)
//              └─ [cb]  eth0 10.91.0.100 + 10.91.16.0/21
//
// Neighbour tables: 2,048 client addresses per segment exceed the kernel's default gc_thresh3 (1,024), so the relay,
// DIY and client namespaces get gc_thresh1/2/3 = 4096/8192/16384 where the kernel makes them per namespace, else
// the root namespace's values are raised (and restored on teardown).
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";

export const SEGMENTS = {
  a: { net: "10.90", server: "10.90.0.3", router: "10.90.0.2", client: "10.90.0.100" },
  b: { net: "10.91", server: "10.91.0.4", router: "10.91.0.2", client: "10.91.0.100" },
};
export const RANGE = { first: 16 * 256 + 1, last: 24 * 256 - 2 }; // 10.x.16.1 – 10.x.23.254 (2,046 addresses)
export const API_HOST = "10.92.0.1";
const NEIGH = { gc_thresh1: 1024, gc_thresh2: 8192, gc_thresh3: 16384 };

const sh = (cmd, ...args) => {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr || r.stdout}`);
  return r.stdout;
};
const ipOf = (net, n) => `${net}.${n >> 8}.${n & 255}`;

// Namespaces and uplinks of earlier runs whose process is gone (killed before teardown): their uplink would hold
// the same API address and steal its replies.
function preClean() {
  const alive = (pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (const line of spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout.split("\n")) {
    const m = /^(ebst(\d+)-\S+)/.exec(line);
    if (!m || alive(Number(m[2]))) continue;
    for (const pid of spawnSync("ip", ["netns", "pids", m[1]], { encoding: "utf8" }).stdout.split("\n").filter(Boolean)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {}
    }
    spawnSync("ip", ["netns", "delete", m[1]]);
  }
  for (const m of spawnSync("ip", ["-o", "link"], { encoding: "utf8" }).stdout.matchAll(/^\d+: (ebs(\d+))@/gm)) if (!alive(Number(m[2]))) spawnSync("ip", ["link", "delete", m[1]]);
}

export function createStormNet() {
  preClean();
  const id = `ebst${process.pid}`;
  const ns = { lan: `${id}-lan`, rtr: `${id}-rtr`, rly: `${id}-rly`, diy: `${id}-diy`, ca: `${id}-ca`, cb: `${id}-cb` };
  const uplink = `ebs${process.pid}`.slice(0, 15);
  const restore = [];
  const net = {
    ns,
    inNs: (name) => (cmd, args) => ["ip", ["netns", "exec", name, cmd, ...args]],
    teardown() {
      for (const n of Object.values(ns)) {
        const pids = spawnSync("ip", ["netns", "pids", n], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
        for (const pid of pids) {
          try {
            process.kill(Number(pid), "SIGKILL");
          } catch {}
        }
        spawnSync("ip", ["netns", "delete", n]);
      }
      spawnSync("ip", ["link", "delete", uplink]);
      for (const [path, value] of restore.splice(0)) writeFileSync(path, value);
    },
  };
  try {
    for (const n of Object.values(ns)) {
      sh("ip", "netns", "add", n);
      sh("ip", "-n", n, "link", "set", "lo", "up");
    }
    for (const br of ["brA", "brB"]) {
      sh("ip", "-n", ns.lan, "link", "add", br, "type", "bridge");
      // No multicast snooping or ageing surprises: a plain hub-like bridge for the test LAN.
      sh("ip", "-n", ns.lan, "link", "set", br, "up");
    }
    const port = (host, ifname, portName, br, cidr) => {
      sh("ip", "-n", ns.lan, "link", "add", portName, "type", "veth", "peer", "name", ifname, "netns", host);
      sh("ip", "-n", ns.lan, "link", "set", portName, "master", br, "up");
      sh("ip", "-n", host, "addr", "add", cidr, "dev", ifname);
      sh("ip", "-n", host, "link", "set", ifname, "up");
    };
    port(ns.rtr, "a0", "pra", "brA", `${SEGMENTS.a.router}/16`);
    port(ns.rtr, "b0", "prb", "brB", `${SEGMENTS.b.router}/16`);
    port(ns.rly, "eth0", "prly", "brA", `${SEGMENTS.a.server}/16`);
    port(ns.diy, "eth0", "pdiy", "brB", `${SEGMENTS.b.server}/16`);
    port(ns.ca, "eth0", "pca", "brA", `${SEGMENTS.a.client}/16`);
    port(ns.cb, "eth0", "pcb", "brB", `${SEGMENTS.b.client}/16`);
    // The whole DHCP range on each client interface, in one `ip -batch` each.
    for (const [seg, n] of [["a", ns.ca], ["b", ns.cb]]) {
      const lines = [];
      for (let i = RANGE.first; i <= RANGE.last; i++) lines.push(`addr add ${ipOf(SEGMENTS[seg].net, i)}/16 dev eth0 noprefixroute`);
      const file = `/tmp/${id}-${seg}.batch`;
      writeFileSync(file, `${lines.join("\n")}\n`);
      sh("ip", "-n", n, "-batch", file);
    }
    // Broadcasts from the machines' wildcard DHCP socket need a route out of eth0.
    for (const n of [ns.ca, ns.cb]) sh("ip", "-n", n, "route", "add", "default", "dev", "eth0");
    // The relay namespace reaches the API proxy in the root namespace.
    sh("ip", "link", "add", uplink, "type", "veth", "peer", "name", "up0", "netns", ns.rly);
    sh("ip", "addr", "add", `${API_HOST}/30`, "dev", uplink);
    sh("ip", "link", "set", uplink, "up");
    sh("ip", "-n", ns.rly, "addr", "add", "10.92.0.2/30", "dev", "up0");
    sh("ip", "-n", ns.rly, "link", "set", "up0", "up");
    // Neighbour tables sized for a big segment (see the top comment).
    for (const n of [ns.rly, ns.diy, ns.ca, ns.cb, ns.rtr]) {
      for (const [k, v] of Object.entries(NEIGH)) {
        const r = spawnSync("ip", ["netns", "exec", n, "sysctl", "-q", "-w", `net.ipv4.neigh.default.${k}=${v}`], { encoding: "utf8" });
        if (r.status !== 0) {
          const path = `/proc/sys/net/ipv4/neigh/default/${k}`;
          const old = readFileSync(path, "utf8").trim();
          if (Number(old) < v) {
            restore.push([path, old]);
            writeFileSync(path, String(v));
          }
        }
      }
    }
  } catch (err) {
    net.teardown();
    throw err;
  }
  return net;
}

export const rangeAddress = (seg, i) => ipOf(SEGMENTS[seg].net, RANGE.first + i);
