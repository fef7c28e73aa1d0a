// Per-host config files (a profile's or a site's `files`: name → { kind, template }): the save-time check of each
// kind and the render, so that no substituted value changes a file's structure.
// - ignition: JSON. References go inside JSON strings; the template is parsed with a marker in place of each
//   reference, values are set on the parsed strings (as data) and the document is written out by JSON.stringify.
//   Checked against the Ignition 3.x subset of ignition.ts at save and after render.
// - talos: YAML (yamlTemplate.ts) with `version: v1alpha1`, `machine` and `cluster` mappings (one document).
// - autoinstall: `#cloud-config` then YAML (yamlTemplate.ts) with a top-level `autoinstall:` mapping.
// - preseed: debconf lines `owner question type value` (d-i's preseed format; `#` comments, `\` continuations).
//   Values are single-line, no control characters; the rendered file is checked line by line again.
// - text: values single-line, no control characters.
import { isMap, isScalar, type Document } from "yaml";
import type { ConfigFileKind } from "../db/schema.ts";
import { ignitionProblems } from "./ignition.ts";
import { compileTemplate, refText, refValue, renderCompiled, TemplateError, type RefPart, type TemplateContext } from "./template.ts";
import { prepareYaml, renderYaml } from "./yamlTemplate.ts";

export const FILE_KINDS = ["ignition", "talos", "preseed", "autoinstall", "text"] as const satisfies readonly ConfigFileKind[];
export const FILE_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export const CONTENT_TYPES: Record<ConfigFileKind, string> = {
  ignition: "application/json",
  talos: "application/yaml",
  autoinstall: "application/yaml",
  preseed: "text/plain; charset=utf-8",
  text: "text/plain; charset=utf-8",
};

export class FileError extends TemplateError {
  override name = "FileError";
}

const MARK = "EdgebootRefQ";
const MARK_RE = /EdgebootRefQ(\d+)Q/g;
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;

// The template with a marker per reference (letters and digits: inert in JSON strings and debconf lines).
function withMarkers(template: string): { text: string; refs: RefPart[] } {
  const refs: RefPart[] = [];
  let text = "";
  for (const part of compileTemplate(template).parts) {
    if (part.kind === "ref") {
      text += `${MARK}${refs.length}Q`;
      refs.push(part);
    } else {
      if (part.text.includes(MARK)) throw new FileError(`the text "${MARK}" is reserved`);
      text += part.text;
    }
  }
  return { text, refs };
}

// ---- ignition
function parseIgnition(template: string): { value: unknown; refs: RefPart[] } {
  const { text, refs } = withMarkers(template);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new FileError(refs.length ? `not valid JSON (a {{ reference }} goes inside a JSON string): ${why}` : `not valid JSON: ${why}`);
  }
  const keyRef = (v: unknown): boolean =>
    Array.isArray(v) ? v.some(keyRef) : typeof v === "object" && v !== null ? Object.entries(v).some(([k, x]) => k.includes(MARK) || keyRef(x)) : false;
  if (keyRef(value)) throw new FileError("JSON keys cannot be {{ references }}");
  return { value, refs };
}

function substituteJson(v: unknown, f: (s: string) => string): unknown {
  if (typeof v === "string") return v.includes(MARK) ? f(v) : v;
  if (Array.isArray(v)) return v.map((x) => substituteJson(x, f));
  if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substituteJson(x, f)]));
  return v;
}

function renderIgnition(template: string, ctx: TemplateContext): string {
  const { value, refs } = parseIgnition(template);
  const values = refs.map((r) => refText(r, refValue(r, ctx)));
  const out = substituteJson(value, (s) => s.replace(MARK_RE, (_, i: string) => values[Number(i)]!));
  const problems = ignitionProblems(out);
  if (problems.length) throw new FileError(`rendered Ignition config is invalid: ${problems[0]}`);
  return `${JSON.stringify(out, null, 2)}\n`;
}

// ---- YAML kinds
const CLOUD_CONFIG = "#cloud-config";

function splitCloudConfig(template: string): { header: string; body: string } {
  const nl = template.indexOf("\n");
  const head = (nl < 0 ? template : template.slice(0, nl)).replace(/\r$/, "");
  if (head.trimEnd() !== CLOUD_CONFIG) throw new FileError(`an autoinstall file starts with the line ${CLOUD_CONFIG}`);
  return nl < 0 ? { header: `${template}\n`, body: "" } : { header: template.slice(0, nl + 1), body: template.slice(nl + 1) };
}

