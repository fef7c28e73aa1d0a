// Debian's own cloud-init, extracted with `dpkg -x` (never installed: the package would enable its services), for
// tests that run it against edgeboot's rendered data. Debian 12 (bookworm, 22.4.x) comes from the machine's apt
// sources; Debian 13 (trixie, 25.1.x) from a private apt configuration that leaves the machine's sources, pins and
// lists alone. Cached in test/interop/.cache (git-ignored), keyed by package version: a new version is a new
// directory. A missing peer fails the test naming it.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { trixieApt, trixieCandidate, trixieUpdate } from "../../helpers/trixie.ts";

export const CACHE = fileURLToPath(new URL("../.cache/", import.meta.url));
export const PYTHON = "/usr/bin/python3";
// Debian packages cloud-init imports (its Depends); the interop suite needs them installed.
export const PYTHON_PACKAGES: Record<string, string> = {
  yaml: "python3-yaml",
  jsonschema: "python3-jsonschema",
  jinja2: "python3-jinja2",
  configobj: "python3-configobj",
  requests: "python3-requests",
  jsonpatch: "python3-jsonpatch",
  netifaces: "python3-netifaces",
  serial: "python3-serial",
  oauthlib: "python3-oauthlib",
};

export type CloudInit = { dist: "bookworm" | "trixie"; version: string; pythonPath: string; bin: string };

function need(cond: boolean, what: string): asserts cond {
  if (!cond) throw new Error(`interop peer missing: ${what}`);
}

export function requirePython(): void {
  need(existsSync(PYTHON), `${PYTHON} (apt-get install python3)`);
  const missing = Object.entries(PYTHON_PACKAGES).filter(([mod]) => spawnSync(PYTHON, ["-c", `import ${mod}`]).status !== 0);
  need(missing.length === 0, `Python modules for cloud-init: apt-get install ${missing.map(([, pkg]) => pkg).join(" ")}`);
}

function candidateVersion(opts: string[]): string | null {
  const out = spawnSync("apt-cache", [...opts, "policy", "cloud-init"], { encoding: "utf8" });
  return /Candidate:\s*(\S+)/.exec(out.stdout ?? "")?.[1] ?? null;
}

/** The extracted cloud-init of a Debian release, downloading it only when that version is not cached. */
export function cloudInit(dist: "bookworm" | "trixie"): CloudInit {
  need(spawnSync("apt-get", ["--version"]).status === 0, "apt-get (a Debian machine)");
  need(spawnSync("dpkg", ["--version"]).status === 0, "dpkg");
  const distDir = join(CACHE, dist);
  mkdirSync(distDir, { recursive: true });
  // Trixie through the tests' private apt configuration (test/helpers/trixie.ts), never the machine's apt state.
  const apt = dist === "trixie" ? trixieApt(join(distDir, "apt")) : null;
  const opts = apt?.opts ?? [];
  let version = apt ? trixieCandidate(apt, "cloud-init") : candidateVersion(opts);
  if (!version && apt) {
    try {
      trixieUpdate(apt); // waits (bounded) while another test file holds apt's lock on the same lists
    } catch (err) {
      need(false, (err as Error).message);
    }
    version = trixieCandidate(apt, "cloud-init");
  }
  need(version !== null, `cloud-init in the ${dist} package lists`);
  const root = join(distDir, `cloud-init-${version.replace(/[^A-Za-z0-9.+~-]/g, "_")}`);
  if (!existsSync(join(root, "usr", "bin", "cloud-init"))) {
    // Test files run in parallel workers and may both find the cache cold: each downloads and extracts into its own
    // directories, and the first complete extraction to be renamed into place wins.
    const own = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    const dl = join(distDir, `download-${own}`);
    const tmp = `${root}.tmp-${own}`;
    mkdirSync(dl, { recursive: true });
    try {
      const got = spawnSync("apt-get", [...opts, "download", `cloud-init=${version}`], { cwd: dl, encoding: "utf8" });
      need(got.status === 0, `cloud-init ${version} from the ${dist} archive (apt-get download: ${got.stderr?.slice(-300)})`);
      const deb = readdirSync(dl).find((f) => f.endsWith(".deb"));
      need(deb !== undefined, `cloud-init ${version} .deb`);
      execFileSync("dpkg", ["-x", join(dl, deb), tmp]);
      try {
        renameSync(tmp, root);
      } catch (err) {
        if (!existsSync(join(root, "usr", "bin", "cloud-init"))) throw err;
      }
    } finally {
      rmSync(dl, { recursive: true, force: true });
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return { dist, version, pythonPath: join(root, "usr", "lib", "python3", "dist-packages"), bin: join(root, "usr", "bin", "cloud-init") };
}

/** Runs `cloud-init <args>` of that version with Debian's python3. */
export function runCloudInit(ci: CloudInit, args: string[], cwd?: string) {
  return spawnSync(PYTHON, [ci.bin, ...args], { cwd, encoding: "utf8", env: { ...process.env, PYTHONPATH: ci.pythonPath }, timeout: 120_000 });
}

/** Runs a Python script with that version's modules importable. */
export function runPython(ci: CloudInit, script: string, args: string[]) {
  return spawnSync(PYTHON, [script, ...args], { encoding: "utf8", env: { ...process.env, PYTHONPATH: ci.pythonPath }, timeout: 120_000 });
}
