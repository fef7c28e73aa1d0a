// What the e2e suite needs from the machine. Locally a missing piece skips the suite with a clear message;
// in CI (CI=true) it fails, so a broken runner can never pass by skipping.
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

const files = [
  "/dev/net/tun",
  "/usr/share/OVMF/OVMF_CODE_4M.fd",
  "/usr/share/OVMF/OVMF_VARS_4M.fd",
  "/usr/lib/ipxe/ipxe.efi",
  "/usr/lib/ipxe/undionly.kpxe",
  "/bin/busybox",
];
const commands = ["qemu-system-x86_64", "ip", "dnsmasq", "nginx", "cpio", "dpkg-deb", "gzip", "curl"];

function onPath(cmd: string): boolean {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/sbin"];
  return dirs.some((dir) => {
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export function missingPrereqs(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push("root (network namespaces and tap devices)");
  for (const file of files) {
    try {
      accessSync(file);
    } catch {
      missing.push(file);
    }
  }
  for (const cmd of commands) if (!onPath(cmd)) missing.push(`${cmd} on PATH`);
  return missing;
}

// The real-OS scenarios also build their image: mmdebstrap (Debian package mmdebstrap) and mksquashfs
// (squashfs-tools), from the machine's apt sources.
export function osPrereqsMissing(): string[] {
  return ["mmdebstrap", "mksquashfs"].filter((cmd) => !onPath(cmd)).map((cmd) => `${cmd} on PATH`);
}

// The arm64 scenario also runs qemu-system-aarch64 (Debian qemu-system-arm) on AAVMF (qemu-efi-aarch64), and unpacks
// the trixie kernel's xz modules (xz-utils); its Debian 13 packages come through apt-get (test/helpers/trixie.ts).
export function arm64PrereqsMissing(): string[] {
  const missing = ["/usr/share/AAVMF/AAVMF_CODE.fd", "/usr/share/AAVMF/AAVMF_VARS.fd", "/usr/share/keyrings/debian-archive-keyring.gpg"].filter((f) => {
    try {
      accessSync(f);
      return false;
    } catch {
      return true;
    }
  });
  return [...missing, ...["qemu-system-aarch64", "unxz", "apt-get"].filter((cmd) => !onPath(cmd)).map((cmd) => `${cmd} on PATH`)];
}

// The installer scenario takes Debian's debian-installer-12-netboot-amd64: installed (its files are used in place),
// or fetched with `apt-get download` from the machine's apt sources (bookworm main) into the e2e cache.
export function installerPrereqsMissing(): string[] {
  try {
    accessSync("/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64/initrd.gz");
    return [];
  } catch {
    return ["apt-get", "apt-cache", "dpkg-deb", "tar"].filter((cmd) => !onPath(cmd)).map((cmd) => `${cmd} on PATH (to fetch debian-installer-12-netboot-amd64)`);
  }
}

/** true = run the suite; false = skip it (message printed); throws in CI. `extra` checks a scenario file's own needs. */
export function e2eEnabled(...extra: Array<() => string[]>): boolean {
  const missing = [...missingPrereqs(), ...osPrereqsMissing(), ...extra.flatMap((check) => check())];
  if (missing.length === 0) return true;
  const message = `e2e suite needs: ${missing.join(", ")} (Debian: qemu-system-x86 ovmf ipxe ipxe-qemu dnsmasq-base nginx-light busybox-static cpio iproute2 curl mmdebstrap squashfs-tools, and for arm64 qemu-system-arm qemu-efi-aarch64 xz-utils debian-archive-keyring; run as root)`;
  if (process.env.CI === "true") throw new Error(message);
  console.warn(`SKIPPING ${message}`);
  return false;
}
