import type { Recipe } from "./recipe.ts";

// NixOS netboot (README.md "NixOS"): the kernel, the stage-1 initrd and the store image (role `store`, loaded by iPXE
// after the initrd) from one build; `init=` names that build's system closure, so it is a var updated with the image.
export const nixos: Recipe = {
  id: "nixos",
  title: "NixOS (netboot: kernel + initrd + store squashfs, init= from the build)",
  image: {
    name: "nixos",
    arch: "x86_64",
    version: "24.11",
    artifacts: { kernel: "bzImage", initrd: ["initrd"], store: "nix-store.cpio" },
  },
  profile: {
    name: "nixos-netboot",
    description: "NixOS from RAM; init= from the build's system.build.toplevel",
    cmdline: "init={{ var.nixosInit }} loglevel=4 console=tty0 console=ttyS0,115200n8",
    nocloud: false,
    vars: { nixosInit: "/nix/store/00000000000000000000000000000000-nixos-system-edgeboot-24.11/init" },
  },
  host: { hostname: "nixos-1", mac: "52:54:00:de:00:04" },
};
