// Talos recipe (worker/recipes/README.md "Talos"): the exact chain with Talos's required kernel arguments and the
// machine config with the site's cluster secrets; a malformed config is refused at save, naming the field.
import { describe, expect, it } from "vitest";
import { talos } from "../../../worker/recipes/talos.ts";
import { freshStoragePerTest } from "../boot/seed.ts";
import { adminCall, bootScript, chainOf, fetchAs, normalise, setUp } from "./harness.ts";

freshStoragePerTest();

const API = "http://api.test/boot/h/TOKEN";

describe("Talos metal PXE", () => {
  it("chains kernel + initramfs with talos.platform=metal, the KSPP arguments and talos.config=<file URL>", async () => {
    expect(await setUp(talos)).toEqual(["image talos", "profile talos-worker", "host talos-1", "secret talosMachineToken", "secret talosClusterToken", "secret talosClusterSecret"]);
    const { body, token } = await chainOf(talos.host.mac);
    expect(await normalise(body, talos)).toBe(
      bootScript({
        comment: "edgeboot site=lab host=talos-1 profile=talos-worker image=talos v1.9.5 x86_64",
        kernel: `${API}/artifacts/<kernel> initrd=initrd0 talos.platform=metal console=tty0 console=ttyS0 init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on ima_template=ima-ng ima_appraise=fix ima_hash=sha512 talos.config=${API}/files/talos`,
        initrds: [`${API}/artifacts/<initrd0>`],
        name: "talos-worker",
      }),
    );
    const config = await fetchAs(token, "files/talos");
    expect([config.status, config.type]).toEqual([200, "application/yaml"]);
    expect(config.body).toBe(`version: v1alpha1
debug: false
persist: true
machine:
  type: worker
  token: demo01.0123456789abcdef
  ca:
    crt: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmRlbW8gbWFjaGluZSBDQQotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==
    key: ""
  kubelet:
    image: ghcr.io/siderolabs/kubelet:v1.32.3
  network:
    hostname: talos-1
  install:
    disk: /dev/sda
    image: ghcr.io/siderolabs/installer:v1.9.5
    wipe: false
cluster:
  id: ZWRnZWJvb3QtZGVtby1jbHVzdGVyLWlkLTAwMDAwMDA=
  secret: ZGVtby1jbHVzdGVyLXNlY3JldC1ub3QtZm9yLXVzZQ==
  controlPlane:
    endpoint: https://10.20.30.10:6443
  clusterName: edge
  network:
    dnsDomain: cluster.local
    podSubnets:
      - 10.244.0.0/16
    serviceSubnets:
      - 10.96.0.0/12
  token: demo02.fedcba9876543210
  ca:
    crt: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmRlbW8ga3ViZXJuZXRlcyBDQQotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==
    key: ""
`);
    // The config names secrets: under the site's default `once` policy a second read is refused (and alerted).
    expect((await fetchAs(token, "files/talos")).status).toBe(410);
  });

  it("a value that looks like YAML stays one string; a token with a line break cannot add keys", async () => {
    await setUp(talos);
    const put = await adminCall("PUT", "/v1/secrets/talosClusterToken?site=lab", { value: "x: y\nmachine: {}" });
    expect(put.status).toBeLessThan(300);
    const { token } = await chainOf(talos.host.mac);
    const body = (await fetchAs(token, "files/talos")).body as string;
    expect(body).toContain("  token: |-\n    x: y\n    machine: {}\n  ca:\n");
    expect(body.match(/^machine:/gm)).toHaveLength(1);
  });

  it("refuses a malformed machine config at save, naming the field, and stores nothing", async () => {
    await setUp(talos);
    const before = (await adminCall("GET", "/v1/profiles/talos-worker")).body;
    for (const [template, text] of [
      ["version: v1alpha2\nmachine: {}\ncluster: {}\n", "version"],
      ["version: v1alpha1\ncluster: {}\n", "machine"],
      ["version: v1alpha1\nmachine: [worker]\ncluster: {}\n", "machine"],
      ["version: v1alpha1\nmachine: {}\ncluster: {}\n---\nversion: v1alpha1\n", "document"],
    ] as const) {
      const res = await adminCall("PATCH", "/v1/profiles/talos-worker", { files: { talos: { kind: "talos", template } } });
      expect(res.status, template).toBe(400);
      expect(res.body.error.details.field).toBe("files.talos.template");
      expect(res.body.error.message, template).toContain(text);
    }
    expect((await adminCall("GET", "/v1/profiles/talos-worker")).body).toEqual(before);
  });
});
