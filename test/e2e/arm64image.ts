// What the arm64 VM boots, all from Debian 13 (trixie, fetched with a private apt configuration:
// test/helpers/trixie.ts): iPXE's `ipxe-arm64.efi` for the relay to hand arm64 UEFI PXE clients, the cloud-arm64
// kernel, and an initramfs of `busybox-static:arm64` running the same initramfs/init as the x86 scenarios.
// virtio, virtio_ring and virtio_pci are built into that kernel; failover, net_failover and virtio_net are xz
// modules, unpacked here (busybox insmod is given plain .ko). Cached under E2E_CACHE_DIR (or test/e2e/.work),
// keyed by the three package versions and the init files, so the same bytes (same sha256) are uploaded every run.
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type TrixieApt, trixieApt, trixieDebs, trixieDepends, trixieEnsureLists, trixieUpdate } from "../helpers/trixie.ts";
import { initFiles, packInitramfs, workRoot } from "./image.ts";
import { sh } from "./proc.ts";

// Insmod order: dependencies first (the init loads whichever of its list are present, in its own order).
const MODULES = ["failover", "net_failover", "virtio_net"];

export interface Arm64Assets {
  /** Debian's ipxe-arm64.efi, under the file name the relay's --arm64-binary default expects. */
  ipxeEfi: string;
  kernel: string;
  initrd: string;
  kernelSha256: string;
  initrdSha256: string;
  /** `name=version` of each trixie package used. */
  packages: string[];
  kernelPackage: string;
}

const cacheRoot = () => process.env.E2E_CACHE_DIR || workRoot;
const sha256File = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

/** The packages' .debs at their candidate versions; stale lists (a version gone from the mirror) are refreshed once. */
function fetchDebs(apt: TrixieApt): { kernelPkg: string; wanted: string[]; debs: ReturnType<typeof trixieDebs> } {
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0) trixieUpdate(apt);
    else trixieEnsureLists(apt);
    const kernelPkg = trixieDepends(apt, "linux-image-cloud-arm64:arm64", /^linux-image-\d\S*-cloud-arm64/)?.replace(/:arm64$/, "");
    try {
      if (!kernelPkg) throw new Error("cannot resolve linux-image-cloud-arm64:arm64 in the trixie lists to a kernel package");
      const wanted = ["ipxe", "busybox-static:arm64", `${kernelPkg}:arm64`];
      return { kernelPkg, wanted, debs: trixieDebs(apt, wanted) };
    } catch (err) {
      if (attempt > 0) throw err;
    }
  }
}

export function ensureArm64Assets(): Arm64Assets {
  const apt = trixieApt(join(cacheRoot(), "trixie-apt"));
  const { kernelPkg, wanted, debs } = fetchDebs(apt);
  const packages = wanted.map((p) => `${p}=${debs[p]!.version}`);
  const key = createHash("sha256")
    .update(packages.join("\n"))
    .update(initFiles.map(sha256File).join())
    .digest("hex")
    .slice(0, 16);
  const dir = join(cacheRoot(), `arm64-${key}`);
  const assets: Arm64Assets = {
    ipxeEfi: join(dir, "ipxe-arm64.efi"),
    kernel: join(dir, "vmlinuz"),
    initrd: join(dir, "initrd.img"),
    kernelSha256: "",
    initrdSha256: "",
    packages,
    kernelPackage: `${kernelPkg}_${debs[`${kernelPkg}:arm64`]!.version}`,
  };
  const manifest = join(dir, "assets.json");
  if (existsSync(manifest)) return { ...assets, ...JSON.parse(readFileSync(manifest, "utf8")) };

  mkdirSync(cacheRoot(), { recursive: true });
  const tmp = mkdtempSync(join(cacheRoot(), "arm64-build-"));
  try {
    // Only the files needed, not the whole ~30 MB kernel package.
    const extract = (deb: string, members: string[]) => sh("sh", ["-c", 'd=$1; t=$2; shift 2; dpkg-deb --fsys-tarfile "$d" | tar -x -C "$t" --wildcards "$@"', "sh", deb, tmp, ...members]);
    extract(debs.ipxe!.deb, ["./usr/lib/ipxe/ipxe-arm64.efi"]);
    extract(debs["busybox-static:arm64"]!.deb, ["./usr/bin/busybox"]);
    extract(debs[`${kernelPkg}:arm64`]!.deb, ["./boot/vmlinuz-*", ...MODULES.map((m) => `*/${m}.ko.xz`)]);
    const kernelName = readdirSync(join(tmp, "boot")).find((f) => f.startsWith("vmlinuz-"));
    if (!kernelName) throw new Error(`${kernelPkg} has no /boot/vmlinuz-*`);
    const modules = MODULES.map((m) => {
      const found = sh("find", [join(tmp, "usr/lib/modules"), "-name", `${m}.ko.xz`]).trim().split("\n")[0];
      if (!found) throw new Error(`${kernelPkg} has no ${m}.ko.xz`);
      sh("unxz", [found]);
      return found.replace(/\.xz$/, "");
    });
    packInitramfs({ busybox: join(tmp, "usr/bin/busybox"), modules, root: join(tmp, "initramfs"), out: join(tmp, "initrd.img") });

    const staged = join(tmp, "out");
    mkdirSync(staged);
    copyFileSync(join(tmp, "usr/lib/ipxe/ipxe-arm64.efi"), join(staged, "ipxe-arm64.efi"));
    renameSync(join(tmp, "boot", kernelName), join(staged, "vmlinuz"));
    renameSync(join(tmp, "initrd.img"), join(staged, "initrd.img"));
    const sums = { kernelSha256: sha256File(join(staged, "vmlinuz")), initrdSha256: sha256File(join(staged, "initrd.img")) };
    writeFileSync(join(staged, "assets.json"), JSON.stringify({ ...sums, packages }, null, 2));
    // Another process may have finished the same build first: its copy is identical.
    try {
      renameSync(staged, dir);
    } catch (err) {
      if (!existsSync(manifest)) throw err;
    }
    // Builds from older package versions are never used again.
    for (const d of readdirSync(cacheRoot())) if (/^arm64-[0-9a-f]{16}$/.test(d) && d !== `arm64-${key}`) rmSync(join(cacheRoot(), d), { recursive: true, force: true });
    return { ...assets, ...sums };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
