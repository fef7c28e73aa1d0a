// DHCP messages for simulated firmware, built from real captures (test/fixtures/captures/): the capture's options in
// its order, with this machine's xid, MAC (chaddr, option 61), UUID (option 97) and message type, plus what the
// step adds (server id, requested address). Written independently of the relay's codec on purpose: the load
// generator must not share the server's bugs.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const CAPTURES = fileURLToPath(new URL("../../fixtures/captures/", import.meta.url));
const MAGIC = 0x63825363;

export function parseOptions(buf, from = 240) {
  const opts = [];
  for (let i = from; i < buf.length; ) {
    const code = buf[i];
    if (code === 255) break;
    if (code === 0) {
      i++;
      continue;
    }
    const len = buf[i + 1];
    opts.push([code, Buffer.from(buf.subarray(i + 2, i + 2 + len))]);
    i += 2 + len;
  }
  return opts;
}

// A received DHCP reply, reduced to what firmware looks at.
export function parseReply(buf) {
  if (buf.length < 240 || buf[0] !== 2 || buf.readUInt32BE(236) !== MAGIC) return null;
  const options = new Map(parseOptions(buf));
  const str = (b) => b.toString("latin1").replace(/\0.*$/s, "");
  const ip = (b) => [...b.subarray(0, 4)].join(".");
  const type = options.get(53)?.[0] ?? 0;
  return {
    xid: buf.readUInt32BE(4),
    type, // 2 OFFER, 5 ACK, 6 NAK
    yiaddr: ip(buf.subarray(16, 20)),
    siaddr: ip(buf.subarray(20, 24)),
    chaddr: [...buf.subarray(28, 34)].map((b) => b.toString(16).padStart(2, "0")).join(":"),
    file: str(buf.subarray(108, 236)) || (options.get(67) ? str(options.get(67)) : ""),
    serverId: options.get(54) ? ip(options.get(54)) : null,
    vendorClass: options.get(60) ? str(options.get(60)) : "",
    tftpServer: options.get(66) ? str(options.get(66)) : null,
    has43: options.has(43),
    options,
  };
}

const load = (name) => readFileSync(`${CAPTURES}/${name}`);
export const TEMPLATES = {
  edk2Discover: load("ovmf-x64-discover.bin"),
  edk2Request4011: load("ovmf-x64-request-4011.bin"),
  ipxeDiscover: load("ipxe-efi-discover.bin"),
  ipxeRequest4011: load("ipxe-efi-request-4011.bin"),
  // SeaBIOS with QEMU's iPXE option ROM: the firmware is iPXE itself (BIOS build, arch 0).
  biosDiscover: load("seabios-ipxe-discover.bin"),
  biosRequest: load("seabios-ipxe-request.bin"),
  biosPxebs: load("seabios-ipxe-request-4011.bin"), // PXE boot-server discovery (43.71), after a 43.9 menu offer
  // AAVMF (EDK2 for arm64) PXE, then trixie's ipxe-arm64.efi.
  aavmfDiscover: load("aavmf-arm64-discover.bin"),
  aavmfRequest4011: load("aavmf-arm64-request-4011.bin"),
  ipxeArm64Discover: load("ipxe-arm64-discover.bin"),
  ipxeArm64Request4011: load("ipxe-arm64-request-4011.bin"),
};

const macBytes = (mac) => Buffer.from(mac.split(":").map((h) => parseInt(h, 16)));
const ipBytes = (ip) => Buffer.from(ip.split(".").map(Number));
const uuidBytes = (uuid) => {
  // Option 97: type 0 + the SMBIOS UUID, first three fields little-endian as firmware sends it.
  const h = uuid.replace(/-/g, "");
  const b = Buffer.from(h, "hex");
  const le = Buffer.concat([Buffer.from(b.subarray(0, 4)).reverse(), Buffer.from(b.subarray(4, 6)).reverse(), Buffer.from(b.subarray(6, 8)).reverse(), b.subarray(8)]);
  return Buffer.concat([Buffer.from([0]), le]);
};

// type: 1 DISCOVER, 3 REQUEST. extra: [[code, Buffer]] appended (replacing the same code); drop: codes removed.
export function buildMessage(template, { type, xid, mac, uuid, ciaddr = "0.0.0.0", broadcast = true, extra = [], drop = [] }) {
  const head = Buffer.from(template.subarray(0, 240));
  head.writeUInt32BE(xid >>> 0, 4);
  head.writeUInt16BE(0, 8); // secs
  head.writeUInt16BE(broadcast ? 0x8000 : 0, 10); // one client socket serves many machines: replies are broadcast
  ipBytes(ciaddr).copy(head, 12);
  head.fill(0, 16, 28); // yiaddr, siaddr, giaddr
  head.fill(0, 28, 44);
  macBytes(mac).copy(head, 28);
  const replaced = new Set([53, ...extra.map(([c]) => c), ...drop]);
  const opts = [[53, Buffer.from([type])]];
  for (const [code, value] of parseOptions(template)) {
    if (replaced.has(code)) continue;
    if (code === 61) opts.push([61, Buffer.concat([Buffer.from([1]), macBytes(mac)])]);
    else if (code === 97 && uuid) opts.push([97, uuidBytes(uuid)]);
    else opts.push([code, value]);
  }
  opts.push(...extra);
  const body = Buffer.concat(opts.map(([c, v]) => Buffer.concat([Buffer.from([c, v.length]), v])));
  return Buffer.concat([head, body, Buffer.from([255])]);
}

export const opt = {
  serverId: (ip) => [54, ipBytes(ip)],
  requestedIp: (ip) => [50, ipBytes(ip)],
  // 43.71: the boot item (type, layer 0) a PXE boot-server discovery asks for.
  bootItem: (type) => [43, Buffer.from([71, 4, (type >> 8) & 255, type & 255, 0, 0, 255])],
};

// Option 43's PXE sub-options (PXE 2.1 §2.4.7), as a Map code → Buffer; null without option 43.
export function pxeSubOptions(reply) {
  const raw = reply.options.get(43);
  if (!raw) return null;
  const subs = new Map();
  for (let i = 0; i + 1 < raw.length && raw[i] !== 255; i += 2 + raw[i + 1]) subs.set(raw[i], raw.subarray(i + 2, i + 2 + raw[i + 1]));
  return subs;
}
