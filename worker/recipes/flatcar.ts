import { IGNITION_TEMPLATE } from "./ignition.ts";
import { EXAMPLE_SSH_KEY, type Recipe } from "./recipe.ts";

// Flatcar Container Linux, live PXE from RAM (README.md "Flatcar").
export const flatcar: Recipe = {
  id: "flatcar",
  title: "Flatcar Container Linux (live PXE, Ignition)",
  image: {
    name: "flatcar",
    arch: "x86_64",
    version: "stable",
    artifacts: { kernel: "flatcar_production_pxe.vmlinuz", initrd: ["flatcar_production_pxe_image.cpio.gz"] },
  },
  profile: {
    name: "flatcar-live",
    description: "Flatcar from RAM; Ignition from the per-host file `ignition`",
    cmdline: "flatcar.first_boot=1 ignition.config.url={{ boot.files.ignition }} console=tty0 console=ttyS0,115200n8",
    nocloud: false,
    files: { ignition: { kind: "ignition", template: IGNITION_TEMPLATE } },
    vars: { coreSshKey: EXAMPLE_SSH_KEY },
  },
  host: { hostname: "flatcar-1", mac: "52:54:00:de:00:01" },
};
