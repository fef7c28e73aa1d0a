// Templates of YAML documents (cloud-config, network-config) rendered so that no substituted value can change the
// document's structure. The template is parsed once with a marker in place of each {{ reference }}; the values are
// then set on the parsed scalars (as data, never as text) and the document is written out again by the `yaml`
// package, which quotes every value as its content needs. The result is parsed once more and its shape compared with
// the template's: a mismatch is a render error, never a served document.
import { Document, isMap, isSeq, parseDocument, visit, type Node, type Scalar } from "yaml";
import { commentSafe, escapeInDoubleQuotes, needsDoubleQuotes, SPECIAL } from "./pyyaml.ts";
import { compileTemplate, refText, refValue, TemplateError, type CompiledTemplate, type RefPart, type TemplateContext } from "./template.ts";

// Letters and digits only: a plain scalar in every YAML context, and never produced by a value (checked below).
const MARK = "EdgebootRefQ";
const MARK_RE = new RegExp(`${MARK}(\\d+)Q`, "g");
// Block style everywhere: PyYAML (YAML 1.1) refuses plain scalars in flow collections that the yaml package (1.2)
// writes, such as a URL with "?" inside "[...]"; in block style the same scalars are plain and valid for both.
const STRINGIFY = { lineWidth: 0, collectionStyle: "block" } as const;
// cloud-init and tiny-cloud read YAML 1.1 (PyYAML, libyaml): `yes`, `on`, `0644` and friends must be quoted as strings.
const PARSE = { version: "1.1", uniqueKeys: true } as const;

type Prepared = { doc: Document; refs: RefPart[] };

export class YamlTemplateError extends TemplateError {
  override name = "YamlTemplateError";
}

function describe(err: { message: string; linePos?: [{ line: number; col: number }, ...unknown[]] }): string {
  const pos = err.linePos?.[0];
  return `${err.message.split("\n")[0]}${pos ? ` (line ${pos.line})` : ""}`;
}

// The template with markers, parsed; cached per template text like compileTemplate.
const prepared = new Map<string, Prepared>();

export function prepareYaml(body: string): Prepared {
  let hit = prepared.get(body);
  if (hit) return hit;
  const tpl: CompiledTemplate = compileTemplate(body);
  const refs: RefPart[] = [];
  let text = "";
  for (const part of tpl.parts) {
    if (part.kind === "ref") {
      text += `${MARK}${refs.length}Q`;
      refs.push(part);
    } else {
      if (part.text.includes(MARK)) throw new YamlTemplateError(`the text "${MARK}" is reserved`);
      const odd = new RegExp(SPECIAL.source, "u").exec(part.text);
      if (odd) {
        const code = `U+${odd[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
        throw new YamlTemplateError(`the template holds the character ${code}, which cloud-init's YAML reader takes as a line break or refuses; write it as an escape inside a double-quoted string`);
      }
      text += part.text;
    }
  }
  const doc = parseDocument(text, { ...PARSE, prettyErrors: true });
  if (doc.errors.length) throw new YamlTemplateError(`not valid YAML: ${describe(doc.errors[0]!)}`);
  hit = { doc, refs };
  if (prepared.size >= 500) prepared.clear();
  prepared.set(body, hit);
  return hit;
}

// Plain-scalar references to numbers and booleans keep their type (`port: {{ var.port }}`); `| json` places a list or
// map as a node. Everything else is a string.
function substitute(node: Scalar, refs: RefPart[], values: unknown[], wildcards: Set<string>, path: string): Node | undefined {
  const src = node.value;
  if (typeof src !== "string" || !src.includes(MARK)) return undefined;
  const whole = /^EdgebootRefQ(\d+)Q$/.exec(src);
  if (whole && node.type === "PLAIN") {
    const i = Number(whole[1]);
    const value = values[i];
    if (refs[i]!.filter === "json") {
      wildcards.add(path);
      return new Document(value).contents as Node;
    }
    if (typeof value === "number" || typeof value === "boolean") {
      node.value = value;
      return undefined;
    }
  }
  node.value = src.replace(MARK_RE, (_, i: string) => refText(refs[Number(i)]!, values[Number(i)]));
  return undefined;
}

// Comments may carry values too; a line break there (of YAML 1.1 too: NEL, LS, PS) would end the comment, so it
// becomes a space.
function inComment(comment: string | null | undefined, refs: RefPart[], values: unknown[]): string | null | undefined {
  if (!comment || !comment.includes(MARK)) return comment;
  return comment.replace(MARK_RE, (_, i: string) => commentSafe(refText(refs[Number(i)]!, values[Number(i)])));
}

