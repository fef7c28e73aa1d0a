#!/usr/bin/env node
// `edgeboot` (package.json "bin"). The CLI is TypeScript run by Node's type stripping (on by default from 22.18;
// 22.6-22.17 need the flag, so this re-runs itself with it).
import { spawnSync } from "node:child_process";

const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 6)) {
  console.error(`edgeboot needs Node >= 22.6 (this is ${process.version}); from a checkout, \`npx edgeboot\` uses the Node 22 in node_modules/.bin.`);
  process.exit(1);
}
if (process.features.typescript) {
  process.removeAllListeners("warning");
  const { run } = await import("./main.ts");
  process.exitCode = await run(process.argv.slice(2), process.env);
} else {
  const child = spawnSync(process.execPath, ["--experimental-strip-types", "--no-warnings", ...process.argv.slice(1)], { stdio: "inherit" });
  process.exit(child.status ?? 1);
}
