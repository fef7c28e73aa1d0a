import { describe, expect, it } from "vitest";
import { api, seedArtifactRow, seedImage, seedProfile, uniq } from "../../helpers/admin.ts";

describe("profiles: errors", () => {
  it("400 for bad names, the reserved name local, multi-line cmdline and bad menus", async () => {
    for (const name of ["Bad Name", "local", "-x", "a".repeat(64)]) {
      const res = await api("POST", "/v1/profiles", { name });
      expect(res.status, name).toBe(400);
    }
    const res = await api("POST", "/v1/profiles", {
      name: uniq("p"),
      cmdline: "a\nb",
      menu: { items: [{ key: "a", label: "x", target: "local" }, { key: "a", label: "y", target: "local" }], defaultItem: "elsewhere" },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.details.map((i: any) => i.path.join("."))).toEqual(expect.arrayContaining(["cmdline", "menu.defaultItem", "menu.items"]));
  });

  it("400 for an unknown image or menu target, 409 for a duplicate name, 404 for unknown", async () => {
    const image = await api("POST", "/v1/profiles", { name: uniq("p"), image: "no-such-image" });
    expect(image.status).toBe(400);
    expect(image.body.error.details).toEqual({ field: "image", image: "no-such-image" });
    const menu = await api("POST", "/v1/profiles", { name: uniq("p"), menu: { items: [{ label: "x", target: "ghost" }] } });
    expect(menu.status).toBe(400);
    expect(menu.body.error.details).toEqual({ field: "menu.items.target", missing: ["ghost"] });
    const name = uniq("p");
    await seedProfile(name);
    expect((await api("POST", "/v1/profiles", { name })).status).toBe(409);
    expect((await api("GET", `/v1/profiles/${uniq("nope")}`)).status).toBe(404);
    expect((await api("PATCH", `/v1/profiles/${name}`, { name: "renamed" })).status).toBe(400);
  });

  it("400 for broken templates, unknown namespaces, and secrets in the kernel command line", async () => {
    const res = await api("POST", "/v1/profiles", {
      name: uniq("p"),
      cmdline: "console=ttyS0 token={{ secret.JOIN }}",
      userData: "#cloud-config\nhostname: {{ host.hostname }\n",
      vendorData: "{{ nonsense.value }}",
      networkConfig: "version: 2 # {{ var.anything }}",
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_input");
    expect(res.body.error.details.templates.map((t: any) => t.field)).toEqual(["cmdline", "userData", "vendorData"]);
    const ok = await api("POST", "/v1/profiles", { name: uniq("p"), cmdline: "hostname={{ host.hostname }}", userData: "#cloud-config\npassword: {{ secret.PW }}\n" });
    expect(ok.status).toBe(201);
    const site = await api("POST", "/v1/sites", { slug: uniq("s"), name: "x", vendorData: "{{ broken" });
    expect(site.status).toBe(400);
    expect(site.body.error.details.templates[0].field).toBe("vendorData");
  });

  it("refuses deleting a profile another profile's menu lists (409)", async () => {
    const [target, menu] = [uniq("p"), uniq("p")];
    await seedProfile(target);
    await seedProfile(menu, { menu: { items: [{ label: "go", target }] } });
    const res = await api("DELETE", `/v1/profiles/${target}`);
    expect(res.status).toBe(409);
    expect(res.body.error.details.menus).toEqual([menu]);
  });
});

describe("images: errors", () => {
  it("400 for malformed hashes, roles and arch", async () => {
    const res = await api("POST", "/v1/images", { name: uniq("i"), arch: "X86-64", artifacts: { kernel: "ABC", initrd: ["0".repeat(63)], "Bad Role": "0".repeat(64) } });
    expect(res.status).toBe(400);
    const paths = res.body.error.details.map((i: any) => i.path.join("."));
    expect(paths).toEqual(expect.arrayContaining(["arch", "artifacts.kernel", "artifacts.initrd.0"]));
    expect((await api("POST", "/v1/images", { name: uniq("i"), arch: "x86_64", artifacts: { initrd: [] } })).status).toBe(400);
  });

  it("400 when an artifact is unknown or still uploading", async () => {
    const pending = await seedArtifactRow("pending");
    const missing = "f".repeat(64);
    const res = await api("POST", "/v1/images", { name: uniq("i"), arch: "x86_64", artifacts: { kernel: await seedArtifactRow(), initrd: [pending, missing] } });
    expect(res.status).toBe(400);
    expect(res.body.error.details.missing.sort()).toEqual([missing, pending].sort());
  });

  it("409 for a duplicate name+arch, 404 for an unknown image or arch, 409 for stale If-Match", async () => {
    const name = uniq("i");
    const img = await seedImage({ name, arch: "x86_64", artifacts: { kernel: await seedArtifactRow() } });
    expect((await api("POST", "/v1/images", { name, arch: "x86_64", artifacts: { kernel: await seedArtifactRow() } })).status).toBe(409);
    expect((await api("GET", `/v1/images/${name}?arch=arm64`)).status).toBe(404);
    expect((await api("GET", `/v1/images/${uniq("nope")}`)).status).toBe(404);
    await api("PATCH", `/v1/images/${name}`, { version: "2" });
    const stale = await api("PATCH", `/v1/images/${name}`, { version: "3" }, { headers: { "if-match": `"${img.id}.1"` } });
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe("precondition_failed");
  });
});
