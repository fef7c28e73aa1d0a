// Save-time checks of templates and documents, so a typo is a 400 now rather than a failed boot later; nothing is
// stored when one fails and the error names the field:
// - template syntax and variable namespaces (render/template.ts checkTemplate);
// - the document's kind and shape (render/documents.ts: #cloud-config keys, network-config v1/v2, …);
// - secret scope: a site's own templates (its vendor-data) may name only that site's and its hosts' secrets
//   (boot/nocloud.ts SecretReach; enforced again at render);
// - the kernel command line never carries secrets (it travels in clear on the LAN and lands in /proc/cmdline).
// Whether a template renders for each host it reaches is checked by renderCheck.ts.
import { and, eq, isNull, or } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { secrets } from "../db/schema.ts";
import { ApiError } from "../errors.ts";
import { checkDocument, type DocumentField } from "../render/documents.ts";
import { checkTemplate, compileTemplate, secretNames, type TemplateIssue } from "../render/template.ts";

const DOCUMENTS: ReadonlySet<string> = new Set<DocumentField>(["userData", "vendorData", "networkConfig"]);

export function requireValidTemplates(fields: Record<string, string | null | undefined>, noSecrets: readonly string[] = []) {
  const problems: { field: string; errors: TemplateIssue[] }[] = [];
  for (const [field, text] of Object.entries(fields)) {
    if (!text) continue;
    const result = checkTemplate(text, { allowSecrets: !noSecrets.includes(field) });
    if (!result.ok) {
      problems.push({ field, errors: result.errors });
      continue;
    }
    if (DOCUMENTS.has(field)) {
      const shape = checkDocument(field as DocumentField, text);
      if (shape.length) problems.push({ field, errors: shape.map((message) => ({ message, offset: null })) });
    }
  }
  if (problems.length) {
    const first = problems[0]!;
    throw new ApiError("invalid_input", `invalid ${first.field}: ${first.errors[0]!.message}`, { field: first.field, templates: problems });
  }
}

/**
 * A site's template may use only secrets of that site or of its hosts: a global secret is out of its author's scope
 * (a `site:` token cannot write one), and so is a name that exists nowhere in the site yet. Set the secret first.
 */
export async function requireSiteSecretScope(db: Db, site: { id: string; slug: string }, fields: Record<string, string | null | undefined>) {
  const wanted = new Map<string, string[]>();
  for (const [field, text] of Object.entries(fields)) {
    if (!text) continue;
    for (const name of secretNames(compileTemplate(text))) wanted.set(name, [...(wanted.get(name) ?? []), field]);
  }
  if (!wanted.size) return;
  const rows = await db
    .select({ name: secrets.name, siteId: secrets.siteId })
    .from(secrets)
    .where(or(eq(secrets.siteId, site.id), and(isNull(secrets.siteId), isNull(secrets.hostId))));
  const inSite = new Set(rows.filter((r) => r.siteId !== null).map((r) => r.name));
  const global = new Set(rows.filter((r) => r.siteId === null).map((r) => r.name));
  for (const [name, fieldsUsing] of wanted) {
    if (inSite.has(name)) continue;
    const why = global.has(name)
      ? `"${name}" is a global secret, and a site's templates render only the site's and its hosts' secrets (global ones only from profile templates, which only admin writes)`
      : `"${name}" is not a secret of site "${site.slug}" or of its hosts; set it first (PUT /v1/secrets/${name}?site=${site.slug})`;
    throw new ApiError("invalid_input", `${fieldsUsing[0]} uses secret ${why}`, { field: fieldsUsing[0], secret: name, scope: global.has(name) ? "global" : "missing" });
  }
}
