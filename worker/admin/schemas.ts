import { z } from "@hono/zod-openapi";
import { SITE_SLUG } from "../auth/adminScopes.ts";
import { SSH_KEYS_VAR, sshKeysProblems } from "../boot/sshKeys.ts";
import { normalizeMac } from "../lib/mac.ts";

// Field schemas shared by the admin routes. Inputs are normalised here (MAC, UUID, hostname case), so handlers and
// the database only ever see one spelling.

export const Slug = z.string().regex(SITE_SLUG, "a slug is 1-63 lower-case letters, digits and inner hyphens").openapi({ example: "lab-east" });

// Profile and image names appear in URLs and in menus; "local" is reserved for "boot the local disk".
export const CatalogueName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, "a name is 1-63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit")
  .refine((v) => v !== "local", "\"local\" is reserved (boot target for the local disk)");

export const Arch = z.string().regex(/^[a-z0-9_]{1,32}$/, "arch is as iPXE's ${buildarch} reports it: x86_64, i386, arm64 …").openapi({ example: "x86_64" });

// RFC 1123 host name or FQDN; compared case-insensitively, so stored lower-case. A name that reads as a MAC is
// refused: /hosts/:host accepts either, and must never be ambiguous.
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
export const Hostname = z
  .string()
  .max(253)
  .transform((v) => v.toLowerCase().replace(/\.$/, ""))
  .refine((v) => v.length > 0 && v.split(".").every((l) => LABEL.test(l)), "hostname must be an RFC 1123 name: dot-separated labels of 1-63 letters, digits and inner hyphens")
  .refine((v) => normalizeMac(v) === null, "hostname must not look like a MAC address")
  .openapi({ type: "string", example: "node-01.lab.example" });

// Machine identity (MAC, SMBIOS UUID, serial): shared with the boot path, so it lives in lib/identity.ts.
export { Mac, Serial, Uuid } from "../lib/identity.ts";

// Template variables: identifier keys (they are written as {{ var.key }}), any JSON below.
export const Vars = z
  .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, "variable names are identifiers"), z.json())
  .refine((v) => Object.keys(v).length <= 256, "at most 256 variables")
  // Variables edgeboot itself reads have their shape checked (boot/sshKeys.ts: meta-data public-keys).
  .superRefine((v, ctx) => {
    for (const message of sshKeysProblems(v[SSH_KEYS_VAR])) ctx.addIssue({ code: "custom", message, path: [SSH_KEYS_VAR] });
  })
  .openapi({ type: "object", additionalProperties: true, example: { ntp: "10.0.0.1" } });

export const Labels = z
  .record(z.string().regex(/^[A-Za-z0-9](?:[A-Za-z0-9._/-]{0,62})$/, "label keys are 1-63 of letters, digits, '.', '_', '/', '-'"), z.string().max(256))
  .refine((v) => Object.keys(v).length <= 64, "at most 64 labels")
  .openapi({ example: { rack: "r12", role: "worker" } });

export const Phase = z.string().regex(/^[a-z0-9-]{1,32}$/, "phase is 1-32 of a-z, 0-9 and '-'");

// Templates and cloud-init documents: generous, but bounded well below D1's row limit.
export const Document = (max = 256 * 1024) => z.string().max(max);

export const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, "sha256 is 64 lower-case hex digits");

export const SecretName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, "secret names are identifiers ({{ secret.NAME }})");

export const Timestamp = z.string().openapi({ format: "date-time", example: "2026-11-22T10:00:00.000Z" });

export const ErrorBody = z
  .object({ error: z.object({ code: z.string(), message: z.string(), details: z.unknown() }) })
  .openapi("Error");

export const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
