// Which iPXE binary a firmware client gets (pure). Per architecture the relay's flags name the default (--bios-binary,
// --uefi-binary, --arm64-binary); a host whose synced record sets ipxeBuild (worker/shared/ipxeBuild.ts) gets that
// build's file for the architecture its firmware reported in option 93, over TFTP or UEFI HTTP Boot alike.
// BIOS is not overridden: its PXE ROM is chained to undionly.kpxe, or is already iPXE.
import { isIpxeBuild, type IpxeBuild } from "../../worker/shared/ipxeBuild.ts";
import type { Platform } from "./proxy.ts";

// File names as Debian ships them (bookworm: ipxe.efi, snponly.efi; trixie adds ipxe-arm64.efi). Debian 13 has no
// arm64 snponly build: `make bin-arm64-efi/snponly.efi` from iPXE's source, saved as snponly-arm64.efi.
export const BUILD_FILES = {
  x64: { ipxe: "ipxe.efi", snponly: "snponly.efi" },
  arm64: { ipxe: "ipxe-arm64.efi", snponly: "snponly-arm64.efi" },
} as const satisfies Record<string, Record<IpxeBuild, string>>;

export type BinaryDefaults = { biosBinary: string; uefiBinary: string; arm64Binary: string };
export type BinaryChoice = { file: string; build: IpxeBuild | null };

export function chooseBinary(platform: Platform, build: IpxeBuild | null, defaults: BinaryDefaults): BinaryChoice {
  if (platform === "bios") return { file: defaults.biosBinary, build: null };
  const arm64 = platform === "uefi-arm64" || platform === "http-arm64";
  if (build) return { file: BUILD_FILES[arm64 ? "arm64" : "x64"][build], build };
  return { file: arm64 ? defaults.arm64Binary : defaults.uefiBinary, build: null };
}

// The relay's view of the overrides, from its last sync snapshot (kept on disk): MAC -> build. Hosts without a MAC,
// without an override, or with a value this relay does not know (a newer API) get the default.
export function ipxeBuildsFrom(hosts: ReadonlyArray<{ mac: string | null } & Record<string, unknown>>): Map<string, IpxeBuild> {
  const out = new Map<string, IpxeBuild>();
  for (const h of hosts) if (h.mac && isIpxeBuild(h.ipxeBuild)) out.set(h.mac.toLowerCase(), h.ipxeBuild);
  return out;
}
