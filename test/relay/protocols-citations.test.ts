// Every "PROTOCOLS.md §N" a comment or README cites names a section of relay/PROTOCOLS.md (§7.N: item N of the
// pitfalls list in section 7), so the references resolve inside the repository.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const doc = readFileSync(join(ROOT, "relay", "PROTOCOLS.md"), "utf8");
const headings = new Set([...doc.matchAll(/^#{2,3} (\d+(?:\.\d+)?)[. ]/gm)].map((m) => m[1]!));
const section7 = doc.slice(doc.indexOf("## 7."));
const pitfalls = new Set([...section7.matchAll(/^(\d+)\. \*\*/gm)].map((m) => `7.${m[1]}`));

function* files(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name.startsWith(".") || name === "PROTOCOLS.md" || name === "protocols-citations.test.ts") continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (/\.(ts|js|mjs|md|hex|ipxe)$/.test(name)) yield p;
  }
}

describe("PROTOCOLS.md citations", () => {
  it("name sections that exist in relay/PROTOCOLS.md", () => {
    const cited: string[] = [];
    const missing: string[] = [];
    for (const dir of ["worker", "relay", "test", "migrations"]) {
      for (const file of files(join(ROOT, dir))) {
        const text = readFileSync(file, "utf8");
        for (const m of text.matchAll(/PROTOCOLS(?:\.md)?`?\s*(?:§|section\s+)(\d+(?:\.\d+)?)((?:,\s*§\d+(?:\.\d+)?)*)/g)) {
          for (const ref of [m[1]!, ...[...(m[2] ?? "").matchAll(/§(\d+(?:\.\d+)?)/g)].map((x) => x[1]!)]) {
            cited.push(ref);
            if (!headings.has(ref) && !pitfalls.has(ref)) missing.push(`${relative(ROOT, file)}: §${ref}`);
          }
        }
        // A bare "PROTOCOLS §" (no .md) would not say which file.
        for (const m of text.matchAll(/PROTOCOLS[ ]§/g)) missing.push(`${relative(ROOT, file)}: "${m[0]}" without .md at ${m.index}`);
      }
    }
    expect(cited.length).toBeGreaterThan(10);
    expect(missing).toEqual([]);
  });
});
