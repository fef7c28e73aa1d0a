// A deliberately tiny template language for cmdlines, user-data, vendor-data and network-config (no eval, no code):
//   {{ host.hostname }}   {{ var.ntp.server }}   {{ secret.JOIN_TOKEN }}   {{ var.list | json }}   {{ "{{" }}
// A reference that does not resolve is an error (TemplateError), never an empty string, so a missing variable
// cannot silently produce a broken machine. Lookups follow own properties only (no prototype walking).
// Text outside {{ }} is copied as is (a lone "}}" included); "{{" itself is written {{ "{{" }}.

export const NAMESPACES = ["host", "site", "profile", "var", "secret", "boot"] as const;
export type Namespace = (typeof NAMESPACES)[number];

const FILTERS = ["json"] as const;
type Filter = (typeof FILTERS)[number];

export type RefPart = { kind: "ref"; path: string[]; filter: Filter | null; offset: number };
export type Part = { kind: "text"; text: string } | RefPart | { kind: "literal"; text: string };

export type CompiledTemplate = { parts: Part[]; refs: string[] };

export class TemplateError extends Error {
  readonly offset: number | null;
  constructor(message: string, offset: number | null = null) {
    super(message);
    this.offset = offset;
    this.name = "TemplateError";
  }
}

const SEGMENT = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
const MAX_TEMPLATE = 256 * 1024;

function parseExpression(source: string, offset: number): Part {
  const [expr = "", filterText, ...rest] = source.split("|").map((s) => s.trim());
  if (rest.length > 0) throw new TemplateError("only one filter is allowed", offset);
  if (expr === "") throw new TemplateError("empty {{ }} expression", offset);
  if (expr.startsWith('"')) {
    try {
      const text: unknown = JSON.parse(expr);
      if (typeof text === "string" && filterText === undefined) return { kind: "literal", text };
    } catch {}
    throw new TemplateError(`bad string literal ${expr}`, offset);
  }
  if (expr.startsWith("'")) {
    if (expr.length < 2 || !expr.endsWith("'") || expr.slice(1, -1).includes("'") || filterText !== undefined) {
      throw new TemplateError(`bad string literal ${expr}`, offset);
    }
    return { kind: "literal", text: expr.slice(1, -1) };
  }
  const path = expr.split(".");
  if (!path.every((s) => SEGMENT.test(s))) throw new TemplateError(`bad variable name "${expr}"`, offset);
  if (!(NAMESPACES as readonly string[]).includes(path[0]!)) {
    throw new TemplateError(`unknown variable "${expr}" (names start with ${NAMESPACES.join(", ")})`, offset);
  }
  if (path.length < 2) throw new TemplateError(`"${expr}" names a whole namespace; name one value in it`, offset);
  let filter: Filter | null = null;
  if (filterText !== undefined) {
    if (!(FILTERS as readonly string[]).includes(filterText)) throw new TemplateError(`unknown filter "${filterText}"`, offset);
    filter = filterText as Filter;
  }
  return { kind: "ref", path, filter, offset };
}

function parse(text: string): CompiledTemplate {
  if (text.length > MAX_TEMPLATE) throw new TemplateError(`template longer than ${MAX_TEMPLATE} characters`);
  const parts: Part[] = [];
  const refs = new Set<string>();
  let pos = 0;
  for (;;) {
    const open = text.indexOf("{{", pos);
    if (open < 0) break;
    const close = text.indexOf("}}", open + 2);
    if (close < 0) throw new TemplateError("unclosed {{", open);
    if (open > pos) parts.push({ kind: "text", text: text.slice(pos, open) });
    const part = parseExpression(text.slice(open + 2, close), open);
    if (part.kind === "ref") refs.add(part.path.join("."));
    parts.push(part);
    pos = close + 2;
  }
  if (pos < text.length) parts.push({ kind: "text", text: text.slice(pos) });
  return { parts, refs: [...refs] };
}

// Templates are rendered on every boot; parse each distinct text once per isolate.
const compiled = new Map<string, CompiledTemplate>();

export function compileTemplate(text: string): CompiledTemplate {
  let hit = compiled.get(text);
  if (!hit) {
    hit = parse(text);
    if (compiled.size >= 500) compiled.clear();
    compiled.set(text, hit);
  }
  return hit;
}

export type TemplateContext = Partial<Record<Namespace, Record<string, unknown>>>;

// Called for every substituted value (not for literal template text): may refuse or transform it per output format.
export type ValueGuard = (value: string, name: string) => string;

