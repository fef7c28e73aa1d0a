// Interop tests run real Debian tools as peers. A missing tool fails the test with its name and the package that
// provides it, never with a misleading assertion about its (empty) output.
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";

export function findExecutable(command: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const path = join(dir, command);
    try {
      if (statSync(path).isFile()) {
        accessSync(path, constants.X_OK);
        return path;
      }
    } catch {}
  }
  return null;
}

export function requirePeer(command: string, debianPackage: string): string {
  const path = findExecutable(command);
  if (!path) throw new Error(`interop peer "${command}" is not installed (Debian package ${debianPackage}; .ci/run installs it)`);
  return path;
}
