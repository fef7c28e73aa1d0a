// The `files` field of profiles and sites (per-host config files, worker/render/files.ts) and its save-time checks:
// template syntax and namespaces, the kind's shape (Ignition subset, Talos, preseed lines, autoinstall), and, for a
// site's files, the site secret scope (templates.ts). Errors name the field as `files.<name>.template`; nothing is
// stored when one fails. A PATCH replaces the whole map.
import { z } from "@hono/zod-openapi";
import type { Db } from "../db/client.ts";
import type { ConfigFiles } from "../db/schema.ts";
import { ApiError } from "../errors.ts";
import { checkFile, FILE_KINDS, FILE_NAME } from "../render/files.ts";
import { checkTemplate } from "../render/template.ts";
import { Document } from "./schemas.ts";
import { requireSiteSecretScope } from "./templates.ts";

export const ConfigFile = z.strictObject({ kind: z.enum(FILE_KINDS), template: Document() }).openapi("ConfigFile");
export const ConfigFilesInput = z
  .record(z.string().regex(FILE_NAME, "file names are 1-64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit"), ConfigFile)
  .refine((v) => Object.keys(v).length <= 32, "at most 32 files")
  .openapi({ type: "object", additionalProperties: { $ref: "#/components/schemas/ConfigFile" }, example: { "preseed.cfg": { kind: "preseed", template: "d-i debian-installer/locale string en_US" } } });

const fieldOf = (name: string) => `files.${name}.template`;

export function requireValidFiles(files: ConfigFiles | undefined) {
  for (const [name, { kind, template }] of Object.entries(files ?? {})) {
    const syntax = checkTemplate(template, { allowSecrets: true });
    const problems = syntax.ok ? checkFile(kind, template) : syntax.errors.map((e) => e.message);
    if (problems.length) {
      throw new ApiError("invalid_input", `invalid ${fieldOf(name)} (${kind}): ${problems[0]}`, { field: fieldOf(name), kind, problems });
    }
  }
}

// A site's files reach only the site's and its hosts' secrets (boot/nocloud.ts SecretReach "site").
export async function requireSiteFileScope(db: Db, site: { id: string; slug: string }, files: ConfigFiles | undefined) {
  const fields: Record<string, string> = {};
  for (const [name, { template }] of Object.entries(files ?? {})) fields[fieldOf(name)] = template;
  await requireSiteSecretScope(db, site, fields);
}
