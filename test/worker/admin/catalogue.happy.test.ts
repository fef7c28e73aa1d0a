import { describe, expect, it } from "vitest";
import { api, seedArtifactRow, seedImage, seedProfile, uniq } from "../../helpers/admin.ts";

describe("profiles: happy paths", () => {
  it("creates, reads, patches (If-Match) and deletes a profile with a menu and templates", async () => {
    const [name, other] = [uniq("p"), uniq("p")];
    await seedProfile(other);
    const image = uniq("img");
    await seedImage({ name: image, arch: "x86_64", artifacts: { kernel: await seedArtifactRow(), initrd: [await seedArtifactRow()] } });
    const created = await api("POST", "/v1/profiles", {
      name,
      description: "Debian installer",
      image,
      cmdline: "console=ttyS0 ip=dhcp",
      menu: { title: "Boot", timeoutMs: 5000, defaultItem: other, items: [{ key: "i", label: "Install", target: other }, { label: "Local disk", target: "local" }, { label: "Self", target: name }] },
      userData: "#cloud-config\nhostname: {{ host.hostname }}\n",
      vendorData: null,
      networkConfig: "version: 2\n",
      vars: { mirror: "http://deb.example" },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name, image, revision: 1, menu: { items: [{ target: other }, { target: "local" }, { target: name }] } });
    expect(created.headers.get("location")).toBe(`/v1/profiles/${name}`);

    const got = await api("GET", `/v1/profiles/${name}`);
    expect(got.body).toEqual(created.body);
    expect(got.headers.get("etag")).toBe(`"${created.body.id}.1"`);

    const patched = await api("PATCH", `/v1/profiles/${name}`, { cmdline: "console=tty0", menu: null }, { headers: { "if-match": got.headers.get("etag")! } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ cmdline: "console=tty0", menu: null, revision: 2, userData: created.body.userData });

    const list = await api("GET", "/v1/profiles?limit=500");
    expect(list.body.items.map((p: any) => p.name)).toEqual(expect.arrayContaining([name, other]));

    expect((await api("DELETE", `/v1/profiles/${name}`)).status).toBe(204);
    expect((await api("GET", `/v1/profiles/${name}`)).status).toBe(404);
  });
});

describe("images: happy paths", () => {
  it("creates one row per arch, picks by ?arch=, patches and deletes", async () => {
    const name = uniq("img");
    const [k1, i1, k2, rootfs] = [await seedArtifactRow(), await seedArtifactRow(), await seedArtifactRow(), await seedArtifactRow()];
    const x86 = await api("POST", "/v1/images", { name, arch: "x86_64", version: "12.8", artifacts: { kernel: k1, initrd: [i1], rootfs } });
    expect(x86.status).toBe(201);
    expect(x86.body).toMatchObject({ name, arch: "x86_64", version: "12.8", artifacts: { kernel: k1, initrd: [i1], rootfs }, revision: 1 });
    expect(x86.headers.get("location")).toBe(`/v1/images/${name}?arch=x86_64`);

    const single = await api("GET", `/v1/images/${name}`);
    expect(single.status).toBe(200);
    expect(single.body.id).toBe(x86.body.id);

    const arm = await seedImage({ name, arch: "arm64", artifacts: { kernel: k2 } });
    expect(arm.artifacts).toEqual({ kernel: k2, initrd: [] });
    const ambiguous = await api("GET", `/v1/images/${name}`);
    expect(ambiguous.status).toBe(400);
    expect(ambiguous.body.error.details.arches.sort()).toEqual(["arm64", "x86_64"]);
    const picked = await api("GET", `/v1/images/${name}?arch=arm64`);
    expect(picked.body.id).toBe(arm.id);
    expect(picked.headers.get("etag")).toBe(`"${arm.id}.1"`);

    const listed = await api("GET", `/v1/images?name=${name}`);
    expect(listed.body.items.map((i: any) => i.arch)).toEqual(["arm64", "x86_64"]);

    const patched = await api("PATCH", `/v1/images/${name}?arch=arm64`, { version: "12.9", artifacts: { kernel: k1, initrd: [i1] } }, { headers: { "if-match": `"${arm.id}.1"` } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ version: "12.9", revision: 2, artifacts: { kernel: k1 } });

    expect((await api("DELETE", `/v1/images/${name}?arch=arm64`)).status).toBe(204);
    expect((await api("GET", `/v1/images/${name}`)).body.arch).toBe("x86_64");
  });

  it("deleting one arch of an image a profile uses is fine; the last arch is refused (409)", async () => {
    const name = uniq("img");
    await seedImage({ name, arch: "x86_64", artifacts: { kernel: await seedArtifactRow() } });
    await seedImage({ name, arch: "arm64", artifacts: { kernel: await seedArtifactRow() } });
    const profile = uniq("p");
    await seedProfile(profile, { image: name });
    expect((await api("DELETE", `/v1/images/${name}?arch=arm64`)).status).toBe(204);
    const last = await api("DELETE", `/v1/images/${name}?arch=x86_64`);
    expect(last.status).toBe(409);
    expect(last.body.error).toMatchObject({ code: "conflict", details: { image: name, profiles: [profile] } });
  });
});
