// The proxyDHCP decision as one pure function: a decoded request (and where it came from) in, a reply packet with
// its destination, or a reason to stay silent, out. Answered from local state only (PROTOCOLS.md §1.7: iPXE waits 2 s).
import type { OfferMode } from "../config.ts";
import { BOOTREPLY, BOOTREQUEST, FLAG_BROADCAST, ipToBytes, macOf, type DhcpOptions, type DhcpPacket } from "./packet.ts";
import {
  clientArchs,
  clientGuid,
  DISCOVERY_SKIP_IF_FILENAME,
  encodeTlvs,
  ipOption,
  IPXE_FEATURE,
  ipxeFeatures,
  messageType,
  MSG,
  OPT,
  PXE,
  pxeSubOptions,
  userClasses,
  vendorClass,
} from "./options.ts";
import { ascii } from "../bytes.ts";
import type { IpxeBuild } from "../../worker/shared/ipxeBuild.ts";
import { chooseBinary } from "./binaryChoice.ts";

// Option 93 values (RFC 4578 + IANA registry + EDK2 HttpBootDhcp4.h). 7 and 9 are both x64 (RFC 4578 errata).
export const ARCH = { BIOS: 0, EFI_IA32: 6, EFI_X64: 7, EFI_BC: 9, EFI_ARM32: 10, EFI_ARM64: 11, HTTP_IA32: 15, HTTP_X64: 16, HTTP_EBC: 17, HTTP_ARM32: 18, HTTP_ARM64: 19 } as const;

export type Platform = "bios" | "uefi-x64" | "uefi-arm64" | "http-x64" | "http-arm64";

const PLATFORM_BY_ARCH = new Map<number, Platform>([
  [ARCH.BIOS, "bios"],
  [ARCH.EFI_X64, "uefi-x64"],
  [ARCH.EFI_BC, "uefi-x64"],
  [ARCH.EFI_ARM64, "uefi-arm64"],
  [ARCH.HTTP_X64, "http-x64"],
  [ARCH.HTTP_EBC, "http-x64"],
  [ARCH.HTTP_ARM64, "http-arm64"],
]);

// The URL iPXE gets; iPXE expands the ${...} settings itself (PROTOCOLS.md §3.4). ${netX/mac} is the NIC iPXE just
// configured, which on multi-NIC machines is not always net0 (${mac}).
export const BOOT_IPXE_QUERY = "mac=${netX/mac}&uuid=${uuid}&serial=${serial:uristring}&arch=${buildarch}&platform=${platform}";

export type ProxyContext = {
  serverIp: string; // the relay's LAN address: siaddr, option 54, URLs
  httpBase: string; // http://<serverIp>:<httpPort>
  biosBinary: string;
  uefiBinary: string;
  arm64Binary: string;
  offerMode: OfferMode;
  offerModeOverrides: Array<{ prefix: string; mode: OfferMode }>;
  hasBinary: (name: string) => boolean;
  // The host's iPXE build override from the last sync snapshot (local state: the offer never waits on the API).
  ipxeBuildFor?: (mac: string | null) => IpxeBuild | null;
  // Option 175 with iPXE's `trust` (relay/boot/trust.ts), for UEFI firmware about to start ipxe.efi; null = none.
  ipxeTrust?: Uint8Array | null;
};

export type ReceivedOn = "dhcp" | "proxy"; // port 67 or port 4011
export type Source = { address: string; port: number };

export type ClientInfo = {
  mac: string | null;
  arch: number;
  platform: Platform;
  ipxe: boolean; // the client is already iPXE: hand it the script URL, never a binary (no chainload loop)
  https: boolean; // option 175 carries 0x14: iPXE can do HTTPS itself
  httpBoot: boolean;
};

export type ProxyReply = {
  kind: "reply";
  packet: DhcpPacket;
  to: Source;
  broadcast: boolean;
  client: ClientInfo;
  bootFile: string;
  ipxeBuild?: IpxeBuild; // the host's override, when it chose the binary (for the event and the log)
};
export type IgnoreReason =
  | "not_a_request"
  | "wrong_message_type"
  | "not_pxe_client"
  | "no_client_arch"
  | "unsupported_arch"
  | "other_server"
  | "binary_missing";
export type ProxyIgnore = { kind: "ignore"; reason: IgnoreReason; mac: string | null; detail?: string };
export type ProxyDecision = ProxyReply | ProxyIgnore;

const ignore = (reason: IgnoreReason, mac: string | null, detail?: string): ProxyIgnore => ({ kind: "ignore", reason, mac, ...(detail ? { detail } : {}) });

