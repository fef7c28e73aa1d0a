import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { serveArtifact } from "../../../worker/artifacts/serve.ts";
import { ADMIN, api, artifactRow, bytesOf, put, r2Has, sha256Hex, workerEnv } from "./seed.ts";
import { freshStoragePerTest } from "../boot/seed.ts";

freshStoragePerTest();

const MiB = 1024 * 1024;
const json = (body: unknown) => ({ method: "POST", body: JSON.stringify(body), headers: { ...ADMIN, "content-type": "application/json" } });

async function create(sha: string) {
  const res = await api(`/v1/artifacts/${sha}/uploads`, { method: "POST", headers: ADMIN });
  return { status: res.status, body: (await res.json()) as { uploadId: string; exists: boolean } };
}

async function uploadParts(sha: string, uploadId: string, parts: Uint8Array[]) {
  const done: { partNumber: number; etag: string }[] = [];
  for (const [i, bytes] of parts.entries()) {
    const res = await api(`/v1/artifacts/${sha}/uploads/${uploadId}/parts/${i + 1}`, { method: "PUT", body: bytes, headers: ADMIN });
    expect(res.status).toBe(200);
    done.push((await res.json()) as { partNumber: number; etag: string });
  }
  return done;
}

describe("multipart artifact upload", () => {
  it("assembles parts, hashes the whole object and only then makes it servable", async () => {
    const whole = bytesOf(5 * MiB + 1234, 61);
    const sha = await sha256Hex(whole);
    const created = await create(sha);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ exists: false, uploadId: expect.any(String) });
    const { uploadId } = created.body;

    // While open: listed as pending, never served, and no competing upload.
    expect(await artifactRow(sha)).toMatchObject({ state: "pending", upload_id: uploadId });
    expect((await create(sha)).status).toBe(409);
    expect((await put(sha, whole)).status).toBe(409);

    const parts = await uploadParts(sha, uploadId, [whole.subarray(0, 5 * MiB), whole.subarray(5 * MiB)]);
    expect((await serveArtifact(workerEnv(), sha, new Request("http://x/"))).status).toBe(404);
    const done = await api(`/v1/artifacts/${sha}/uploads/${uploadId}/complete`, json({ parts: parts.reverse() }));
    expect(done.status).toBe(201);
    expect(await done.json()).toMatchObject({ artifact: { sha256: sha, size: whole.length, state: "ready" } });
    const served = await serveArtifact(workerEnv(), sha, new Request("http://x/", { headers: { range: `bytes=${5 * MiB - 2}-${5 * MiB + 1}` } }));
    expect(served.status).toBe(206);
    expect(new Uint8Array(await served.arrayBuffer())).toEqual(whole.subarray(5 * MiB - 2, 5 * MiB + 2));

    // A client retrying complete after a lost response, and a new upload of the same bytes, both see it exists.
    const retry = await api(`/v1/artifacts/${sha}/uploads/${uploadId}/complete`, json({ parts }));
    expect(retry.status).toBe(200);
    expect(await create(sha)).toMatchObject({ status: 200, body: { exists: true } });
  });

  it("deletes the object and the upload when the assembled bytes do not match the hash", async () => {
    const claimed = await sha256Hex(bytesOf(100, 62));
    const { body } = await create(claimed);
    const parts = await uploadParts(claimed, body.uploadId, [bytesOf(100, 63)]);
    const res = await api(`/v1/artifacts/${claimed}/uploads/${body.uploadId}/complete`, json({ parts }));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "hash_mismatch", details: { expected: claimed, actual: await sha256Hex(bytesOf(100, 63)) } } });
    expect(await r2Has(claimed)).toBe(false);
    expect(await artifactRow(claimed)).toBeNull();
    // Nothing is left to block a correct upload.
    expect((await put(claimed, bytesOf(100, 62))).status).toBe(201);
  });

  it("aborts an upload: the hash is free again and parts are refused", async () => {
    const bytes = bytesOf(10, 64);
    const sha = await sha256Hex(bytes);
    const { body } = await create(sha);
    expect((await api(`/v1/artifacts/${sha}/uploads/${body.uploadId}`, { method: "DELETE", headers: ADMIN })).status).toBe(204);
    expect(await artifactRow(sha)).toBeNull();
    const late = await api(`/v1/artifacts/${sha}/uploads/${body.uploadId}/parts/1`, { method: "PUT", body: bytes, headers: ADMIN });
    expect(late.status).toBe(404);
    expect((await api(`/v1/artifacts/${sha}/uploads/${body.uploadId}`, { method: "DELETE", headers: ADMIN })).status).toBe(404);
    expect((await put(sha, bytes)).status).toBe(201);
  });

  it("lets a new upload take over one abandoned for a day", async () => {
    const bytes = bytesOf(10, 65);
    const sha = await sha256Hex(bytes);
    const old = await create(sha);
    await env.DB.prepare("update artifacts set created_at = ? where sha256 = ?").bind(Date.now() - 25 * 3600_000, sha).run();
    const fresh = await create(sha);
    expect(fresh.status).toBe(201);
    expect(fresh.body.uploadId).not.toBe(old.body.uploadId);
    const stale = await api(`/v1/artifacts/${sha}/uploads/${old.body.uploadId}/parts/1`, { method: "PUT", body: bytes, headers: ADMIN });
    expect(stale.status).toBe(404);
  });

  it("explains refused completions: small parts, unknown parts, bad part lists", async () => {
    const whole = bytesOf(20, 66);
    const sha = await sha256Hex(whole);
    const { body } = await create(sha);
    const parts = await uploadParts(sha, body.uploadId, [whole.subarray(0, 10), whole.subarray(10)]);
    const small = await api(`/v1/artifacts/${sha}/uploads/${body.uploadId}/complete`, json({ parts }));
    expect(small.status).toBe(400);
    expect(await small.json()).toMatchObject({ error: { code: "invalid_input", message: expect.stringMatching(/at least/) } });

    const { body: b2 } = await create(await sha256Hex(bytesOf(5, 67)));
    const sha2 = await sha256Hex(bytesOf(5, 67));
    const unknown = await api(`/v1/artifacts/${sha2}/uploads/${b2.uploadId}/complete`, json({ parts: [{ partNumber: 1, etag: "nope" }] }));
    expect(unknown.status).toBe(400);
    for (const bad of [{ parts: [] }, { parts: [{ partNumber: 0, etag: "x" }] }, { parts: [{ partNumber: 1, etag: "a" }, { partNumber: 1, etag: "b" }] }, {}]) {
      expect((await api(`/v1/artifacts/${sha2}/uploads/${b2.uploadId}/complete`, json(bad))).status).toBe(400);
    }
    const wrongId = await api(`/v1/artifacts/${sha2}/uploads/not-the-id/complete`, json({ parts: [{ partNumber: 1, etag: "x" }] }));
    expect(wrongId.status).toBe(404);
    expect((await api(`/v1/artifacts/${sha2}/uploads/${b2.uploadId}/parts/10001`, { method: "PUT", body: "x", headers: ADMIN })).status).toBe(400);
  });
});
