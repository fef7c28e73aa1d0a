// The real-OS side of the catalogue and of the DIY baseline: the Debian image uploaded as one image (kernel, initrd,
// rootfs), a profile whose kernel line lets live-boot fetch the squashfs from the relay cache, and cloud-config
// user-data an operator would write (a user with a key and sudo, a site secret in write_files, runcmd, cloud-init's
// own phone_home). The DIY baseline gets the same user-data with literal values, as a hand-made site would.
import { generateKeyPairSync } from "node:crypto";
import type { AdminApi } from "./api.ts";
import type { OsImage } from "./osimage.ts";

export const OS_IMAGE = "e2e-debian12-live";
export const OS_PROFILE = "e2e-debian12-cloud";
export const OS_USER = "opsadmin";
export const SECRET_NAME = "siteJoinToken";
// systemd prints its status lines only on errors, so the serial console stays readable for the report.
// net.ifnames=0: the NIC is eth0 from the start. live-boot leaves it up (it fetched the root with it), and
// cloud-init 22.4 refuses to rename an interface that is up ("[busy] Error renaming"), while every renderer
// matches the name it was given (networkd: [Match] Name= and MACAddress=): the name must already be right.
const OS_ARGS = "console=ttyS0 boot=live net.ifnames=0 systemd.show_status=error";
export const osCmdline = (squashfsUrl: string) => `${OS_ARGS} fetch=${squashfsUrl}`;

/** An OpenSSH ed25519 public key line (the VM only stores it; nobody logs in). */
export function sshPublicKey(comment: string): string {
  const der = generateKeyPairSync("ed25519").publicKey.export({ format: "der", type: "spki" });
  const field = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const blob = Buffer.concat([field(Buffer.from("ssh-ed25519")), field(der.subarray(der.length - 32))]);
  return `ssh-ed25519 ${blob.toString("base64")} ${comment}`;
}

/**
 * The user-data, with the values given either as edgeboot template expressions or as literals (DIY). The URL in
 * runcmd's flow sequence is quoted: cloud-init's PyYAML (YAML 1.1) ends a plain scalar at `?` inside `[...]`.
 * runcmd's second command reports a later phase once cloud-final is over (after phone_home's `booted`), leaving
 * curl's exit code in /run/edgeboot-ready.done for the report unit (os/report.sh).
 */
export function osUserData(v: { eventsUrl: string; secret: string; sshKey: string }): string {
  return `#cloud-config
users:
  - name: ${OS_USER}
    shell: /bin/bash
    lock_passwd: true
    sudo: "ALL=(ALL) NOPASSWD:ALL"
    ssh_authorized_keys:
      - ${v.sshKey}
write_files:
  - path: /etc/edgeboot/site-join-token
    permissions: "0600"
    content: ${v.secret}
runcmd:
  - [sh, -c, 'echo "runcmd ran on $(hostname)" > /run/edgeboot-runcmd']
  - [systemd-run, --no-block, --unit=edgeboot-ready, --property=After=cloud-final.service, sh, -c, 'curl -fsS -X POST "$0" > /run/edgeboot-ready.out 2>&1; echo $? > /run/edgeboot-ready.done', "${v.eventsUrl}?phase=app-ready"]
phone_home:
  url: ${v.eventsUrl}?phase=booted
  post: all
  tries: 10
`;
}

export interface OsNetwork {
  addresses: string[];
  gateway4: string;
  gateway6: string;
  nameservers: string[];
  searchDomains: string[];
}

/** Uploads the three artifacts and creates the image and the profile (the site exists already). */
export async function addOsCatalogue(api: AdminApi, image: OsImage): Promise<void> {
  for (const [file, sha] of [
    [image.kernel, image.kernelSha256],
    [image.initrd, image.initrdSha256],
    [image.rootfs, image.rootfsSha256],
  ] as const) {
    api.uploadArtifact(file, sha);
  }
  await api.post("/v1/images", {
    name: OS_IMAGE,
    arch: "x86_64",
    version: `${image.suite} cloud-init ${image.packages["cloud-init"]} linux ${image.packages["linux-image-cloud-amd64"]}`.slice(0, 64),
    artifacts: { kernel: image.kernelSha256, initrd: [image.initrdSha256], rootfs: image.rootfsSha256 },
  });
  await api.post("/v1/profiles", {
    name: OS_PROFILE,
    image: OS_IMAGE,
    cmdline: osCmdline("{{ boot.artifacts.rootfs }}/root.squashfs"),
    userData: osUserData({ eventsUrl: "{{ boot.eventsUrl }}", secret: `{{ secret.${SECRET_NAME} }}`, sshKey: "{{ var.sshKey }}" }),
  });
}

/** The same static addressing as cloud-init network-config v2 (what a DIY site writes by hand). */
export function networkConfigV2(mac: string, n: OsNetwork): string {
  return [
    "version: 2",
    "ethernets:",
    "  eth0:",
    `    match: {macaddress: "${mac}"}`,
    "    set-name: eth0",
    `    addresses: [${n.addresses.map((a) => `"${a}"`).join(", ")}]`,
    // gateway4/gateway6, not routes: cloud-init 22.4 turns a v2 `to: "::/0"` route into a ::/64 one.
    `    gateway4: "${n.gateway4}"`,
    `    gateway6: "${n.gateway6}"`,
    `    nameservers: {addresses: [${n.nameservers.map((a) => `"${a}"`).join(", ")}], search: [${n.searchDomains.join(", ")}]}`,
    "",
  ].join("\n");
}
