// The documents an operator writes (user-data, vendor-data, network-config): what kinds are accepted, the save-time
// check of their shape, and how each kind is rendered so that a value never changes its structure.
//
// - `#cloud-config` / `#alpine-config` (tiny-cloud) and network-config: YAML, rendered through yamlTemplate.ts (values
//   set on the parsed document, re-quoted by the `yaml` package, shape verified).
// - `## template: jinja` (cloud-init renders it with Jinja at boot) and `#!` scripts: not YAML before they run, so a
//   value cannot be quoted for them. Values there must be inert: letters, digits and `._/+=@%-` (a `:` only between
//   them) — no quotes, spaces, line breaks, `$`, `#`, `,` or braces, so neither the shell, YAML nor Jinja (`{{`, `{%`,
//   `{#`) can read structure into them. Anything else is a render error; put such values in a #cloud-config.
// - Refused: MIME multipart, `#include`, `#cloud-boothook`, `#part-handler`, `#cloud-config-archive`, gzip.
import { isMap, isScalar, isSeq, type Document, type Node, type Pair, type YAMLMap } from "yaml";
import { shapeProblems } from "./cloudConfigShapes.ts";
import { ALPINE_CONFIG_KEYS, CLOUD_CONFIG_KEYS } from "./cloudConfigKeys.ts";
import { compileTemplate, refText, refValue, TemplateError, type TemplateContext } from "./template.ts";
import { prepareYaml, renderYaml } from "./yamlTemplate.ts";

export type DocumentField = "userData" | "vendorData" | "networkConfig";
export type DocumentKind = "empty" | "cloud-config" | "alpine-config" | "jinja" | "script" | "network-config";

export const JINJA_HEADER = "## template: jinja";
const INERT = /^[A-Za-z0-9._/+=@%-]*(?::[A-Za-z0-9._/+=@%-]+)*$/;

export class DocumentError extends TemplateError {
  override name = "DocumentError";
}

function firstLine(text: string): string {
  const nl = text.indexOf("\n");
  return (nl < 0 ? text : text.slice(0, nl)).replace(/\r$/, "");
}

/** The kind of a document, from its first line (what cloud-init and tiny-cloud look at). */
export function documentKind(field: DocumentField, text: string): DocumentKind {
  if (text.trim() === "") return "empty";
  if (field === "networkConfig") return "network-config";
  const head = firstLine(text);
  if (head.includes("{{")) throw new DocumentError("the first line says what the document is and cannot hold a {{ reference }}");
  if (head.trimEnd() === "#cloud-config") return "cloud-config";
  if (head.trimEnd() === "#alpine-config") return "alpine-config";
  if (head.trimEnd() === JINJA_HEADER) {
    const next = firstLine(text.slice(head.length + 1));
    if (next.trimEnd() !== "#cloud-config" && !next.startsWith("#!")) throw new DocumentError(`after "${JINJA_HEADER}" the second line must be #cloud-config or a #! script`);
    return "jinja";
  }
  if (head.startsWith("#!")) return "script";
  if (/^content-type:/i.test(head) || /^mime-version:/i.test(head)) throw new DocumentError("MIME multipart documents are not supported; use one #cloud-config document");
  if (head.startsWith("\x1f\x8b")) throw new DocumentError("compressed documents are not supported");
  if (head.startsWith("#")) throw new DocumentError(`"${head.split(/\s/)[0]}" documents are not supported; use #cloud-config, #alpine-config, ${JINJA_HEADER} or a #! script`);
  throw new DocumentError("a document starts with #cloud-config, #alpine-config, a #! script line or " + JINJA_HEADER);
}

// Where the YAML starts: after the header line (kept verbatim, since cloud-init compares it exactly).
function splitHeader(kind: DocumentKind, text: string): { header: string; body: string } {
  if (kind === "network-config") return { header: "", body: text };
  const nl = text.indexOf("\n");
  return nl < 0 ? { header: `${text}\n`, body: "" } : { header: text.slice(0, nl + 1), body: text.slice(nl + 1) };
}

const MARKER = /EdgebootRefQ\d+Q/;
const isWholeRef = (node: Node) => isScalar(node) && typeof node.value === "string" && /^EdgebootRefQ\d+Q$/.test(node.value);

// Top-level keys and their value kinds; a marker (a {{ reference }}) may stand for any scalar.
function checkMapping(doc: Document, keys: ReadonlySet<string>, what: string): string[] {
  if (doc.contents === null) return [];
  if (!isMap(doc.contents)) return [`${what} must be a YAML mapping of keys`];
  const problems: string[] = [];
  for (const pair of doc.contents.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : "";
    if (MARKER.test(key)) problems.push(`top-level keys cannot be {{ references }}`);
    else if (!keys.has(key)) problems.push(`unknown ${what} key "${key}"`);
    else problems.push(...shapeProblems(pair as Pair, key, isWholeRef));
  }
  return problems;
}

