// Where PyYAML (cloud-init) and libyaml (tiny-cloud's yx) read YAML differently from the `yaml` package, which writes
// our documents. Checked against cloud-init 22.4.2 and 25.1.4's own loader (test/interop/cloudinit-yaml.test.ts).
//
// - YAML 1.1 line breaks: NEL (U+0085), LS (U+2028), PS (U+2029). The `yaml` package writes them raw, even in plain
//   scalars and comments; PyYAML then ends the line there, and "a<NEL>bootcmd: [reboot]" becomes a top-level key.
// - Characters PyYAML refuses anywhere in a stream (reader.py NON_PRINTABLE): C0 controls except tab/LF/CR, DEL, C1
//   controls, U+FFFE, U+FFFF. One such character makes cloud-init drop the whole document.
// - Lone surrogates: not encodable as UTF-8 at all.
export const SPECIAL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/gu;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

// Plain scalars PyYAML's resolver (resolver.py, YAML 1.1) reads as something other than a string. The `yaml`
// package's 1.1 schema quotes most of these, but not `=` (tag:yaml.org,2002:value, which SafeLoader cannot construct:
// the whole document fails) nor `<<` (merge); the full list is kept so no gap depends on the other library.
const IMPLICIT = [
  /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/,
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
  /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/,
  /^(?:<<)$/,
  /^(?:~|null|Null|NULL|)$/,
  /^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)$/,
  /^(?:=)$/,
];

/** A string that must not be written as a plain scalar for PyYAML: it would read as another type, or not at all. */
export function needsDoubleQuotes(value: string): boolean {
  return value.includes("\t") || new RegExp(SPECIAL.source, "u").test(value) || IMPLICIT.some((re) => re.test(value));
}

function escapeChar(ch: string): string {
  if (ch === "\x85") return "\\N";
  if (ch === "\u2028") return "\\L";
  if (ch === "\u2029") return "\\P";
  const code = ch.charCodeAt(0);
  if (code >= 0xd800 && code <= 0xdfff) return "\\uFFFD";
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
}

/**
 * Escapes the special characters of text that sits inside YAML double-quoted scalars only (the caller makes sure of
 * that: in a plain or block scalar "\N" would be read as two characters).
 */
export function escapeInDoubleQuotes(text: string): string {
  return text.replace(SPECIAL, escapeChar);
}

/** A YAML double-quoted scalar that PyYAML, libyaml and the `yaml` package all read back as exactly `value`. */
export function doubleQuoted(value: string): string {
  return escapeInDoubleQuotes(JSON.stringify(value.replace(LONE_SURROGATE, "\ufffd")));
}

/** Text for a comment: line breaks of any YAML version and refused characters become spaces. */
export function commentSafe(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029\ufffe\uffff]+/g, " ").replace(LONE_SURROGATE, " ");
}
