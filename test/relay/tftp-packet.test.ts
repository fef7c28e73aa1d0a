import { describe, expect, it } from "vitest";
import { hex } from "../../relay/bytes.ts";
import { decodeTftp, encodeTftp, TftpDecodeError, type TftpPacket } from "../../relay/tftp/packet.ts";
import { TFTP_FIXTURES } from "./support/captures.ts";
import { readAnnotated } from "./support/golden.ts";

const reason = (bytes: number[] | Uint8Array) => {
  try {
    decodeTftp(Uint8Array.from(bytes));
    return "ok";
  } catch (err) {
    expect(err).toBeInstanceOf(TftpDecodeError);
    return (err as TftpDecodeError).reason;
  }
};

describe("TFTP codec", () => {
  it("decodes the annotated iPXE RRQ and encodes it back to the same bytes", () => {
    const bytes = readAnnotated(`${TFTP_FIXTURES}rrq-ipxe.hex`);
    const p = decodeTftp(bytes);
    expect(p).toEqual({ op: "RRQ", filename: "ipxe.efi", mode: "octet", options: [["blksize", "1432"], ["tsize", "0"]] });
    expect(hex(encodeTftp(p))).toBe(hex(bytes));
  });

  it("encodes the annotated OACK", () => {
    const bytes = readAnnotated(`${TFTP_FIXTURES}oack.hex`);
    expect(hex(encodeTftp({ op: "OACK", options: [["blksize", "1432"], ["tsize", "1048576"]] }))).toBe(hex(bytes));
    expect(decodeTftp(bytes)).toEqual({ op: "OACK", options: [["blksize", "1432"], ["tsize", "1048576"]] });
  });

  it("round-trips every packet type", () => {
    const packets: TftpPacket[] = [
      { op: "RRQ", filename: "undionly.kpxe", mode: "octet", options: [] },
      { op: "WRQ", filename: "x", mode: "netascii", options: [["blksize", "512"]] },
      { op: "DATA", block: 65535, data: Uint8Array.of(1, 2, 3) },
      { op: "DATA", block: 7, data: new Uint8Array(0) },
      { op: "ACK", block: 0 },
      { op: "ACK", block: 0xbeef },
      { op: "ERROR", code: 5, message: "Unknown transfer ID" },
      { op: "OACK", options: [["windowsize", "8"]] },
    ];
    for (const p of packets) expect(decodeTftp(encodeTftp(p))).toEqual(p);
    expect(hex(encodeTftp({ op: "ACK", block: 0x0102 }))).toBe("00040102");
    expect(hex(encodeTftp({ op: "ERROR", code: 1, message: "File not found" }))).toBe("00050001" + hex(Buffer.from("File not found")) + "00");
  });

  it("names malformed packets", () => {
    expect(reason([0, 1])).toBe("too_short");
    expect(reason([0, 9, 0, 0])).toBe("bad_opcode");
    expect(reason([0, 1, 0x61, 0x62, 0x63])).toBe("unterminated_string");
    expect(reason([0, 1, 0x61, 0])).toBe("too_short"); // filename but no mode
    expect(reason([0, 4, 0, 1, 0])).toBe("bad_length");
    expect(reason(new Uint8Array(2000).fill(0x41).map((v, i) => (i === 1 ? 1 : i === 0 ? 0 : v)))).toBe("too_long");
    expect(reason([0, 3, ...new Array(65500).fill(0)])).toBe("too_long");
  });

  it("tolerates a trailing option name without value and an ERROR without its NUL", () => {
    const rrq = [0, 1, ...Buffer.from(["f", "octet", "blksize", "1024", "tsize", ""].join("\u0000"))];
    expect(decodeTftp(Uint8Array.from(rrq))).toMatchObject({ options: [["blksize", "1024"]] });
    expect(decodeTftp(Uint8Array.from([0, 5, 0, 2, ...Buffer.from("nope")]))).toEqual({ op: "ERROR", code: 2, message: "nope" });
  });
});
