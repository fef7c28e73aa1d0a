// NoCloud recipes (worker/recipes/README.md): Alpine diskless with tiny-cloud, Ubuntu autoinstall and a k3s agent
// join. The exact chain (edgeboot's ds= last) and the exact user-data each host reads (collections come out in block
// style, render/documents.ts); the k3s token only for its host.
import { describe, expect, it } from "vitest";
import { alpine } from "../../../worker/recipes/alpine.ts";
import { k3s } from "../../../worker/recipes/k3s.ts";
import { EXAMPLE_SSH_KEY } from "../../../worker/recipes/recipe.ts";
import { ubuntu } from "../../../worker/recipes/ubuntu.ts";
import { freshStoragePerTest } from "../boot/seed.ts";
import { adminCall, bootScript, chainOf, fetchAs, normalise, setUp } from "./harness.ts";

freshStoragePerTest();

const API = "http://api.test/boot/h/TOKEN";
const SEED = `ds=nocloud;dsmode=net;s=${API}/nocloud/`;

describe("Alpine diskless", () => {
  it("chains kernel + initramfs with modloop, apkovl (.apkovl.tar.gz URL) and alpine_repo; tiny-cloud reads #alpine-config", async () => {
    await setUp(alpine);
    const { body, token } = await chainOf(alpine.host.mac);
    expect(await normalise(body, alpine)).toBe(
      bootScript({
        comment: "edgeboot site=lab host=alpine-1 profile=alpine-diskless image=alpine 3.21 x86_64",
        kernel: `${API}/artifacts/<kernel> initrd=initrd0 ip=dhcp modules=loop,squashfs,sd-mod,usb-storage alpine_repo=http://dl-cdn.alpinelinux.org/alpine/v3.21/main modloop=${API}/artifacts/<modloop>/modloop-lts apkovl=${API}/artifacts/<apkovl>/edgeboot.apkovl.tar.gz console=tty0 console=ttyS0,115200n8 ${SEED}`,
        initrds: [`${API}/artifacts/<initrd0>`],
        name: "alpine-diskless",
      }),
    );
    const userData = await fetchAs(token, "nocloud/user-data");
    expect(userData.status).toBe(200);
    expect(userData.body).toBe(
      `#alpine-config\nuser:\n  name: ops\nssh_authorized_keys:\n  - ${EXAMPLE_SSH_KEY}\npackages:\n  - curl\nruncmd:\n  - curl -fsS -X POST 'http://api.test/boot/h/${token}/events?phase=booted'\n`,
    );
    // tiny-cloud's own keys (render/TINY-CLOUD.md): hostname and public-keys from the same var.
    const meta = (await fetchAs(token, "nocloud/meta-data")).body as string;
    expect(meta).toContain('local-hostname: "alpine-1"');
    expect(meta).toContain(`openssh-key: "${EXAMPLE_SSH_KEY}"`);
  });
});

