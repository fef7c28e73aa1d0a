import { describe, expect, it } from "vitest";
import { hex } from "../../relay/bytes.ts";
import { clientArchs, clientGuid, clientNdi, guidToUuid, ipxeFeatures, messageType, OPT, userClasses, vendorClass } from "../../relay/dhcp/options.ts";
import { decodeDhcp, DhcpDecodeError, encodeDhcp, HEADER_SIZE, macOf, MIN_REPLY_SIZE } from "../../relay/dhcp/packet.ts";
import { buildProxyReply } from "../../relay/dhcp/proxy.ts";
import { describePacket } from "./support/describe.ts";
import { capture, captureNames, DHCP_FIXTURES } from "./support/captures.ts";
import { expectGolden, readAnnotated } from "./support/golden.ts";
import { proxyContext } from "./support/proxyContext.ts";

const captures = captureNames();

describe("DHCP codec on real firmware captures", () => {
  it("has captures to test with", () => {
    expect(captures.length).toBeGreaterThanOrEqual(6);
  });

  it.each(captures)("%s decodes to its golden description", (name) => {
    const packet = decodeDhcp(capture(name));
    expectGolden(`${DHCP_FIXTURES}${name.replace(/\.bin$/, ".parsed.json")}`, `${JSON.stringify(describePacket(packet), null, 2)}\n`);
  });

  it.each(captures)("%s survives decode -> encode -> decode unchanged", (name) => {
    const bytes = capture(name);
    const once = decodeDhcp(bytes);
    const again = decodeDhcp(encodeDhcp(once, 0));
    expect(describePacket(again)).toEqual(describePacket(once));
  });

  it.each(captures)("%s re-encodes to the same bytes", (name) => {
    // The captures carry no padding between options, so re-encoding in wire order gives the packet back exactly
    // (up to trailing PAD bytes after END).
    const bytes = capture(name);
    const out = encodeDhcp(decodeDhcp(bytes), 0);
    const trim = (b: Uint8Array) => b.subarray(0, b.lastIndexOf(255) + 1);
    expect(hex(trim(out))).toBe(hex(trim(bytes)));
  });

  // Our answer to each real packet, on the port it was sent to, compared exactly (regenerate with UPDATE_GOLDEN=1).
  it.each(captures)("%s gets its golden proxy reply (or none)", (name) => {
    const req = decodeDhcp(capture(name));
    const on = name.includes("4011") ? "proxy" : "dhcp";
    const from = on === "proxy" ? { address: req.ciaddr, port: /^(ovmf|aavmf)-/.test(name) ? 4011 : 68 } : { address: "0.0.0.0", port: 68 };
    const d = buildProxyReply(req, on, from, proxyContext());
    const view =
      d.kind === "ignore"
        ? { ignored: d.reason, detail: d.detail ?? null }
        : { to: d.to, broadcast: d.broadcast, client: d.client, bytes: encodeDhcp(d.packet).length, reply: describePacket(decodeDhcp(encodeDhcp(d.packet))) };
    expectGolden(`${DHCP_FIXTURES}${name.replace(/\.bin$/, ".reply.json")}`, `${JSON.stringify(view, null, 2)}\n`);
  });

  it("reads what relay/PROTOCOLS.md says the firmware sends", () => {
    const ovmf = decodeDhcp(capture("ovmf-x64-discover.bin"));
    expect(vendorClass(ovmf.options)).toBe("PXEClient:Arch:00007:UNDI:003000");
    expect(clientArchs(ovmf.options)).toEqual([7]);
    expect(clientNdi(ovmf.options)).toEqual({ type: 1, major: 3, minor: 0 });
    expect(guidToUuid(clientGuid(ovmf.options))).toBeNull(); // all zeros: no SMBIOS UUID in the VM
    const ipxe = decodeDhcp(capture("ipxe-efi-discover.bin"));
    expect(userClasses(ipxe.options)).toEqual(["iPXE"]);
    expect(ipxeFeatures(ipxe.options)?.has(0x13)).toBe(true); // HTTP
    expect(ipxeFeatures(ipxe.options)?.has(0x14)).toBe(false); // Debian bookworm iPXE: no HTTPS
  });
});

describe("DHCP codec: annotated bytes", () => {
  it("decodes a hand-annotated BIOS proxy offer", () => {
    const p = decodeDhcp(readAnnotated(`${DHCP_FIXTURES}proxy-offer-bios.hex`));
    expect(p).toMatchObject({ op: 2, xid: 0x11223344, flags: 0x8000, yiaddr: "0.0.0.0", siaddr: "10.0.0.5", file: "undionly.kpxe" });
    expect(macOf(p)).toBe("52:54:00:12:34:56");
    expect(messageType(p.options)).toBe(2);
    expect(vendorClass(p.options)).toBe("PXEClient");
    expect(hex(p.options.get(OPT.VENDOR_SPECIFIC)!)).toBe("060108ff");
  });

  it("encodes the same offer to the annotated bytes, padded to 300", () => {
    const bytes = readAnnotated(`${DHCP_FIXTURES}proxy-offer-bios.hex`);
    const out = encodeDhcp(decodeDhcp(bytes));
    expect(out.length).toBe(MIN_REPLY_SIZE);
    expect(hex(out.subarray(0, bytes.length))).toBe(hex(bytes));
    expect(out.subarray(bytes.length).every((b) => b === 0)).toBe(true);
  });
});

