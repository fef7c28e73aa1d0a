// The boot image every scenario shares: a Debian cloud kernel and a busybox initramfs running
// test/e2e/initramfs/init. Built once and cached under test/e2e/.work/ (gitignored), keyed by the kernel package,
// busybox and the init files, so reruns cost nothing and the same bytes (same sha256) are uploaded every time.
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { sh } from "./proc.ts";

const here = fileURLToPath(new URL(".", import.meta.url));
export const workRoot = join(here, ".work");

// virtio_net is a module in Debian's cloud kernel; insmod order matters (dependencies first).
const modules = ["virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci", "failover", "net_failover", "virtio_net"];

export interface BootImage {
  kernel: string;
  initrd: string;
  kernelPackage: string;
  kernelSha256: string;
  initrdSha256: string;
}

const sha256File = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

/** A linux-image-*-cloud-amd64 .deb: $E2E_KERNEL_DEB, apt's cache, or `apt-get download` into .work/debs. */
function findKernelDeb(): string {
  const fromEnv = process.env.E2E_KERNEL_DEB;
  if (fromEnv) return fromEnv;
  const pattern = /^linux-image-\d[^_]*-cloud-amd64_.*\.deb$/;
  const dirs = ["/var/cache/apt/archives", join(workRoot, "debs")];
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    const debs = readdirSync(dir).filter((f) => pattern.test(f));
    if (debs.length) return join(dir, debs.sort(compareVersions).at(-1)!);
  }
  const debs = join(workRoot, "debs");
  mkdirSync(debs, { recursive: true });
  const resolve = () => /Depends: (linux-image-\S+-cloud-amd64)/.exec(sh("apt-cache", ["depends", "linux-image-cloud-amd64"]))?.[1];
  let pkg: string | undefined;
  try {
    pkg = resolve();
  } catch {
    sh("apt-get", ["update", "-qq"]); // a fresh CI machine may have no package lists yet
    pkg = resolve();
  }
  if (!pkg) throw new Error("cannot resolve linux-image-cloud-amd64 to a kernel package");
  sh("apt-get", ["download", pkg], { cwd: debs });
  const got = readdirSync(debs).find((f) => f.startsWith(`${pkg}_`));
  if (!got) throw new Error(`apt-get download ${pkg} left no .deb in ${debs}`);
  return join(debs, got);
}

function compareVersions(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}

/** The init files every busybox initramfs runs (arch-neutral shell); part of each image's cache key. */
export const initFiles = ["init", "udhcpc.sh"].map((f) => join(here, "initramfs", f));

/**
 * Builds a busybox initramfs in `root` (an empty or missing directory) and packs it to `out`: `busybox` as
 * /bin/busybox, initramfs/init, its udhcpc hook, and `modules` (uncompressed .ko files) in /lib/modules.
 */
export function packInitramfs(opts: { busybox: string; modules: string[]; root: string; out: string }): void {
  const { root } = opts;
  for (const d of ["bin", "dev", "etc", "lib/modules", "proc", "sys", "run", "tmp"]) mkdirSync(join(root, d), { recursive: true });
  copyFileSync(opts.busybox, join(root, "bin/busybox"));
  copyFileSync(initFiles[0]!, join(root, "init"));
  copyFileSync(initFiles[1]!, join(root, "etc/udhcpc.sh"));
  for (const f of ["bin/busybox", "init", "etc/udhcpc.sh"]) chmodSync(join(root, f), 0o755);
  for (const m of opts.modules) copyFileSync(m, join(root, "lib/modules", basename(m)));
  // The kernel opens /dev/console for init before devtmpfs is mounted; without the node init has no output.
  sh("mknod", [join(root, "dev/console"), "c", "5", "1"]);
  sh("ln", ["-s", "busybox", join(root, "bin/sh")]);
  // Fixed mtimes and owners: the same inputs give the same initrd bytes, so the artifact hash is stable.
  sh("sh", ["-c", 'cd "$1" && find . -exec touch -h -d @0 {} + && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet | gzip -n -9 > "$2"', "sh", root, opts.out]);
}

export function ensureBootImage(): BootImage {
  const deb = findKernelDeb();
  const key = createHash("sha256")
    .update(basename(deb))
    .update(sha256File("/bin/busybox"))
    .update(initFiles.map(sha256File).join())
    .digest("hex")
    .slice(0, 16);
  const dir = join(workRoot, `image-${key}`);
  const manifest = join(dir, "image.json");
  if (existsSync(manifest)) {
    const cached = JSON.parse(readFileSync(manifest, "utf8")) as BootImage;
    return { ...cached, kernel: join(dir, "vmlinuz"), initrd: join(dir, "initrd.img") }; // the checkout may have moved
  }

  mkdirSync(workRoot, { recursive: true });
  const tmp = mkdtempSync(join(workRoot, "build-"));
  try {
    // Only the kernel and the NIC modules, not the whole ~100 MB package.
    const tar = join(tmp, "fs.tar");
    sh("sh", ["-c", 'dpkg-deb --fsys-tarfile "$1" > "$2"', "sh", deb, tar]);
    const wanted = ["./boot/vmlinuz-*", ...modules.map((m) => `*/${m}.ko`)];
    sh("tar", ["-x", "-f", tar, "-C", tmp, "--wildcards", ...wanted]);
    const kernelName = readdirSync(join(tmp, "boot")).find((f) => f.startsWith("vmlinuz-"));
    if (!kernelName) throw new Error(`${deb} has no /boot/vmlinuz-*`);

    const moduleFiles = modules.map((m) => {
      const found = sh("find", [join(tmp, "lib"), "-name", `${m}.ko`]).trim().split("\n")[0];
      if (!found) throw new Error(`${deb} has no ${m}.ko`);
      return found;
    });
    packInitramfs({ busybox: "/bin/busybox", modules: moduleFiles, root: join(tmp, "initramfs"), out: join(tmp, "initrd.img") });

    mkdirSync(dir, { recursive: true });
    renameSync(join(tmp, "boot", kernelName), join(dir, "vmlinuz"));
    renameSync(join(tmp, "initrd.img"), join(dir, "initrd.img"));
    const image: BootImage = {
      kernel: join(dir, "vmlinuz"),
      initrd: join(dir, "initrd.img"),
      kernelPackage: basename(deb),
      kernelSha256: sha256File(join(dir, "vmlinuz")),
      initrdSha256: sha256File(join(dir, "initrd.img")),
    };
    writeFileSync(manifest, JSON.stringify(image, null, 2));
    // Images built from older inputs are never used again.
    for (const d of readdirSync(workRoot)) if (d.startsWith("image-") && d !== basename(dir)) rmSync(join(workRoot, d), { recursive: true, force: true });
    return image;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
