// Which IP↔MAC binding a DHCP packet teaches the relay, if any (pure). REQUESTs (and 4011 INFORMs) from PXE or iPXE
// clients are boot claims (they decide who gets a chain); other clients' REQUESTs on 67 are `os` claims, kept apart:
// they only let the /h/ proxy vouch for the MAC of an installed OS whose DHCP client leased another address than iPXE.
// The relay listens on 67 and 4011, not 68, so it never sees the site server's ACK: a REQUEST names the address the
// client is taking, and until the client uses it the claim is only provisional (clients.ts).
//  - 67, broadcast REQUEST (SELECTING / INIT-REBOOT; source 0.0.0.0): option 50; REBINDING: ciaddr from that source.
//    A relayed one (giaddr set, an allowed agent) comes from the agent, so the source is not the client's.
//  - 4011 REQUEST/INFORM: unicast from the client's configured address; ciaddr, if set, must agree with the source.
import type { Claim } from "./clients.ts";
import { ipOption, messageType, MSG, OPT, userClasses, vendorClass } from "./options.ts";
import { macOf, type DhcpPacket } from "./packet.ts";
import type { ReceivedOn, Source } from "./proxy.ts";

const ZERO = "0.0.0.0";

export function claimFrom(req: DhcpPacket, on: ReceivedOn, from: Source): Claim | null {
  const type = messageType(req.options);
  if (type !== MSG.REQUEST && !(on === "proxy" && type === MSG.INFORM)) return null;
  const mac = macOf(req);
  if (!mac) return null;
  const vendor = vendorClass(req.options) ?? "";
  const ipxe = userClasses(req.options).includes("iPXE") || req.options.has(OPT.IPXE);
  const os = !ipxe && !vendor.startsWith("PXEClient") && !vendor.startsWith("HTTPClient");
  const relayed = req.giaddr !== ZERO;
  if (on === "proxy") {
    if (os) return null;
    if (from.address === ZERO || (req.ciaddr !== ZERO && req.ciaddr !== from.address)) return null;
    return { ip: from.address, mac, ipxe, source: "pxe-request" };
  }
  const ip = ipOption(req.options, OPT.REQUESTED_IP) ?? (req.ciaddr !== ZERO ? req.ciaddr : null);
  if (!ip) return null;
  if (!relayed && from.address !== ZERO && from.address !== ip) return null;
  // Sent from the address it names (REBINDING): the client already uses it, so the claim is confirmed (clients.ts).
  const used = !relayed && from.address === ip;
  return { ip, mac, ipxe, source: "dhcp-request", ...(os ? { os: true } : {}), ...(used ? { used: true } : {}) };
}
