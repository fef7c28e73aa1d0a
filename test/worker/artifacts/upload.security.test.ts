// The probe's small ones (issue 14, item 5): a PUT of other bytes to an already-stored hash is refused (it was a
// 200), and a body announced larger than the limit is refused before it is read.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { artifactKey } from "../../../worker/artifacts/store.ts";
import { MAX_SINGLE_PUT_BYTES } from "../../../worker/artifacts/upload.ts";
import { ADMIN, api, artifactRow, bytesOf, put, seedArtifact, sha256Hex } from "./seed.ts";
import { freshStoragePerTest } from "../boot/seed.ts";

freshStoragePerTest();

const stored = async (sha: string) => new Uint8Array(await (await env.ARTIFACTS.get(artifactKey(sha)))!.arrayBuffer());

describe("PUT /v1/artifacts/:sha256 to a stored hash", () => {
  it("the same bytes: 200; other bytes of the same length: 400 hash_mismatch, stored object unchanged", async () => {
    const bytes = bytesOf(70_000, 31);
    const sha = await seedArtifact(bytes);
    expect((await put(sha, bytes)).status).toBe(200);
    const forged = bytesOf(70_000, 32);
    const res = await put(sha, forged);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "hash_mismatch", details: { expected: sha, actual: await sha256Hex(forged) } } });
    expect(await stored(sha)).toEqual(bytes);
    expect(await artifactRow(sha)).toMatchObject({ size: 70_000, state: "ready" });
  });

  it("another length: 400 hash_mismatch before the body is read", async () => {
    const bytes = bytesOf(1000, 33);
    const sha = await seedArtifact(bytes);
    const res = await put(sha, bytesOf(1001, 33));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "hash_mismatch", details: { size: 1001, storedSize: 1000 } } });
  });
});

describe("Content-Length over the limit", () => {
  it("is refused with 413 before the body is read", async () => {
    const sha = "ab".repeat(32);
    let pulled = 0;
    // A body that would take forever: only its declared length is looked at.
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        if (pulled > 4) return controller.close();
        controller.enqueue(new Uint8Array(64 * 1024));
      },
    });
    const res = await api(`/v1/artifacts/${sha}`, {
      method: "PUT",
      body,
      headers: { ...ADMIN, "content-length": String(MAX_SINGLE_PUT_BYTES + 1) },
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: { code: "too_large", details: { size: MAX_SINGLE_PUT_BYTES + 1, max: MAX_SINGLE_PUT_BYTES } } });
    // The runtime may prefetch a chunk or two of a streamed request; the Worker itself read none of it.
    expect(pulled).toBeLessThanOrEqual(2);
    expect(await artifactRow(sha)).toBeNull();
  });
});
