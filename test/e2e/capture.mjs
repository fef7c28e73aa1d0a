// Regenerates test/fixtures/captures/: real DHCP packets sent by real firmware under QEMU (TCG).
//   sudo npx node test/e2e/capture.mjs [client...]   (root: network namespaces, tap devices; clients: see BOOTS)
// Layout, as on a site LAN: namespace "lan" holds a bridge and the VM's tap; "dhcp" runs dnsmasq handing out
// addresses only (plus IPv6 RAs so iPXE does not wait for autoconf); "pxe" runs dnsmasq in proxyDHCP mode with
// TFTP, which makes EDK2 send its port-4011 request and loads Debian's ipxe.efi (x64) or trixie's ipxe-arm64.efi.
// tcpdump listens on the tap, so it sees every packet the VM sends or receives, unicast included.
// UEFI HTTP Boot clients are the same firmware with PXE switched off through fw_cfg (edk2 OvmfPkg/RUNTIME_CONFIG.md,
// opt/org.tianocore/IPv4PXESupport): their boot manager then tries "UEFI HTTPv4" (EDK2 HttpBootDxe).
// Outputs: <client>.pcap (DHCP only) and one <client>-<message>[-4011].bin per distinct client packet kind.
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { trixieApt, trixieDebs } from "../helpers/trixie.ts";

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

