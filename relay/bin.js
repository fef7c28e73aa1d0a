#!/usr/bin/env node
// `edgeboot-relay` launcher (package.json "bin"). The relay is TypeScript run by Node's type stripping, so it needs
// Node >= 22.6; on 22.6-22.17 the flag is added by re-running Node with it. See relay/README.md.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 6)) {
  console.error(
    `edgeboot-relay needs Node >= 22.6 (this is ${process.version}). From a checkout, \`npx edgeboot-relay\` uses the Node 22 in node_modules/.bin; or install Node 22 (or run the container).`,
  );
  process.exit(1);
}

if (process.features.typescript) {
  const { runCli } = await import("./main.ts");
  process.exitCode = await runCli(process.argv.slice(2), process.env);
} else {
  // Type stripping exists but is off by default before 22.18: run main.ts in a child Node with it on.
  const main = fileURLToPath(new URL("./main.ts", import.meta.url));
  const child = spawnSync(process.execPath, ["--experimental-strip-types", "--no-warnings", main, ...process.argv.slice(2)], { stdio: "inherit" });
  process.exit(child.status ?? 1);
}
