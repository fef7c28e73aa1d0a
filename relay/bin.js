#!/usr/bin/env node
// `edgeboot-relay` launcher (package.json "bin"). The relay is TypeScript. Node can run it as is (type stripping),
// but its stripper (swc compiled to wasm) then stays loaded for good: the relay idles at ~105 MB RSS that way, ~75 MB
// without. So this runs a JS copy with the types stripped, made by a child Node (which alone loads the stripper) on
// the first start after a source change, under node_modules/.cache/edgeboot-relay/<hash of the sources>/.
// `edgeboot-relay --build` only makes that copy (the Dockerfile and the systemd unit run it as root, since the
// relay's own user may not write there). If no copy can be made (Node < 22.13, read-only tree), the .ts runs as is.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 6)) {
  console.error(
    `edgeboot-relay needs Node >= 22.6 (this is ${process.version}). From a checkout, \`npx edgeboot-relay\` uses the Node 22 in node_modules/.bin; or install Node 22 (or run the container).`,
  );
  process.exit(1);
}

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const MAIN = join(here, "main.ts");
const CACHE = join(root, "node_modules", ".cache", "edgeboot-relay");
// Bump when the output's shape changes, so older copies are not reused.
const FORMAT = 1;

// Relative .ts specifiers in static, side-effect and dynamic imports (and re-exports), and worker entries
// (`new URL("./worker.ts", import.meta.url)`, relay/dhcp/thread.ts): followed, and rewritten to .js, alike.
const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\bnew\s+URL\s*\(\s*)(["'])(\.\.?\/[^"'\n]+?\.ts)\2/g;

// Every .ts file main.ts loads (or starts as a worker), with its text (a regex over the source: the relay's imports are plain ones).
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

const version = () => JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version;

function buildDir(files) {
  const hash = createHash("sha256").update(`${FORMAT}\0${version()}\0`);
  for (const [file, text] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) hash.update(`${relative(root, file)}\0${text}\0`);
  return join(CACHE, hash.digest("hex").slice(0, 16));
}

// Writes the JS copy (same tree under dir, .ts -> .js); a no-op if it exists. Atomic: built aside, then renamed.
async function build(files, dir) {
  if (existsSync(join(dir, "relay", "main.js"))) return;
  const { stripTypeScriptTypes } = await import("node:module");
  if (typeof stripTypeScriptTypes !== "function") throw new Error(`Node ${process.version} cannot strip types ahead of time (needs >= 22.13)`);
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  for (const [file, text] of files) {
    // "strip" keeps every line and column where it was, so stack traces point at the same places in the .ts.
    const js = stripTypeScriptTypes(text, { mode: "strip" }).replace(SPECIFIER, (_, pre, q, spec) => `${pre}${q}${spec.slice(0, -3)}.js${q}`);
    const out = join(tmp, relative(root, file)).replace(/\.ts$/, ".js");
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, js);
  }
  // ESM scope for the copy, and the version main.ts reads from ../package.json.
  writeFileSync(join(tmp, "package.json"), `${JSON.stringify({ name: "edgeboot-relay-build", private: true, type: "module", version: version() })}\n`);
  try {
    renameSync(tmp, dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(join(dir, "relay", "main.js"))) throw err; // else another start built it first
  }
  // Older copies go once a day old (a relay started from one may still be running).
  for (const name of readdirSync(CACHE)) {
    const p = join(CACHE, name);
    if (p !== dir && Date.now() - statSync(p).mtimeMs > 86_400_000) rmSync(p, { recursive: true, force: true });
  }
}

const args = process.argv.slice(2);
if (args[0] === "--build") {
  // Node calls the stripper experimental on stderr; that is noise in a build step.
  process.removeAllListeners("warning");
  const files = sources();
  const dir = buildDir(files);
  try {
    await build(files, dir);
    process.stdout.write(`${join(dir, "relay", "main.js")}\n`);
  } catch (err) {
    console.error(`edgeboot-relay: could not build the JS copy in ${CACHE}: ${err.message}`);
    process.exit(1);
  }
} else {
  const entry = join(buildDir(sources()), "relay", "main.js");
  // The stripper runs in a child, so this process never loads it.
  if (!existsSync(entry)) spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--build"], { stdio: ["ignore", "ignore", "inherit"] });
  if (existsSync(entry)) {
    const { runCli } = await import(pathToFileURL(entry).href);
    process.exitCode = await runCli(args, process.env);
  } else if (process.features.typescript) {
    console.error(`edgeboot-relay: running the TypeScript sources directly (about 30 MB more memory); \`node ${relative(process.cwd(), fileURLToPath(import.meta.url)) || "relay/bin.js"} --build\` as a user who may write ${CACHE} makes the JS copy`);
    const { runCli } = await import("./main.ts");
    process.exitCode = await runCli(args, process.env);
  } else {
    // Type stripping exists but is off by default before 22.18: run main.ts in a child Node with it on.
    const child = spawnSync(process.execPath, ["--experimental-strip-types", "--no-warnings", MAIN, ...args], { stdio: "inherit" });
    process.exit(child.status ?? 1);
  }
}
