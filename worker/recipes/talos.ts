import type { Recipe } from "./recipe.ts";

// A Talos worker machine config (trimmed `talosctl gen config` output): the cluster-wide secrets are site secrets,
// the public CA certificates and endpoint are vars, the hostname is the host's. Values are set as YAML data
// (render/yamlTemplate.ts), so a token cannot change the document's shape.
const TALOS_WORKER = `version: v1alpha1
debug: false
persist: true
machine:
  type: worker
  token: {{ secret.talosMachineToken }}
  ca:
    crt: {{ var.talosMachineCaCrt }}
    key: ""
  kubelet:
    image: ghcr.io/siderolabs/kubelet:{{ var.kubernetesVersion }}
  network:
    hostname: {{ host.hostname }}
  install:
    disk: {{ var.installDisk }}
    image: ghcr.io/siderolabs/installer:{{ var.talosVersion }}
    wipe: false
cluster:
  id: {{ var.talosClusterId }}
  secret: {{ secret.talosClusterSecret }}
  controlPlane:
    endpoint: {{ var.controlPlaneEndpoint }}
  clusterName: {{ var.clusterName }}
  network:
    dnsDomain: cluster.local
    podSubnets:
      - 10.244.0.0/16
    serviceSubnets:
      - 10.96.0.0/12
  token: {{ secret.talosClusterToken }}
  ca:
    crt: {{ var.kubernetesCaCrt }}
    key: ""
`;

// Talos on bare metal from PXE (README.md "Talos").
export const talos: Recipe = {
  id: "talos",
  title: "Talos Linux (metal PXE, machine config over HTTP)",
  image: {
    name: "talos",
    arch: "x86_64",
    version: "v1.9.5",
    artifacts: { kernel: "vmlinuz-amd64", initrd: ["initramfs-amd64.xz"] },
  },
  profile: {
    name: "talos-worker",
    description: "Talos worker; machine config from the per-host file `talos`",
    cmdline:
      "talos.platform=metal console=tty0 console=ttyS0 init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on ima_template=ima-ng ima_appraise=fix ima_hash=sha512 talos.config={{ boot.files.talos }}",
    nocloud: false,
    files: { talos: { kind: "talos", template: TALOS_WORKER } },
    vars: {
      talosVersion: "v1.9.5",
      kubernetesVersion: "v1.32.3",
      installDisk: "/dev/sda",
      clusterName: "edge",
      controlPlaneEndpoint: "https://10.20.30.10:6443",
      talosClusterId: "ZWRnZWJvb3QtZGVtby1jbHVzdGVyLWlkLTAwMDAwMDA=",
      talosMachineCaCrt: "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmRlbW8gbWFjaGluZSBDQQotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==",
      kubernetesCaCrt: "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmRlbW8ga3ViZXJuZXRlcyBDQQotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==",
    },
  },
  host: { hostname: "talos-1", mac: "52:54:00:de:00:03" },
  secrets: [
    { name: "talosMachineToken", scope: "site", demoValue: "demo01.0123456789abcdef" },
    { name: "talosClusterToken", scope: "site", demoValue: "demo02.fedcba9876543210" },
    { name: "talosClusterSecret", scope: "site", demoValue: "ZGVtby1jbHVzdGVyLXNlY3JldC1ub3QtZm9yLXVzZQ==" },
  ],
};
