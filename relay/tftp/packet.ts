// TFTP packets (RFC 1350 §5, OACK from RFC 2347) as pure functions between bytes and typed objects.
//   RRQ/WRQ  01|02  filename\0 mode\0 [option\0 value\0]*      DATA 03 block(16) data[0..blksize]
//   ACK      04 block(16)      ERROR 05 code(16) message\0      OACK 06 [option\0 value\0]*
import { latin1 } from "../bytes.ts";

export const OP = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;

// RFC 1350 §5 + RFC 2347: 8 = option negotiation refused.
export const ERR = {
  UNDEFINED: 0,
  NOT_FOUND: 1,
  ACCESS_VIOLATION: 2,
  DISK_FULL: 3,
  ILLEGAL_OPERATION: 4,
  UNKNOWN_TID: 5,
  FILE_EXISTS: 6,
  NO_SUCH_USER: 7,
  OPTION_REFUSED: 8,
} as const;

export const MAX_BLKSIZE = 65464; // RFC 2348
export const MAX_REQUEST_SIZE = 1024; // RFC 2347 asks clients to stay under 512; be lenient, but bounded
export const MAX_DATA_PACKET = 4 + MAX_BLKSIZE;

export type TftpOption = [name: string, value: string];
export type TftpRequest = { op: "RRQ" | "WRQ"; filename: string; mode: string; options: TftpOption[] };
export type TftpPacket =
  | TftpRequest
  | { op: "DATA"; block: number; data: Uint8Array }
  | { op: "ACK"; block: number }
  | { op: "ERROR"; code: number; message: string }
  | { op: "OACK"; options: TftpOption[] };

export type TftpDecodeFailure = "too_short" | "too_long" | "bad_opcode" | "unterminated_string" | "bad_length";

export class TftpDecodeError extends Error {
  readonly reason: TftpDecodeFailure;
  constructor(reason: TftpDecodeFailure, message: string) {
    super(message);
    this.reason = reason;
    this.name = "TftpDecodeError";
  }
}

// NUL-separated strings from `from` to the end; every one must be terminated.
function strings(bytes: Uint8Array, from: number): string[] {
  const out: string[] = [];
  let i = from;
  while (i < bytes.length) {
    const end = bytes.indexOf(0, i);
    if (end < 0) throw new TftpDecodeError("unterminated_string", "string not NUL-terminated");
    out.push(latin1(bytes.subarray(i, end)));
    i = end + 1;
  }
  return out;
}

// Options as name/value pairs in wire order. A trailing name without a value is dropped (seen from broken clients).
function pairs(list: string[]): TftpOption[] {
  const out: TftpOption[] = [];
  for (let i = 0; i + 1 < list.length; i += 2) out.push([list[i]!, list[i + 1]!]);
  return out;
}

export function decodeTftp(bytes: Uint8Array): TftpPacket {
  if (bytes.length < 4) throw new TftpDecodeError("too_short", `packet too short: ${bytes.length} bytes`);
  const op = (bytes[0]! << 8) | bytes[1]!;
  switch (op) {
    case OP.RRQ:
    case OP.WRQ: {
      if (bytes.length > MAX_REQUEST_SIZE) throw new TftpDecodeError("too_long", `request too long: ${bytes.length} bytes`);
      const list = strings(bytes, 2);
      if (list.length < 2) throw new TftpDecodeError("too_short", "request without filename and mode");
      return { op: op === OP.RRQ ? "RRQ" : "WRQ", filename: list[0]!, mode: list[1]!, options: pairs(list.slice(2)) };
    }
    case OP.DATA: {
      if (bytes.length > MAX_DATA_PACKET) throw new TftpDecodeError("too_long", `DATA longer than ${MAX_DATA_PACKET} bytes`);
      return { op: "DATA", block: (bytes[2]! << 8) | bytes[3]!, data: bytes.subarray(4) };
    }
    case OP.ACK:
      if (bytes.length !== 4) throw new TftpDecodeError("bad_length", `ACK must be 4 bytes, got ${bytes.length}`);
      return { op: "ACK", block: (bytes[2]! << 8) | bytes[3]! };
    case OP.ERROR: {
      if (bytes.length > MAX_REQUEST_SIZE) throw new TftpDecodeError("too_long", "ERROR too long");
      const code = (bytes[2]! << 8) | bytes[3]!;
      // Some clients send the ERROR message without its NUL; the code is what matters.
      const end = bytes.indexOf(0, 4);
      return { op: "ERROR", code, message: latin1(bytes.subarray(4, end < 0 ? bytes.length : end)) };
    }
    case OP.OACK:
      if (bytes.length > MAX_REQUEST_SIZE) throw new TftpDecodeError("too_long", "OACK too long");
      return { op: "OACK", options: pairs(strings(bytes, 2)) };
    default:
      throw new TftpDecodeError("bad_opcode", `unknown opcode ${op}`);
  }
}

function putStrings(out: number[], list: string[]): void {
  for (const s of list) {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 0 || c > 0xff) throw new Error("TFTP strings must be Latin-1 without NUL");
      out.push(c);
    }
    out.push(0);
  }
}

export function encodeTftp(p: TftpPacket): Uint8Array {
  switch (p.op) {
    case "DATA": {
      if (p.data.length > MAX_BLKSIZE) throw new Error("DATA block too large");
      const out = new Uint8Array(4 + p.data.length);
      out[1] = OP.DATA;
      out[2] = (p.block >> 8) & 0xff;
      out[3] = p.block & 0xff;
      out.set(p.data, 4);
      return out;
    }
    case "ACK":
      return Uint8Array.of(0, OP.ACK, (p.block >> 8) & 0xff, p.block & 0xff);
    case "ERROR": {
      const out = [0, OP.ERROR, (p.code >> 8) & 0xff, p.code & 0xff];
      putStrings(out, [p.message]);
      return Uint8Array.from(out);
    }
    case "OACK": {
      const out = [0, OP.OACK];
      putStrings(out, p.options.flat());
      return Uint8Array.from(out);
    }
    default: {
      const out = [0, p.op === "RRQ" ? OP.RRQ : OP.WRQ];
      putStrings(out, [p.filename, p.mode, ...p.options.flat()]);
      return Uint8Array.from(out);
    }
  }
}
