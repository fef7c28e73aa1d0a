import { z } from "@hono/zod-openapi";
import type { BootIntent, StaticNetwork } from "../db/schema.ts";
import { inPrefix } from "../render/cidr.ts";
import { IPXE_BUILDS } from "../shared/ipxeBuild.ts";
import { Arch, CatalogueName, Hostname, Labels, Mac, Phase, Serial, Uuid, Vars } from "./schemas.ts";

// Host input shared by create, update and bulk import.

export const HOST_STATES = ["discovered", "ready", "booting", "booted", "installing", "installed", "failed"] as const;

const Domain = z
  .string()
  .max(253)
  .regex(/^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/, "a DNS domain");

const IfName = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,14}$/, "an interface name: a letter, then up to 14 letters, digits, '_' or '-'");

// Static addressing: cloud-init network config v1 on the kernel line (network-config=) and in the network-config
// file, ifupdown-ng text in meta-data for tiny-cloud (worker/render/netconfig.ts).
export const Network = z
  .strictObject({
    interface: IfName.optional(),
    addresses: z.array(z.union([z.cidrv4(), z.cidrv6()])).min(1).max(16),
    gateway4: z.ipv4().optional(),
    gateway6: z.ipv6().optional(),
    nameservers: z.array(z.union([z.ipv4(), z.ipv6()])).max(8).optional(),
    searchDomains: z.array(Domain).max(8).optional(),
    bond: z
      .strictObject({
        name: IfName.max(12).optional(),
        interfaces: z.array(Mac).min(1).max(8),
        mode: z.enum(["active-backup", "802.3ad", "balance-rr", "balance-xor", "balance-tlb", "balance-alb", "broadcast"]),
      })
      .optional(),
    vlan: z.number().int().min(1).max(4094).optional(),
    mtu: z.number().int().min(576).max(9216).optional(),
  })
  .refine((n) => !(n.bond && n.interface), { message: "name a bond with bond.name, not interface", path: ["interface"] })
  .refine((n) => !n.bond || new Set(n.bond.interfaces).size === n.bond.interfaces.length, { message: "bond members must be distinct MACs", path: ["bond", "interfaces"] })
  // cloud-init's v1 config has no on-link flag: a default route via a gateway no address can reach is refused by
  // ifupdown and networkd, so the host would boot without one (worker/render/netconfig.ts).
  .refine((n) => !n.gateway4 || n.addresses.some((a) => !a.includes(":") && inPrefix(n.gateway4!, a)), { message: "gateway4 must lie inside the prefix of one of the IPv4 addresses (cloud-init cannot add an on-link route)", path: ["gateway4"] })
  .refine((n) => !n.gateway6 || (n.addresses.some((a) => a.includes(":")) && (inPrefix(n.gateway6, "fe80::/10") || n.addresses.some((a) => inPrefix(n.gateway6!, a)))), { message: "gateway6 must be link-local (fe80::/10) or inside the prefix of one of the IPv6 addresses, and needs an IPv6 address", path: ["gateway6"] })
  .openapi("StaticNetwork") satisfies z.ZodType<StaticNetwork>;

// Static addressing needs to know which NIC it is for: the host's MAC (the NIC is renamed to `interface`, or eth0),
// an interface name, or bond members. A name glob cannot be carried by every renderer, so there is none.
export function networkTargetProblem(network: StaticNetwork | null | undefined, mac: string | null | undefined): string | null {
  if (!network || network.bond || network.interface || mac) return null;
  return "static network needs the host's mac, network.interface or network.bond to say which NIC it is for";
}

// The next boot: a profile by name, or "local" for the local disk; "once" reverts when the host reports a phase.
export const Intent = z
  .strictObject({
    target: z.union([CatalogueName, z.literal("local")]),
    mode: z.enum(["once", "always"]),
    revertOnPhase: Phase.optional(),
  })
  .refine((i) => i.mode === "once" || i.revertOnPhase === undefined, { message: "revertOnPhase only applies to mode \"once\"", path: ["revertOnPhase"] })
  .openapi("BootIntent") satisfies z.ZodType<BootIntent>;

// Which iPXE build the relay hands this host's UEFI firmware (PXE or HTTP Boot); null = the relay's default.
export const IpxeBuildField = z.enum(IPXE_BUILDS, { message: `ipxeBuild must be one of ${IPXE_BUILDS.join(", ")} (or null for the relay's default)` }).openapi({
  description:
    "iPXE build for this host's UEFI firmware, x64 or arm64 alike (the relay picks the file for the architecture the firmware reports): ipxe = iPXE's own NIC drivers; snponly = only the firmware's network driver for the boot NIC. null = the relay's default (--uefi-binary, --arm64-binary). BIOS hosts are not affected.",
  example: "snponly",
});

const HostFields = {
  hostname: Hostname.nullable(),
  mac: Mac.nullable(),
  uuid: Uuid.nullable(),
  serial: Serial.nullable(),
  arch: Arch.nullable(),
  ipxeBuild: IpxeBuildField.nullable(),
  ipv4: z.ipv4().nullable(),
  labels: Labels,
  vars: Vars,
  profile: CatalogueName.nullable(),
  intent: Intent.nullable(),
  network: Network.nullable(),
  state: z.enum(HOST_STATES),
};

// A host must be addressable in /hosts/:host, which takes a hostname or a MAC.
export const HostCreate = z
  .strictObject(HostFields)
  .partial()
  .refine((h) => Boolean(h.hostname || h.mac), { message: "a host needs a hostname or a MAC address", path: ["hostname"] })
  .refine((h) => networkTargetProblem(h.network, h.mac) === null, { message: networkTargetProblem({ addresses: [] }, null)!, path: ["network"] })
  .openapi("HostCreate");

export const HostPatch = z.strictObject(HostFields).partial().openapi("HostPatch");

export type HostCreateInput = z.output<typeof HostCreate>;
export type HostPatchInput = z.output<typeof HostPatch>;

// Profile names a host input refers to (its profile and its intent's target), for one existence check.
export function referencedProfiles(input: { profile?: string | null; intent?: BootIntent | null }): string[] {
  const names: string[] = [];
  if (input.profile) names.push(input.profile);
  if (input.intent && input.intent.target !== "local") names.push(input.intent.target);
  return names;
}
