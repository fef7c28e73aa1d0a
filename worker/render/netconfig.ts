// Network configuration from a host's static addressing (host.network), pure. One model, three outputs:
// - cloud-init network config version 1 (the HTTP `network-config` file and, gzipped + base64, the `network-config=`
//   kernel argument that cloud-init 22.4 reads at init-local; 22.4 never fetches network-config over HTTP);
// - ENI text for tiny-cloud's meta-data `network-interfaces` (ifupdown-ng syntax, written verbatim to
//   /etc/network/interfaces).
// Version 1 rather than 2: cloud-init 22.4's eni renderer writes a junk `dns` line for every v2 document, a v2
// default route `to: ::/0` becomes a ::/64 route in eni and networkd, and a v2 `match` without `set-name` is never
// renamed; v1 `physical` with `mac_address` + `name` renames the NIC at init-local in every renderer, and a subnet
// `gateway` is a true default route (checked with cloud-init's own `devel net-convert`, test/interop/).
import type { StaticNetwork } from "../db/schema.ts";
import { inPrefix } from "./cidr.ts";

// Name of the NIC when only its MAC is known: cloud-init renames the MAC's interface to it.
export const DEFAULT_INTERFACE = "eth0";
export const DEFAULT_BOND = "bond0";

type Subnet = Record<string, unknown>;
type V1Entry = Record<string, unknown>;

// Each family's default route goes on the subnet whose prefix holds the gateway (else the family's first): ifupdown
// (cloud-init's eni renderer) adds the route with that stanza, and a gateway outside its prefix is unreachable there.
function subnets(net: StaticNetwork): Subnet[] {
  const carrier = (gw: string | undefined, v6: boolean) => {
    if (!gw) return -1;
    const i = net.addresses.findIndex((a) => a.includes(":") === v6 && inPrefix(gw, a));
    return i >= 0 ? i : net.addresses.findIndex((a) => a.includes(":") === v6);
  };
  const on4 = carrier(net.gateway4, false);
  const on6 = carrier(net.gateway6, true);
  return net.addresses.map((address, i) => {
    const subnet: Subnet = { type: address.includes(":") ? "static6" : "static", address };
    if (i === on4) subnet.gateway = net.gateway4;
    if (i === on6) subnet.gateway = net.gateway6;
    return subnet;
  });
}

/** The addressed interface's name (bond, VLAN or NIC) and the links under it. */
export function interfaceNames(net: StaticNetwork): { link: string; addressed: string; members: string[] } {
  const link = net.bond ? (net.bond.name ?? DEFAULT_BOND) : (net.interface ?? DEFAULT_INTERFACE);
  const members = net.bond ? net.bond.interfaces.map((_, i) => `${link}p${i}`) : [];
  return { link, addressed: net.vlan ? `vlan${net.vlan}` : link, members };
}

/** cloud-init network config version 1 (unwrapped: `{version: 1, config: [...]}`). */
export function networkConfigV1(net: StaticNetwork, mac: string | null): { version: 1; config: V1Entry[] } {
  const { link, addressed, members } = interfaceNames(net);
  const config: V1Entry[] = [];
  const mtu = net.mtu ? { mtu: net.mtu } : {};
  if (net.bond) {
    net.bond.interfaces.forEach((memberMac, i) => config.push({ type: "physical", name: members[i], mac_address: memberMac, ...mtu }));
    config.push({
      type: "bond",
      name: link,
      bond_interfaces: members,
      params: { "bond-mode": net.bond.mode, "bond-miimon": 100, ...(net.bond.mode === "802.3ad" ? { "bond-xmit-hash-policy": "layer3+4" } : {}) },
      ...mtu,
    });
  } else {
    config.push({ type: "physical", name: link, ...(mac ? { mac_address: mac } : {}), ...mtu });
  }
  if (net.vlan) config.push({ type: "vlan", name: addressed, vlan_link: link, vlan_id: net.vlan, ...mtu });
  const target = config.find((e) => e.name === addressed)!;
  target.subnets = subnets(net);
  if (net.nameservers?.length || net.searchDomains?.length) {
    config.push({ type: "nameserver", address: net.nameservers ?? [], ...(net.searchDomains?.length ? { search: net.searchDomains } : {}) });
  }
  return { version: 1, config };
}

/** The HTTP `network-config` file: the same v1 config, under the `network:` key, as JSON (a YAML subset). */
export function renderStaticNetworkConfig(net: StaticNetwork, mac: string | null): string {
  return `${JSON.stringify({ network: networkConfigV1(net, mac) }, null, 2)}\n`;
}

async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function base64(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** Value of the `network-config=` kernel argument: base64 of gzip of compact JSON v1 (cloud-init's _b64dgz). */
export async function networkConfigArg(net: StaticNetwork, mac: string | null): Promise<string> {
  return base64(await gzip(JSON.stringify(networkConfigV1(net, mac))));
}

/**
 * tiny-cloud's meta-data `network-interfaces` (lib/tiny-cloud/cloud/nocloud/init, init__set_network_interfaces):
 * written verbatim to /etc/network/interfaces for ifupdown-ng. cloud-init reads the same meta-data key too (as a
 * last resort below the kernel argument and network-config) and its ENI parser raises on ifupdown-ng's bare
 * `iface eth0` and on a repeated stanza, which would abort its network stage. So the text keeps to the syntax both
 * accept: one `iface <name> inet static|manual` stanza per interface, every address and gateway inside it.
 * ifupdown-ng cannot match a MAC: the NIC is named as the operator gave it, else eth0 (Alpine keeps kernel names);
 * bond members are eth0, eth1… in probe order.
 */
export function renderEni(net: StaticNetwork): string {
  const { link, addressed } = interfaceNames(net);
  const lines = ["auto lo", "iface lo inet loopback", ""];
  const method = net.vlan ? "manual" : "static";
  lines.push(`auto ${link}`, `iface ${link} inet ${method}`);
  if (net.bond) lines.push("\tuse bond", `\tbond-members ${net.bond.interfaces.map((_, i) => `eth${i}`).join(" ")}`, `\tbond-mode ${net.bond.mode}`, "\tbond-miimon 100");
  if (net.vlan) lines.push("", `auto ${addressed}`, `iface ${addressed} inet static`, `\tvlan-raw-device ${link}`, `\tvlan-id ${net.vlan}`);
  for (const a of net.addresses) lines.push(`\taddress ${a}`);
  if (net.gateway4) lines.push(`\tgateway ${net.gateway4}`);
  if (net.gateway6) lines.push(`\tgateway ${net.gateway6}`);
  if (net.mtu) lines.push(`\tmtu ${net.mtu}`);
  return `${lines.join("\n")}\n`;
}
