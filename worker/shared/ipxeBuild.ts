// A host's iPXE build override, shared by the API (validation, relay sync) and the relay (which file it serves).
// The values are iPXE's own build targets (`make bin-x86_64-efi/ipxe.efi`, `…/snponly.efi`), not file names: the
// relay maps build + the firmware's architecture (DHCP option 93) to a file in its binaries directory.
//   ipxe    — all of iPXE's own NIC drivers (plus SNP for NICs it has none for).
//   snponly — only the UEFI network stack of the NIC the firmware booted from (SNP/NII): no driver of iPXE's own to
//             fight the firmware's, works on any NIC the firmware can drive; as good as the firmware's driver.
export const IPXE_BUILDS = ["ipxe", "snponly"] as const;
export type IpxeBuild = (typeof IPXE_BUILDS)[number];

export const isIpxeBuild = (v: unknown): v is IpxeBuild => typeof v === "string" && (IPXE_BUILDS as readonly string[]).includes(v);
