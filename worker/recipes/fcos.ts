import { IGNITION_TEMPLATE } from "./ignition.ts";
import { EXAMPLE_SSH_KEY, type Recipe } from "./recipe.ts";

// Fedora CoreOS, live PXE from RAM with the rootfs fetched by the initramfs (README.md "Fedora CoreOS").
export const fcos: Recipe = {
  id: "fcos",
  title: "Fedora CoreOS (live PXE, Ignition, rootfs over HTTP)",
  image: {
    name: "fedora-coreos",
    arch: "x86_64",
    version: "stable",
    artifacts: {
      kernel: "fedora-coreos-live-kernel.x86_64",
      initrd: ["fedora-coreos-live-initramfs.x86_64.img"],
      rootfs: "fedora-coreos-live-rootfs.x86_64.img",
    },
  },
  profile: {
    name: "fcos-live",
    description: "Fedora CoreOS from RAM; Ignition from the per-host file `ignition`",
    cmdline:
      "coreos.live.rootfs_url={{ boot.artifacts.rootfs }}/fedora-coreos-live-rootfs.x86_64.img ignition.firstboot ignition.platform.id=metal ignition.config.url={{ boot.files.ignition }} console=tty0 console=ttyS0,115200n8",
    nocloud: false,
    files: { ignition: { kind: "ignition", template: IGNITION_TEMPLATE } },
    vars: { coreSshKey: EXAMPLE_SSH_KEY },
  },
  host: { hostname: "fcos-1", mac: "52:54:00:de:00:02" },
};
