// The cache with no room on its disk (free space from a seam here; test/relay/faults.test.ts fills a real tmpfs):
// a request is served straight from the upstream, verified, uncached; corrupt bytes are still cut off before the end.
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
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
let server: Server;
let cache: ArtifactCache;
let free = 0;
const warnings: string[] = [];

beforeEach(async () => {
  upstream = new ArtifactUpstream();
  await upstream.start();
  dir = await mkdtemp(join(tmpdir(), "edgeboot-cache-full-"));
  cache = new ArtifactCache({
    dir,
    budgetBytes: 1 << 30,
    upstream: apiUpstream({ apiUrl: upstream.url, credential: upstream.credential }),
    verifyInBackground: false,
    idleTimeoutMs: 5000,
    freeBytes: async () => free,
    log: { info() {}, warn: (msg) => void warnings.push(msg) },
  });
  await cache.open();
  const route = artifactRoute(cache);
  server = createServer((req, res) => void route.handle(req, res));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
});

afterEach(async () => {
  cache.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await upstream.stop();
  await rm(dir, { recursive: true, force: true });
  warnings.length = 0;
});

const url = (sha: string) => `http://127.0.0.1:${(server.address() as AddressInfo).port}/artifacts/${sha}`;

describe("artifact cache on a full disk", () => {
  it("serves misses straight from the upstream, byte-exact, keeps nothing, says so, and caches again once there is room", async () => {
    free = 1000;
    const bytes = randomBytes(5 * 1024 * 1024 + 17);
    const sha = upstream.add(bytes);
    const [a, b] = await Promise.all([fetch(url(sha)), fetch(url(sha), { headers: { range: "bytes=4000000-" } })]);
    expect(a.status).toBe(200);
    expect(Buffer.from(await a.arrayBuffer()).equals(bytes)).toBe(true);
    expect(b.status).toBe(206);
    expect(Buffer.from(await b.arrayBuffer()).equals(bytes.subarray(4_000_000))).toBe(true);
    expect(await readdir(dir)).toEqual([]);
    expect(cache.has(sha)).toBe(false);
    expect(cache.stats.direct).toBeGreaterThanOrEqual(1);
    expect(cache.diskFullAt).not.toBeNull();
    expect(warnings).toContain("artifact cache disk is full: serving this artifact straight from the API, uncached");
    // A prefetch does not stream anything anywhere: it fails with the reason.
    expect(await cache.prefetch([sha])).toEqual({ fetched: [], failed: [sha] });
    expect(warnings).toContain("artifact cache disk is full: not prefetching");
    free = 1 << 30;
    const again = await fetch(url(sha));
    expect(Buffer.from(await again.arrayBuffer()).equals(bytes)).toBe(true);
    expect(await readdir(dir)).toEqual([sha]);
  });

  it("answers a HEAD on a full disk and drops the uncached transfer nobody reads", async () => {
    free = 0;
    const bytes = randomBytes(4 * 1024 * 1024);
    const sha = upstream.add(bytes);
    const head = await fetch(url(sha), { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(bytes.length));
    for (let i = 0; i < 50 && cache.stats.fillFailures === 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(cache.stats.fillFailures).toBe(1);
    expect(await readdir(dir)).toEqual([]);
  });

  it("paces the upstream by a slow reader instead of buffering the artifact", async () => {
    free = 0;
    const bytes = randomBytes(32 * 1024 * 1024);
    const sha = upstream.add(bytes);
    const before = process.memoryUsage().arrayBuffers;
    const res = await fetch(url(sha));
    const reader = res.body!.getReader();
    let got = 0;
    const first = await reader.read();
    got += first.value!.byteLength;
    await new Promise((r) => setTimeout(r, 500)); // the client stalls; the relay must not read ahead unboundedly
    // Read ahead while the client stalled: the tail (1 MiB) plus socket buffers, not the 32 MiB artifact.
    const grown = process.memoryUsage().arrayBuffers - before;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      got += value.byteLength;
    }
    expect(got).toBe(bytes.length);
    expect(grown).toBeLessThan(12 * 1024 * 1024);
  });

  it("cuts the client off before the last byte when the upstream bytes fail their hash", async () => {
    free = 0;
    const sha = upstream.add(randomBytes(3 * 1024 * 1024), { corrupt: true });
    const res = await fetch(url(sha));
    expect(res.status).toBe(200);
    await expect(res.arrayBuffer()).rejects.toThrow();
    expect(await readdir(dir)).toEqual([]);
  });
});
