// Regenerates test/fixtures/captures/: real DHCP packets sent by real firmware under QEMU (TCG).
//   sudo npx node test/e2e/capture.mjs            (root: network namespaces, tap devices)
// Layout, as on a site LAN: namespace "lan" holds a bridge and the VM's tap; "dhcp" runs dnsmasq handing out
// addresses only (plus IPv6 RAs so iPXE does not wait for autoconf); "pxe" runs dnsmasq in proxyDHCP mode with
// TFTP, which makes EDK2 send its port-4011 request and loads Debian's ipxe.efi. tcpdump listens on the tap,
// so it sees every packet the VM sends or receives, unicast included.
// Outputs: <client>.pcap (DHCP only) and one <client>-<message>[-4011].bin per distinct client packet kind.
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const outDir = fileURLToPath(new URL("../fixtures/captures/", import.meta.url));
const prefix = "ebcap-";
const run = `${prefix}${process.pid}`;
const ns = { lan: `${run}-lan`, dhcp: `${run}-dhcp`, pxe: `${run}-pxe` };
const children = [];

const sh = (cmd, ...args) => execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"] }).toString();
const inNs = (name, cmd, ...args) => sh("ip", "netns", "exec", name, cmd, ...args);

/** Removes namespaces left behind by an earlier, killed run (their pid is gone). */
function preClean() {
  for (const line of sh("ip", "netns", "list").split("\n")) {
    const name = line.split(" ")[0];
    const pid = name?.startsWith(prefix) ? Number(name.slice(prefix.length).split("-")[0]) : NaN;
    if (!Number.isInteger(pid)) continue;
    try {
      process.kill(pid, 0);
    } catch {
      killNsProcesses(name);
      sh("ip", "netns", "delete", name);
    }
  }
}

function killNsProcesses(name) {
  for (const pid of sh("ip", "netns", "pids", name).split("\n").filter(Boolean)) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {}
  }
}

function teardown() {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  for (const name of Object.values(ns)) {
    try {
      killNsProcesses(name);
      sh("ip", "netns", "delete", name);
    } catch {}
  }
}

function setupNetwork(work) {
  for (const name of Object.values(ns)) sh("ip", "netns", "add", name);
  inNs(ns.lan, "ip", "link", "set", "lo", "up");
  inNs(ns.lan, "ip", "link", "add", "br0", "type", "bridge");
  inNs(ns.lan, "ip", "link", "set", "br0", "up");
  inNs(ns.lan, "ip", "tuntap", "add", "tap0", "mode", "tap");
  inNs(ns.lan, "ip", "link", "set", "tap0", "master", "br0", "up");
  const hosts = { dhcp: ["10.213.0.2/24", "fd00::2/64"], pxe: ["10.213.0.3/24", "fd00::3/64"] };
  for (const [role, [v4, v6]] of Object.entries(hosts)) {
    inNs(ns.lan, "ip", "link", "add", `v${role}`, "type", "veth", "peer", "name", "eth0", "netns", ns[role]);
    inNs(ns.lan, "ip", "link", "set", `v${role}`, "master", "br0", "up");
    inNs(ns[role], "ip", "link", "set", "lo", "up");
    inNs(ns[role], "ip", "addr", "add", v4, "dev", "eth0");
    inNs(ns[role], "ip", "-6", "addr", "add", v6, "dev", "eth0", "nodad");
    inNs(ns[role], "ip", "link", "set", "eth0", "up");
  }
  // Own pid file and user: several runs (and engineers) share the machine; the temp TFTP root is root-only.
  const common = ["--keep-in-foreground", "--log-facility=-", "--user=root", "--port=0", "--interface=eth0", "--bind-interfaces", "--log-dhcp", "--no-resolv", "--no-hosts"];
  start(ns.dhcp, "dnsmasq", ...common, `--pid-file=${work}/dhcp.pid`, `--dhcp-leasefile=${work}/leases`, "--dhcp-range=10.213.0.100,10.213.0.199,255.255.255.0,10m", "--enable-ra", "--dhcp-range=::,constructor:eth0,ra-only");
  const tftp = join(work, "tftp");
  mkdirSync(tftp);
  // dnsmasq appends ".0" to pxe-service basenames for some client types; offer both names.
  for (const name of ["ipxe.efi", "ipxe.efi.0"]) copyFileSync("/usr/lib/ipxe/ipxe.efi", join(tftp, name));
  for (const name of ["undionly.kpxe", "undionly.kpxe.0"]) copyFileSync("/usr/lib/ipxe/undionly.kpxe", join(tftp, name));
  start(
    ns.pxe,
    "dnsmasq",
    ...common,
    `--pid-file=${work}/pxe.pid`,
    "--dhcp-range=10.213.0.0,proxy,255.255.255.0",
    "--dhcp-userclass=set:ipxe,iPXE",
    '--pxe-service=tag:!ipxe,X86-64_EFI,"edgeboot",ipxe.efi',
    '--pxe-service=tag:!ipxe,x86PC,"edgeboot",undionly.kpxe',
    '--pxe-service=tag:ipxe,X86-64_EFI,"edgeboot",boot.ipxe',
    '--pxe-service=tag:ipxe,x86PC,"edgeboot",boot.ipxe',
    "--enable-tftp",
    `--tftp-root=${tftp}`,
  );
}

