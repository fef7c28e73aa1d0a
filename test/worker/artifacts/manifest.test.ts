import { env } from "cloudflare:workers";
import { compactVerify, createLocalJWKSet } from "jose";
import { describe, expect, it } from "vitest";
import { getSigningKeys } from "../../../worker/keys/signingKeys.ts";
import { seedImage } from "../relayapi/seed.ts";
import { ADMIN, api, bytesOf, seedArtifact, seedToken } from "./seed.ts";
import { freshStoragePerTest } from "../boot/seed.ts";

freshStoragePerTest();

async function verify(jws: string) {
  const { payload, protectedHeader } = await compactVerify(jws, createLocalJWKSet((await getSigningKeys(env)).jwks as never));
  return { manifest: JSON.parse(new TextDecoder().decode(payload)), protectedHeader };
}

describe("GET /v1/images/:image/manifest", () => {
  it("returns the manifest and its JWS, which verifies with the API's keys", async () => {
    const kernel = await seedArtifact(bytesOf(111, 81));
    const initrd = await seedArtifact(bytesOf(222, 82));
    const rootfs = await seedArtifact(bytesOf(333, 83));
    await seedImage("man-a", "x86_64", { rootfs, initrd: [initrd], kernel }, "2026.1");
    const res = await api("/v1/images/man-a/manifest?arch=x86_64", { headers: ADMIN });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { manifest: Record<string, unknown>; jws: string };
    expect(body.manifest).toEqual({
      image: "man-a",
      arch: "x86_64",
      version: "2026.1",
      artifacts: [
        { role: "kernel", sha256: kernel, size: 111, url: `http://api.test/relay/v1/artifacts/${kernel}` },
        { role: "initrd", sha256: initrd, size: 222, url: `http://api.test/relay/v1/artifacts/${initrd}` },
        { role: "rootfs", sha256: rootfs, size: 333, url: `http://api.test/relay/v1/artifacts/${rootfs}` },
      ],
      issuedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    const verified = await verify(body.jws);
    expect(verified.manifest).toEqual(body.manifest);
    expect(verified.protectedHeader).toEqual({ alg: "EdDSA", kid: "test-key-1", typ: "edgeboot-manifest+jws" });
  });

  it("answers Accept: application/jose with the bare JWS and picks the only architecture without ?arch", async () => {
    const kernel = await seedArtifact(bytesOf(10, 84));
    await seedImage("man-b", "arm64", { kernel, initrd: [] });
    const res = await api("/v1/images/man-b/manifest", { headers: { ...ADMIN, accept: "application/jose" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/jose");
    const { manifest } = await verify(new TextDecoder().decode(await res.arrayBuffer()));
    expect(manifest).toMatchObject({ image: "man-b", arch: "arm64" });
  });

  it("is readable by any token, and explains unknown images, ambiguous architectures and missing artifacts", async () => {
    const kernel = await seedArtifact(bytesOf(10, 85));
    await seedImage("man-c", "x86_64", { kernel, initrd: [] });
    await seedImage("man-c", "arm64", { kernel, initrd: [] });
    await seedImage("man-d", "x86_64", { kernel, initrd: ["f".repeat(64)] });
    expect((await api("/v1/images/man-c/manifest?arch=x86_64", { headers: await seedToken(["site:any"]) })).status).toBe(200);
    expect((await api("/v1/images/man-c/manifest?arch=x86_64")).status).toBe(401);
    const ambiguous = await api("/v1/images/man-c/manifest", { headers: ADMIN });
    expect(ambiguous.status).toBe(400);
    expect(await ambiguous.json()).toMatchObject({ error: { details: { arches: expect.arrayContaining(["x86_64", "arm64"]) } } });
    expect((await api("/v1/images/nope/manifest", { headers: ADMIN })).status).toBe(404);
    expect((await api("/v1/images/man-c/manifest?arch=riscv64", { headers: ADMIN })).status).toBe(404);
    expect((await api("/v1/images/man-c/manifest?arch=../x", { headers: ADMIN })).status).toBe(400);
    const missing = await api("/v1/images/man-d/manifest", { headers: ADMIN });
    expect(missing.status).toBe(409);
    expect(await missing.json()).toMatchObject({ error: { code: "conflict", details: { missing: ["f".repeat(64)] } } });
  });
});
