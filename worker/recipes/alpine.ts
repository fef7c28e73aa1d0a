import { EXAMPLE_SSH_KEY, type Recipe } from "./recipe.ts";

// Alpine diskless from the netboot files (README.md "Alpine"): modules and the overlay come from the image, packages
// from the repository; the overlay adds tiny-cloud, which reads edgeboot's NoCloud seed (ds= is added by edgeboot).
export const alpine: Recipe = {
  id: "alpine",
  title: "Alpine Linux diskless (modloop, apkovl, alpine_repo, tiny-cloud NoCloud)",
  image: {
    name: "alpine",
    arch: "x86_64",
    version: "3.21",
    artifacts: { kernel: "vmlinuz-lts", initrd: ["initramfs-lts"], modloop: "modloop-lts", apkovl: "edgeboot.apkovl.tar.gz" },
  },
  profile: {
    name: "alpine-diskless",
    description: "Alpine from RAM; tiny-cloud reads #alpine-config user-data",
    cmdline:
      "ip=dhcp modules=loop,squashfs,sd-mod,usb-storage alpine_repo={{ var.alpineRepo }} modloop={{ boot.artifacts.modloop }}/modloop-lts apkovl={{ boot.artifacts.apkovl }}/edgeboot.apkovl.tar.gz console=tty0 console=ttyS0,115200n8",
    userData:
      "#alpine-config\nuser:\n  name: ops\nssh_authorized_keys: {{ var.sshAuthorizedKeys | json }}\npackages:\n  - curl\nruncmd:\n  - curl -fsS -X POST '{{ boot.eventsUrl }}?phase=booted'\n",
    vars: { alpineRepo: "http://dl-cdn.alpinelinux.org/alpine/v3.21/main", sshAuthorizedKeys: [EXAMPLE_SSH_KEY] },
  },
  host: { hostname: "alpine-1", mac: "52:54:00:de:00:05" },
};