describe("Ubuntu autoinstall", () => {
  it("chains the live installer with the ISO from the image's iso role and `autoinstall`; user-data carries autoinstall:", async () => {
    await setUp(ubuntu);
    const { body, token } = await chainOf(ubuntu.host.mac);
    expect(await normalise(body, ubuntu)).toBe(
      bootScript({
        comment: "edgeboot site=lab host=ubuntu-1 profile=ubuntu-autoinstall image=ubuntu-server 24.04 x86_64",
        kernel: `${API}/artifacts/<kernel> initrd=initrd0 ip=dhcp url=${API}/artifacts/<iso>/ubuntu-live-server-amd64.iso cloud-config-url=/dev/null autoinstall console=ttyS0,115200n8 ${SEED}`,
        initrds: [`${API}/artifacts/<initrd0>`],
        name: "ubuntu-autoinstall",
      }),
    );
    const userData = await fetchAs(token, "nocloud/user-data");
    expect(userData.status).toBe(200);
    expect(userData.body).toBe(`#cloud-config
autoinstall:
  version: 1
  identity:
    hostname: ubuntu-1
    username: ops
    password: $6$edgeboot.demo$NotARealHashNotARealHashNotARealHashNotARealHashNotARealHash0
  ssh:
    install-server: true
    allow-pw: false
    authorized-keys:
      - ${EXAMPLE_SSH_KEY}
  storage:
    layout:
      name: lvm
  early-commands:
    - curl -fsS -X POST 'http://api.test/boot/h/${token}/events?phase=installing'
  late-commands:
    - curl -fsS -X POST 'http://api.test/boot/h/${token}/events?phase=installed'
`);
  });

  it("refuses user-data whose autoinstall: is not a mapping, or an autoinstall file without #cloud-config, naming the field", async () => {
    await setUp(ubuntu);
    const bad = await adminCall("PATCH", "/v1/profiles/ubuntu-autoinstall", { files: { auto: { kind: "autoinstall", template: "autoinstall:\n  version: 1\n" } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.field).toBe("files.auto.template");
    const list = await adminCall("PATCH", "/v1/profiles/ubuntu-autoinstall", { files: { auto: { kind: "autoinstall", template: "#cloud-config\nautoinstall: [version]\n" } } });
    expect(list.status).toBe(400);
    expect(list.body.error.message).toContain("autoinstall");
    expect((await adminCall("GET", "/v1/profiles/ubuntu-autoinstall")).body.files).toEqual({});
  });
});

describe("k3s agent join", () => {
  const userDataFor = (hostname: string, token: string, k3sToken: string) => `#cloud-config
hostname: ${hostname}
users:
  - name: ops
    groups:
      - sudo
    sudo: "ALL=(ALL) NOPASSWD:ALL"
    ssh_authorized_keys:
      - ${EXAMPLE_SSH_KEY}
write_files:
  - path: /etc/rancher/k3s/token
    permissions: "0600"
    content: ${k3sToken}
  - path: /etc/rancher/k3s/config.yaml
    permissions: "0600"
    content: |
      server: "https://10.20.30.10:6443"
      token-file: /etc/rancher/k3s/token
runcmd:
  - curl -sfL https://get.k3s.io -o /tmp/k3s-install.sh
  - INSTALL_K3S_EXEC=agent sh /tmp/k3s-install.sh
phone_home:
  url: http://api.test/boot/h/${token}/events?phase=booted
  post:
    - instance_id
    - hostname
`;

  it("each host's user-data carries its own join token and no other host's", async () => {
    await setUp(k3s);
    // A second node, created as an operator would: host, its token, then the profile.
    expect((await adminCall("POST", "/v1/sites/lab/hosts", { hostname: "k3s-2", mac: "52:54:00:de:00:17" })).status).toBe(201);
    expect((await adminCall("PUT", "/v1/secrets/k3sToken?site=lab&host=k3s-2", { value: "K10second::server:token-of-k3s-2" })).status).toBeLessThan(300);
    expect((await adminCall("PATCH", "/v1/sites/lab/hosts/k3s-2", { profile: "k3s-agent" })).status).toBe(200);

    const one = await chainOf(k3s.host.mac);
    expect(await normalise(one.body, k3s)).toBe(
      bootScript({
        comment: "edgeboot site=lab host=k3s-1 profile=k3s-agent image=debian12-live 12 x86_64",
        kernel: `${API}/artifacts/<kernel> initrd=initrd0 boot=live fetch=${API}/artifacts/<rootfs>/root.squashfs net.ifnames=0 console=ttyS0,115200n8 ${SEED}`,
        initrds: [`${API}/artifacts/<initrd0>`],
        name: "k3s-agent",
      }),
    );
    const two = await chainOf("52:54:00:de:00:17");
    const a = (await fetchAs(one.token, "nocloud/user-data")).body as string;
    const b = (await fetchAs(two.token, "nocloud/user-data")).body as string;
    expect(a).toBe(userDataFor("k3s-1", one.token, k3s.secrets![0]!.demoValue));
    expect(b).toBe(userDataFor("k3s-2", two.token, "K10second::server:token-of-k3s-2"));
    expect(b).not.toContain(k3s.secrets![0]!.demoValue);
    // The dry run shows the structure with the secret masked.
    const dry = await adminCall("GET", "/v1/sites/lab/hosts/k3s-1/render/user-data");
    expect(dry.body).toContain("content: <secret:k3sToken>");
  });

  it("a host without its token cannot be given the profile (the save names the field and the host)", async () => {
    await setUp(k3s);
    expect((await adminCall("POST", "/v1/sites/lab/hosts", { hostname: "k3s-3", mac: "52:54:00:de:00:27" })).status).toBe(201);
    const res = await adminCall("PATCH", "/v1/sites/lab/hosts/k3s-3", { profile: "k3s-agent" });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('secret "k3sToken" is not set');
    expect(res.body.error.message).toContain('host "k3s-3"');
    expect((await adminCall("GET", "/v1/sites/lab/hosts/k3s-3")).body.profile).toBeNull();
  });
});