function setupNetwork(work, arm64Ipxe) {
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
  if (arm64Ipxe) for (const name of ["ipxe-arm64.efi", "ipxe-arm64.efi.0"]) copyFileSync(arm64Ipxe, join(tftp, name));
  start(
    ns.pxe,
    "dnsmasq",
    ...common,
    `--pid-file=${work}/pxe.pid`,
    "--dhcp-range=10.213.0.0,proxy,255.255.255.0",
    "--dhcp-userclass=set:ipxe,iPXE",
    '--pxe-service=tag:!ipxe,X86-64_EFI,"edgeboot",ipxe.efi',
    '--pxe-service=tag:!ipxe,x86PC,"edgeboot",undionly.kpxe',
    '--pxe-service=tag:!ipxe,ARM64_EFI,"edgeboot",ipxe-arm64.efi',
    '--pxe-service=tag:ipxe,ARM64_EFI,"edgeboot",boot.ipxe',
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

// One VM per client kind. `client` names the firmware's own packets, `ipxe` those of the iPXE it loads (iPXE sends
// option 175, EDK2 does not). AAVMF follows QEMU's bootindex (fw_cfg bootorder), so the NIC goes first there.
const PXE_OFF = ["-fw_cfg", "name=opt/org.tianocore/IPv4PXESupport,string=no", "-fw_cfg", "name=opt/org.tianocore/IPv6PXESupport,string=no"];
const BOOTS = {
  ovmf: { arch: "x86_64", uefi: true, mac: "52:54:00:eb:00:01", client: "ovmf-x64", ipxe: "ipxe-efi", wanted: ["ovmf-x64-discover", "ovmf-x64-request-4011", "ipxe-efi-discover"], limitMs: 150_000 },
  seabios: { arch: "x86_64", uefi: false, mac: "52:54:00:eb:00:02", client: "seabios-x86", ipxe: "seabios-ipxe", wanted: ["seabios-ipxe-discover", "seabios-ipxe-request"], limitMs: 90_000 },
  "ovmf-http": { arch: "x86_64", uefi: true, extra: PXE_OFF, mac: "52:54:00:eb:00:03", client: "ovmf-http-x64", ipxe: "ipxe-efi-http", wanted: ["ovmf-http-x64-discover"], limitMs: 120_000 },
  aavmf: { arch: "arm64", uefi: true, mac: "52:54:00:eb:00:04", client: "aavmf-arm64", ipxe: "ipxe-arm64", wanted: ["aavmf-arm64-discover", "aavmf-arm64-request-4011", "ipxe-arm64-discover"], limitMs: 420_000 },
  "aavmf-http": { arch: "arm64", uefi: true, extra: PXE_OFF, mac: "52:54:00:eb:00:05", client: "aavmf-http-arm64", ipxe: "ipxe-arm64-http", wanted: ["aavmf-http-arm64-discover"], limitMs: 300_000 },
};

/** Client packets only (op=1), named by who sent them: the first of each kind. */
function clientPackets(records, boot) {
  const seen = new Map();
  for (const r of records) {
    if (r.payload[0] !== 1 || r.payload.length < 240) continue;
    const opts = dhcpOptions(r.payload);
    const type = msgNames[opts.get(53)?.[0]] ?? `type${opts.get(53)?.[0]}`;
    const name = `${opts.has(175) ? boot.ipxe : boot.client}-${type}${r.dport === 4011 ? "-4011" : ""}`;
    if (!seen.has(name)) seen.set(name, r);
  }
  return seen;
}

function qemuCommand(work, name, boot) {
  const common = ["-accel", "tcg", "-m", "512", "-display", "none", "-no-reboot", "-serial", `file:${work}/${name}.serial.log`, "-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no"];
  const vars = join(work, `${name}.vars.fd`);
  if (boot.arch === "arm64") {
    copyFileSync("/usr/share/AAVMF/AAVMF_VARS.fd", vars);
    return ["qemu-system-aarch64", "-M", "virt", "-cpu", "max,pauth-impdef=on", ...common,
      "-drive", "if=pflash,format=raw,readonly=on,file=/usr/share/AAVMF/AAVMF_CODE.fd", "-drive", `if=pflash,format=raw,file=${vars}`,
      "-device", `virtio-net-pci,netdev=n0,romfile=,mac=${boot.mac},bootindex=0`, ...(boot.extra ?? [])];
  }
  if (!boot.uefi) return ["qemu-system-x86_64", ...common, "-device", `virtio-net-pci,netdev=n0,mac=${boot.mac}`, "-boot", "n"];
  copyFileSync("/usr/share/OVMF/OVMF_VARS_4M.fd", vars);
  return ["qemu-system-x86_64", ...common, "-drive", "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd", "-drive", `if=pflash,format=raw,file=${vars}`,
    "-device", `virtio-net-pci,netdev=n0,romfile=,mac=${boot.mac}`, "-boot", "n", ...(boot.extra ?? [])];
}

async function runBoot(work, name, boot) {
  const pcap = join(work, `${name}.pcap`);
  const tcpdump = start(ns.lan, "tcpdump", "-Z", "root", "-U", "-n", "-i", "tap0", "-w", pcap, "udp port 67 or udp port 68 or udp port 4011");
  await sleep(1500);
  const vm = start(ns.lan, ...qemuCommand(work, name, boot));
  const deadline = Date.now() + boot.limitMs;
  let found = new Map();
  while (Date.now() < deadline && vm.exitCode === null) {
    await sleep(2000);
    found = clientPackets(readPcap(pcap), boot);
    if (boot.wanted.every((w) => found.has(w))) break;
  }
  await sleep(1000);
  vm.kill("SIGKILL");
  tcpdump.kill("SIGINT");
  await new Promise((r) => (tcpdump.exitCode === null ? tcpdump.once("exit", r) : r()));
  const records = readPcap(pcap);
  found = clientPackets(records, boot);
  const missing = boot.wanted.filter((w) => !found.has(w));
  if (missing.length) throw new Error(`${name}: no ${missing.join(", ")} within ${boot.limitMs / 1000}s (got ${[...found.keys()].join(", ")})`);
  copyFileSync(pcap, join(outDir, `${name}.pcap`));
  for (const [packet, r] of found) writeFileSync(join(outDir, `${packet}.bin`), r.payload);
  console.log(`${name}: ${records.length} DHCP packets; saved ${[...found.keys()].join(", ")}`);
}

process.on("SIGINT", () => {
  teardown();
  process.exit(130);
});
const work = mkdtempSync(join(tmpdir(), "ebcap-"));
try {
  if (process.getuid?.() !== 0) throw new Error("run as root (network namespaces, tap devices)");
  const wanted = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(BOOTS);
  const unknown = wanted.filter((w) => !(w in BOOTS));
  if (unknown.length) throw new Error(`unknown client ${unknown.join(", ")}; choose from ${Object.keys(BOOTS).join(", ")}`);
  mkdirSync(outDir, { recursive: true });
  preClean();
  // arm64 iPXE comes from Debian 13 (bookworm has none), fetched with a private apt configuration.
  let arm64Ipxe = null;
  if (wanted.some((w) => BOOTS[w].arch === "arm64")) {
    const apt = trixieApt(join(process.env.E2E_CACHE_DIR || fileURLToPath(new URL(".work/", import.meta.url)), "trixie-apt"));
    const { ipxe } = trixieDebs(apt, ["ipxe"]);
    sh("sh", "-c", `dpkg-deb --fsys-tarfile "$0" | tar -x -C "$1" ./usr/lib/ipxe/ipxe-arm64.efi`, ipxe.deb, work);
    arm64Ipxe = join(work, "usr/lib/ipxe/ipxe-arm64.efi");
    console.log(`arm64 iPXE: Debian trixie ipxe ${ipxe.version}`);
  }
  setupNetwork(work, arm64Ipxe);
  for (const name of wanted) await runBoot(work, name, BOOTS[name]);
} finally {
  teardown();
  if (process.env.KEEP) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
