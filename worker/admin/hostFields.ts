import { z } from "@hono/zod-openapi";
import type { BootIntent, StaticNetwork } from "../db/schema.ts";
import { Arch, CatalogueName, Hostname, Labels, Mac, Phase, Serial, Uuid, Vars } from "./schemas.ts";

// Host input shared by create, update and bulk import.

export const HOST_STATES = ["discovered", "ready", "booting", "booted", "installing", "installed", "failed"] as const;

const Domain = z
  .string()
  .max(253)
  .regex(/^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/, "a DNS domain");

// Static addressing, rendered into NoCloud network-config v2.
export const Network = z
  .strictObject({
    interface: z.string().regex(/^[A-Za-z0-9._:-]{1,15}$/, "an interface name (1-15 characters)").optional(),
    addresses: z.array(z.union([z.cidrv4(), z.cidrv6()])).min(1).max(16),
    gateway4: z.ipv4().optional(),
    gateway6: z.ipv6().optional(),
    nameservers: z.array(z.union([z.ipv4(), z.ipv6()])).max(8).optional(),
    searchDomains: z.array(Domain).max(8).optional(),
  })
  .openapi("StaticNetwork") satisfies z.ZodType<StaticNetwork>;

// The next boot: a profile by name, or "local" for the local disk; "once" reverts when the host reports a phase.
export const Intent = z
  .strictObject({
    target: z.union([CatalogueName, z.literal("local")]),
    mode: z.enum(["once", "always"]),
    revertOnPhase: Phase.optional(),
  })
  .refine((i) => i.mode === "once" || i.revertOnPhase === undefined, { message: "revertOnPhase only applies to mode \"once\"", path: ["revertOnPhase"] })
  .openapi("BootIntent") satisfies z.ZodType<BootIntent>;

const HostFields = {
  hostname: Hostname.nullable(),
  mac: Mac.nullable(),
  uuid: Uuid.nullable(),
  serial: Serial.nullable(),
  arch: Arch.nullable(),
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
