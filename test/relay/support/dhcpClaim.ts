// Real firmware packets re-addressed for loopback tests: a captured iPXE REQUEST with another MAC, address and server
// id, so a test can make the relay learn "MAC holds IP" the way a booting machine teaches it.
import { ipToBytes, decodeDhcp, encodeDhcp } from "../../../relay/dhcp/packet.ts";
import { OPT } from "../../../relay/dhcp/options.ts";
import { capture } from "./captures.ts";
import { UdpPeer } from "./udp.ts";

const macBytes = (mac: string) => Uint8Array.from(mac.split(":"), (h) => parseInt(h, 16));

export function rewrite(file: string, opts: { mac?: string; ciaddr?: string; requestedIp?: string; serverId?: string; giaddr?: string }): Uint8Array {
  const p = decodeDhcp(capture(file));
  if (opts.mac) p.chaddr.set(macBytes(opts.mac), 0);
  if (opts.ciaddr) p.ciaddr = opts.ciaddr;
  if (opts.giaddr) p.giaddr = opts.giaddr;
  if (opts.requestedIp) p.options.set(OPT.REQUESTED_IP, ipToBytes(opts.requestedIp));
  if (opts.serverId) p.options.set(OPT.SERVER_ID, ipToBytes(opts.serverId));
  return encodeDhcp(p);
}

// iPXE's ProxyDHCPREQUEST to the relay's 4011, sent from `ip` (a 127.0.0.0/8 address) as the machine would, and
// retransmitted as iPXE does until the ACK says the relay processed it (a relay still starting, on a loaded machine,
// may miss the first one).
export async function claimVia4011(relayPort: number, mac: string, ip: string, relayIp = "127.0.0.1"): Promise<void> {
  const peer = await UdpPeer.bind(0, ip);
  try {
    const request = rewrite("ipxe-efi-request-4011.bin", { mac, ciaddr: ip, serverId: relayIp });
    for (let attempt = 1; attempt <= 5; attempt++) {
      await peer.send(request, relayPort, relayIp);
      if (await peer.next(2000)) return;
    }
    throw new Error(`the relay on ${relayIp}:${relayPort} did not ACK the 4011 REQUEST of ${mac} in 5 tries`);
  } finally {
    await peer.close();
  }
}
