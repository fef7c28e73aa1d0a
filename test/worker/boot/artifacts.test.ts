// /boot/h/:token/artifacts/:sha256[/<name>]: the boot session's own kernel, initrds and rootfs, streamed with Range and ETag.
import { describe, expect, it } from "vitest";
import { bytesOf, seedArtifact } from "../artifacts/seed.ts";
import { call, eventsOf, freshStoragePerTest, seedHost, seedImage, seedProfile, seedSite, tokensIn } from "./seed.ts";

freshStoragePerTest();

const MAC = "52:54:00:12:34:56";

async function lab() {
  const kernel = bytesOf(50_000, 11);
  const initrd = bytesOf(20_000, 12);
  const other = bytesOf(1000, 13);
  const [k, i, o] = [await seedArtifact(kernel), await seedArtifact(initrd), await seedArtifact(other)];
  const site = await seedSite({ slug: "lab" });
  await seedImage({ name: "debian", artifacts: { kernel: k, initrd: [i] } });
  await seedProfile({ name: "debian-live", image: "debian" });
  await seedHost({ id: "host-1", siteId: site.id, mac: MAC, profileId: "prf-debian-live" });
  const chain = await call(`/boot/lab/ipxe?mac=${MAC}`);
  const base = `/boot/h/${tokensIn(chain.body)[0]}/artifacts`;
  return { site, base, k, i, o, kernel, initrd };
}

describe("host artifacts", () => {
  it("serves the kernel and initrd named in the chain, with ETag and immutable caching", async () => {
    const { site, k, i, kernel, initrd } = await lab();
    // A second chain is a new boot session: its token serves, the first one's is superseded.
    const chain = await call(`/boot/lab/ipxe?mac=${MAC}`);
    expect(chain.body).toContain(`/artifacts/${k} `);
    const base = `/boot/h/${tokensIn(chain.body)[0]}/artifacts`;
    const res = await fetchBytes(`${base}/${k}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("etag")).toBe(`"${k}"`);
    expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(res.bytes).toEqual(kernel);
    expect((await fetchBytes(`${base}/${i}`)).bytes).toEqual(initrd);
    const evs = (await eventsOf(site.id)).filter((e) => e.phase === "artifact-fetched");
    expect(evs.map((e) => e.detail.role)).toEqual(["kernel", "initrd"]);
  });

  it("answers ranges with 206", async () => {
    const { base, k, kernel } = await lab();
    const res = await call(`${base}/${k}`, { headers: { range: "bytes=0-99" } });
    expect(res.status).toBe(206);
    expect(res.headers.get("content-range")).toBe(`bytes 0-99/${kernel.length}`);
  });

  it("refuses hashes that are not part of the token's image, and unknown hashes", async () => {
    const { base, o } = await lab();
    const res = await call(`${base}/${o}`);
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body).error.code).toBe("forbidden");
    expect((await call(`${base}/${"0".repeat(64)}`)).status).toBe(403);
    expect((await call(`${base}/not-a-hash`)).status).toBe(404);
  });

  it("takes one optional file-name segment, ignored for lookup, so live-boot's fetch= sees a .squashfs URL", async () => {
    const rootfs = bytesOf(30_000, 14);
    const [k, r, o] = [await seedArtifact(bytesOf(5000, 15)), await seedArtifact(rootfs), await seedArtifact(bytesOf(1000, 16))];
    await seedSite({ slug: "live" });
    await seedImage({ name: "debian-live", artifacts: { kernel: k, initrd: [], rootfs: r } });
    await seedProfile({ name: "live", image: "debian-live", cmdline: "boot=live fetch={{ boot.artifacts.rootfs }}/root.squashfs" });
    await seedHost({ id: "host-live", siteId: "site-live", mac: MAC, profileId: "prf-live" });
    const chain = await call(`/boot/live/ipxe?mac=${MAC}`);
    const base = `/boot/h/${tokensIn(chain.body)[0]}/artifacts`;
    expect(chain.body).toContain(`fetch=http://api.test${base}/${r}/root.squashfs`);

    const named = await fetchBytes(`${base}/${r}/root.squashfs`);
    expect(named.status).toBe(200);
    expect(named.headers.get("etag")).toBe(`"${r}"`);
    expect(named.bytes).toEqual(rootfs);
    for (const name of ["filesystem.squashfs", "a", "x".repeat(128), "Root_1.2-3.tgz"]) expect((await call(`${base}/${r}/${name}`)).status).toBe(200);
    const head = await call(`${base}/${r}/root.squashfs`, { method: "HEAD" });
    expect([head.status, head.headers.get("content-length")]).toEqual([200, String(rootfs.length)]);
    const ranged = await call(`${base}/${r}/root.squashfs`, { headers: { range: "bytes=10-19" } });
    expect([ranged.status, ranged.headers.get("content-range")]).toEqual([206, `bytes 10-19/${rootfs.length}`]);

    // Bad names: a clear 400 naming the field; more segments are no route at all.
    for (const bad of ["x".repeat(129), "root%20fs.squashfs", "r%2Fs.squashfs", "%2e%2e%2froot", "root.squashfs%00"]) {
      const res = await call(`${base}/${r}/${bad}`);
      expect(res.status, bad).toBe(400);
      expect(JSON.parse(res.body).error).toMatchObject({ code: "invalid_input", details: { field: "name" } });
    }
    expect((await call(`${base}/${r}/a/b.squashfs`)).status).toBe(404);
    // The name never widens what a token may fetch.
    expect((await call(`${base}/${o}/root.squashfs`)).status).toBe(403);
    expect((await call(`/boot/h/forged.token.value/artifacts/${r}/root.squashfs`)).status).toBe(401);
  });

  it("needs a valid host token", async () => {
    const { k } = await lab();
    expect((await call(`/boot/h/forged.token.value/artifacts/${k}`)).status).toBe(401);
  });
});

async function fetchBytes(path: string) {
  const { createExecutionContext, waitOnExecutionContext } = await import("cloudflare:test");
  const worker = (await import("../../../worker/index.ts")).default;
  const { env } = await import("cloudflare:workers");
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`http://api.test${path}`) as never, env as never, ctx);
  const bytes = new Uint8Array(await res.arrayBuffer());
  await waitOnExecutionContext(ctx);
  return { status: res.status, headers: res.headers, bytes };
}
