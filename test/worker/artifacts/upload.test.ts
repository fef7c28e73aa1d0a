import { describe, expect, it } from "vitest";
import { ADMIN, api, artifactRow, auditRows, bytesOf, put, r2Has, seedArtifact, seedToken, sha256Hex } from "./seed.ts";
import { seedImage } from "../relayapi/seed.ts";
import { freshStoragePerTest } from "../boot/seed.ts";

freshStoragePerTest();

describe("PUT /v1/artifacts/:sha256", () => {
  it("stores verified bytes once: 201, then 200 for the same bytes, with metadata and an audit entry", async () => {
    const bytes = bytesOf(100_000, 21);
    const sha = await sha256Hex(bytes);
    const first = await put(sha, bytes, { ...ADMIN, "content-type": "application/x-linux-kernel" });
    expect(first.status).toBe(201);
    expect(await first.json()).toMatchObject({ artifact: { sha256: sha, size: 100_000, state: "ready", contentType: "application/x-linux-kernel" } });
    expect(await r2Has(sha)).toBe(true);
    const again = await put(sha, bytes);
    expect(again.status).toBe(200);

    const meta = await api(`/v1/artifacts/${sha}`, { headers: ADMIN });
    expect(meta.status).toBe(200);
    expect(await meta.json()).toMatchObject({ artifact: { sha256: sha, size: 100_000, images: [] } });
    const head = await api(`/v1/artifacts/${sha}`, { method: "HEAD", headers: ADMIN });
    expect(head.status).toBe(200);
    const audit = await auditRows("artifact.upload", sha);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: "root", resource_id: sha });
  });

  it("refuses bytes that do not match the hash and stores nothing", async () => {
    const bytes = bytesOf(5000, 22);
    const wrong = await sha256Hex(bytesOf(5000, 23));
    const res = await put(wrong, bytes);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "hash_mismatch", details: { expected: wrong, actual: await sha256Hex(bytes) } } });
    expect(await r2Has(wrong)).toBe(false);
    expect(await artifactRow(wrong)).toBeNull();
    expect(await auditRows("artifact.upload", wrong)).toHaveLength(0);
    const meta = await api(`/v1/artifacts/${wrong}`, { headers: ADMIN });
    expect(meta.status).toBe(404);
  });

  it("stores an empty artifact", async () => {
    const empty = new Uint8Array(0);
    const sha = await sha256Hex(empty);
    expect((await put(sha, empty)).status).toBe(201);
    expect(await artifactRow(sha)).toMatchObject({ size: 0, state: "ready" });
  });

  it("refuses malformed hashes and bodies of unknown length", async () => {
    const bad = await put("ABC", bytesOf(10));
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: "invalid_input" } });
    const upper = await put("A".repeat(64), bytesOf(10));
    expect(upper.status).toBe(400);
    const bytes = bytesOf(10, 24);
    const chunked = new ReadableStream({
      start(c) {
        c.enqueue(bytes);
        c.close();
      },
    });
    const res = await api(`/v1/artifacts/${await sha256Hex(bytes)}`, { method: "PUT", body: chunked, headers: ADMIN, duplex: "half" } as RequestInit);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "bad_request", message: expect.stringMatching(/Content-Length/) } });
  });
});

describe("artifact list, metadata and delete", () => {
  it("lists ready artifacts with the images that use them, paginated by hash", async () => {
    const shas = [await seedArtifact(bytesOf(10, 31)), await seedArtifact(bytesOf(10, 32)), await seedArtifact(bytesOf(10, 33))].sort();
    await seedImage("listed", "x86_64", { kernel: shas[0]!, initrd: [] });
    const pending = await seedArtifact(bytesOf(10, 34), { state: "pending" });
    type Page = { artifacts: { sha256: string; state: string; images: unknown[] }[]; nextCursor: string | null };
    const seen: Page["artifacts"] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 100; i++) {
      const page = (await (await api(`/v1/artifacts?limit=2${cursor ? `&cursor=${cursor}` : ""}`, { headers: ADMIN })).json()) as Page;
      expect(page.artifacts.length).toBeLessThanOrEqual(2);
      seen.push(...page.artifacts);
      cursor = page.nextCursor;
      if (!cursor) break;
    }
    const hashes = seen.map((a) => a.sha256);
    expect(hashes).toEqual([...hashes].sort());
    expect(new Set(hashes).size).toBe(hashes.length);
    for (const sha of shas) expect(hashes).toContain(sha);
    expect(hashes).not.toContain(pending);
    expect(seen.find((a) => a.sha256 === shas[0])!.images).toEqual([{ name: "listed", arch: "x86_64" }]);
    const open = (await (await api("/v1/artifacts?state=pending&limit=1000", { headers: ADMIN })).json()) as Page;
    expect(open.artifacts.map((a) => a.sha256)).toContain(pending);
    expect((await api("/v1/artifacts?limit=0", { headers: ADMIN })).status).toBe(400);
  });

  it("deletes an unreferenced artifact (row, object, audit) and refuses a referenced one with 409", async () => {
    const free = await seedArtifact(bytesOf(100, 41));
    const used = await seedArtifact(bytesOf(100, 42));
    await seedImage("uses-it", "arm64", { kernel: used, initrd: [] });
    const del = await api(`/v1/artifacts/${free}`, { method: "DELETE", headers: ADMIN });
    expect(del.status).toBe(204);
    expect(await r2Has(free)).toBe(false);
    expect(await artifactRow(free)).toBeNull();
    expect(await auditRows("artifact.delete", free)).toHaveLength(1);
    const refused = await api(`/v1/artifacts/${used}`, { method: "DELETE", headers: ADMIN });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ error: { code: "conflict", details: { images: [{ name: "uses-it", arch: "arm64" }] } } });
    expect(await r2Has(used)).toBe(true);
    expect((await api(`/v1/artifacts/${free}`, { method: "DELETE", headers: ADMIN })).status).toBe(404);
  });
});

describe("artifact access control", () => {
  it("needs a token, and an admin token to write; other tokens may read", async () => {
    const bytes = bytesOf(64, 51);
    const sha = await sha256Hex(bytes);
    expect((await put(sha, bytes, {})).status).toBe(401);
    const reader = await seedToken(["read"]);
    const siteToken = await seedToken(["site:lab"]);
    expect((await put(sha, bytes, reader)).status).toBe(403);
    expect((await put(sha, bytes, siteToken)).status).toBe(403);
    expect(await r2Has(sha)).toBe(false);
    expect((await put(sha, bytes)).status).toBe(201);
    expect((await api(`/v1/artifacts/${sha}`, { headers: reader })).status).toBe(200);
    expect((await api(`/v1/artifacts/${sha}`, { headers: siteToken })).status).toBe(200);
    expect((await api(`/v1/artifacts/${sha}`, { method: "DELETE", headers: siteToken })).status).toBe(403);
    expect((await api(`/v1/artifacts/gc`, { method: "POST", headers: siteToken })).status).toBe(403);
    expect((await api(`/v1/artifacts/${sha}/uploads`, { method: "POST", headers: siteToken })).status).toBe(403);
    expect(await r2Has(sha)).toBe(true);
  });
});
