import { EXAMPLE_SSH_KEY, type Recipe } from "./recipe.ts";

// The autoinstall document: Ubuntu's installer (subiquity) reads it as cloud-init user-data with a top-level
// `autoinstall:` key, from edgeboot's NoCloud seed (README.md "Ubuntu autoinstall").
const AUTOINSTALL = `#cloud-config
autoinstall:
  version: 1
  identity:
    hostname: {{ host.hostname }}
    username: ops
    password: {{ secret.opsPasswordHash }}
  ssh:
    install-server: true
    allow-pw: false
    authorized-keys: {{ var.sshAuthorizedKeys | json }}
  storage:
    layout:
      name: lvm
  early-commands:
    - curl -fsS -X POST '{{ boot.eventsUrl }}?phase=installing'
  late-commands:
    - curl -fsS -X POST '{{ boot.eventsUrl }}?phase=installed'
`;

// Ubuntu Server live installer over the network (casper fetches the ISO, role `iso`), fully automatic.
export const ubuntu: Recipe = {
  id: "ubuntu",
  title: "Ubuntu Server autoinstall (live installer, NoCloud user-data)",
  image: {
    name: "ubuntu-server",
    arch: "x86_64",
    version: "24.04",
    artifacts: { kernel: "casper/vmlinuz", initrd: ["casper/initrd"], iso: "ubuntu-24.04-live-server-amd64.iso" },
  },
  profile: {
    name: "ubuntu-autoinstall",
    description: "Ubuntu Server installed by subiquity from the autoinstall user-data",
    cmdline: "ip=dhcp url={{ boot.artifacts.iso }}/ubuntu-live-server-amd64.iso cloud-config-url=/dev/null autoinstall console=ttyS0,115200n8",
    userData: AUTOINSTALL,
    vars: { sshAuthorizedKeys: [EXAMPLE_SSH_KEY] },
  },
  host: { hostname: "ubuntu-1", mac: "52:54:00:de:00:06" },
  // A crypt(3) hash (mkpasswd -m sha-512); the demo value hashes nothing anyone knows.
  secrets: [{ name: "opsPasswordHash", scope: "host", demoValue: "$6$edgeboot.demo$NotARealHashNotARealHashNotARealHashNotARealHashNotARealHash0" }],
};
