import { describe, expect, it } from "vitest";
import { ascii, hex } from "../../relay/bytes.ts";
import { clientGuid, messageType, OPT, pxeSubOptions, vendorClass } from "../../relay/dhcp/options.ts";
import { decodeDhcp, encodeDhcp, MIN_REPLY_SIZE, type DhcpPacket } from "../../relay/dhcp/packet.ts";
import { BOOT_IPXE_QUERY, buildProxyReply, type ProxyContext, type ProxyDecision, type ProxyReply } from "../../relay/dhcp/proxy.ts";
import { capture } from "./support/captures.ts";
import { proxyContext } from "./support/proxyContext.ts";

const ctx = (over: Partial<ProxyContext> = {}): ProxyContext =>
  proxyContext({ hasBinary: (name) => ["undionly.kpxe", "ipxe.efi", "snponly.efi"].includes(name), ...over });
const from68 = { address: "0.0.0.0", port: 68 };
const bootIpxeUrl = `http://10.213.0.3:8067/boot.ipxe?${BOOT_IPXE_QUERY}`;

function reply(d: ProxyDecision): ProxyReply {
  if (d.kind !== "reply") throw new Error(`expected a reply, got ignore(${d.reason}${d.detail ? `: ${d.detail}` : ""})`);
  return d;
}
// The reply as the client will see it: encoded, then decoded again.
const onWire = (p: DhcpPacket) => {
  const bytes = encodeDhcp(p);
  return { bytes, packet: decodeDhcp(bytes) };
};

describe("proxy offer on port 67 for real firmware DISCOVERs", () => {
  it("OVMF (UEFI x64 PXE): strategy A, no option 43, ipxe.efi, broadcast to 68", () => {
    const req = decodeDhcp(capture("ovmf-x64-discover.bin"));
    const d = reply(buildProxyReply(req, "dhcp", from68, ctx()));
    const { bytes, packet } = onWire(d.packet);
    expect(bytes.length).toBeGreaterThanOrEqual(MIN_REPLY_SIZE);
    expect(packet).toMatchObject({ op: 2, xid: req.xid, yiaddr: "0.0.0.0", ciaddr: "0.0.0.0", siaddr: "10.213.0.3", giaddr: "0.0.0.0", flags: 0x8000, file: "ipxe.efi" });
    expect(hex(packet.chaddr)).toBe(hex(req.chaddr));
    expect(messageType(packet.options)).toBe(2);
    expect(hex(packet.options.get(OPT.SERVER_ID)!)).toBe("0ad50003");
    expect(vendorClass(packet.options)).toBe("PXEClient");
    expect(hex(clientGuid(packet.options)!)).toBe(hex(clientGuid(req.options)!)); // echoed
    expect(packet.options.has(OPT.VENDOR_SPECIFIC)).toBe(false); // so EDK2 confirms on 4011
    // Nothing that configures an address (relay/PROTOCOLS.md §1.3).
    for (const code of [1, 3, 6, 51, 52, 58, 59]) expect(packet.options.has(code)).toBe(false);
    expect(d.to).toEqual({ address: "255.255.255.255", port: 68 });
    expect(d.broadcast).toBe(true);
    expect(d.client).toMatchObject({ mac: "52:54:00:eb:00:01", arch: 7, platform: "uefi-x64", ipxe: false });
  });

  it("OVMF with offer mode pxe43 (strategy B) for its MAC prefix gets 43.6 = 8", () => {
    const req = decodeDhcp(capture("ovmf-x64-discover.bin"));
    const d = reply(buildProxyReply(req, "dhcp", from68, ctx({ offerModeOverrides: [{ prefix: "525400", mode: "pxe43" }] })));
    expect(hex(d.packet.options.get(OPT.VENDOR_SPECIFIC)!)).toBe("060108ff");
    expect(d.packet.file).toBe("ipxe.efi");
  });

  it("iPXE (ipxe.efi): the boot.ipxe URL, never a binary again, with 43.6 and siaddr so it skips 4011", () => {
    const req = decodeDhcp(capture("ipxe-efi-discover.bin"));
    const d = reply(buildProxyReply(req, "dhcp", from68, ctx()));
    expect(d.client).toMatchObject({ ipxe: true, https: false, platform: "uefi-x64" });
    expect(d.bootFile).toBe(bootIpxeUrl);
    const { packet } = onWire(d.packet);
    const file = packet.file || Buffer.from(packet.options.get(OPT.BOOTFILE_NAME)!).toString("latin1");
    expect(file).toBe(bootIpxeUrl);
    expect(packet.siaddr).toBe("10.213.0.3");
    expect(hex(packet.options.get(OPT.VENDOR_SPECIFIC)!)).toBe("060108ff");
  });

  it("SeaBIOS with the NIC's iPXE ROM: the URL too (it is already iPXE, no undionly.kpxe loop)", () => {
    const req = decodeDhcp(capture("seabios-ipxe-discover.bin"));
    const d = reply(buildProxyReply(req, "dhcp", from68, ctx()));
    expect(d.client).toMatchObject({ ipxe: true, platform: "bios", arch: 0 });
    expect(d.bootFile).toBe(bootIpxeUrl);
  });

  it("replies are identical for a retransmitted DISCOVER", () => {
    const req = decodeDhcp(capture("ovmf-x64-discover.bin"));
    const a = encodeDhcp(reply(buildProxyReply(req, "dhcp", from68, ctx())).packet);
    const b = encodeDhcp(reply(buildProxyReply(decodeDhcp(capture("ovmf-x64-discover.bin")), "dhcp", from68, ctx())).packet);
    expect(hex(a)).toBe(hex(b));
  });

  it("puts a URL longer than 127 characters into option 67 and leaves file empty", () => {
    const req = decodeDhcp(capture("ipxe-efi-discover.bin"));
    const d = reply(buildProxyReply(req, "dhcp", from68, ctx({ httpBase: `http://${"relay-".repeat(10)}.example:8067` })));
    expect(d.bootFile.length).toBeGreaterThan(127);
    const { packet } = onWire(d.packet);
    expect(packet.file).toBe("");
    expect(Buffer.from(packet.options.get(OPT.BOOTFILE_NAME)!).toString("latin1")).toBe(d.bootFile);
  });
});