describe("DHCP codec: malformed input is a named error, never a crash", () => {
  const valid = () => capture("ovmf-x64-discover.bin").slice();
  const reason = (bytes: Uint8Array) => {
    try {
      decodeDhcp(bytes);
      return "ok";
    } catch (err) {
      expect(err).toBeInstanceOf(DhcpDecodeError);
      return (err as DhcpDecodeError).reason;
    }
  };

  it("names each failure", () => {
    expect(reason(valid().subarray(0, HEADER_SIZE - 1))).toBe("too_short");
    expect(reason(new Uint8Array(5000))).toBe("too_long");
    const badOp = valid();
    badOp[0] = 3;
    expect(reason(badOp)).toBe("bad_op");
    const badHlen = valid();
    badHlen[2] = 17;
    expect(reason(badHlen)).toBe("bad_hlen");
    const badMagic = valid();
    badMagic[236] = 0;
    expect(reason(badMagic)).toBe("bad_magic");
    // Option 60 claims 200 bytes that are not there.
    const overrun = valid();
    const at = overrun.indexOf(60, HEADER_SIZE + 60);
    overrun[at + 1] = 200;
    expect(reason(overrun)).toBe("option_overrun");
  });

  it("accepts a packet without END and without options after the cookie", () => {
    const bytes = valid();
    expect(reason(bytes.subarray(0, bytes.length - 1))).toBe("ok");
    expect(reason(bytes.subarray(0, HEADER_SIZE))).toBe("ok");
  });

  it("reads options from file and sname when option 52 says so (RFC 2131 §4.1)", () => {
    const base = decodeDhcp(valid());
    base.options = new Map([[53, Uint8Array.of(1)], [52, Uint8Array.of(3)]]);
    const bytes = encodeDhcp(base, 0);
    bytes.set([60, 9, ...Buffer.from("PXEClient"), 255], 108); // file
    bytes.set([93, 2, 0, 7, 255], 44); // sname
    const p = decodeDhcp(bytes);
    expect(vendorClass(p.options)).toBe("PXEClient");
    expect(clientArchs(p.options)).toEqual([7]);
    expect(p.file).toBe("");
    expect(p.options.has(52)).toBe(false);
    const bad = bytes.slice();
    bad[bad.indexOf(52, HEADER_SIZE) + 2] = 4;
    expect(reason(bad)).toBe("bad_overload");
  });

  it("concatenates a repeated option (RFC 3396) and splits a long one when encoding", () => {
    const base = decodeDhcp(valid());
    base.options = new Map([[67, new Uint8Array(300).fill(0x61)]]);
    const bytes = encodeDhcp(base, 0);
    // Two instances on the wire: 255 + 45 bytes.
    expect(bytes[HEADER_SIZE]).toBe(67);
    expect(bytes[HEADER_SIZE + 1]).toBe(255);
    expect(bytes[HEADER_SIZE + 2 + 255]).toBe(67);
    expect(bytes[HEADER_SIZE + 3 + 255]).toBe(45);
    expect(decodeDhcp(bytes).options.get(67)?.length).toBe(300);
  });

  it("reads option 77 raw (iPXE) and RFC 3004-encoded", () => {
    const opts = (v: number[]) => new Map([[77, Uint8Array.from(v)]]);
    expect(userClasses(opts([...Buffer.from("iPXE")]))).toEqual(["iPXE"]);
    expect(userClasses(opts([4, ...Buffer.from("iPXE")]))).toEqual(["iPXE"]);
    expect(userClasses(opts([2, 0x61, 0x62, 1, 0x63]))).toEqual(["ab", "c"]);
  });

  it("rejects malformed 93/97 instead of guessing", () => {
    expect(clientArchs(new Map([[93, Uint8Array.of(0, 7, 1)]]))).toBeNull();
    expect(clientGuid(new Map([[97, Uint8Array.of(1, ...new Array(16).fill(1))]]))).toBeNull();
    expect(clientGuid(new Map([[97, new Uint8Array(16)]]))).toBeNull();
    expect(clientArchs(new Map([[93, Uint8Array.of(0, 7, 0, 11)]]))).toEqual([7, 11]);
  });

  it("converts the option 97 GUID from SMBIOS byte order to iPXE's ${uuid}", () => {
    const raw = Uint8Array.of(0, 0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff);
    expect(guidToUuid(raw)).toBe("00112233-4455-6677-8899-aabbccddeeff");
  });
});
