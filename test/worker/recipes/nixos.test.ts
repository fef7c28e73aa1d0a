// NixOS netboot recipe (worker/recipes/README.md "NixOS"): kernel + stage-1 initrd + the store image (role `store`,
// loaded by iPXE after the initrds), init= from the build; through the API and through a site relay's cache, and the
// store role in the relay's signed manifest and prefetch list.
import { decodeProtectedHeader } from "jose";
import { describe, expect, it } from "vitest";
import { nixos } from "../../../worker/recipes/nixos.ts";
import { call, freshStoragePerTest, relayKeyPair } from "../boot/seed.ts";
import { adminCall, bootScript, chainOf, normalise, roleNames, setUp } from "./harness.ts";

freshStoragePerTest();

const API = "http://api.test/boot/h/TOKEN";
const INIT = "/nix/store/00000000000000000000000000000000-nixos-system-edgeboot-24.11/init";

describe("NixOS netboot", () => {
  it("loads the store image as the last initrd and passes the build's init=; no ds=", async () => {
    await setUp(nixos);
    const { body } = await chainOf(nixos.host.mac);
    expect(await normalise(body, nixos)).toBe(
      bootScript({
        comment: "edgeboot site=lab host=nixos-1 profile=nixos-netboot image=nixos 24.11 x86_64",
        kernel: `${API}/artifacts/<kernel> initrd=initrd0 initrd=initrd1 init=${INIT} loglevel=4 console=tty0 console=ttyS0,115200n8`,
        initrds: [`${API}/artifacts/<initrd0>`, `${API}/artifacts/<store>`],
        name: "nixos-netboot",
      }),
    );
  });

  it("a new build is a PATCH of the image's artifacts and of the profile's nixosInit: the next chain has both", async () => {
    await setUp(nixos);
    const store = new TextEncoder().encode("another nix-store.cpio\n");
    const sha = [...new Uint8Array(await crypto.subtle.digest("SHA-256", store))].map((b) => b.toString(16).padStart(2, "0")).join("");
    expect((await adminCall("PUT", `/v1/artifacts/${sha}`, undefined, store)).status).toBe(201);
    const image = (await adminCall("GET", "/v1/images/nixos")).body;
    expect((await adminCall("PATCH", "/v1/images/nixos", { artifacts: { ...image.artifacts, store: sha } })).status).toBe(200);
    const next = "/nix/store/11111111111111111111111111111111-nixos-system-edgeboot-24.11/init";
    expect((await adminCall("PATCH", "/v1/profiles/nixos-netboot", { vars: { nixosInit: next } })).status).toBe(200);
    const { body } = await chainOf(nixos.host.mac);
    expect(body).toContain(`/artifacts/${sha} || goto retry`);
    expect(body).toContain(` init=${next} `);
  });

  it("through the site relay: every artifact from its cache, the store in the signed manifest and the prefetch list", async () => {
    await setUp(nixos);
    const { credential } = (await adminCall("POST", "/v1/sites/lab/relays", { name: "relay-1" })).body;
    const auth = { authorization: `Bearer ${credential}` };
    const { publicJwk } = await relayKeyPair();
    const reg = await call("/relay/v1/register", {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ publicKeyJwk: publicJwk, lanAddress: "10.20.30.2", cacheUrl: "http://10.20.30.2:8080", version: "test" }),
    });
    expect(reg.status, reg.body).toBe(200);
    const chain = await chainOf(nixos.host.mac, { headers: { ...auth, "edgeboot-client-address": "10.20.30.41" } });
    const cache = "http://10.20.30.2:8080/artifacts";
    expect(await normalise(chain.body, nixos)).toBe(
      bootScript({
        comment: "edgeboot site=lab host=nixos-1 profile=nixos-netboot image=nixos 24.11 x86_64",
        kernel: `${cache}/<kernel> initrd=initrd0 initrd=initrd1 init=${INIT} loglevel=4 console=tty0 console=ttyS0,115200n8`,
        initrds: [`${cache}/<initrd0>`, `${cache}/<store>`],
        name: "nixos-netboot",
      }),
    );

    const sync = await call("/relay/v1/sync", { headers: auth });
    expect(sync.status).toBe(200);
    const snapshot = JSON.parse(sync.body);
    const names = await roleNames(nixos);
    expect(snapshot.prefetch.map((p: { sha256: string; role: string }) => [names.get(p.sha256), p.role])).toEqual([
      ["<kernel>", "kernel"],
      ["<initrd0>", "initrd"],
      ["<store>", "store"],
    ]);
    expect(snapshot.manifests).toHaveLength(1);
    const jws: string = snapshot.manifests[0];
    expect(decodeProtectedHeader(jws).typ).toBe("edgeboot-manifest+jws");
    const manifest = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(jws.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0))));
    expect(manifest.artifacts.map((a: { role: string; sha256: string }) => `${a.role}=${names.get(a.sha256)}`)).toEqual(["kernel=<kernel>", "initrd=<initrd0>", "store=<store>"]);
  });
});