function start(name, cmd, ...args) {
  const log = openSync(join(work, `${name}-${cmd}.log`), "a");
  const child = spawn("ip", ["netns", "exec", name, cmd, ...args], { stdio: ["ignore", log, log] });
  children.push(child);
  return child;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Minimal pcap reader: Ethernet/IPv4/UDP records → { t, src, dst, sport, dport, payload }. */
function readPcap(file) {
  const buf = existsSync(file) ? readFileSync(file) : Buffer.alloc(0);
  const out = [];
  if (buf.length < 24 || buf.readUInt32LE(0) !== 0xa1b2c3d4) return out;
  for (let off = 24; off + 16 <= buf.length; ) {
    const caplen = buf.readUInt32LE(off + 8);
    const t = buf.readUInt32LE(off) + buf.readUInt32LE(off + 4) / 1e6;
    const frame = buf.subarray(off + 16, off + 16 + caplen);
    off += 16 + caplen;
    if (frame.length < caplen || frame.length < 42 || frame.readUInt16BE(12) !== 0x0800) continue;
    const ihl = (frame[14] & 0x0f) * 4;
    if (frame[23] !== 17) continue;
    const udp = 14 + ihl;
    const udpLen = frame.readUInt16BE(udp + 4);
    out.push({
      t,
      src: frame.subarray(26, 30).join("."),
      dst: frame.subarray(30, 34).join("."),
      sport: frame.readUInt16BE(udp),
      dport: frame.readUInt16BE(udp + 2),
      payload: frame.subarray(udp + 8, udp + udpLen),
    });
  }
  return out;
}

function dhcpOptions(payload) {
  const opts = new Map();
  for (let i = 240; i < payload.length; ) {
    const code = payload[i++];
    if (code === 0) continue;
    if (code === 255 || i >= payload.length) break;
    const len = payload[i++];
    opts.set(code, payload.subarray(i, i + len));
    i += len;
  }
  return opts;
}

const msgNames = { 1: "discover", 3: "request", 8: "inform" };

/** Client packets only (op=1), named by who sent them: iPXE sends option 175, EDK2 does not. */
function clientPackets(records, firmware) {
  const seen = new Map();
  for (const r of records) {
    if (r.payload[0] !== 1 || r.payload.length < 240) continue;
    const opts = dhcpOptions(r.payload);
    const type = msgNames[opts.get(53)?.[0]] ?? `type${opts.get(53)?.[0]}`;
    const client = opts.has(175) ? (firmware === "seabios" ? "seabios-ipxe" : "ipxe-efi") : `${firmware}-x64`;
    const name = `${client}-${type}${r.dport === 4011 ? "-4011" : ""}`;
    if (!seen.has(name)) seen.set(name, r);
  }
  return seen;
}

async function boot(work, firmware, wanted, limitMs) {
  const pcap = join(work, `${firmware}.pcap`);
  const tcpdump = start(ns.lan, "tcpdump", "-Z", "root", "-U", "-n", "-i", "tap0", "-w", pcap, "udp port 67 or udp port 68 or udp port 4011");
  await sleep(1500);
  const qemu = ["qemu-system-x86_64", "-accel", "tcg", "-m", "512", "-display", "none", "-no-reboot", "-serial", `file:${work}/${firmware}.serial.log`];
  const netdev = ["-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no"];
  if (firmware === "ovmf") {
    copyFileSync("/usr/share/OVMF/OVMF_VARS_4M.fd", join(work, "vars.fd"));
    qemu.push("-drive", "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd");
    qemu.push("-drive", `if=pflash,format=raw,file=${work}/vars.fd`, "-device", "virtio-net-pci,netdev=n0,romfile=,mac=52:54:00:eb:00:01");
  } else {
    qemu.push("-device", "virtio-net-pci,netdev=n0,mac=52:54:00:eb:00:02");
  }
  const vm = start(ns.lan, ...qemu, ...netdev, "-boot", "n");
  const deadline = Date.now() + limitMs;
  let found = new Map();
  while (Date.now() < deadline && vm.exitCode === null) {
    await sleep(2000);
    found = clientPackets(readPcap(pcap), firmware);
    if (wanted.every((w) => found.has(w))) break;
  }
  await sleep(1000);
  vm.kill("SIGKILL");
  tcpdump.kill("SIGINT");
  await new Promise((r) => (tcpdump.exitCode === null ? tcpdump.once("exit", r) : r()));
  const records = readPcap(pcap);
  found = clientPackets(records, firmware);
  const missing = wanted.filter((w) => !found.has(w));
  if (missing.length) throw new Error(`${firmware}: no ${missing.join(", ")} within ${limitMs / 1000}s (got ${[...found.keys()].join(", ")})`);
  copyFileSync(pcap, join(outDir, `${firmware}.pcap`));
  for (const [name, r] of found) writeFileSync(join(outDir, `${name}.bin`), r.payload);
  console.log(`${firmware}: ${records.length} DHCP packets; saved ${[...found.keys()].join(", ")}`);
}

process.on("SIGINT", () => {
  teardown();
  process.exit(130);
});
const work = mkdtempSync(join(tmpdir(), "ebcap-"));
try {
  if (process.getuid?.() !== 0) throw new Error("run as root (network namespaces, tap devices)");
  mkdirSync(outDir, { recursive: true });
  preClean();
  setupNetwork(work);
  await boot(work, "ovmf", ["ovmf-x64-discover", "ovmf-x64-request-4011", "ipxe-efi-discover"], 150_000);
  await boot(work, "seabios", ["seabios-ipxe-discover", "seabios-ipxe-request"], 90_000);
} finally {
  teardown();
  if (process.env.KEEP) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
