#!/usr/bin/env node
// `edgeboot` (package.json "bin"). The CLI is TypeScript. Node can run it as is (type stripping), but a CLI starts
// over and over, and stripping ~45 files each time is a fifth of its start-up; so, like relay/bin.js, this runs a JS
// copy with the types stripped, made on the first start after a source change under
// node_modules/.cache/edgeboot-cli/<hash of the sources>/. Where no copy can be made (Node < 22.13, a read-only
// tree), the .ts files run directly.
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import module from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 6)) {
  console.error(`edgeboot needs Node >= 22.6 (this is ${process.version}); from a checkout, \`npx edgeboot\` uses the Node 22 in node_modules/.bin.`);
  process.exit(1);
}

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const MAIN = join(here, "main.ts");
const CACHE = join(root, "node_modules", ".cache", "edgeboot-cli");
// deploy and bundle-check run wrangler in the checkout, wherever the code runs from.
process.env.EDGEBOOT_ROOT ??= root;

// Relative .ts specifiers in static, dynamic and type imports (a regex over the source: the imports are plain ones).
const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])(\.\.?\/[^"'\n]+?\.ts)\2/g;

function sources() {
  const files = new Map();
  const todo = [MAIN];
  while (todo.length > 0) {
    const file = todo.pop();
    if (files.has(file)) continue;
    const text = readFileSync(file, "utf8");
    files.set(file, text);
    for (const m of text.matchAll(SPECIFIER)) {
      const dep = resolve(dirname(file), m[3]);
      if (existsSync(dep)) todo.push(dep);
    }
  }
  return files;
}

async function jsCopy() {
  const { stripTypeScriptTypes } = await import("node:module");
  if (typeof stripTypeScriptTypes !== "function") return null;
  const files = sources();
  const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version;
  const hash = createHash("sha256").update(`1\0${version}\0`);
  for (const [file, text] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) hash.update(`${relative(root, file)}\0${text}\0`);
  const dir = join(CACHE, hash.digest("hex").slice(0, 16));
  const entry = join(dir, "worker", "cli", "main.js");
  if (existsSync(entry)) return entry;
  process.removeAllListeners("warning"); // the stripper is "experimental" on stderr
  const tmp = `${dir}.tmp-${process.pid}`;
  try {
    rmSync(tmp, { recursive: true, force: true });
    for (const [file, text] of files) {
      const js = stripTypeScriptTypes(text, { mode: "strip" }).replace(SPECIFIER, (_, pre, q, spec) => `${pre}${q}${spec.slice(0, -3)}.js${q}`);
      const out = join(tmp, relative(root, file)).replace(/\.ts$/, ".js");
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, js);
    }
    // ESM scope for the copy, and the version main.ts reads from ../../package.json.
    writeFileSync(join(tmp, "package.json"), `${JSON.stringify({ name: "edgeboot-cli-build", private: true, type: "module", version })}\n`);
    renameSync(tmp, dir);
  } catch {
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(entry)) return null; // else another start built it first
  }
  return entry;
}

module.enableCompileCache?.();
const entry = await jsCopy().catch(() => null);
if (entry) {
  const { run } = await import(pathToFileURL(entry).href);
  process.exitCode = await run(process.argv.slice(2), process.env);
} else if (process.features.typescript) {
  process.removeAllListeners("warning");
  const { run } = await import("./main.ts");
  process.exitCode = await run(process.argv.slice(2), process.env);
} else {
  const child = spawnSync(process.execPath, ["--experimental-strip-types", "--no-warnings", ...process.argv.slice(1)], { stdio: "inherit" });
  process.exit(child.status ?? 1);
}
