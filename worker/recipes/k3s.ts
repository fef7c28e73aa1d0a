import { EXAMPLE_SSH_KEY, type Recipe } from "./recipe.ts";

// A k3s agent joining an existing server, on a Debian live image with its own cloud-init (README.md "k3s join").
// The join token is a host secret written to a 0600 file k3s reads (`token-file`), never a shell word; the server
// URL goes into k3s's config file as a JSON (= YAML) string.
const USER_DATA = `#cloud-config
hostname: {{ host.hostname }}
users:
  - name: ops
    groups: [sudo]
    sudo: "ALL=(ALL) NOPASSWD:ALL"
    ssh_authorized_keys: {{ var.sshAuthorizedKeys | json }}
write_files:
  - path: /etc/rancher/k3s/token
    permissions: "0600"
    content: {{ secret.k3sToken }}
  - path: /etc/rancher/k3s/config.yaml
    permissions: "0600"
    content: |
      server: {{ var.k3sServer | json }}
      token-file: /etc/rancher/k3s/token
runcmd:
  - curl -sfL https://get.k3s.io -o /tmp/k3s-install.sh
  - INSTALL_K3S_EXEC=agent sh /tmp/k3s-install.sh
phone_home:
  url: {{ boot.eventsUrl }}?phase=booted
  post: [instance_id, hostname]
`;

export const k3s: Recipe = {
  id: "k3s",
  title: "k3s agent join via cloud-init (per-host secret token)",
  image: {
    name: "debian12-live",
    arch: "x86_64",
    version: "12",
    artifacts: { kernel: "vmlinuz", initrd: ["initrd.img"], rootfs: "root.squashfs" },
  },
  profile: {
    name: "k3s-agent",
    description: "Debian 12 live + cloud-init, joining k3s with the host's own token",
    cmdline: "boot=live fetch={{ boot.artifacts.rootfs }}/root.squashfs net.ifnames=0 console=ttyS0,115200n8",
    userData: USER_DATA,
    vars: { k3sServer: "https://10.20.30.10:6443", sshAuthorizedKeys: [EXAMPLE_SSH_KEY] },
  },
  host: { hostname: "k3s-1", mac: "52:54:00:de:00:07" },
  secrets: [{ name: "k3sToken", scope: "host", demoValue: "K10demo0000000000000000000000000000000000000000::server:demo-token-k3s-1" }],
};
