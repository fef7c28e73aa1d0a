// DHCP/BOOTP messages (RFC 2131 §2, RFC 951) as pure functions between bytes and a typed object. No sockets here.
//   0      op | htype | hlen | hops        4  xid            8  secs | flags
//  12      ciaddr   16 yiaddr   20 siaddr   24 giaddr       28  chaddr[16]
//  44      sname[64]   108 file[128]   236 magic cookie 99.130.83.99   240 options
// Every read is bounds-checked; a bad packet throws DhcpDecodeError with a named reason, which the server turns
// into a debug log and a drop.
import { concatBytes, hex, latin1 } from "../bytes.ts";

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
export const MAGIC_COOKIE = 0x63825363;
export const HEADER_SIZE = 240; // fixed BOOTP header plus the magic cookie
export const MAX_PACKET_SIZE = 4096; // larger than any real frame; anything bigger is not a DHCP message we serve
export const MIN_REPLY_SIZE = 300; // RFC 1542 §2.1 / dnsmasq MIN_PACKETSZ: some BOOTP relays and ROMs drop shorter
export const SNAME_SIZE = 64;
export const FILE_SIZE = 128;

export const OPT_PAD = 0;
export const OPT_OVERLOAD = 52;
export const OPT_END = 255;

export type DhcpDecodeFailure =
  | "too_short"
  | "too_long"
  | "bad_op"
  | "bad_hlen"
  | "bad_magic"
  | "option_overrun"
  | "bad_overload";

export class DhcpDecodeError extends Error {
  readonly reason: DhcpDecodeFailure;
  constructor(reason: DhcpDecodeFailure, message: string) {
    super(message);
    this.reason = reason;
    this.name = "DhcpDecodeError";
  }
}

// Options keep their wire order; a code repeated in one packet is concatenated (RFC 3396 §5).
export type DhcpOptions = Map<number, Uint8Array>;

export type DhcpPacket = {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  chaddr: Uint8Array; // always 16 bytes; the first hlen are the hardware address
  sname: string;
  file: string;
  options: DhcpOptions;
};

export const FLAG_BROADCAST = 0x8000;

function ipAt(view: DataView, offset: number): string {
  return `${view.getUint8(offset)}.${view.getUint8(offset + 1)}.${view.getUint8(offset + 2)}.${view.getUint8(offset + 3)}`;
}

// A NUL-terminated field; an unterminated one is taken whole (old ROMs do that), decoded as Latin-1.
function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return end === 0 ? "" : latin1(end < 0 ? bytes : bytes.subarray(0, end));
}

// Reads options from one region into `into`, stopping at END; a region without END ends with the packet (seen in
// the wild). A length that runs past the region is an error.
function readOptions(bytes: Uint8Array, into: DhcpOptions, where: string): void {
  let i = 0;
  while (i < bytes.length) {
    const code = bytes[i]!;
    if (code === OPT_PAD) {
      i += 1;
      continue;
    }
    if (code === OPT_END) return;
    if (i + 1 >= bytes.length) throw new DhcpDecodeError("option_overrun", `option ${code} in ${where} has no length byte`);
    const len = bytes[i + 1]!;
    if (i + 2 + len > bytes.length) throw new DhcpDecodeError("option_overrun", `option ${code} in ${where} runs past the end`);
    const value = bytes.subarray(i + 2, i + 2 + len); // a view: the received datagram is never reused
    const prev = into.get(code);
    into.set(code, prev ? concatBytes([prev, value]) : value);
    i += 2 + len;
  }
}

export function decodeDhcp(input: Uint8Array): DhcpPacket {
  if (input.length < HEADER_SIZE) throw new DhcpDecodeError("too_short", `packet too short: ${input.length} bytes < ${HEADER_SIZE}`);
  if (input.length > MAX_PACKET_SIZE) throw new DhcpDecodeError("too_long", `packet too long: ${input.length} bytes`);
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const op = view.getUint8(0);
  if (op !== BOOTREQUEST && op !== BOOTREPLY) throw new DhcpDecodeError("bad_op", `unknown op ${op}`);
  const hlen = view.getUint8(2);
  if (hlen > 16) throw new DhcpDecodeError("bad_hlen", `hardware address length ${hlen} > 16`);
  if (view.getUint32(236) !== MAGIC_COOKIE) throw new DhcpDecodeError("bad_magic", "no DHCP magic cookie");

  const options: DhcpOptions = new Map();
  readOptions(input.subarray(HEADER_SIZE), options, "options");
  const snameBytes = input.subarray(44, 44 + SNAME_SIZE);
  const fileBytes = input.subarray(108, 108 + FILE_SIZE);
  let sname = cString(snameBytes);
  let file = cString(fileBytes);
  // RFC 2131 §4.1: option 52 says `file` (1), `sname` (2) or both (3) carry more options, read file first.
  const overload = options.get(OPT_OVERLOAD);
  if (overload) {
    const mode = overload.length === 1 ? overload[0]! : 0;
    if (mode < 1 || mode > 3) throw new DhcpDecodeError("bad_overload", "option 52 must be 1, 2 or 3");
    options.delete(OPT_OVERLOAD);
    if (mode & 1) {
      readOptions(fileBytes, options, "file");
      file = "";
    }
    if (mode & 2) {
      readOptions(snameBytes, options, "sname");
      sname = "";
    }
  }
  return {
    op,
    htype: view.getUint8(1),
    hlen,
    hops: view.getUint8(3),
    xid: view.getUint32(4),
    secs: view.getUint16(8),
    flags: view.getUint16(10),
    ciaddr: ipAt(view, 12),
    yiaddr: ipAt(view, 16),
    siaddr: ipAt(view, 20),
    giaddr: ipAt(view, 24),
    chaddr: input.slice(28, 44),
    sname,
    file,
    options,
  };
}

