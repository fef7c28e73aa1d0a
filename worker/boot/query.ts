// Input of GET /boot/:site/ipxe, as iPXE fills it in: ?mac=${mac}&uuid=${uuid}&serial=${serial:uristring}
// &arch=${buildarch}&platform=${platform}, plus &t= (relay-signed token) or &k= (site boot key).
// Empty values are what iPXE sends for settings it does not have; they count as absent.
import { z } from "zod";
import { Serial, Uuid } from "../admin/schemas.ts";
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
  .refine((q) => q.mac || q.uuid || q.serial, { message: "at least one of mac, uuid or serial is required" });

export type ChainQuery = z.infer<typeof ChainQuery>;

// Machines recorded by the boot path get an id derived from site + their strongest identity: two racing first
// requests compute the same id, and the second insert is ignored.
export async function seenHostId(siteId: string, q: Pick<ChainQuery, "mac" | "uuid" | "serial">): Promise<string> {
  const identity = q.mac ? `mac:${q.mac}` : q.uuid ? `uuid:${q.uuid}` : `serial:${q.serial ?? ""}`;
  const h = await sha256Hex(`edgeboot-host|${siteId}|${identity}`);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
