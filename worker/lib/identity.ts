// Machine identity fields as machines and operators spell them, normalised to one form: the admin API (hosts,
// imports, rules) and the boot path (GET /boot/:site/ipxe) read the same identities, so neither owns these.
import { z } from "@hono/zod-openapi";
import { normalizeMac } from "./mac.ts";

export const Mac = z
  .string()
  .max(32)
  .transform((v, ctx) => {
    const mac = normalizeMac(v);
    if (mac === null) {
      ctx.addIssue({ code: "custom", message: "MAC address expected (aa:bb:cc:dd:ee:ff, aa-bb-…, aabb.ccdd.eeff or aabbccddeeff)" });
      return z.NEVER;
    }
    return mac;
  })
  .openapi({ type: "string", example: "52:54:00:12:34:56" });

// SMBIOS UUIDs arrive upper-case, braced or without hyphens; stored as lower-case 8-4-4-4-12.
export const Uuid = z
  .string()
  .max(40)
  .transform((v, ctx) => {
    const hex = v.trim().replace(/^\{(.*)\}$/, "$1").toLowerCase();
    const bare = hex.replace(/-/g, "");
    if (!/^[0-9a-f]{32}$/.test(bare) || (hex.includes("-") && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(hex))) {
      ctx.addIssue({ code: "custom", message: "UUID expected (8-4-4-4-12 hex digits)" });
      return z.NEVER;
    }
    return `${bare.slice(0, 8)}-${bare.slice(8, 12)}-${bare.slice(12, 16)}-${bare.slice(16, 20)}-${bare.slice(20)}`;
  })
  .openapi({ type: "string", example: "4c4c4544-0042-3510-8052-b4c04f4e3732" });

export const Serial = z.string().regex(/^[\x21-\x7e](?:[\x20-\x7e]{0,126}[\x21-\x7e])?$/, "serial is 1-128 printable ASCII characters");