describe("what the relay does not answer", () => {
  it("ignores a DHCPREQUEST on 67 (it is for the site DHCP server)", () => {
    for (const name of ["ovmf-x64-request.bin", "ipxe-efi-request.bin", "seabios-ipxe-request.bin"]) {
      const d = buildProxyReply(decodeDhcp(capture(name)), "dhcp", from68, ctx());
      expect(d).toMatchObject({ kind: "ignore", reason: "wrong_message_type" });
    }
  });

  it("ignores clients that are not PXE or HTTPClient, and PXE clients without option 93", () => {
    const req = decodeDhcp(capture("ovmf-x64-discover.bin"));
    req.options.set(OPT.VENDOR_CLASS, ascii("MSFT 5.0"));
    expect(buildProxyReply(req, "dhcp", from68, ctx())).toMatchObject({ kind: "ignore", reason: "not_pxe_client" });
    const noArch = decodeDhcp(capture("ovmf-x64-discover.bin"));
    noArch.options.delete(OPT.CLIENT_ARCH);
    expect(buildProxyReply(noArch, "dhcp", from68, ctx())).toMatchObject({ kind: "ignore", reason: "no_client_arch" });
  });

  it("ignores unsupported architectures and architectures whose binary is missing", () => {
    const req = decodeDhcp(capture("ovmf-x64-discover.bin"));
    req.options.set(OPT.CLIENT_ARCH, Uint8Array.of(0, 10)); // ARM32 UEFI
    expect(buildProxyReply(req, "dhcp", from68, ctx())).toMatchObject({ kind: "ignore", reason: "unsupported_arch" });
    req.options.set(OPT.CLIENT_ARCH, Uint8Array.of(0, 11)); // arm64 UEFI, no arm64 build present
    expect(buildProxyReply(req, "dhcp", from68, ctx())).toMatchObject({ kind: "ignore", reason: "binary_missing", detail: "ipxe-arm64.efi" });
    const withArm = reply(buildProxyReply(req, "dhcp", from68, ctx({ hasBinary: () => true })));
    expect(withArm.bootFile).toBe("ipxe-arm64.efi");
  });

  it("takes the first recognised entry of a multi-valued option 93", () => {
    const req = decodeDhcp(capture("ovmf-x64-discover.bin"));
    req.options.set(OPT.CLIENT_ARCH, Uint8Array.of(0, 10, 0, 9)); // ARM32 (unsupported), then EBC/x64
    expect(reply(buildProxyReply(req, "dhcp", from68, ctx())).client.platform).toBe("uefi-x64");
  });

  it("ignores replies (op 2) and 4011 requests naming another proxy", () => {
    const req = decodeDhcp(capture("ovmf-x64-discover.bin"));
    req.op = 2;
    expect(buildProxyReply(req, "dhcp", from68, ctx())).toMatchObject({ kind: "ignore", reason: "not_a_request" });
    const other = decodeDhcp(capture("ipxe-efi-request-4011.bin")); // option 54 = 10.213.0.3, the capture's proxy
    expect(buildProxyReply(other, "proxy", { address: "10.213.0.110", port: 68 }, ctx({ serverIp: "10.213.0.9" }))).toMatchObject({
      kind: "ignore",
      reason: "other_server",
    });
  });
});

