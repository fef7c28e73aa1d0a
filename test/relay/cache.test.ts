import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm, writeFile, stat, utimes } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { artifactRoute } from "../../relay/cache/http.ts";
import { ArtifactCache } from "../../relay/cache/store.ts";
import { apiUpstream } from "../../relay/cache/upstream.ts";
import { ArtifactUpstream } from "../helpers/artifactUpstream.ts";

let upstream: ArtifactUpstream;
let dir: string;
const servers: Server[] = [];
const caches: ArtifactCache[] = [];

beforeEach(async () => {
  upstream = new ArtifactUpstream();
  await upstream.start();
  dir = await mkdtemp(join(tmpdir(), "edgeboot-cache-"));
});

afterEach(async () => {
  for (const c of caches.splice(0)) c.close();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  await upstream.stop();
  await rm(dir, { recursive: true, force: true });
});

async function startCache(opts: { budgetBytes?: number; verifyInBackground?: boolean; idleTimeoutMs?: number; now?: () => number } = {}) {
  const cache = new ArtifactCache({
    dir,
    budgetBytes: opts.budgetBytes ?? 1 << 30,
    upstream: apiUpstream({ apiUrl: upstream.url, credential: upstream.credential }),
    verifyInBackground: opts.verifyInBackground ?? false,
    idleTimeoutMs: opts.idleTimeoutMs ?? 5000,
    ...(opts.now ? { now: opts.now } : {}),
  });
  await cache.open();
  caches.push(cache);
  const route = artifactRoute(cache);
  const server = createServer((req, res) => {
    if (req.url?.startsWith(route.prefix)) void route.handle(req, res);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  servers.push(server);
  return { cache, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const get = async (url: string, headers: Record<string, string> = {}) => {
  const res = await fetch(url, { headers });
  return { res, body: Buffer.from(await res.arrayBuffer()) };
};

const files = async () => (await readdir(dir)).sort();

describe("relay artifact cache", () => {
  it("fetches a miss once, stores it under its hash and serves the next request from disk", async () => {
    const bytes = randomBytes(300_000);
    const sha = upstream.add(bytes);
    const { cache, url } = await startCache();
    const first = await get(`${url}/artifacts/${sha}`);
    expect(first.res.status).toBe(200);
    expect(first.res.headers.get("etag")).toBe(`"${sha}"`);
    expect(first.res.headers.get("content-length")).toBe("300000");
    expect(first.body.equals(bytes)).toBe(true);
    await until(() => cache.has(sha));
    const second = await get(`${url}/artifacts/${sha}`);
    expect(second.body.equals(bytes)).toBe(true);
    expect(upstream.requests).toEqual([sha]);
    expect(await files()).toEqual([sha]);
    expect(cache.stats).toMatchObject({ misses: 1, hits: 1, fills: 1 });
  });

  it("takes one optional file-name segment after the hash, ignored for lookup; bad names are refused", async () => {
    const bytes = randomBytes(70_000);
    const sha = upstream.add(bytes);
    const served: string[] = [];
    const { cache, url } = await startCache();
    // A miss through the named URL fills the cache under the bare hash, like any miss.
    const miss = await get(`${url}/artifacts/${sha}/root.squashfs`);
    expect([miss.res.status, miss.res.headers.get("etag")]).toEqual([200, `"${sha}"`]);
    expect(miss.body.equals(bytes)).toBe(true);
    await until(() => cache.has(sha));
    expect(await files()).toEqual([sha]);
    for (const name of ["root.squashfs", "filesystem.squashfs", "x".repeat(128), "A_b-1.2.tgz"]) {
      const hit = await get(`${url}/artifacts/${sha}/${name}`);
      expect(hit.res.status, name).toBe(200);
      expect(hit.body.equals(bytes)).toBe(true);
      served.push(name);
    }
    const ranged = await get(`${url}/artifacts/${sha}/root.squashfs`, { range: "bytes=5-9" });
    expect([ranged.res.status, ranged.body.equals(bytes.subarray(5, 10))]).toEqual([206, true]);
    const head = await fetch(`${url}/artifacts/${sha}/root.squashfs`, { method: "HEAD" });
    expect([head.status, head.headers.get("content-length")]).toEqual([200, "70000"]);

    for (const bad of ["", "x".repeat(129), "root%20fs.squashfs", "..%2Froot", "r%2Fs", "root.squashfs%00"]) {
      const res = await get(`${url}/artifacts/${sha}/${bad}`);
      expect(res.res.status, JSON.stringify(bad)).toBe(400);
      expect(JSON.parse(res.body.toString()).error.code).toBe("invalid_input");
    }
    expect((await get(`${url}/artifacts/${sha}/a/root.squashfs`)).res.status).toBe(404);
    expect((await get(`${url}/artifacts/not-a-hash/root.squashfs`)).res.status).toBe(404);
    expect(upstream.requests).toEqual([sha]);
    expect(served).toHaveLength(4);
  });

  it("serves large hits whole and byte-exact, alone, to many clients at once and as ranges", async () => {
    // Bigger than every read size the hit path picks (it grows each response's reads up to 2 MiB), and not a
    // multiple of any, so every boundary and the last short read are crossed.
    const bytes = randomBytes((9 << 20) + 12_345);
    const sha = upstream.add(bytes);
    const { cache, url } = await startCache();
    expect((await get(`${url}/artifacts/${sha}`)).body.equals(bytes)).toBe(true);
    await until(() => cache.has(sha));
    const alone = await get(`${url}/artifacts/${sha}`);
    expect(alone.res.status).toBe(200);
    expect(alone.body.equals(bytes)).toBe(true);
    const many = await Promise.all(Array.from({ length: 8 }, () => get(`${url}/artifacts/${sha}`)));
    for (const r of many) expect(r.body.equals(bytes)).toBe(true);
    const from = (3 << 20) - 7;
    const to = (7 << 20) + 3;
    const ranged = await get(`${url}/artifacts/${sha}`, { range: `bytes=${from}-${to}` });
    expect(ranged.res.status).toBe(206);
    expect(ranged.body.equals(bytes.subarray(from, to + 1))).toBe(true);
    expect(upstream.requests).toEqual([sha]);
  });

  it("serves ranges, 304 and 416 on hits and on misses", async () => {
    const bytes = randomBytes(10_000);
    const sha = upstream.add(bytes);
    const { url } = await startCache();
    const missRange = await get(`${url}/artifacts/${sha}`, { range: "bytes=100-199" });
    expect(missRange.res.status).toBe(206);
    expect(missRange.res.headers.get("content-range")).toBe("bytes 100-199/10000");
    expect(missRange.body.equals(bytes.subarray(100, 200))).toBe(true);
    const hitRange = await get(`${url}/artifacts/${sha}`, { range: "bytes=-10" });
    expect(hitRange.res.status).toBe(206);
    expect(hitRange.body.equals(bytes.subarray(9990))).toBe(true);
    const notModified = await get(`${url}/artifacts/${sha}`, { "if-none-match": `"${sha}"` });
    expect(notModified.res.status).toBe(304);
    const unsatisfiable = await get(`${url}/artifacts/${sha}`, { range: "bytes=10000-" });
    expect(unsatisfiable.res.status).toBe(416);
    expect(unsatisfiable.res.headers.get("content-range")).toBe("bytes */10000");
    expect(upstream.requests).toHaveLength(1);
  });

  it("turns 32 concurrent misses into one upstream fetch, streaming bytes to all before the fill ends", async () => {
    const bytes = randomBytes(4 << 20);
    const sha = upstream.add(bytes, { holdAt: 1 << 20 });
    const { cache, url } = await startCache();
    const responses = await Promise.all(Array.from({ length: 32 }, () => fetch(`${url}/artifacts/${sha}`)));
    // Each client reads its first bytes while upstream is still holding back the rest.
    const readers = responses.map((r) => r.body!.getReader());
    const firsts = await Promise.all(readers.map((r) => r.read()));
    for (const f of firsts) expect(f.value?.byteLength).toBeGreaterThan(0);
    expect(cache.has(sha)).toBe(false);
    upstream.release(sha);
    const bodies = await Promise.all(
      readers.map(async (reader, i) => {
        const parts = [Buffer.from(firsts[i]!.value!)];
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          parts.push(Buffer.from(value));
        }
        return Buffer.concat(parts);
      }),
    );
    for (const body of bodies) expect(body.equals(bytes)).toBe(true);
    expect(upstream.requests).toEqual([sha]);
    expect(cache.stats).toMatchObject({ misses: 1, joined: 31 });
  });

  it("cuts every reader off and keeps nothing when the upstream bytes fail their hash", async () => {
    const bytes = randomBytes(2 << 20);
    const sha = upstream.add(bytes, { corrupt: true });
    const { cache, url } = await startCache();
    const results = await Promise.allSettled(Array.from({ length: 4 }, () => get(`${url}/artifacts/${sha}`)));
    for (const r of results) expect(r.status).toBe("rejected");
    await until(() => cache.stats.fillFailures === 1);
    expect(cache.stats.hashFailures).toBe(1);
    expect(await files()).toEqual([]);
    // Fixed upstream: the next request fetches again and succeeds.
    upstream.blobs.get(sha)!.corrupt = false;
    const again = await get(`${url}/artifacts/${sha}`);
    expect(again.body.equals(bytes)).toBe(true);
    expect(upstream.requests).toHaveLength(2);
  });

  it("passes upstream 404s through and answers 502 when the upstream is down, while hits keep working", async () => {
    const bytes = randomBytes(1000);
    const sha = upstream.add(bytes);
    const { url } = await startCache();
    await get(`${url}/artifacts/${sha}`);
    const unknown = await get(`${url}/artifacts/${"a".repeat(64)}`);
    expect(unknown.res.status).toBe(404);
    const junk = await get(`${url}/artifacts/..%2Fetc%2Fpasswd`);
    expect(junk.res.status).toBe(404);
    await upstream.stop();
    const cached = await get(`${url}/artifacts/${sha}`);
    expect(cached.res.status).toBe(200);
    expect(cached.body.equals(bytes)).toBe(true);
    const down = await get(`${url}/artifacts/${"b".repeat(64)}`);
    expect(down.res.status).toBe(502);
    upstream = new ArtifactUpstream();
    await upstream.start();
  });

  it("survives a restart: temp files are removed, a corrupted file is detected and refetched, never served", async () => {
    const good = randomBytes(50_000);
    const bad = randomBytes(60_000);
    const goodSha = upstream.add(good);
    const badSha = upstream.add(bad);
    {
      const { cache, url } = await startCache();
      await get(`${url}/artifacts/${goodSha}`);
      await get(`${url}/artifacts/${badSha}`);
      await until(() => cache.entryCount === 2);
      cache.close();
    }
    // A crashed fill's temp file, and bit rot in one artifact (mtime kept, so only the hash can tell).
    await writeFile(join(dir, `.tmp-${goodSha}-deadbeef`), "partial");
    const st = await stat(join(dir, badSha));
    const rotten = Buffer.from(bad);
    rotten[1234] = rotten[1234]! ^ 1;
    await writeFile(join(dir, badSha), rotten);
    await utimes(join(dir, badSha), st.atime, st.mtime);

    const { cache, url } = await startCache();
    expect(await files()).toEqual([goodSha, badSha].sort());
    expect((await get(`${url}/artifacts/${goodSha}`)).body.equals(good)).toBe(true);
    const refetched = await get(`${url}/artifacts/${badSha}`);
    expect(refetched.body.equals(bad)).toBe(true);
    expect(cache.stats.corruptFound).toBe(1);
    expect(upstream.requests.filter((s) => s === badSha)).toHaveLength(2);
    expect(upstream.requests.filter((s) => s === goodSha)).toHaveLength(1);
  });

  it("re-verifies a file changed on disk while running", async () => {
    const bytes = randomBytes(20_000);
    const sha = upstream.add(bytes);
    const { cache, url } = await startCache();
    await get(`${url}/artifacts/${sha}`);
    await until(() => cache.has(sha));
    await writeFile(join(dir, sha), randomBytes(20_000));
    const res = await get(`${url}/artifacts/${sha}`);
    expect(res.body.equals(bytes)).toBe(true);
    expect(cache.stats.corruptFound).toBe(1);
    expect(upstream.requests).toHaveLength(2);
  });

  it("evicts least recently used artifacts to stay within its budget, never pinned ones", async () => {
    const blobs = Array.from({ length: 4 }, () => randomBytes(100_000));
    const shas = blobs.map((b) => upstream.add(b));
    let now = 1_000_000;
    const { cache, url } = await startCache({ budgetBytes: 250_000, now: () => now });
    cache.setPinned([shas[0]!]);
    for (const sha of shas.slice(0, 2)) {
      await get(`${url}/artifacts/${sha}`);
      await until(() => cache.has(sha));
      now += 1000;
    }
    // Cache holds 0 (pinned) and 1; fetching 2 must evict 1, not 0.
    await get(`${url}/artifacts/${shas[2]}`);
    await until(() => cache.has(shas[2]!));
    expect(cache.has(shas[0]!)).toBe(true);
    expect(cache.has(shas[1]!)).toBe(false);
    expect(cache.usedBytes).toBeLessThanOrEqual(250_000);
    expect(cache.stats.evictions).toBe(1);
    expect(await files()).toEqual([shas[0]!, shas[2]!].sort());
  });

  it("prefetches a list into the cache", async () => {
    const blobs = [randomBytes(1000), randomBytes(2000)];
    const shas = blobs.map((b) => upstream.add(b));
    const { cache } = await startCache();
    const missing = "c".repeat(64);
    const result = await cache.prefetch([...shas, missing]);
    expect(result).toEqual({ fetched: shas, failed: [missing] });
    expect(await files()).toEqual([...shas].sort());
    expect((await cache.prefetch(shas)).fetched).toEqual([]);
  });
});

async function until(cond: () => boolean, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
