import { describe, expect, it } from "vitest";
import { serveArtifact } from "../../../worker/artifacts/serve.ts";
import { bytesOf, seedArtifact, workerEnv } from "./seed.ts";
import { freshStoragePerTest } from "../boot/seed.ts";

freshStoragePerTest();

const url = "http://api.test/x";
const get = (sha: string, headers: Record<string, string> = {}, method = "GET") =>
  serveArtifact(workerEnv(), sha, new Request(url, { method, headers }));

describe("serveArtifact", () => {
  it("streams a whole artifact with immutable caching headers", async () => {
    const bytes = bytesOf(70_000);
    const sha = await seedArtifact(bytes, { contentType: "application/x-linux-kernel" });
    const res = await get(sha);
    expect(res.status).toBe(200);
    expect(res.headers.get("etag")).toBe(`"${sha}"`);
    expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(res.headers.get("accept-ranges")).toBe("bytes");
    expect(res.headers.get("content-length")).toBe("70000");
    expect(res.headers.get("content-type")).toBe("application/x-linux-kernel");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
  });

  it("answers ranges with 206 and Content-Range, suffix and open-ended ranges included", async () => {
    const bytes = bytesOf(1000, 7);
    const sha = await seedArtifact(bytes);
    const mid = await get(sha, { range: "bytes=10-19" });
    expect(mid.status).toBe(206);
    expect(mid.headers.get("content-range")).toBe("bytes 10-19/1000");
    expect(mid.headers.get("content-length")).toBe("10");
    expect(new Uint8Array(await mid.arrayBuffer())).toEqual(bytes.slice(10, 20));

    const suffix = await get(sha, { range: "bytes=-5" });
    expect(suffix.headers.get("content-range")).toBe("bytes 995-999/1000");
    expect(new Uint8Array(await suffix.arrayBuffer())).toEqual(bytes.slice(995));

    const open = await get(sha, { range: "bytes=990-" });
    expect(open.headers.get("content-range")).toBe("bytes 990-999/1000");
    expect(new Uint8Array(await open.arrayBuffer())).toEqual(bytes.slice(990));

    const clamped = await get(sha, { range: "bytes=995-5000" });
    expect(clamped.headers.get("content-range")).toBe("bytes 995-999/1000");
    await clamped.arrayBuffer();
  });

  it("refuses an unsatisfiable range with 416 and the size", async () => {
    const sha = await seedArtifact(bytesOf(100, 3));
    const res = await get(sha, { range: "bytes=100-200" });
    expect(res.status).toBe(416);
    expect(res.headers.get("content-range")).toBe("bytes */100");
    expect(await res.json()).toMatchObject({ error: { code: "range_not_satisfiable" } });
  });

  it("ignores Range when If-Range names another validator, and multi-range lists", async () => {
    const bytes = bytesOf(50, 9);
    const sha = await seedArtifact(bytes);
    const stale = await get(sha, { range: "bytes=0-9", "if-range": '"something-else"' });
    expect(stale.status).toBe(200);
    expect((await stale.arrayBuffer()).byteLength).toBe(50);
    const fresh = await get(sha, { range: "bytes=0-9", "if-range": `"${sha}"` });
    expect(fresh.status).toBe(206);
    await fresh.arrayBuffer();
    const multi = await get(sha, { range: "bytes=0-1,5-6" });
    expect(multi.status).toBe(200);
    await multi.arrayBuffer();
  });

  it("answers If-None-Match with 304 and no body", async () => {
    const sha = await seedArtifact(bytesOf(10, 4));
    for (const inm of [`"${sha}"`, `W/"${sha}"`, `"other", "${sha}"`, "*"]) {
      const res = await get(sha, { "if-none-match": inm });
      expect(res.status).toBe(304);
      expect(res.headers.get("etag")).toBe(`"${sha}"`);
      expect(res.body).toBeNull();
    }
    const miss = await get(sha, { "if-none-match": '"other"' });
    expect(miss.status).toBe(200);
    await miss.arrayBuffer();
  });

  it("answers HEAD with the headers and no body", async () => {
    const sha = await seedArtifact(bytesOf(1234, 5));
    const res = await get(sha, {}, "HEAD");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe("1234");
    expect(res.body).toBeNull();
    const ranged = await get(sha, { range: "bytes=0-3" }, "HEAD");
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get("content-length")).toBe("4");
  });

  it("serves an empty artifact", async () => {
    const sha = await seedArtifact(new Uint8Array(0));
    const res = await get(sha);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe("0");
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  it("answers 404 in the JSON error shape for unknown, malformed and pending hashes", async () => {
    const pending = await seedArtifact(bytesOf(10, 11), { state: "pending" });
    for (const sha of ["0".repeat(64), "not-a-hash", "A".repeat(64), pending]) {
      const res = await get(sha);
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ error: { code: "not_found" } });
    }
    const head = await get("0".repeat(64), {}, "HEAD");
    expect(head.status).toBe(404);
    expect(head.body).toBeNull();
  });
});