export function offerModeFor(mac: string | null, ctx: Pick<ProxyContext, "offerMode" | "offerModeOverrides">): OfferMode {
  if (ctx.offerModeOverrides.length === 0) return ctx.offerMode;
  const hex = (mac ?? "").replace(/:/g, "");
  let best: { prefix: string; mode: OfferMode } | null = null;
  for (const o of ctx.offerModeOverrides) if (hex.startsWith(o.prefix) && (!best || o.prefix.length > best.prefix.length)) best = o;
  return best?.mode ?? ctx.offerMode;
}

// What the request says about the client, or why it is not a PXE/HTTPClient client we can serve.
export function describeClient(req: DhcpPacket): ClientInfo | ProxyIgnore {
  const mac = macOf(req);
  const vendor = vendorClass(req.options) ?? "";
  const httpBoot = vendor.startsWith("HTTPClient");
  if (!httpBoot && !vendor.startsWith("PXEClient")) return ignore("not_pxe_client", mac);
  const archs = clientArchs(req.options);
  if (!archs) return ignore("no_client_arch", mac); // pixiecore also requires option 93
  // The first recognised entry wins (smee); HTTPClient vendor class only with HTTP Boot architectures and back.
  const arch = archs.find((a) => {
    const p = PLATFORM_BY_ARCH.get(a);
    return p !== undefined && p.startsWith("http") === httpBoot;
  });
  if (arch === undefined) return ignore("unsupported_arch", mac, `option 93 = ${archs.join(",")}`);
  const features = ipxeFeatures(req.options);
  const ipxe = userClasses(req.options).includes("iPXE") || features !== null;
  return { mac, arch, platform: PLATFORM_BY_ARCH.get(arch)!, ipxe, https: features?.has(IPXE_FEATURE.HTTPS) ?? false, httpBoot };
}

function bootFileFor(client: ClientInfo, ctx: ProxyContext): { bootFile: string; build: IpxeBuild | null } | ProxyIgnore {
  if (client.ipxe) return { bootFile: `${ctx.httpBase}/boot.ipxe?${BOOT_IPXE_QUERY}`, build: null };
  const { file: binary, build } = chooseBinary(client.platform, ctx.ipxeBuildFor?.(client.mac) ?? null, ctx);
  if (!ctx.hasBinary(binary)) return ignore("binary_missing", client.mac, build ? `${binary} (the host's ipxeBuild is ${build})` : binary);
  // UEFI HTTP Boot fetches the iPXE binary itself over HTTP (PROTOCOLS.md §4); iPXE then DHCPs as iPXE.
  return { bootFile: client.httpBoot ? `${ctx.httpBase}/${binary}` : binary, build };
}

function baseReply(req: DhcpPacket, ctx: ProxyContext, type: number, vendor: string, options: Array<[number, Uint8Array]>): DhcpPacket {
  const opts: DhcpOptions = new Map();
  opts.set(OPT.MESSAGE_TYPE, Uint8Array.of(type));
  opts.set(OPT.SERVER_ID, ipToBytes(ctx.serverIp));
  opts.set(OPT.VENDOR_CLASS, ascii(vendor));
  // Echo the client GUID (pixiecore, dnsmasq pxe_misc); a malformed or absent one is not echoed.
  const guid = clientGuid(req.options);
  if (guid) opts.set(OPT.CLIENT_GUID, guid);
  for (const [code, value] of options) opts.set(code, value);
  // RFC 3046 §2.2: a relay agent expects its option 82 back unchanged.
  const agent = req.options.get(OPT.RELAY_AGENT_INFO);
  if (agent && req.giaddr !== "0.0.0.0") opts.set(OPT.RELAY_AGENT_INFO, agent);
  return {
    op: BOOTREPLY,
    htype: req.htype,
    hlen: req.hlen,
    hops: 0,
    xid: req.xid,
    secs: 0,
    flags: 0,
    ciaddr: "0.0.0.0",
    yiaddr: "0.0.0.0", // never an address: a zero yiaddr is what makes this a proxy offer (EDK2, iPXE)
    siaddr: ctx.serverIp,
    giaddr: req.giaddr,
    chaddr: req.chaddr,
    sname: "",
    file: "",
    options: opts,
  };
}