export class DhcpEncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DhcpEncodeError";
  }
}

// Dotted quad -> 32-bit number, without a regex (it runs for every address field of every reply).
function parseIPv4(ip: string): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46 && digits > 0 && dots < 3) {
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      part = part * 10 + (c - 48);
      digits++;
      if (part > 255) throw new DhcpEncodeError(`not an IPv4 address: ${ip}`);
    } else throw new DhcpEncodeError(`not an IPv4 address: ${ip}`);
  }
  if (dots !== 3 || digits === 0) throw new DhcpEncodeError(`not an IPv4 address: ${ip}`);
  return value * 256 + part;
}

export function ipToBytes(ip: string): Uint8Array {
  const n = parseIPv4(ip);
  return Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

// RFC 3396 §6: a value over 255 bytes is split into consecutive instances of the same option. Written straight into
// `out` at `at`; returns the offset after END.
// forEach rather than for-of: no [code, value] entry array per option per reply.
function encodedOptionsSize(options: DhcpOptions): number {
  let size = 1; // END
  options.forEach((value, code) => {
    if (code === OPT_PAD || code === OPT_END || code > 255 || code < 0) throw new DhcpEncodeError(`cannot encode option ${code}`);
    size += value.length === 0 ? 2 : value.length + 2 * Math.ceil(value.length / 255);
  });
  return size;
}

function writeOptions(out: Uint8Array, at: number, options: DhcpOptions): number {
  options.forEach((value, code) => {
    if (value.length <= 255) {
      // The usual case, without a subarray view.
      out[at++] = code;
      out[at++] = value.length;
      out.set(value, at);
      at += value.length;
      return;
    }
    for (let off = 0; off < value.length; off += 255) {
      const chunk = value.subarray(off, off + 255);
      out[at++] = code;
      out[at++] = chunk.length;
      out.set(chunk, at);
      at += chunk.length;
    }
  });
  out[at++] = OPT_END;
  return at;
}

function putField(target: Uint8Array, offset: number, size: number, text: string, what: string) {
  // Always NUL-terminated (dnsmasq: "always force null-term for filename and servername - buggy PXE again").
  if (text.length > size - 1) throw new DhcpEncodeError(`${what} longer than ${size - 1} characters`);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff || c === 0) throw new DhcpEncodeError(`${what} has a character that cannot be encoded`);
    target[offset + i] = c;
  }
}

export function encodeDhcp(p: DhcpPacket, minSize = MIN_REPLY_SIZE): Uint8Array {
  const total = Math.max(HEADER_SIZE + encodedOptionsSize(p.options), minSize);
  if (total > MAX_PACKET_SIZE) throw new DhcpEncodeError(`packet would be ${total} bytes`);
  const out = new Uint8Array(total); // zero-filled: the padding after END is PAD
  const view = new DataView(out.buffer);
  view.setUint8(0, p.op);
  view.setUint8(1, p.htype);
  view.setUint8(2, p.hlen);
  view.setUint8(3, p.hops);
  view.setUint32(4, p.xid >>> 0);
  view.setUint16(8, p.secs);
  view.setUint16(10, p.flags);
  view.setUint32(12, parseIPv4(p.ciaddr));
  view.setUint32(16, parseIPv4(p.yiaddr));
  view.setUint32(20, parseIPv4(p.siaddr));
  view.setUint32(24, parseIPv4(p.giaddr));
  if (p.chaddr.length > 16) throw new DhcpEncodeError("chaddr longer than 16 bytes");
  out.set(p.chaddr, 28);
  putField(out, 44, SNAME_SIZE, p.sname, "sname");
  putField(out, 108, FILE_SIZE, p.file, "file");
  view.setUint32(236, MAGIC_COOKIE);
  writeOptions(out, HEADER_SIZE, p.options);
  return out;
}

// The client's hardware address as aa:bb:cc:dd:ee:ff, or null when it is not Ethernet-shaped.
export function macOf(p: Pick<DhcpPacket, "htype" | "hlen" | "chaddr">): string | null {
  if (p.htype !== 1 || p.hlen !== 6) return null;
  const h = hex(p.chaddr.subarray(0, 6));
  return `${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}:${h.slice(6, 8)}:${h.slice(8, 10)}:${h.slice(10, 12)}`;
}
