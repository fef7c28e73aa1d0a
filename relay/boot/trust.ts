// The API's root CA fingerprints as iPXE's `trust` setting (DHCP option 175.90, `include/ipxe/dhcp.h` DHCP_EB_TRUST):
// iPXE reads `trust` once, at startup, and ignores a later `set trust` (`crypto/rootcert.c`: "only at the point of
// iPXE initialisation"). The one startup-time source the relay reaches is the DHCP packets a UEFI PXE firmware
// cached before it started ipxe.efi (the proxy offer and the 4011 ACK: `core/cachedhcp.c` applies them at
// STARTUP_EARLY, before rootcert's STARTUP_LATE). See relay/README.md, "Direct HTTPS".
import { encodeTlvs } from "../dhcp/options.ts";

export const IPXE_TRUST_OPTION = 0x5a;
const FINGERPRINT_BYTES = 32;

/** Option 175's value carrying 175.90 = the fingerprints (hex, 64 digits each), or null when there are none. */
export function ipxeTrustOption(fingerprints: readonly string[]): Uint8Array | null {
  if (fingerprints.length === 0) return null;
  if (fingerprints.length * FINGERPRINT_BYTES > 255) throw new Error("at most 7 fingerprints fit in option 175.90");
  const value = new Uint8Array(fingerprints.length * FINGERPRINT_BYTES);
  fingerprints.forEach((hex, i) => {
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`not a SHA-256 fingerprint: ${hex.slice(0, 80)}`);
    value.set(Buffer.from(hex, "hex"), i * FINGERPRINT_BYTES);
  });
  return encodeTlvs([{ code: IPXE_TRUST_OPTION, value }]);
}