describe("port 4011", () => {
  it("OVMF's BINL request from 4011 gets an ACK with the file, unicast back to its port", () => {
    const req = decodeDhcp(capture("ovmf-x64-request-4011.bin"));
    const from = { address: "10.213.0.110", port: 4011 };
    const d = reply(buildProxyReply(req, "proxy", from, ctx()));
    const { packet } = onWire(d.packet);
    expect(messageType(packet.options)).toBe(5);
    expect(packet).toMatchObject({ ciaddr: "10.213.0.110", yiaddr: "0.0.0.0", siaddr: "10.213.0.3", file: "ipxe.efi", xid: req.xid });
    expect(vendorClass(packet.options)).toBe("PXEClient");
    expect(d.to).toEqual(from);
    expect(d.broadcast).toBe(false);
  });

  it("iPXE's ProxyDHCPREQUEST from port 68 gets the boot.ipxe URL back on port 68", () => {
    const req = decodeDhcp(capture("ipxe-efi-request-4011.bin"));
    const from = { address: "10.213.0.110", port: 68 };
    const d = reply(buildProxyReply(req, "proxy", from, ctx()));
    expect(d.bootFile).toBe(bootIpxeUrl);
    expect(d.to).toEqual(from);
  });

  it("a PXE boot-server discovery request (43.71) gets its boot item echoed", () => {
    const req = decodeDhcp(capture("seabios-ipxe-request-4011.bin"));
    const d = reply(buildProxyReply(req, "proxy", { address: "10.213.0.111", port: 68 }, ctx()));
    expect(hex(pxeSubOptions(d.packet.options)!.get(71)!)).toBe("80030000");
  });

  it("ignores a DISCOVER on 4011", () => {
    const req = decodeDhcp(capture("ovmf-x64-discover.bin"));
    expect(buildProxyReply(req, "proxy", { address: "10.213.0.110", port: 4011 }, ctx())).toMatchObject({ kind: "ignore", reason: "wrong_message_type" });
  });
});

describe("relayed requests and HTTP Boot", () => {
  it("a DISCOVER relayed through giaddr goes back to the relay agent on 67 with option 82 echoed", () => {
    const req = decodeDhcp(capture("ovmf-x64-discover.bin"));
    req.giaddr = "10.9.0.1";
    req.hops = 1;
    req.options.set(OPT.RELAY_AGENT_INFO, Uint8Array.of(1, 3, 0x61, 0x62, 0x63));
    const d = reply(buildProxyReply(req, "dhcp", { address: "10.9.0.1", port: 67 }, ctx()));
    expect(d.to).toEqual({ address: "10.9.0.1", port: 67 });
    expect(d.broadcast).toBe(false);
    expect(d.packet.giaddr).toBe("10.9.0.1");
    expect(hex(d.packet.options.get(OPT.RELAY_AGENT_INFO)!)).toBe("0103616263");
  });

  it("UEFI HTTP Boot (HTTPClient, arch 16) gets an http:// URL of the iPXE binary and HTTPClient back", () => {
    const req = decodeDhcp(capture("ovmf-x64-discover.bin"));
    req.options.set(OPT.VENDOR_CLASS, ascii("HTTPClient:Arch:00016:UNDI:003000"));
    req.options.set(OPT.CLIENT_ARCH, Uint8Array.of(0, 16));
    const d = reply(buildProxyReply(req, "dhcp", from68, ctx()));
    expect(d.bootFile).toBe("http://10.213.0.3:8067/ipxe.efi");
    expect(vendorClass(d.packet.options)).toBe("HTTPClient");
    expect(d.packet.options.has(OPT.VENDOR_SPECIFIC)).toBe(false);
    expect(d.client.httpBoot).toBe(true);
  });

  it("an iPXE advertising HTTPS (175.20) is recognised", () => {
    const req = decodeDhcp(capture("ipxe-efi-discover.bin"));
    const features = req.options.get(OPT.IPXE)!;
    req.options.set(OPT.IPXE, Uint8Array.from([...features, 0x14, 1, 1]));
    expect(reply(buildProxyReply(req, "dhcp", from68, ctx())).client.https).toBe(true);
  });
});