function lookup(ctx: TemplateContext, path: string[]): unknown {
  let cur: unknown = ctx;
  for (const seg of path) {
    if (typeof cur !== "object" || cur === null || Array.isArray(cur) || !Object.hasOwn(cur, seg)) return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

// The value a reference names; unset is an error, never an empty string.
export function refValue(part: RefPart, ctx: TemplateContext): unknown {
  const value = lookup(ctx, part.path);
  if (value === undefined || value === null) {
    const name = part.path.join(".");
    const secret = part.path[0] === "secret";
    throw new TemplateError(secret ? `secret "${part.path.slice(1).join(".")}" is not set` : `variable "${name}" is not set`, part.offset);
  }
  return value;
}

// The text a reference stands for in a plain-text position.
export function refText(part: RefPart, value: unknown): string {
  if (part.filter === "json") return JSON.stringify(value);
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  const name = part.path.join(".");
  throw new TemplateError(`variable "${name}" is a list or map; render it with {{ ${name} | json }}`, part.offset);
}

export function renderCompiled(tpl: CompiledTemplate, ctx: TemplateContext, guard?: ValueGuard): string {
  let out = "";
  for (const part of tpl.parts) {
    if (part.kind !== "ref") {
      out += part.text;
      continue;
    }
    const text = refText(part, refValue(part, ctx));
    out += guard ? guard(text, part.path.join(".")) : text;
  }
  return out;
}

export function renderTemplate(text: string, ctx: TemplateContext, guard?: ValueGuard): string {
  return renderCompiled(compileTemplate(text), ctx, guard);
}

// Names of the secrets a template uses, so only those are decrypted.
export function secretNames(tpl: CompiledTemplate): string[] {
  return tpl.refs.filter((r) => r.startsWith("secret.")).map((r) => r.slice("secret.".length));
}

// Fixed fields every render context provides (see worker/boot/templateContext.ts); host.labels.* and var.* vary.
export const KNOWN_FIELDS: Record<Exclude<Namespace, "var" | "secret">, readonly string[]> = {
  host: ["id", "hostname", "mac", "uuid", "serial", "arch", "ipv4", "labels"],
  site: ["id", "slug", "name"],
  profile: ["id", "name"],
  boot: ["seedUrl", "eventsUrl", "baseUrl", "artifacts", "files"],
};

export type TemplateIssue = { message: string; offset: number | null };
export type TemplateCheck = { ok: true; references: string[] } | { ok: false; errors: TemplateIssue[] };

/**
 * Save-time check for the admin API. Syntax and namespaces are always checked; `var.*` only when `knownVars` is
 * given (top-level keys of the layered site/profile vars); secrets are refused when `allowSecrets` is false (the
 * iPXE cmdline: it travels in clear on the LAN and ends up in /proc/cmdline). Host-specific values (host.hostname,
 * a host's own vars) can still be missing at render time; that is caught then, as a 500 render_failed.
 */
export function checkTemplate(
  text: string,
  known: { knownVars?: Iterable<string>; allowSecrets?: boolean } = {},
): TemplateCheck {
  let tpl: CompiledTemplate;
  try {
    tpl = parse(text);
  } catch (err) {
    if (err instanceof TemplateError) return { ok: false, errors: [{ message: err.message, offset: err.offset }] };
    throw err;
  }
  const vars = known.knownVars ? new Set(known.knownVars) : null;
  const errors: TemplateIssue[] = [];
  for (const part of tpl.parts) {
    if (part.kind !== "ref") continue;
    const [ns, field] = part.path as [Namespace, string];
    const name = part.path.join(".");
    if (ns === "secret") {
      if (known.allowSecrets === false) errors.push({ message: `secrets cannot be used here ("${name}")`, offset: part.offset });
      else if (part.path.length !== 2) errors.push({ message: `secret names have no dots ("${name}")`, offset: part.offset });
    } else if (ns === "var") {
      if (vars && !vars.has(field)) errors.push({ message: `unknown variable "${name}"`, offset: part.offset });
    } else if (!KNOWN_FIELDS[ns].includes(field) || (part.path.length > 2 && !((ns === "host" && field === "labels") || (ns === "boot" && (field === "artifacts" || field === "files"))))) {
      errors.push({ message: `unknown variable "${name}"`, offset: part.offset });
    }
  }
  return errors.length ? { ok: false, errors } : { ok: true, references: tpl.refs };
}
