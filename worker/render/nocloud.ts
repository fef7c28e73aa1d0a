// meta-data, the NoCloud document we generate ourselves, pure. Every operator-supplied scalar is written as a YAML
// double-quoted scalar with PyYAML's line breaks and refused characters escaped (pyyaml.ts), so no value can add keys
// or lines, or make cloud-init drop the document.
// Keys for Alpine's tiny-cloud (see TINY-CLOUD.md): `public-keys` (its @ssh-keys: public-keys/<n>/openssh-key),
// `network-interfaces` (ifupdown-ng text) and `resolv_conf.nameservers`. cloud-init ignores `resolv_conf`, and a
// public-keys map of maps yields no keys there (cloudinit.sources.normalize_pubkey_data), so users and keys for
// cloud-init come from user-data.
import type { StaticNetwork } from "../db/schema.ts";
import { renderEni } from "./netconfig.ts";
import { doubleQuoted as q } from "./pyyaml.ts";

/**
 * instance-id is `iid-<host id>`: stable for the life of the host record. It does not change with the profile on
 * purpose: a persistent OS would otherwise re-run its first-boot modules (new SSH host keys, users) whenever an
 * operator edits the host; a reinstall wipes the disk and so starts cloud-init afresh anyway.
 */
export function renderMetaData(meta: { hostId: string; hostname: string; publicKeys?: string[]; network?: StaticNetwork | null }): string {
  const lines = [`instance-id: ${q(`iid-${meta.hostId}`)}`, `local-hostname: ${q(meta.hostname)}`, `hostname: ${q(meta.hostname)}`];
  if (meta.publicKeys?.length) {
    lines.push("public-keys:");
    meta.publicKeys.forEach((key, i) => lines.push(`  "${i}":`, `    openssh-key: ${q(key)}`));
  }
  if (meta.network) {
    lines.push(`network-interfaces: ${q(renderEni(meta.network))}`);
    if (meta.network.nameservers?.length) lines.push("resolv_conf:", `  nameservers: [${meta.network.nameservers.map(q).join(", ")}]`);
  }
  lines.push("");
  return lines.join("\n");
}

// A hostname for hosts that have none yet: stable and derived from the MAC (or the host id).
export function fallbackHostname(mac: string | null, hostId: string): string {
  return mac ? `host-${mac.replace(/:/g, "")}` : `host-${hostId.replace(/[^A-Za-z0-9]/g, "").slice(0, 12).toLowerCase()}`;
}