const mappingKeys = (doc: Document): Map<string, unknown> | null => {
  if (!isMap(doc.contents)) return null;
  return new Map(doc.contents.items.map((p) => [isScalar(p.key) ? String(p.key.value) : "", p.value]));
};

function talosProblems(doc: Document): string[] {
  const keys = mappingKeys(doc);
  if (!keys) return ["a Talos machine config is a YAML mapping with version, machine and cluster"];
  const problems: string[] = [];
  const version = keys.get("version");
  if (!isScalar(version) || version.value !== "v1alpha1") problems.push('version: a Talos machine config has "version: v1alpha1"');
  for (const k of ["machine", "cluster"]) if (!isMap(keys.get(k))) problems.push(`${k}: a Talos machine config needs a \`${k}\` mapping`);
  return problems;
}

function autoinstallProblems(doc: Document): string[] {
  const keys = mappingKeys(doc);
  if (!keys || !isMap(keys.get("autoinstall"))) return ["autoinstall: the #cloud-config needs a top-level `autoinstall:` mapping"];
  return [];
}

// ---- preseed
const DEBCONF_TYPES = new Set(["string", "boolean", "select", "multiselect", "note", "text", "password", "error", "title", "seen"]);
const PRESEED_LINE = /^(\S+)[ \t]+(\S+)[ \t]+(\S+)(?:[ \t](.*))?$/;

// Problems of a preseed file (with markers or rendered), one per bad line: "line N: ...".
function preseedProblems(text: string): string[] {
  const problems: string[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let line = lines[i]!.replace(/\r$/, "");
    // d-i joins a line ending in "\" with the next one.
    while (line.endsWith("\\") && i + 1 < lines.length) line = line.slice(0, -1) + lines[++i]!.replace(/\r$/, "");
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    const m = PRESEED_LINE.exec(line.trimStart());
    if (!m) {
      problems.push(`line ${start}: a preseed line is "owner question type value"`);
      continue;
    }
    const [, owner, question, type, value = ""] = m;
    if (!/^[a-z0-9][a-z0-9.+-]*$/.test(owner!) && !owner!.includes(MARK)) problems.push(`line ${start}: "${owner}" is not a debconf owner (d-i, a package name)`);
    else if (!question!.includes("/")) problems.push(`line ${start}: "${question}" is not a debconf question (owner/name)`);
    else if (!DEBCONF_TYPES.has(type!)) problems.push(`line ${start}: "${type}" is not a debconf type (${[...DEBCONF_TYPES].join(", ")})`);
    else if (type === "boolean" && !value.includes(MARK) && !/^(true|false)$/.test(value.trim())) problems.push(`line ${start}: a boolean is true or false (got "${value.trim()}")`);
  }
  return problems;
}

// Values in line-based files: one line, no control characters (a tab is allowed).
const singleLine = (value: string, name: string) => {
  if (CONTROL.test(value)) throw new FileError(`variable "${name}" contains a line break or control character, which cannot go into this file`);
  return value;
};

/** Save-time check of one file (references unresolved). Returns problems, [] if fine. */
export function checkFile(kind: ConfigFileKind, template: string): string[] {
  try {
    compileTemplate(template);
    switch (kind) {
      case "ignition":
        return ignitionProblems(parseIgnition(template).value);
      case "talos":
        return talosProblems(prepareYaml(template).doc);
      case "autoinstall":
        return autoinstallProblems(prepareYaml(splitCloudConfig(template).body).doc);
      case "preseed":
        return preseedProblems(withMarkers(template).text);
      case "text":
        return [];
    }
  } catch (err) {
    if (err instanceof TemplateError) return [err.message];
    throw err;
  }
}

/** Renders one file for one host; a TemplateError (FileError) when it cannot. */
export function renderFile(kind: ConfigFileKind, template: string, ctx: TemplateContext): string {
  switch (kind) {
    case "ignition":
      return renderIgnition(template, ctx);
    case "talos":
      return renderYaml(template, ctx);
    case "autoinstall": {
      const { header, body } = splitCloudConfig(template);
      return header + renderYaml(body, ctx);
    }
    case "preseed": {
      const out = renderCompiled(compileTemplate(template), ctx, singleLine);
      const problems = preseedProblems(out);
      if (problems.length) throw new FileError(`rendered preseed is invalid: ${problems[0]}`);
      return out;
    }
    case "text":
      return renderCompiled(compileTemplate(template), ctx, singleLine);
  }
}
