// The cache inside a real relay process (`node relay/main.ts`, DHCP/TFTP off) against a stand-in upstream that can
// hold a transfer half-way: SIGKILL in the middle of a fill must leave nothing servable, and the next start refetches.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ArtifactUpstream } from "../helpers/artifactUpstream.ts";
import { freePort } from "../helpers/wrangler.ts";

const MAIN = fileURLToPath(new URL("../../relay/main.ts", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "edgeboot-cache-proc-"));
const stateDir = join(work, "state");
const cacheDir = join(stateDir, "cache");
const upstream = new ArtifactUpstream();
const running: ChildProcess[] = [];

async function startRelay(httpPort: number) {
  const child = spawn(
    process.execPath,
    [
      MAIN, "--api-url", upstream.url, "--site", "lab", "--listen", "127.0.0.1", "--advertise", "127.0.0.1",
      "--dhcp-port", "0", "--proxy-dhcp-port", "0", "--tftp-port", "0", "--http-port", String(httpPort),
      "--state-dir", stateDir, "--binaries-dir", join(work, "bin"), "--log-level", "error",
    ],
    { env: { ...process.env, EDGEBOOT_RELAY_CREDENTIAL: upstream.credential }, stdio: ["ignore", "ignore", "pipe"] },
  );
  running.push(child);
  const base = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 20_000;
  while (!(await fetch(`${base}/healthz`).then((r) => r.ok, () => false))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error("relay did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, base };
}

beforeAll(async () => {
  await upstream.start();
  mkdirSync(join(work, "bin"));
});

afterAll(async () => {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await upstream.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("relay process and its cache", () => {
  it("leaves nothing servable when killed with SIGKILL during a fill, and refetches after a restart", async () => {
    const bytes = randomBytes(8 * 1024 * 1024);
    const sha = upstream.add(bytes, { holdAt: 3 * 1024 * 1024 });
    const port = await freePort();
    const first = await startRelay(port);
    const res = await fetch(`${first.base}/artifacts/${sha}`);
    const reader = res.body!.getReader();
    expect((await reader.read()).value!.byteLength).toBeGreaterThan(0);
    const temp = () => readdirSync(cacheDir).filter((f) => f.startsWith(".tmp-"));
    expect(temp()).toHaveLength(1);
    // The upstream is holding the rest: wait until the part it sent is on disk.
    for (let i = 0; i < 100 && statSync(join(cacheDir, temp()[0]!)).size < 3 * 1024 * 1024; i++) await new Promise((r) => setTimeout(r, 50));
    expect(statSync(join(cacheDir, temp()[0]!)).size).toBe(3 * 1024 * 1024);

    first.child.kill("SIGKILL");
    await new Promise((r) => first.child.once("exit", r));
    // The client that was following the fill never completes: its response ends in an error, short of the length.
    let got = 0;
    const outcome = await (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return "complete";
          got += value.byteLength;
        }
      } catch {
        return "cut";
      }
    })();
    expect(outcome).toBe("cut");
    expect(got).toBeLessThan(bytes.length);
    expect(existsSync(join(cacheDir, sha))).toBe(false);

    upstream.blobs.get(sha)!.holdAt = undefined;
    upstream.release(sha);
    const second = await startRelay(port);
    expect(temp()).toEqual([]);
    const again = await fetch(`${second.base}/artifacts/${sha}`);
    expect(again.status).toBe(200);
    expect(Buffer.from(await again.arrayBuffer()).equals(bytes)).toBe(true);
    expect(upstream.requests.filter((s) => s === sha)).toHaveLength(2);
    // /metrics and /healthz report the same cache size (the gauge is read at render, not set on counter changes).
    const health = (await (await fetch(`${second.base}/healthz`)).json()) as { cache: { bytes: number; entries: number } };
    const metrics = await (await fetch(`${second.base}/metrics`)).text();
    expect(health.cache).toMatchObject({ bytes: bytes.length, entries: 1 });
    expect(metrics).toContain(`edgeboot_cache_bytes ${health.cache.bytes}\n`);
    expect(metrics).toContain(`edgeboot_cache_entries ${health.cache.entries}\n`);
    console.log(`fault kill-mid-fill: unverified bytes completed by a client=0 partial files left=0 lost=0`);
    second.child.kill("SIGTERM");
    await new Promise((r) => second.child.once("exit", r));
  }, 60_000);
});