// A string PyYAML would misread (pyyaml.ts) goes in double quotes, where its special characters are then escaped;
// no other style can escape them. A value is also kept from reading as another type (`=`, `<<`, a tab in plain
// text); the template's own plain scalars, such as a `<<` merge key, are left as written.
function quoteForPyyaml(node: Scalar, fromValue: boolean): void {
  if (typeof node.value !== "string") return;
  if (new RegExp(SPECIAL.source, "u").test(node.value)) node.type = "QUOTE_DOUBLE";
  else if (fromValue && (node.type === "PLAIN" || node.type === undefined) && needsDoubleQuotes(node.value)) node.type = "QUOTE_DOUBLE";
  // The `yaml` package's 1.1 schema writes the string "<<" as a bare merge key whatever its style; a tag keeps it a string.
  if (fromValue && node.value === "<<") node.tag = "tag:yaml.org,2002:str";
}

// Shape = collections and their sizes, keys' positions, scalars as leaves; json-placed nodes match anything.
function sameShape(a: unknown, b: unknown, wildcards: Set<string>, path: string): string | null {
  if (wildcards.has(path)) return null;
  if (isMap(a)) {
    if (!isMap(b) || a.items.length !== b.items.length) return path || "the top level";
    for (let i = 0; i < a.items.length; i++) {
      const diff = sameShape(a.items[i]!.value, b.items[i]!.value, wildcards, `${path}/${i}`);
      if (diff) return diff;
    }
    return null;
  }
  if (isSeq(a)) {
    if (!isSeq(b) || a.items.length !== b.items.length) return path || "the top level";
    for (let i = 0; i < a.items.length; i++) {
      const diff = sameShape(a.items[i], b.items[i], wildcards, `${path}/${i}`);
      if (diff) return diff;
    }
    return null;
  }
  return isMap(b) || isSeq(b) ? path || "the top level" : null;
}

function pathOf(ancestors: readonly unknown[], key: unknown): string {
  // visit() gives the chain of ancestors; positions of pairs and items make the path comparable across documents.
  let path = "";
  for (let i = 1; i < ancestors.length; i++) {
    const parent = ancestors[i - 1];
    const child = ancestors[i];
    if (isMap(parent) || isSeq(parent)) path += `/${(parent.items as unknown[]).indexOf(child)}`;
  }
  return typeof key === "number" ? `${path}/${key}` : path;
}

/** Renders a YAML template body (no header line). Values are resolved first, so an unset one fails before output. */
export function renderYaml(body: string, ctx: TemplateContext): string {
  const { doc: template, refs } = prepareYaml(body);
  if (refs.length === 0) return body;
  const values = refs.map((r) => refValue(r, ctx));
  const doc = template.clone();
  const wildcards = new Set<string>();
  let keyRef = false;
  visit(doc, {
    Scalar(key, node, ancestors) {
      if (key === "key") {
        if (typeof node.value === "string" && node.value.includes(MARK)) keyRef = true;
        const fromValue = typeof node.value === "string" && node.value.includes(MARK);
        node.value = fromValue ? (node.value as string).replace(MARK_RE, (_, i: string) => refText(refs[Number(i)]!, values[Number(i)])) : node.value;
        quoteForPyyaml(node, fromValue);
        return undefined;
      }
      const fromValue = typeof node.value === "string" && node.value.includes(MARK);
      const placed = substitute(node, refs, values, wildcards, pathOf(ancestors, key));
      if (placed) visit(placed, { Scalar: (_k, inner) => void quoteForPyyaml(inner, true) });
      else quoteForPyyaml(node, fromValue);
      return placed;
    },
  });
  // The template's own strings (a "\x85" escape, say) too.
  visit(doc, { Scalar: (_key, node) => void quoteForPyyaml(node, false) });
  visit(doc, (_key, node) => {
    if (node && typeof node === "object" && "commentBefore" in node) {
      const n = node as { commentBefore?: string | null; comment?: string | null };
      n.commentBefore = inComment(n.commentBefore, refs, values);
      n.comment = inComment(n.comment, refs, values);
    }
  });
  doc.commentBefore = inComment(doc.commentBefore, refs, values) ?? null;
  doc.comment = inComment(doc.comment, refs, values) ?? null;
  // Every special character now sits in a double-quoted scalar (comments were cleaned): escape it there.
  const out = escapeInDoubleQuotes(doc.toString(STRINGIFY));
  // A marker left over stood in an anchor, alias or tag: not a place for a value.
  if (out.includes(MARK)) throw new YamlTemplateError("a {{ reference }} can stand only in a value, a key or a comment");
  const check = parseDocument(out, PARSE);
  if (check.errors.length) throw new YamlTemplateError(`rendered document is not valid YAML: ${describe(check.errors[0]!)}${keyRef ? " (a key made of a value collides with another)" : ""}`);
  const diff = sameShape(template.contents, check.contents, wildcards, "");
  if (diff) throw new YamlTemplateError(`a substituted value changed the document's structure at ${diff}`);
  return out;
}
