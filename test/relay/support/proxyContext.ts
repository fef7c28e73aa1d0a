// The proxyDHCP decision's context as the DHCP tests use it: the relay at 10.213.0.3, Debian's binary names, BINL
// offers, every binary present. Each test overrides what it is about.
import type { ProxyContext } from "../../../relay/dhcp/proxy.ts";

export const RELAY_IP = "10.213.0.3";
export const RELAY_HTTP = `http://${RELAY_IP}:8067`;

export const proxyContext = (over: Partial<ProxyContext> = {}): ProxyContext => ({
  serverIp: RELAY_IP,
  httpBase: RELAY_HTTP,
  biosBinary: "undionly.kpxe",
  uefiBinary: "ipxe.efi",
  arm64Binary: "ipxe-arm64.efi",
  offerMode: "binl",
  offerModeOverrides: [],
  hasBinary: () => true,
  ...over,
});
