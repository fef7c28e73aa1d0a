// Input of GET /boot/:site/ipxe, as iPXE fills it in: ?mac=${mac}&uuid=${uuid}&serial=${serial:uristring}
// &arch=${buildarch}&platform=${platform}, plus &t= (relay-signed token) or &k= (site boot key).
// Empty values are what iPXE sends for settings it does not have; they count as absent.
import { z } from "zod";
import { Serial, Uuid } from "../lib/identity.ts";
import { ApiError } from "../errors.ts";
import { sha256Hex } from "../lib/crypto.ts";
import { normalizeMac } from "../lib/mac.ts";

const blankToUndefined = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);
const optional = <T extends z.ZodType>(schema: T) => z.preprocess(blankToUndefined, schema.optional());

const MacParam = z.string().max(32).transform((v, ctx) => {
  const mac = normalizeMac(v);
  if (!mac) {
    ctx.addIssue({ code: "custom", message: "mac must be a MAC address" });
    return z.NEVER;
  }
  return mac;
});

// Firmware without an SMBIOS UUID may report all zeros (or all ones): not an identity.
const NO_UUID = new Set(["00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"]);

export const SiteSlugParam = z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, "unknown site");

export const ChainQuery = z
  .object({
    mac: optional(MacParam),
    uuid: optional(Uuid.transform((u) => (NO_UUID.has(u) ? undefined : u))),
    serial: optional(z.string().transform((s) => s.trim()).pipe(Serial)),
    arch: optional(z.string().regex(/^[a-z0-9_]{1,32}$/, "arch is iPXE's ${buildarch}")),
    platform: optional(z.string().regex(/^[a-z0-9_-]{1,32}$/, "platform is iPXE's ${platform}")),
    t: optional(z.string().max(4096)),
    k: optional(z.string().max(512)),
  })
  .refine((q) => q.mac || q.uuid || q.serial, { message: "at least one of mac, uuid or serial is required", path: ["mac"] });

export type ChainQuery = z.infer<typeof ChainQuery>;

// Machines recorded by the boot path get an id derived from site + their strongest identity: two racing first
// requests compute the same id, and the second insert is ignored.
export async function seenHostId(siteId: string, q: Pick<ChainQuery, "mac" | "uuid" | "serial">): Promise<string> {
  const identity = q.mac ? `mac:${q.mac}` : q.uuid ? `uuid:${q.uuid}` : `serial:${q.serial ?? ""}`;
  const h = await sha256Hex(`edgeboot-host|${siteId}|${identity}`);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

// Machine-facing input errors name the field in the message itself: an iPXE console or a cloud-init log shows only
// the message, never the JSON details.
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({ field: i.path.map(String).join(".") || where, message: i.message }));
  throw new ApiError("invalid_input", issues.map((i) => `${i.field}: ${i.message}`).join("; "), { in: where, fields: [...new Set(issues.map((i) => i.field))], issues });
}

// The address the relay saw on the chain fetch (Edgeboot-Client-Address): an IPv4 or IPv6 literal, IPv4-mapped
// IPv6 written as IPv4 so the same machine compares equal however a socket reported it.
export const ClientAddress = z
  .string()
  .max(64)
  .transform((v) => v.trim().replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, "$1").toLowerCase())
  .pipe(z.union([z.ipv4(), z.ipv6()], { error: "must be an IPv4 or IPv6 address" }));
