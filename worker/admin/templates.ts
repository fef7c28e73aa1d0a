import { ApiError } from "../errors.ts";
import { checkTemplate, type TemplateIssue } from "../render/template.ts";

// Save-time template check: syntax and variable namespaces now, rather than a failed boot later. Variables
// (var.*) are layered site < profile < host, so their presence can only be known at render time.
// Secrets never go into the kernel command line: it travels in clear on the LAN and lands in /proc/cmdline.
export function requireValidTemplates(fields: Record<string, string | null | undefined>, noSecrets: readonly string[] = []) {
  const problems: { field: string; errors: TemplateIssue[] }[] = [];
  for (const [field, text] of Object.entries(fields)) {
    if (!text) continue;
    const result = checkTemplate(text, { allowSecrets: !noSecrets.includes(field) });
    if (!result.ok) problems.push({ field, errors: result.errors });
  }
  if (problems.length) throw new ApiError("invalid_input", `invalid template in ${problems.map((p) => p.field).join(", ")}`, { templates: problems });
}
