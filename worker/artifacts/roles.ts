// Artifact roles: what each hash of an image is for. iPXE loads the kernel, the initrds (in order) and a NixOS store
// image after them; every other role is fetched by the booted system from `{{ boot.artifacts.<role> }}` on the kernel
// line. Roles outside this list are accepted too (`[a-z][a-z0-9_-]{0,31}`), fetched by the OS like rootfs.
// The order here is the order of signed manifests (artifacts/manifest.ts) and of the docs (artifacts/README.md).
export const KNOWN_ROLES = [
  { role: "kernel", loadedBy: "ipxe", what: "the Linux kernel (bzImage / vmlinuz / Image)" },
  { role: "initrd", loadedBy: "ipxe", what: "initramfs files, a list, loaded in order" },
  { role: "store", loadedBy: "ipxe", what: "NixOS: a cpio holding /nix-store.squashfs, loaded as the last initrd" },
  { role: "rootfs", loadedBy: "os", what: "a root filesystem the initramfs fetches (live-boot squashfs, CoreOS live rootfs image)" },
  { role: "modloop", loadedBy: "os", what: "Alpine: the kernel modules squashfs (modloop=)" },
  { role: "apkovl", loadedBy: "os", what: "Alpine: the overlay tarball applied at boot (apkovl=, a .apkovl.tar.gz)" },
] as const;

export type KnownRole = (typeof KNOWN_ROLES)[number]["role"];
export const ROLE_ORDER: readonly string[] = KNOWN_ROLES.map((r) => r.role);
export const ROLE_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

// Roles that `{{ boot.artifacts.<role> }}` can name: one hash each (initrd is a list and has no single URL).
export function singleRoles(artifacts: Record<string, unknown>): string[] {
  return Object.entries(artifacts)
    .filter(([, v]) => typeof v === "string")
    .map(([k]) => k);
}

// The roles a command-line template names through `{{ boot.artifacts.<role> }}`.
export function referencedRoles(refs: readonly string[]): string[] {
  const out = new Set<string>();
  for (const ref of refs) {
    const m = /^boot\.artifacts\.([^.]+)$/.exec(ref);
    if (m) out.add(m[1]!);
  }
  return [...out];
}

// The referenced roles an image lacks (a role is usable on the kernel line only when it is one hash).
export function missingRoles(refs: readonly string[], artifacts: Record<string, unknown>): string[] {
  const have = new Set(singleRoles(artifacts));
  return referencedRoles(refs).filter((r) => !have.has(r));
}
