// NoCloud documents we generate ourselves (meta-data, network-config v2), pure. Every operator-supplied scalar is
// written as a JSON string, which is also a valid YAML double-quoted scalar, so no value can add keys or lines.
import type { StaticNetwork } from "../db/schema.ts";

const q = (value: string) => JSON.stringify(value);

/**
 * instance-id is `iid-<host id>`: stable for the life of the host record. It does not change with the profile on
 * purpose: a persistent OS would otherwise re-run its first-boot modules (new SSH host keys, users) whenever an
 * operator edits the host; a reinstall wipes the disk and so starts cloud-init afresh anyway.
 */
export function renderMetaData(meta: { hostId: string; hostname: string }): string {
  return [`instance-id: ${q(`iid-${meta.hostId}`)}`, `local-hostname: ${q(meta.hostname)}`, `hostname: ${q(meta.hostname)}`, ""].join("\n");
}

// A hostname for hosts that have none yet: stable and derived from the MAC (or the host id).
export function fallbackHostname(mac: string | null, hostId: string): string {
  return mac ? `host-${mac.replace(/:/g, "")}` : `host-${hostId.replace(/[^A-Za-z0-9]/g, "").slice(0, 12).toLowerCase()}`;
}

const list = (items: string[]) => `[${items.map(q).join(", ")}]`;

/**
 * Netplan-style v2 from the host's static addressing. The interface is matched by name when the operator gave one,
 * else by the host's MAC; default routes use 0.0.0.0/0 and ::/0 (gateway4/6 are deprecated in v2).
 */
export function renderStaticNetworkConfig(net: StaticNetwork, mac: string | null): string {
  const lines = ["network:", "  version: 2", "  ethernets:"];
  if (net.interface) {
    lines.push(`    ${q(net.interface)}:`);
  } else if (mac) {
    lines.push('    "primary":', "      match:", `        macaddress: ${q(mac)}`);
  } else {
    lines.push('    "primary":', "      match:", '        name: "e*"');
  }
  lines.push("      dhcp4: false", "      dhcp6: false", `      addresses: ${list(net.addresses)}`);
  const routes: string[] = [];
  if (net.gateway4) routes.push(`        - to: "0.0.0.0/0"`, `          via: ${q(net.gateway4)}`);
  if (net.gateway6) routes.push(`        - to: "::/0"`, `          via: ${q(net.gateway6)}`);
  if (routes.length) lines.push("      routes:", ...routes);
  if (net.nameservers?.length || net.searchDomains?.length) {
    lines.push("      nameservers:");
    if (net.nameservers?.length) lines.push(`        addresses: ${list(net.nameservers)}`);
    if (net.searchDomains?.length) lines.push(`        search: ${list(net.searchDomains)}`);
  }
  lines.push("");
  return lines.join("\n");
}
