// Golden proxyDHCP replies, byte for byte, to real packets from arm64 UEFI PXE (AAVMF), UEFI HTTP Boot (OVMF arch 16,
// AAVMF arch 19), trixie's ipxe-arm64.efi, and hosts with an ipxeBuild override (test/fixtures/captures/README.md says
// how each was captured). Each case also states the fields that matter, so a golden rewritten by UPDATE_GOLDEN=1
// cannot quietly change what a firmware is told.
import { describe, expect, it } from "vitest";
import { hex } from "../../relay/bytes.ts";
import { OPT, vendorClass } from "../../relay/dhcp/options.ts";
import { decodeDhcp, encodeDhcp, type DhcpPacket } from "../../relay/dhcp/packet.ts";
import { BOOT_IPXE_QUERY, buildProxyReply, type ProxyContext, type ProxyReply, type ReceivedOn } from "../../relay/dhcp/proxy.ts";
import type { IpxeBuild } from "../../worker/shared/ipxeBuild.ts";
import { capture, DHCP_FIXTURES } from "./support/captures.ts";
import { annotatedHex, expectGolden } from "./support/golden.ts";
import { proxyContext, RELAY_HTTP, RELAY_IP } from "./support/proxyContext.ts";

const RELAY = RELAY_IP;
const BASE = RELAY_HTTP;
const ALL_BINARIES = ["undionly.kpxe", "ipxe.efi", "snponly.efi", "ipxe-arm64.efi", "snponly-arm64.efi"];
const OVMF_MAC = "52:54:00:eb:00:01";
const AAVMF_MAC = "52:54:00:eb:00:04";
const AAVMF_HTTP_MAC = "52:54:00:eb:00:05";
const OVMF_HTTP_MAC = "52:54:00:eb:00:03";

const ctx = (builds: Record<string, IpxeBuild> = {}, over: Partial<ProxyContext> = {}): ProxyContext =>
  proxyContext({ hasBinary: (n) => ALL_BINARIES.includes(n), ipxeBuildFor: (mac) => (mac ? (builds[mac] ?? null) : null), ...over });

type Case = {
  name: string;
  capture: string;
  on: ReceivedOn;
  ctx: ProxyContext;
  // What the firmware must be told, checked on the decoded wire bytes.
  expect: { type: number; vendor: string; file: string; opt67: string | null; opt43: string | null; to: { address: string; port: number }; build?: IpxeBuild };
};

// EDK2 (OVMF, AAVMF) sends its 4011 request from port 4011; iPXE from 68. The source address is its ciaddr.
const source = (req: DhcpPacket, name: string, on: ReceivedOn) =>
  on === "dhcp" ? { address: "0.0.0.0", port: 68 } : { address: req.ciaddr, port: /^(ovmf|aavmf)-/.test(name) ? 4011 : 68 };