// `file` holds at most 127 characters; a longer URL goes to option 67 with `file` left empty (PROTOCOLS.md §3.4, §7.15).
// HTTP Boot gets its URL in option 67 as well: EDK2 reads 67 first and `file` otherwise (PROTOCOLS.md §4), and the UEFI
// spec's HTTP Boot offer names option 67, which is what other vendors' firmware may read.
function setBootFile(p: DhcpPacket, bootFile: string, httpBoot = false): void {
  if (bootFile.length <= 127) p.file = bootFile;
  if (bootFile.length > 127 || httpBoot) p.options.set(OPT.BOOTFILE_NAME, ascii(bootFile));
}

export function buildProxyReply(req: DhcpPacket, on: ReceivedOn, from: Source, ctx: ProxyContext): ProxyDecision {
  if (req.op !== BOOTREQUEST) return ignore("not_a_request", macOf(req));
  const type = messageType(req.options);
  // dnsmasq and pixiecore: DISCOVER only on 67 (a REQUEST there is for the site DHCP server); REQUEST/INFORM on 4011.
  if (on === "dhcp" && type !== MSG.DISCOVER) return ignore("wrong_message_type", macOf(req), `type ${type ?? "none"} on 67`);
  if (on === "proxy" && type !== MSG.REQUEST && type !== MSG.INFORM) return ignore("wrong_message_type", macOf(req), `type ${type ?? "none"} on 4011`);
  const client = describeClient(req);
  if ("kind" in client) return client;
  if (on === "proxy") {
    // iPXE puts the proxy's id in option 54; a request naming another proxy is not ours.
    const serverId = ipOption(req.options, OPT.SERVER_ID);
    if (serverId && serverId !== ctx.serverIp) return ignore("other_server", client.mac);
  }
  const chosen = bootFileFor(client, ctx);
  if ("kind" in chosen) return chosen;
  const { bootFile } = chosen;
  const build = chosen.build ? { ipxeBuild: chosen.build } : {};

  if (on === "dhcp") {
    const options: Array<[number, Uint8Array]> = [];
    // Strategy A (PROTOCOLS.md §1.6): UEFI PXE firmware gets no option 43, so it confirms on 4011 ("BINL"), which all
    // firmwares support. BIOS ROMs, iPXE and strategy B get 43.6 = 8: skip discovery, boot `file` now.
    const uefiFirmware = !client.ipxe && !client.httpBoot && client.platform !== "bios";
    if (!client.httpBoot && (!uefiFirmware || offerModeFor(client.mac, ctx) === "pxe43")) {
      options.push([OPT.VENDOR_SPECIFIC, encodeTlvs([{ code: PXE.DISCOVERY_CONTROL, value: Uint8Array.of(DISCOVERY_SKIP_IF_FILENAME) }])]);
    }
    if (uefiFirmware && ctx.ipxeTrust) options.push([OPT.IPXE, ctx.ipxeTrust]);
    const reply = baseReply(req, ctx, MSG.OFFER, client.httpBoot ? "HTTPClient" : "PXEClient", options);
    reply.flags = FLAG_BROADCAST;
    setBootFile(reply, bootFile, client.httpBoot);
    // RFC 2131 §4.1: relayed requests go back to the relay agent on 67; otherwise broadcast (yiaddr is 0).
    const relayed = req.giaddr !== "0.0.0.0";
    return {
      kind: "reply",
      packet: reply,
      to: relayed ? { address: req.giaddr, port: 67 } : { address: "255.255.255.255", port: 68 },
      broadcast: !relayed,
      client,
      bootFile,
      ...build,
    };
  }

  // Port 4011: an ACK from the 4011 socket to the request's source IP and port (EDK2 sends from 4011, iPXE from 68).
  const options: Array<[number, Uint8Array]> = [];
  const bootItem = pxeSubOptions(req.options)?.get(PXE.BOOT_ITEM);
  // PXE boot-server discovery (43.71): iPXE's pxebs only accepts a reply echoing the boot item it asked for.
  if (bootItem && bootItem.length === 4) options.push([OPT.VENDOR_SPECIFIC, encodeTlvs([{ code: PXE.BOOT_ITEM, value: bootItem }])]);
  if (!client.ipxe && !client.httpBoot && client.platform !== "bios" && ctx.ipxeTrust) options.push([OPT.IPXE, ctx.ipxeTrust]);
  const reply = baseReply(req, ctx, MSG.ACK, "PXEClient", options);
  reply.ciaddr = req.ciaddr;
  reply.flags = req.flags & FLAG_BROADCAST;
  setBootFile(reply, bootFile);
  const unknownSource = from.address === "0.0.0.0";
  return {
    kind: "reply",
    packet: reply,
    to: unknownSource ? { address: "255.255.255.255", port: from.port } : from,
    broadcast: unknownSource,
    client,
    bootFile,
    ...build,
  };
}
