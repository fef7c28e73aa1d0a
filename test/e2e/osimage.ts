// The real OS the suite boots: a diskless Debian (systemd, the distribution's own cloud-init, live-boot fetching a
// squashfs root into RAM), built from the machine's apt sources in two cached stages under test/e2e/.work/:
// os/base.sh (mmdebstrap; keyed by the candidate versions of the packages it installs, so redone only when Debian
// ships new ones) and os/image.sh (the report unit and per-machine state removed; keyed by the recipe files).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { workRoot } from "./image.ts";
import { sh } from "./proc.ts";

const here = fileURLToPath(new URL(".", import.meta.url));
const os = (f: string) => join(here, "os", f);
const baseRecipe = [os("base.sh")];
const imageRecipe = [os("image.sh"), os("report.sh"), os("edgeboot-report.service")];
// What base.sh installs by name (their dependencies follow from these versions in one suite).
const PACKAGES = ["systemd", "systemd-resolved", "udev", "dbus", "cloud-init", "linux-image-cloud-amd64", "live-boot", "initramfs-tools", "busybox", "iproute2", "sudo", "openssh-server", "curl"];

export interface OsImage {
  suite: string;
  kernel: string;
  initrd: string;
  rootfs: string;
  kernelSha256: string;
  initrdSha256: string;
  rootfsSha256: string;
  /** `package version` of everything inside, from dpkg-query in the image. */
  packages: Record<string, string>;
  /** Seconds the build took when it ran (the first run, from cold). */
  buildSeconds: number;
}

const sha256File = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

/** Candidate versions apt would install now; a machine with no package lists gets them first. */
function candidateVersions(): string {
  const policy = () => sh("apt-cache", ["policy", ...PACKAGES]);
  let out = policy();
  if (!/Candidate: (?!\(none\))/.test(out)) {
    sh("apt-get", ["update", "-qq"]);
    out = policy();
  }
  const versions = [...out.matchAll(/^(\S+):\n\s+Installed: .*\n\s+Candidate: (\S+)/gm)].map((m) => `${m[1]}=${m[2]}`);
  const missing = PACKAGES.filter((p) => !versions.some((v) => v.startsWith(`${p}=`)) || versions.includes(`${p}=(none)`));
  if (missing.length) throw new Error(`apt has no candidate for ${missing.join(", ")} (the OS image needs them)`);
  return versions.sort().join(" ");
}

// The built stages are keyed by their inputs, so clones on one machine can share them: E2E_CACHE_DIR (CI sets it)
// keeps them outside the checkout; by default they live in the work dir.
const cacheRoot = process.env.E2E_CACHE_DIR || workRoot;

const key = (...parts: string[]) => createHash("sha256").update(parts.join("\n")).digest("hex").slice(0, 16);

/** Where the two stages for these inputs are (or will be) cached: the slow package install, then the image. */
export function osImageDirs(suite: string): { base: string; image: string } {
  const baseKey = key(suite, candidateVersions(), ...baseRecipe.map(sha256File));
  return { base: join(cacheRoot, `os-base-${suite}-${baseKey}`), image: join(cacheRoot, `os-${suite}-${key(baseKey, ...imageRecipe.map(sha256File))}`) };
}

/** Runs one stage into a temporary directory and moves it into place; returns the seconds it took. */
function stage(script: string, args: string[], dir: string, tmp: string): number {
  const started = Date.now();
  rmSync(tmp, { recursive: true, force: true });
  try {
    sh(os(script), [...args.map((a) => (a === "$OUT" ? tmp : a))]);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return Math.round((Date.now() - started) / 1000);
}

export function ensureOsImage(suite = "bookworm"): OsImage {
  const dirs = osImageDirs(suite);
  const dir = dirs.image;
  const manifest = join(dir, "image.json");
  const at = (image: OsImage): OsImage => ({ ...image, kernel: join(dir, "vmlinuz"), initrd: join(dir, "initrd.img"), rootfs: join(dir, "root.squashfs") });
  if (existsSync(manifest)) return at(JSON.parse(readFileSync(manifest, "utf8")) as OsImage);

  mkdirSync(cacheRoot, { recursive: true });
  let buildSeconds = 0;
  if (!existsSync(join(dirs.base, "base.squashfs"))) {
    console.log(`installing the ${suite} base with mmdebstrap (only when Debian's package versions change; cached in ${dirs.base})`);
    buildSeconds += stage("base.sh", ["$OUT", suite], dirs.base, join(cacheRoot, `os-base-tmp-${process.pid}`));
    console.log(`installed the ${suite} base in ${buildSeconds} s`);
  }
  buildSeconds += stage("image.sh", [dirs.base, "$OUT"], dir, join(cacheRoot, `os-tmp-${process.pid}`));
  const packages = Object.fromEntries(
    readFileSync(join(dir, "packages.txt"), "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split(" ") as [string, string]),
  );
  const image: OsImage = {
    suite,
    kernel: "",
    initrd: "",
    rootfs: "",
    kernelSha256: sha256File(join(dir, "vmlinuz")),
    initrdSha256: sha256File(join(dir, "initrd.img")),
    rootfsSha256: sha256File(join(dir, "root.squashfs")),
    packages,
    buildSeconds,
  };
  writeFileSync(manifest, JSON.stringify(image, null, 2));
  console.log(`built the ${suite} image in ${buildSeconds} s: cloud-init ${packages["cloud-init"]}, ${Object.keys(packages).length} packages`);
  // Stages of this suite built from older inputs are never used again.
  for (const d of readdirSync(cacheRoot)) {
    if ((d.startsWith(`os-${suite}-`) || d.startsWith(`os-base-${suite}-`)) && ![basename(dir), basename(dirs.base)].includes(d)) rmSync(join(cacheRoot, d), { recursive: true, force: true });
  }
  return at(image);
}