const bcast = { address: "255.255.255.255", port: 68 };
const bootIpxe = `${BASE}/boot.ipxe?${BOOT_IPXE_QUERY}`;
const CASES: Case[] = [
  {
    name: "arm64-uefi-pxe-discover",
    capture: "aavmf-arm64-discover.bin",
    on: "dhcp",
    ctx: ctx(),
    // Strategy A: no option 43, so AAVMF confirms on 4011 (its request there is the next case).
    expect: { type: 2, vendor: "PXEClient", file: "ipxe-arm64.efi", opt67: null, opt43: null, to: bcast },
  },
  {
    name: "arm64-uefi-pxe-request-4011",
    capture: "aavmf-arm64-request-4011.bin",
    on: "proxy",
    ctx: ctx(),
    expect: { type: 5, vendor: "PXEClient", file: "ipxe-arm64.efi", opt67: null, opt43: null, to: { address: "10.213.0.113", port: 4011 } },
  },
  {
    name: "ipxe-arm64-discover",
    capture: "ipxe-arm64-discover.bin",
    on: "dhcp",
    ctx: ctx(),
    // Already iPXE: the script URL, never a binary again; 43.6 = 8 so it skips 4011.
    expect: { type: 2, vendor: "PXEClient", file: bootIpxe, opt67: null, opt43: "060108ff", to: bcast },
  },
  {
    name: "ipxe-arm64-request-4011",
    capture: "ipxe-arm64-request-4011.bin",
    on: "proxy",
    ctx: ctx(),
    expect: { type: 5, vendor: "PXEClient", file: bootIpxe, opt67: null, opt43: null, to: { address: "10.213.0.113", port: 68 } },
  },
  {
    name: "http-boot-x64-discover",
    capture: "ovmf-http-x64-discover.bin",
    on: "dhcp",
    ctx: ctx(),
    // HTTPClient echoed, the URL in option 67 (and in `file`), no option 43.
    expect: { type: 2, vendor: "HTTPClient", file: `${BASE}/ipxe.efi`, opt67: `${BASE}/ipxe.efi`, opt43: null, to: bcast },
  },
  {
    name: "http-boot-arm64-discover",
    capture: "aavmf-http-arm64-discover.bin",
    on: "dhcp",
    ctx: ctx(),
    expect: { type: 2, vendor: "HTTPClient", file: `${BASE}/ipxe-arm64.efi`, opt67: `${BASE}/ipxe-arm64.efi`, opt43: null, to: bcast },
  },
  {
    name: "override-snponly-x64-request-4011",
    capture: "ovmf-x64-request-4011.bin",
    on: "proxy",
    ctx: ctx({ [OVMF_MAC]: "snponly" }),
    expect: { type: 5, vendor: "PXEClient", file: "snponly.efi", opt67: null, opt43: null, to: { address: "10.213.0.110", port: 4011 }, build: "snponly" },
  },
  {
    name: "override-snponly-arm64-request-4011",
    capture: "aavmf-arm64-request-4011.bin",
    on: "proxy",
    ctx: ctx({ [AAVMF_MAC]: "snponly" }),
    expect: { type: 5, vendor: "PXEClient", file: "snponly-arm64.efi", opt67: null, opt43: null, to: { address: "10.213.0.113", port: 4011 }, build: "snponly" },
  },
  {
    name: "override-snponly-http-arm64-discover",
    capture: "aavmf-http-arm64-discover.bin",
    on: "dhcp",
    ctx: ctx({ [AAVMF_HTTP_MAC]: "snponly" }),
    expect: { type: 2, vendor: "HTTPClient", file: `${BASE}/snponly-arm64.efi`, opt67: `${BASE}/snponly-arm64.efi`, opt43: null, to: bcast, build: "snponly" },
  },
  {
    name: "override-ipxe-http-x64-discover-site-snponly",
    capture: "ovmf-http-x64-discover.bin",
    on: "dhcp",
    // The site default is snponly.efi; this host asks for the full build.
    ctx: ctx({ [OVMF_HTTP_MAC]: "ipxe" }, { uefiBinary: "snponly.efi" }),
    expect: { type: 2, vendor: "HTTPClient", file: `${BASE}/ipxe.efi`, opt67: `${BASE}/ipxe.efi`, opt43: null, to: bcast, build: "ipxe" },
  },
];

// One line per 16 bytes with its offset, so a golden diff points at the field that moved.
const hexDump = (bytes: Uint8Array, header: string) =>
  `${header}${Array.from({ length: Math.ceil(bytes.length / 16) }, (_, i) => `${hex(bytes.subarray(i * 16, i * 16 + 16)).replace(/(..)/g, "$1 ").trim()}  # ${(i * 16).toString(16).padStart(4, "0")}`).join("\n")}\n`;

