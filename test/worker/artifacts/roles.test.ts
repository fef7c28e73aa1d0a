// Artifact roles (worker/artifacts/roles.ts, README.md "Roles"): every role accepted by the images API, listed in the
// signed manifest in a stable order, and `{{ boot.artifacts.<role> }}` refused at save when an image row lacks the
// role (from the profile side and from the image side), or 409 not_bootable at boot for rows written before.
import { env } from "cloudflare:workers";
import { decodeProtectedHeader } from "jose";
import { describe, expect, it } from "vitest";
import { ADMIN, api, bytesOf, seedArtifact } from "./seed.ts";
import { call, freshStoragePerTest, withoutTokens } from "../boot/seed.ts";

freshStoragePerTest();

const json = (body: unknown, method = "POST") => ({ method, headers: { ...ADMIN, "content-type": "application/json" }, body: JSON.stringify(body) });
const send = async (path: string, body: unknown, method = "POST") => {
  const res = await api(path, json(body, method));
  return { status: res.status, body: (await res.json()) as any };
};

async function artifacts<K extends string>(...names: K[]): Promise<Record<K, string>> {
  const out = {} as Record<K, string>;
  for (const [i, n] of names.entries()) out[n] = await seedArtifact(bytesOf(100 + i, 40 + i));
  return out;
}

describe("roles in images and manifests", () => {
  it("accepts store, rootfs, modloop, apkovl and any other name; the manifest orders them kernel, initrd…, store, rootfs, modloop, apkovl, then by name", async () => {
    const a = await artifacts("kernel", "initrd0", "initrd1", "store", "rootfs", "modloop", "apkovl", "iso", "firmware");
    const created = await send("/v1/images", {
      name: "everything",
      arch: "x86_64",
      artifacts: { iso: a.iso, apkovl: a.apkovl, firmware: a.firmware, modloop: a.modloop, rootfs: a.rootfs, store: a.store, initrd: [a.initrd0, a.initrd1], kernel: a.kernel },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const res = await api("/v1/images/everything/manifest", { headers: ADMIN });
    const { manifest, jws } = (await res.json()) as any;
    expect(decodeProtectedHeader(jws).typ).toBe("edgeboot-manifest+jws");
    expect(manifest.artifacts.map((x: any) => [x.role, x.sha256])).toEqual([
      ["kernel", a.kernel],
      ["initrd", a.initrd0],
      ["initrd", a.initrd1],
      ["store", a.store],
      ["rootfs", a.rootfs],
      ["modloop", a.modloop],
      ["apkovl", a.apkovl],
      ["firmware", a.firmware],
      ["iso", a.iso],
    ]);
  });

  it("refuses bad role names and a known single role given as a list", async () => {
    const a = await artifacts("kernel", "x");
    for (const artifacts of [{ kernel: a.kernel, "Bad Role": a.x }, { kernel: a.kernel, store: [a.x] }]) {
      const res = await send("/v1/images", { name: "bad", arch: "x86_64", artifacts });
      expect(res.status, JSON.stringify(artifacts)).toBe(400);
    }
    expect((await api("/v1/images/bad", { headers: ADMIN })).status).toBe(404);
  });
});

describe("{{ boot.artifacts.<role> }} against the image", () => {
  async function image(name: string, roles: Record<string, string>, arch = "x86_64") {
    const res = await send("/v1/images", { name, arch, artifacts: roles });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }

  it("a profile naming a role its image lacks is refused, naming cmdline, image, arch and role; nothing stored", async () => {
    const a = await artifacts("kernel", "modloop");
    await image("alpine", { kernel: a.kernel, modloop: a.modloop });
    const res = await send("/v1/profiles", { name: "p", image: "alpine", cmdline: "modloop={{ boot.artifacts.modloop }} apkovl={{ boot.artifacts.apkovl }}/x.apkovl.tar.gz" });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: "invalid_input", details: { field: "cmdline", image: "alpine", arch: "x86_64", missing: ["apkovl"] } });
    expect(res.body.error.message).toContain("{{ boot.artifacts.apkovl }}");
    expect((await api("/v1/profiles/p", { headers: ADMIN })).status).toBe(404);
    // initrd is a list: it has no single URL to name.
    const list = await send("/v1/profiles", { name: "p", image: "alpine", cmdline: "x={{ boot.artifacts.initrd }}" });
    expect(list.body.error.details.missing).toEqual(["initrd"]);
    expect((await send("/v1/profiles", { name: "p", image: "alpine", cmdline: "modloop={{ boot.artifacts.modloop }}" })).status).toBe(201);
    // Moving an existing profile onto an image without the role is refused the same way.
    await image("plain", { kernel: a.kernel });
    const moved = await send("/v1/profiles/p", { image: "plain" }, "PATCH");
    expect(moved.status).toBe(400);
    expect(moved.body.error.details).toMatchObject({ field: "cmdline", image: "plain", missing: ["modloop"] });
  });

  it("an image row that would lose (or, for a new arch, lack) a role a profile names is refused, naming the profile", async () => {
    const a = await artifacts("kernel", "rootfs");
    await image("live", { kernel: a.kernel, rootfs: a.rootfs });
    expect((await send("/v1/profiles", { name: "live-p", image: "live", cmdline: "fetch={{ boot.artifacts.rootfs }}/root.squashfs" })).status).toBe(201);
    const patch = await send("/v1/images/live", { artifacts: { kernel: a.kernel } }, "PATCH");
    expect(patch.status).toBe(400);
    expect(patch.body.error.details).toMatchObject({ field: "artifacts", image: "live", arch: "x86_64", profile: "live-p", missing: ["rootfs"] });
    expect((await (await api("/v1/images/live", { headers: ADMIN })).json() as any).artifacts.rootfs).toBe(a.rootfs);
    const arm = await send("/v1/images", { name: "live", arch: "arm64", artifacts: { kernel: a.kernel } });
    expect(arm.status).toBe(400);
    expect(arm.body.error.details).toMatchObject({ field: "artifacts", arch: "arm64", profile: "live-p" });
  });

  it("a row written before the check boots as 409 not_bootable with a script saying why, and a render-failed event", async () => {
    const a = await artifacts("kernel");
    await image("old", { kernel: a.kernel });
    await env.DB.prepare("insert into sites (id, slug, name, boot_auth) values ('site-old', 'old', 'Old', 'open')").run();
    await env.DB.prepare("insert into profiles (id, name, image, cmdline) values ('prf-old', 'old-p', 'old', 'fetch={{ boot.artifacts.rootfs }}/root.squashfs')").run();
    await env.DB.prepare("insert into hosts (id, site_id, mac, profile_id, state) values ('h-old', 'site-old', '52:54:00:00:00:42', 'prf-old', 'ready')").run();
    const res = await call("/boot/old/ipxe?mac=52:54:00:00:00:42");
    expect(res.status).toBe(409);
    expect(res.headers.get("edgeboot-error")).toBe("not_bootable");
    expect(withoutTokens(res.body)).toContain('profile "old-p" names {{ boot.artifacts.rootfs }}, which image "old" (x86_64) does not have');
    const events = await env.DB.prepare("select phase from events where site_id = 'site-old'").all<{ phase: string }>();
    expect(events.results.map((e) => e.phase)).toContain("render-failed");
  });
});
