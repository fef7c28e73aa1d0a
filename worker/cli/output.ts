// Lists and single resources as a table (default), JSON or YAML (`-o json|yaml`), on stdout; messages go to stderr.
import Table from "cli-table3";
import pc from "picocolors";
import { stringify } from "yaml";
import { usage } from "./errors.ts";

export type Format = "table" | "json" | "yaml";
export type Column<T> = [header: string, value: (row: T) => unknown];

export function parseFormat(value: string | undefined): Format {
  const f = value ?? "table";
  if (f === "table" || f === "json" || f === "yaml") return f;
  throw usage(`-o/--output is table, json or yaml; got "${f}"`);
}

const cell = (v: unknown): string => {
  if (v === null || v === undefined || v === "") return pc.dim("-");
  if (Array.isArray(v)) return v.map(cell).join(", ");
  if (typeof v === "object") return Object.entries(v as Record<string, unknown>).map(([k, x]) => `${k}=${typeof x === "string" ? x : JSON.stringify(x)}`).join(" ");
  return String(v);
};

export function printList<T>(rows: T[], columns: Column<T>[], format: Format, out: NodeJS.WritableStream = process.stdout): void {
  if (format === "json") return void out.write(`${JSON.stringify(rows, null, 2)}\n`);
  if (format === "yaml") return void out.write(stringify(rows));
  if (rows.length === 0) return void process.stderr.write("no items\n");
  // Colours through picocolors, which honours NO_COLOR and plain pipes (cli-table3's own styling does not).
  const table = new Table({ head: columns.map(([h]) => pc.bold(h)), style: { head: [], border: [], "padding-left": 0, "padding-right": 0 }, chars: plainChars, wordWrap: false });
  for (const row of rows) table.push(columns.map(([, f]) => cell(f(row))));
  out.write(`${table.toString().split("\n").map((l) => l.trimEnd()).join("\n")}\n`);
}

export function printOne(value: unknown, format: Format, out: NodeJS.WritableStream = process.stdout): void {
  if (format === "json") return void out.write(`${JSON.stringify(value, null, 2)}\n`);
  // Single resources read best as YAML (nested vars, templates as block scalars).
  out.write(stringify(value, { blockQuote: "literal" }));
}

// A borderless table, like kubectl's.
const plainChars = {
  top: "", "top-mid": "", "top-left": "", "top-right": "", bottom: "", "bottom-mid": "", "bottom-left": "", "bottom-right": "",
  left: "", "left-mid": "", mid: "", "mid-mid": "", right: "", "right-mid": "", middle: "  ",
};
