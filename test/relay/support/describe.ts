import { hex } from "../../../relay/bytes.ts";
import { clientArchs, clientGuid, clientNdi, guidToUuid, ipxeFeatures, messageType, userClasses, vendorClass } from "../../../relay/dhcp/options.ts";
import { macOf, type DhcpPacket } from "../../../relay/dhcp/packet.ts";

// A readable, stable rendering of a decoded DHCP packet for golden files.
export function describePacket(p: DhcpPacket) {
  return {
    op: p.op,
    htype: p.htype,
    hlen: p.hlen,
    hops: p.hops,
    xid: `0x${p.xid.toString(16).padStart(8, "0")}`,
    secs: p.secs,
    flags: `0x${p.flags.toString(16).padStart(4, "0")}`,
    ciaddr: p.ciaddr,
    yiaddr: p.yiaddr,
    siaddr: p.siaddr,
    giaddr: p.giaddr,
    mac: macOf(p),
    sname: p.sname,
    file: p.file,
    options: [...p.options].map(([code, value]) => `${code}: ${hex(value)}`),
    decoded: {
      messageType: messageType(p.options),
      vendorClass: vendorClass(p.options),
      clientArchs: clientArchs(p.options),
      clientNdi: clientNdi(p.options),
      guid: clientGuid(p.options) ? hex(clientGuid(p.options)!) : null,
      uuid: guidToUuid(clientGuid(p.options)),
      userClasses: userClasses(p.options),
      ipxeFeatures: ipxeFeatures(p.options) ? [...ipxeFeatures(p.options)!].map(([c, v]) => `0x${c.toString(16)}=${hex(v)}`) : null,
    },
  };
}