const V1_TYPES = new Set(["physical", "bond", "bridge", "vlan", "nameserver", "route", "infiniband"]);
const V2_KEYS = new Set(["version", "renderer", "ethernets", "bonds", "bridges", "vlans", "wifis"]);

function checkNetworkConfig(doc: Document): string[] {
  const top = doc.contents;
  if (!isMap(top)) return ["network-config must be a YAML mapping with `version: 1` or `version: 2` (ENI text is not accepted)"];
  let root: YAMLMap = top;
  const wrapped = top.get("network", true);
  if (wrapped !== undefined) {
    if (top.items.length !== 1 || !isMap(wrapped)) return ["network-config with a top-level `network:` key must hold only that mapping"];
    root = wrapped;
  }
  const version = root.get("version");
  if (version !== 1 && version !== 2) return [`network-config version must be 1 or 2 (got ${JSON.stringify(version ?? null)})`];
  if (version === 1) {
    const config = root.get("config", true);
    if (!isSeq(config)) return ["network-config version 1 needs a `config` list"];
    const problems: string[] = [];
    config.items.forEach((item, i) => {
      const type = isMap(item) ? item.get("type") : undefined;
      if (typeof type !== "string" || !V1_TYPES.has(type)) problems.push(`config[${i}].type must be one of ${[...V1_TYPES].join(", ")}`);
    });
    return problems;
  }
  const problems: string[] = [];
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : "";
    if (!V2_KEYS.has(key)) problems.push(`unknown network-config version 2 key "${key}"`);
    else if (key !== "version" && key !== "renderer" && !isMap(pair.value)) problems.push(`network-config "${key}" must be a mapping of interfaces`);
  }
  return problems;
}

/** Save-time check of a document's kind and shape (with its references unresolved). Returns problems, [] if fine. */
export function checkDocument(field: DocumentField, text: string): string[] {
  let kind: DocumentKind;
  try {
    kind = documentKind(field, text);
    compileTemplate(text);
  } catch (err) {
    if (err instanceof TemplateError) return [err.message];
    throw err;
  }
  if (kind === "empty" || kind === "jinja" || kind === "script") return [];
  const { body } = splitHeader(kind, text);
  let doc: Document;
  try {
    doc = prepareYaml(body).doc;
  } catch (err) {
    if (err instanceof TemplateError) return [err.message];
    throw err;
  }
  if (kind === "network-config") return checkNetworkConfig(doc);
  return checkMapping(doc, kind === "cloud-config" ? CLOUD_CONFIG_KEYS : ALPINE_CONFIG_KEYS, kind === "cloud-config" ? "#cloud-config" : "#alpine-config");
}

// Values for documents that are not YAML yet (Jinja templates, scripts): inert text only.
function renderInert(text: string, ctx: TemplateContext, what: string): string {
  let out = "";
  // Where each value starts and ends in the output, to catch a delimiter made across one: "{" + "%x" is "{%".
  const edges: { at: number; name: string; offset: number }[] = [];
  for (const part of compileTemplate(text).parts) {
    if (part.kind !== "ref") {
      out += part.text;
      continue;
    }
    const name = part.path.join(".");
    const value = refText(part, refValue(part, ctx));
    if (!INERT.test(value)) {
      throw new TemplateError(`variable "${name}" cannot go into ${what}: only letters, digits and ._/+=@%:- are substituted there (use a #cloud-config document for other values)`, part.offset);
    }
    edges.push({ at: out.length, name, offset: part.offset });
    out += value;
    edges.push({ at: out.length, name, offset: part.offset });
  }
  for (const e of edges) {
    if (/^(?:\{[{%#]|[}%#]\})$/.test(out.slice(e.at - 1, e.at + 1))) {
      throw new TemplateError(`variable "${e.name}" would make the Jinja delimiter "${out.slice(e.at - 1, e.at + 1)}" with the text beside it in ${what}`, e.offset);
    }
  }
  return out;
}

/** Renders one document for one host. */
export function renderDocument(field: DocumentField, text: string | null | undefined, ctx: TemplateContext): string {
  if (!text) return "";
  const kind = documentKind(field, text);
  switch (kind) {
    case "empty":
      return text;
    case "jinja":
      return renderInert(text, ctx, `a "${JINJA_HEADER}" document`);
    case "script":
      return renderInert(text, ctx, "a #! script");
    default: {
      const { header, body } = splitHeader(kind, text);
      return header + renderYaml(body, ctx);
    }
  }
}
