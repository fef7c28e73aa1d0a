// Debian 13 (trixie) packages for tests, fetched with a private apt configuration (its own sources list, package
// lists and cache under `dir`) so the machine's own sources, pins, lists and upgrades stay as they are. amd64 and
// arm64 lists both: the arm64 VM boots trixie's arm64 kernel and busybox. Downloaded .debs are kept by file name
// (name_version_arch.deb), so a new Debian version is a new file and an old one is never refetched.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const NATIVE = process.arch === "arm64" ? "arm64" : "amd64"; // the private lists carry these two only
const LIST = "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main\n";

export interface TrixieApt {
  dir: string;
  opts: string[];
}

export function trixieApt(dir: string): TrixieApt {
  mkdirSync(join(dir, "lists", "partial"), { recursive: true });
  mkdirSync(join(dir, "cache", "archives", "partial"), { recursive: true });
  // Rewritten only when different: apt's binary cache is invalidated by a newer sources list.
  const list = join(dir, "trixie.list");
  if (!existsSync(list) || readFileSync(list, "utf8") !== LIST) writeFileSync(list, LIST);
  if (!existsSync(join(dir, "status"))) writeFileSync(join(dir, "status"), "");
  const opts = [
    ["Dir::Etc::SourceList", join(dir, "trixie.list")],
    ["Dir::Etc::SourceParts", "/dev/null"],
    ["Dir::State::Lists", join(dir, "lists")],
    ["Dir::Cache", join(dir, "cache")],
    // Debian's container images switch apt's binary caches off (""): without them every apt-cache call re-parses
    // both architectures' lists (~7 s here); with them, 0.3 s. An empty dpkg status of our own: the machine's changes
    // whenever a package is installed, which would invalidate that cache (and nothing here is installed).
    ["Dir::State::status", join(dir, "status")],
    ["Dir::Cache::pkgcache", join(dir, "cache", "pkgcache.bin")],
    ["Dir::Cache::srcpkgcache", join(dir, "cache", "srcpkgcache.bin")],
    ["APT::Architectures::", "amd64"],
    ["APT::Architectures::", "arm64"],
  ].flatMap(([k, v]) => ["-o", `${k}=${v}`]);
  return { dir, opts };
}

/** `apt-get update` with the private lists; another process holding apt's lock on them is waited for (bounded). */
export function trixieUpdate(apt: TrixieApt): void {
  let failure = "";
  for (let attempt = 0; attempt < 20; attempt++) {
    const run = spawnSync("apt-get", [...apt.opts, "-q", "update"], { encoding: "utf8", timeout: 300_000 });
    if (run.status === 0) return;
    failure = (run.stderr || run.error?.message || "").slice(-300);
    spawnSync("sleep", ["3"]);
  }
  throw new Error(`Debian trixie package lists: apt-get update with the private config failed: ${failure}`);
}

/** The candidate version of `pkg` (`name` or `name:arch`) in the private lists, or null. */
export function trixieCandidate(apt: TrixieApt, pkg: string): string | null {
  const out = spawnSync("apt-cache", [...apt.opts, "policy", pkg], { encoding: "utf8" });
  const v = /Candidate:\s*(\S+)/.exec(out.stdout ?? "")?.[1];
  return v && v !== "(none)" ? v : null;
}

/** The real package a virtual/meta name resolves to (`linux-image-cloud-arm64:arm64` → `linux-image-6.12…-cloud-arm64`). */
export function trixieDepends(apt: TrixieApt, pkg: string, pattern: RegExp): string | null {
  const out = spawnSync("apt-cache", [...apt.opts, "depends", pkg], { encoding: "utf8" });
  for (const m of (out.stdout ?? "").matchAll(/Depends: (\S+)/g)) if (pattern.test(m[1]!)) return m[1]!;
  return null;
}

/** Fetches the private lists when there are none yet. */
export function trixieEnsureLists(apt: TrixieApt): void {
  if (!readdirSync(join(apt.dir, "lists")).some((f) => f.endsWith("_InRelease"))) trixieUpdate(apt);
}

/**
 * The .deb of each package (`name` or `name:arch`) at its candidate version, downloading only what is not kept yet.
 * Throws naming the package when it has no candidate or its download fails (stale lists: trixieUpdate, then retry).
 */
export function trixieDebs(apt: TrixieApt, pkgs: string[]): Record<string, { deb: string; version: string }> {
  trixieEnsureLists(apt);
  const debs = join(apt.dir, "debs");
  mkdirSync(debs, { recursive: true });
  const result: Record<string, { deb: string; version: string }> = {};
  for (const pkg of pkgs) {
    const got = downloadOne(apt, debs, pkg);
    if (typeof got === "string") throw new Error(`Debian trixie package ${pkg}: ${got}`);
    result[pkg] = got;
  }
  return result;
}

function downloadOne(apt: TrixieApt, debs: string, pkg: string): { deb: string; version: string } | string {
  const version = trixieCandidate(apt, pkg);
  if (!version) return "no candidate in the trixie lists";
  const [name, arch] = pkg.split(":");
  // dpkg file names escape the epoch colon as %3a and end with the arch: one version of busybox-static is kept as
  // _amd64 and _arm64, so a name without an arch means the machine's own (or an arch-independent `all` package).
  const prefix = `${name}_${version.replace(/:/g, "%3a")}_`;
  const archs = arch ? [arch] : [NATIVE, "all"];
  const kept = readdirSync(debs).find((f) => f.startsWith(prefix) && archs.some((a) => f === `${prefix}${a}.deb`));
  if (kept) return { deb: join(debs, kept), version };
  // Parallel test processes may both find it missing: each downloads into its own directory, renames into place.
  const tmp = join(debs, `.download-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(tmp);
  try {
    const run = spawnSync("apt-get", [...apt.opts, "-q", "download", `${pkg}=${version}`], { cwd: tmp, encoding: "utf8", timeout: 600_000 });
    const file = readdirSync(tmp).find((f) => f.endsWith(".deb"));
    if (run.status !== 0 || !file) return `apt-get download ${pkg}=${version} failed: ${(run.stderr || run.error?.message || "").slice(-300)}`;
    renameSync(join(tmp, file), join(debs, file));
    return { deb: join(debs, file), version };
  } finally {
    if (existsSync(tmp)) rmSync(tmp, { recursive: true, force: true });
  }
}
