// The site file and artifact roles beyond kernel/initrd (worker/artifacts/README.md "Roles"), with real parts: a
// `wrangler dev` API and the `edgeboot` CLI. Local files in the roles store, modloop, apkovl and an operator-named
// one (iso) are hashed, uploaded and placed; a profile's per-host files and `nocloud: false` go through; the
// export round-trips; a profile naming a role its image lacks is refused by the API with the field named.
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWranglerDev, type WranglerDev } from "../helpers/wrangler.ts";
import { edgeboot } from "./run.ts";

const work = mkdtempSync(join(tmpdir(), "edgeboot-roles-cli-"));
const files = Object.fromEntries(["vmlinuz", "initrd", "nix-store.cpio", "modloop-lts", "edgeboot.apkovl.tar.gz", "server.iso"].map((f) => [f, randomBytes(2048)]));
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const IGNITION = JSON.stringify({ ignition: { version: "3.4.0" }, storage: { files: [{ path: "/etc/hostname", contents: { source: "data:,{{ host.hostname }}" } }] } });

let api: WranglerDev;
let env: Record<string, string>;
const cli = (args: string[]) => edgeboot(args, env);

const siteFile = (cmdline: string) => ({
  apiVersion: "edgeboot/v1",
  site: { slug: "roles", name: "Roles lab", bootAuth: "open" },
  images: [
    { name: "nixos", artifacts: { kernel: "./a/vmlinuz", initrd: ["./a/initrd"], store: "./a/nix-store.cpio" } },
    { name: "alpine", artifacts: { kernel: "./a/vmlinuz", initrd: ["./a/initrd"], modloop: "./a/modloop-lts", apkovl: "./a/edgeboot.apkovl.tar.gz", iso: "./a/server.iso" } },
  ],
  profiles: [
    { name: "nixos-netboot", image: "nixos", cmdline: "init=/nix/store/x-nixos-system/init", nocloud: false, files: { ignition: { kind: "ignition", template: IGNITION } } },
    { name: "alpine-diskless", image: "alpine", cmdline },
  ],
  hosts: [
    { hostname: "nix-1", mac: "52:54:00:ab:00:01", profile: "nixos-netboot" },
    { hostname: "alp-1", mac: "52:54:00:ab:00:02", profile: "alpine-diskless" },
  ],
});

beforeAll(async () => {
  api = await startWranglerDev();
  env = { HOME: work, XDG_CONFIG_HOME: join(work, "config"), XDG_CACHE_HOME: join(work, "cache"), EDGEBOOT_API: api.url, EDGEBOOT_TOKEN: api.adminToken };
  mkdirSync(join(work, "a"));
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(work, "a", name), bytes);
}, 240_000);

afterAll(async () => {
  await api?.stop();
  rmSync(work, { recursive: true, force: true });
}, 60_000);

describe("site file: artifact roles and per-host files", () => {
  it("uploads and places every role, applies files and nocloud, and a second diff is clean", async () => {
    const path = join(work, "roles.site.yaml");
    writeFileSync(path, stringify(siteFile("modloop={{ boot.artifacts.modloop }} apkovl={{ boot.artifacts.apkovl }}/x.apkovl.tar.gz url={{ boot.artifacts.iso }}/s.iso")));
    const r = await cli(["apply", "-f", path]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const get = async (p: string) => (await fetch(`${api.url}${p}`, { headers: { authorization: `Bearer ${api.adminToken}` } })).json() as Promise<any>;
    expect((await get("/v1/images/nixos")).artifacts).toEqual({ kernel: sha(files.vmlinuz!), initrd: [sha(files.initrd!)], store: sha(files["nix-store.cpio"]!) });
    expect((await get("/v1/images/alpine")).artifacts).toEqual({
      kernel: sha(files.vmlinuz!),
      initrd: [sha(files.initrd!)],
      modloop: sha(files["modloop-lts"]!),
      apkovl: sha(files["edgeboot.apkovl.tar.gz"]!),
      iso: sha(files["server.iso"]!),
    });
    const nix = await get("/v1/profiles/nixos-netboot");
    expect([nix.nocloud, nix.files.ignition.kind]).toEqual([false, "ignition"]);
    const diff = await cli(["diff", "-f", path, "--exit-code"]);
    expect(diff.code, diff.stdout + diff.stderr).toBe(0);

    // The chain names the store as the last initrd and the other roles on the kernel line.
    const chain = await (await fetch(`${api.url}/boot/roles/ipxe?mac=52:54:00:ab:00:01`)).text();
    expect(chain).toContain(`/artifacts/${sha(files["nix-store.cpio"]!)} || goto retry`);
    expect(chain).toContain(" initrd=initrd0 initrd=initrd1 init=/nix/store/x-nixos-system/init ");
    expect(chain).not.toContain("ds=nocloud");
  });

  it("exports the roles, files and nocloud: false, and the export diffs clean", async () => {
    const out = join(work, "exported.yaml");
    const r = await cli(["export", "roles", "--out", out]);
    expect(r.code, r.stderr).toBe(0);
    const doc = parse(readFileSync(out, "utf8"));
    const img = Object.fromEntries(doc.images.map((i: any) => [i.name, i.artifacts]));
    expect(Object.keys(img.alpine).sort()).toEqual(["apkovl", "initrd", "iso", "kernel", "modloop"]);
    expect(img.nixos.store).toBe(sha(files["nix-store.cpio"]!));
    const nix = doc.profiles.find((p: any) => p.name === "nixos-netboot");
    expect(nix.nocloud).toBe(false);
    expect(nix.files.ignition.template).toBe(IGNITION);
    expect(doc.profiles.find((p: any) => p.name === "alpine-diskless").nocloud).toBeUndefined();
    const diff = await cli(["diff", "-f", out, "--exit-code"]);
    expect(diff.code, diff.stdout + diff.stderr).toBe(0);
  });

  it("a profile naming a role its image lacks: the API's refusal names the field, nothing changes", async () => {
    const path = join(work, "bad.site.yaml");
    writeFileSync(path, stringify(siteFile("rootfs={{ boot.artifacts.rootfs }}")));
    const r = await cli(["apply", "-f", path]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("invalid_input");
    expect(r.stderr).toContain("{{ boot.artifacts.rootfs }}");
    const profile = await (await fetch(`${api.url}/v1/profiles/alpine-diskless`, { headers: { authorization: `Bearer ${api.adminToken}` } })).json() as any;
    expect(profile.cmdline).toContain("modloop=");
  });

  it("refuses a bad role name in the site file before sending anything", async () => {
    const path = join(work, "badname.site.yaml");
    const doc = siteFile("x");
    (doc.images[0]!.artifacts as Record<string, unknown>)["Bad Role"] = "./a/vmlinuz";
    writeFileSync(path, stringify(doc));
    const r = await cli(["diff", "-f", path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("artifact roles are 1-32 of a-z");
  });
});
