// Reads a site file: YAML with positions kept (LineCounter), validated by the zod schema; every problem is reported
// as file:line:column, the field's path and the message, all at once.
import { readFile } from "node:fs/promises";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from "yaml";
import { CliError } from "../errors.ts";
import { SiteFile } from "./schema.ts";

export type Loaded = {
  path: string;
  file: SiteFile;
  lineOf: (path: (string | number)[]) => number;
  at: (path: (string | number)[]) => { line: number; col: number };
};

export type Problem = { line: number; col: number; field: string; message: string };

export async function loadSiteFile(path: string): Promise<Loaded> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new CliError("no_file", `cannot read site file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseSiteFile(path, text);
}

export function parseSiteFile(path: string, text: string): Loaded {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    const problems = doc.errors.map((e) => {
      const at = lines.linePos(e.pos[0]);
      return { line: at.line, col: at.col, field: "", message: e.message.split("\n")[0]! };
    });
    throw invalid(path, problems);
  }
  const result = SiteFile.safeParse(doc.toJS() ?? {});
  const position = (p: (string | number)[]) => positionOf(doc, lines, p);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      // Unknown keys are reported on their parent; point at the key itself.
      const keys = issue.code === "unrecognized_keys" ? issue.keys : [];
      const p = issue.path as (string | number)[];
      const at = keys.length ? position([...p, keys[0]!]) : position(p);
      const field = [...p, ...(keys.length === 1 ? [keys[0]!] : [])];
      return { ...at, field: fieldName(field), message: keys.length ? `unknown field${keys.length > 1 ? `s ${keys.join(", ")}` : ""}` : issue.message };
    });
    throw invalid(path, problems);
  }
  return { path, file: result.data, lineOf: (p) => position(p).line, at: position };
}

export function invalid(path: string, problems: Problem[]): CliError {
  const list = problems.sort((a, b) => a.line - b.line || a.col - b.col).map((p) => `${path}:${p.line}:${p.col}: ${p.field ? `${p.field}: ` : ""}${p.message}`);
  return new CliError("invalid_site_file", `${path} is not a valid site file:\n  ${list.join("\n  ")}`, null, 0, 2);
}

// hosts[2].mac, site.name …
export const fieldName = (p: (string | number)[]) => p.reduce<string>((s, k) => (typeof k === "number" ? `${s}[${k}]` : s ? `${s}.${k}` : k), "");

// The deepest node that exists on the path (a missing field is reported where its parent is). For a map entry the
// key's position is more useful than the value's.
function positionOf(doc: Document, lines: LineCounter, path: (string | number)[]): { line: number; col: number } {
  let node: unknown = doc.contents;
  let at = (node as YamlNode | null)?.range?.[0] ?? 0;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((it) => isScalar(it.key) && it.key.value === key);
      if (!pair) break;
      at = (pair.key as YamlNode).range?.[0] ?? at;
      node = pair.value;
    } else if (isSeq(node) && typeof key === "number") {
      const item = node.items[key] as YamlNode | undefined;
      if (!item) break;
      at = item.range?.[0] ?? at;
      node = item;
    } else break;
  }
  return lines.linePos(at);
}
