// Input schemas of assignment rules, shared by the admin routes and the site file (worker/cli/site/schema.ts).
// Values are normalised here (MAC prefix notation, UUID case), so matching compares one spelling.
import { z } from "@hono/zod-openapi";
import { Arch, CatalogueName, Labels, Uuid } from "./schemas.ts";

export const RuleName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, "a rule name is 1-63 lower-case letters, digits, '.', '_' or '-'");

const MacPrefix = z
  .string()
  .regex(/^[0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){0,5}$/, "a MAC prefix is 1-6 whole octets, e.g. 52:54:00")
  .transform((v) => v.toLowerCase().replaceAll("-", ":"))
  .openapi({ type: "string", example: "52:54:00" });

const hasLiteral = (v: string) => v.replaceAll("*", "").length > 0;

// A UUID pattern without `*` is a UUID in any common spelling; with `*`, lower-case hex, '-' and '*' as the
// machine's UUID is written (8-4-4-4-12).
const UuidPattern = z
  .string()
  .max(64)
  .transform((v, ctx) => {
    if (!v.includes("*")) {
      const exact = Uuid.safeParse(v);
      if (exact.success) return exact.data;
      ctx.addIssue({ code: "custom", message: "a UUID, or a pattern of hex digits, '-' and '*' (e.g. 4c4c4544-*)" });
      return z.NEVER;
    }
    const lower = v.toLowerCase();
    if (!/^[0-9a-f*-]+$/.test(lower) || !hasLiteral(lower)) {
      ctx.addIssue({ code: "custom", message: "a UUID pattern is hex digits, '-' and '*', with at least one digit (e.g. 4c4c4544-*)" });
      return z.NEVER;
    }
    return lower;
  })
  .openapi({ type: "string", example: "4c4c4544-*" });

// Serials compare case-sensitively, as the firmware reports them; `*` is always the wildcard.
const SerialPattern = z
  .string()
  .regex(/^[\x21-\x7e](?:[\x20-\x7e]{0,126}[\x21-\x7e])?$/, "a serial pattern is 1-128 printable ASCII characters ('*' matches any run)")
  .refine(hasLiteral, "a serial pattern needs at least one character besides '*'")
  .openapi({ example: "CZ2*" });

export const Selector = z
  .strictObject({
    labels: Labels.optional(),
    arch: Arch.optional(),
    macPrefix: MacPrefix.optional(),
    uuid: UuidPattern.optional(),
    serial: SerialPattern.optional(),
  })
  // An empty label map constrains nothing: dropped, so specificity and comparisons see one form.
  .transform(({ labels, ...rest }) => (labels && Object.keys(labels).length ? { labels, ...rest } : rest))
  .refine((s) => Object.keys(s).length > 0, "a selector needs at least one of labels, arch, macPrefix, uuid, serial (a catch-all is the site's defaultProfile)")
  .openapi("RuleSelector", {
    description: "Every constraint given must hold. uuid and serial are exact values or patterns where `*` matches any run of characters.",
  });

const Description = z.string().max(1024).nullable();

export const RuleCreate = z.strictObject({ name: RuleName, profile: CatalogueName, selector: Selector, description: Description.optional() }).openapi("RuleCreate");
export const RuleReplace = z.strictObject({ profile: CatalogueName, selector: Selector, description: Description.optional() }).openapi("RuleReplace");
