// Typed views of the DHCP options a PXE relay reads and writes (RFC 2132, RFC 4578 for 93/94/97, PXE 2.1 for 43,
// iPXE's 175). Readers are pure and return null for a missing or malformed option instead of throwing.
import { ascii, concatBytes, latin1 } from "../bytes.ts";
import { ipToBytes, type DhcpOptions } from "./packet.ts";

export const OPT = {
  HOSTNAME: 12,
  VENDOR_SPECIFIC: 43,
  REQUESTED_IP: 50,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMETER_LIST: 55,
  MAX_MESSAGE_SIZE: 57,
  VENDOR_CLASS: 60,
  CLIENT_ID: 61,
  TFTP_SERVER_NAME: 66,
  BOOTFILE_NAME: 67,
  USER_CLASS: 77,
  RELAY_AGENT_INFO: 82,
  CLIENT_ARCH: 93,
  CLIENT_NDI: 94,
  CLIENT_GUID: 97,
  IPXE: 175,
} as const;

export const MSG = { DISCOVER: 1, OFFER: 2, REQUEST: 3, DECLINE: 4, ACK: 5, NAK: 6, RELEASE: 7, INFORM: 8 } as const;

// PXE option 43 sub-options (PXE 2.1 via iPXE `include/ipxe/dhcp.h`).
export const PXE = { DISCOVERY_CONTROL: 6, BOOT_SERVERS: 8, BOOT_MENU: 9, MENU_PROMPT: 10, BOOT_ITEM: 71 } as const;
// 43.6 bit 3 (8): skip discovery when a boot file is present, so the client just boots `file` (PXE 2.1 Table 2-1).
export const DISCOVERY_SKIP_IF_FILENAME = 8;

// iPXE option 175 feature markers (`include/ipxe/features.h`): 0x13 HTTP, 0x14 HTTPS.
export const IPXE_FEATURE = { PRIORITY: 0x01, HTTP: 0x13, HTTPS: 0x14, TFTP: 0x15, DNS: 0x17, EFI: 0x24, VERSION: 0xeb } as const;

export type Tlv = { code: number; value: Uint8Array };

// Encapsulated options (43, 175): code/length/value, PAD skipped, END stops. Null if a length overruns.
export function decodeTlvs(bytes: Uint8Array): Tlv[] | null {
  const out: Tlv[] = [];
  let i = 0;
  while (i < bytes.length) {
    const code = bytes[i]!;
    if (code === 0) {
      i += 1;
      continue;
    }
    if (code === 255) break;
    if (i + 1 >= bytes.length) return null;
    const len = bytes[i + 1]!;
    if (i + 2 + len > bytes.length) return null;
    out.push({ code, value: bytes.subarray(i + 2, i + 2 + len) });
    i += 2 + len;
  }
  return out;
}

export function encodeTlvs(list: Tlv[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const { code, value } of list) {
    if (value.length > 255) throw new Error(`sub-option ${code} longer than 255 bytes`);
    parts.push(Uint8Array.of(code, value.length), value);
  }
  parts.push(Uint8Array.of(255));
  return concatBytes(parts);
}

export function messageType(opts: DhcpOptions): number | null {
  const v = opts.get(OPT.MESSAGE_TYPE);
  return v && v.length === 1 ? v[0]! : null;
}

export function vendorClass(opts: DhcpOptions): string | null {
  const v = opts.get(OPT.VENDOR_CLASS);
  return v && v.length > 0 ? latin1(v) : null;
}

// RFC 4578 §2.1: a list of 16-bit architecture types (several are allowed). Null when absent or odd-length.
export function clientArchs(opts: DhcpOptions): number[] | null {
  const v = opts.get(OPT.CLIENT_ARCH);
  if (!v || v.length === 0 || v.length % 2 !== 0) return null;
  const out: number[] = [];
  for (let i = 0; i < v.length; i += 2) out.push((v[i]! << 8) | v[i + 1]!);
  return out;
}

// RFC 4578 §2.2: type (1 = UNDI), major, minor.
export function clientNdi(opts: DhcpOptions): { type: number; major: number; minor: number } | null {
  const v = opts.get(OPT.CLIENT_NDI);
  return v && v.length === 3 ? { type: v[0]!, major: v[1]!, minor: v[2]! } : null;
}

// RFC 4578 §2.3: type 0 + 16-byte GUID. Returned raw (for echoing) only when well-formed.
export function clientGuid(opts: DhcpOptions): Uint8Array | null {
  const v = opts.get(OPT.CLIENT_GUID);
  return v && v.length === 17 && v[0] === 0 ? v : null;
}

// The GUID in option 97 is in SMBIOS/EFI byte order (first three fields little-endian, iPXE `uuid_mangle`); this
// returns the canonical text that iPXE's ${uuid} prints. All-zero GUIDs (no SMBIOS UUID) give null.
export function guidToUuid(raw: Uint8Array | null): string | null {
  if (!raw || raw.length !== 17) return null;
  const b = raw.subarray(1);
  if (b.every((x) => x === 0)) return null;
  const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
  const h = order.map((i) => b[i]!.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// Option 77. iPXE sends the raw string "iPXE" (not RFC 3004 length-prefixed); RFC 3004 clients send a list of
// length-prefixed classes. Both are accepted: a value that parses exactly as RFC 3004 is read that way.
export function userClasses(opts: DhcpOptions): string[] {
  const v = opts.get(OPT.USER_CLASS);
  if (!v || v.length === 0) return [];
  const classes: string[] = [];
  let i = 0;
  while (i < v.length) {
    const len = v[i]!;
    if (len === 0 || i + 1 + len > v.length) return [latin1(v)];
    classes.push(latin1(v.subarray(i + 1, i + 1 + len)));
    i += 1 + len;
  }
  return classes;
}

// Option 175 as a map of iPXE feature code -> value; null when absent or malformed.
export function ipxeFeatures(opts: DhcpOptions): Map<number, Uint8Array> | null {
  const v = opts.get(OPT.IPXE);
  if (!v) return null;
  const tlvs = decodeTlvs(v);
  return tlvs ? new Map(tlvs.map((t) => [t.code, t.value])) : null;
}

export function pxeSubOptions(opts: DhcpOptions): Map<number, Uint8Array> | null {
  const v = opts.get(OPT.VENDOR_SPECIFIC);
  if (!v) return null;
  const tlvs = decodeTlvs(v);
  return tlvs ? new Map(tlvs.map((t) => [t.code, t.value])) : null;
}

export function ipOption(opts: DhcpOptions, code: number): string | null {
  const v = opts.get(code);
  return v && v.length === 4 ? `${v[0]}.${v[1]}.${v[2]}.${v[3]}` : null;
}

export const byteOption = (n: number) => Uint8Array.of(n & 0xff);
export const textOption = (s: string) => ascii(s);
export const ipOptionValue = (ip: string) => ipToBytes(ip);