describe("golden proxy replies: arm64, UEFI HTTP Boot, per-host iPXE builds", () => {
  it.each(CASES)("$name ($capture on $on)", (c) => {
    const req = decodeDhcp(capture(c.capture));
    const d = buildProxyReply(req, c.on, source(req, c.capture, c.on), c.ctx);
    if (d.kind !== "reply") throw new Error(`expected a reply, got ignore(${d.reason}: ${d.detail ?? ""})`);
    const bytes = encodeDhcp((d as ProxyReply).packet);
    const golden = `${DHCP_FIXTURES}arch/${c.name}.hex`;
    expectGolden(golden, hexDump(bytes, `# proxy reply to ${c.capture} received on ${c.on === "dhcp" ? 67 : 4011} (test/relay/dhcp-arch-golden.test.ts)\n`));
    // The golden is the packet: decoding it gives the reply back, and it is what the firmware is told.
    const wire = decodeDhcp(annotatedHex(hexDump(bytes, "")));
    expect(hex(encodeDhcp(wire))).toBe(hex(bytes));
    const e = c.expect;
    expect(wire.options.get(OPT.MESSAGE_TYPE)?.[0]).toBe(e.type);
    expect(wire).toMatchObject({ op: 2, xid: req.xid, yiaddr: "0.0.0.0", siaddr: RELAY, file: e.file });
    expect(hex(wire.chaddr)).toBe(hex(req.chaddr));
    expect(vendorClass(wire.options)).toBe(e.vendor);
    expect(hex(wire.options.get(OPT.SERVER_ID)!)).toBe("0ad50003");
    const opt67 = wire.options.get(OPT.BOOTFILE_NAME);
    expect(opt67 ? new TextDecoder().decode(opt67) : null).toBe(e.opt67);
    const opt43 = wire.options.get(OPT.VENDOR_SPECIFIC);
    expect(opt43 ? hex(opt43) : null).toBe(e.opt43);
    // Nothing that configures an address: the site DHCP server does that.
    for (const code of [1, 3, 6, 51, 58, 59]) expect(wire.options.has(code), `option ${code}`).toBe(false);
    expect(d.to).toEqual(e.to);
    // The override is named in the reply (the dhcp-offer event and the log say which build the host got).
    expect(d.ipxeBuild).toBe(e.build);
  });

  it("reads arch 11 / 16 / 19 and the vendor classes the firmware really sent", () => {
    const cls = (name: string) => vendorClass(decodeDhcp(capture(name)).options);
    expect(cls("aavmf-arm64-discover.bin")).toBe("PXEClient:Arch:00011:UNDI:003000");
    expect(cls("ipxe-arm64-discover.bin")).toBe("PXEClient"); // iPXE 1.21.1+git2025: no Arch suffix; option 93 says 11
    expect(cls("ovmf-http-x64-discover.bin")).toBe("HTTPClient:Arch:00016:UNDI:003000");
    expect(cls("aavmf-http-arm64-discover.bin")).toBe("HTTPClient:Arch:00019:UNDI:003000");
    const d = buildProxyReply(decodeDhcp(capture("ipxe-arm64-discover.bin")), "dhcp", { address: "0.0.0.0", port: 68 }, ctx());
    // trixie's arm64 iPXE advertises HTTPS (175.20).
    expect(d.kind === "reply" && d.client).toMatchObject({ arch: 11, platform: "uefi-arm64", ipxe: true, https: true });
  });

  it("stays silent, with a reason naming the override, when the host's build is not in the binaries directory", () => {
    // Debian 13 ships no arm64 snponly build: a host asking for one is not handed the full build instead.
    const debian = ctx({ [AAVMF_MAC]: "snponly" }, { hasBinary: (n) => ["ipxe.efi", "snponly.efi", "ipxe-arm64.efi"].includes(n) });
    const req = decodeDhcp(capture("aavmf-arm64-discover.bin"));
    expect(buildProxyReply(req, "dhcp", { address: "0.0.0.0", port: 68 }, debian)).toEqual({
      kind: "ignore",
      reason: "binary_missing",
      mac: AAVMF_MAC,
      detail: "snponly-arm64.efi (the host's ipxeBuild is snponly)",
    });
    // Another arm64 host on the same relay still gets the default.
    const other = decodeDhcp(capture("aavmf-arm64-discover.bin"));
    other.chaddr[5] = 0x99;
    const d = buildProxyReply(other, "dhcp", { address: "0.0.0.0", port: 68 }, debian);
    expect(d.kind === "reply" && d.packet.file).toBe("ipxe-arm64.efi");
  });
});
