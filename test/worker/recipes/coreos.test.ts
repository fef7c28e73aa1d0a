// Flatcar and Fedora CoreOS live PXE recipes (worker/recipes/README.md): the exact chain and Ignition config.
import { describe, expect, it } from "vitest";
import { fcos } from "../../../worker/recipes/fcos.ts";
import { flatcar } from "../../../worker/recipes/flatcar.ts";
import { EXAMPLE_SSH_KEY } from "../../../worker/recipes/recipe.ts";
import { call, freshStoragePerTest } from "../boot/seed.ts";
import { adminCall, bootScript, chainOf, fetchAs, normalise, setUp } from "./harness.ts";

freshStoragePerTest();

const API = "http://api.test/boot/h/TOKEN";

// What both recipes' machines read: the shared Ignition template rendered for the host.
const ignitionFor = (hostname: string, token: string) => ({
  ignition: { version: "3.4.0" },
  passwd: { users: [{ name: "core", sshAuthorizedKeys: [EXAMPLE_SSH_KEY] }] },
  storage: { files: [{ path: "/etc/hostname", mode: 420, overwrite: true, contents: { source: `data:,${hostname}` } }] },
  systemd: {
    units: [
      {
        name: "edgeboot-booted.service",
        enabled: true,
        contents: `[Unit]\nDescription=Report the boot to edgeboot\nWants=network-online.target\nAfter=network-online.target\n\n[Service]\nType=oneshot\nExecStart=/usr/bin/curl -fsS --retry 5 -X POST http://api.test/boot/h/${token}/events?phase=booted\n\n[Install]\nWantedBy=multi-user.target\n`,
      },
    ],
  },
});

describe("Flatcar live PXE", () => {
  it("chains kernel + initrd with flatcar.first_boot and the host's Ignition URL, and no ds=", async () => {
    await setUp(flatcar);
    const { body, token } = await chainOf(flatcar.host.mac);
    expect(await normalise(body, flatcar)).toBe(
      bootScript({
        comment: "edgeboot site=lab host=flatcar-1 profile=flatcar-live image=flatcar stable x86_64",
        kernel: `${API}/artifacts/<kernel> initrd=initrd0 flatcar.first_boot=1 ignition.config.url=${API}/files/ignition console=tty0 console=ttyS0,115200n8`,
        initrds: [`${API}/artifacts/<initrd0>`],
        name: "flatcar-live",
      }),
    );
    const ign = await fetchAs(token, "files/ignition");
    expect([ign.status, ign.type]).toEqual([200, "application/json"]);
    expect(ign.body).toBe(`${JSON.stringify(ignitionFor("flatcar-1", token), null, 2)}\n`);
  });
});

describe("Ignition checks at save", () => {
  it("refuses sections outside the supported subset and a spec 2 config, naming the field and path; nothing stored", async () => {
    await setUp(flatcar);
    const before = (await adminCall("GET", "/v1/profiles/flatcar-live")).body;
    for (const [config, text] of [
      [{ ignition: { version: "3.4.0" }, storage: { disks: [{ device: "/dev/sda" }] } }, "storage"],
      [{ ignition: { version: "2.3.0" } }, "ignition.version"],
      [{ ignition: { version: "3.4.0" }, systemd: { units: [{ name: "no-suffix" }] } }, "systemd.units[0].name"],
    ] as const) {
      const res = await adminCall("PATCH", "/v1/profiles/flatcar-live", { files: { ignition: { kind: "ignition", template: JSON.stringify(config) } } });
      expect(res.status, JSON.stringify(config)).toBe(400);
      expect(res.body.error.details.field).toBe("files.ignition.template");
      expect(res.body.error.message).toContain(text);
    }
    expect((await adminCall("GET", "/v1/profiles/flatcar-live")).body).toEqual(before);
  });
});

describe("Fedora CoreOS live PXE", () => {
  it("chains kernel + initramfs, the rootfs URL from the image's rootfs role, the Ignition first-boot arguments", async () => {
    await setUp(fcos);
    const { body, token } = await chainOf(fcos.host.mac);
    expect(await normalise(body, fcos)).toBe(
      bootScript({
        comment: "edgeboot site=lab host=fcos-1 profile=fcos-live image=fedora-coreos stable x86_64",
        kernel: `${API}/artifacts/<kernel> initrd=initrd0 coreos.live.rootfs_url=${API}/artifacts/<rootfs>/fedora-coreos-live-rootfs.x86_64.img ignition.firstboot ignition.platform.id=metal ignition.config.url=${API}/files/ignition console=tty0 console=ttyS0,115200n8`,
        initrds: [`${API}/artifacts/<initrd0>`],
        name: "fcos-live",
      }),
    );
    expect((await fetchAs(token, "files/ignition")).body).toBe(`${JSON.stringify(ignitionFor("fcos-1", token), null, 2)}\n`);
    // The rootfs URL the initramfs fetches serves the image's rootfs bytes.
    const rootfsUrl = /coreos\.live\.rootfs_url=http:\/\/api\.test(\S+)/.exec(body)![1]!;
    const rootfs = await call(rootfsUrl);
    expect(rootfs.status).toBe(200);
    expect(rootfs.body).toContain("recipe fcos, role rootfs (fedora-coreos-live-rootfs.x86_64.img)");
  });

  it("a second run of the recipe changes nothing (the demo seed runs it on every start)", async () => {
    const first = await setUp(fcos);
    expect(first).toEqual(["image fedora-coreos", "profile fcos-live", "host fcos-1"]);
    const { applyRecipe } = await import("../../../worker/recipes/apply.ts");
    expect(await applyRecipe(adminCall, fcos, "lab")).toEqual([]);
  });
});
