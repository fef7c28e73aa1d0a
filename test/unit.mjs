// `npm test`: the worker, relay and CLI projects (extra arguments go to vitest, e.g. a file), then, pass or fail, the
// suites it leaves out and the command that runs them (an npm posttest would print them only after a green run).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const vitest = fileURLToPath(new URL("../node_modules/vitest/vitest.mjs", import.meta.url));
const run = spawnSync(process.execPath, [vitest, "run", "--config", "test/vitest.config.ts", "--project", "worker", "--project", "relay", "--project", "cli", ...process.argv.slice(2)], {
  cwd: root,
  stdio: "inherit",
});
await import("./notRun.mjs");
process.exit(run.status ?? 1);
