// Artifacts end to end with real parts (the upload command is tested in test/cli/): a Worker under `wrangler dev` (local D1 and R2), a relay process
// (`node relay/main.ts`, DHCP/TFTP off), a TCP proxy between them that can play "API unreachable", and a UDP
// listener standing in for the LAN broadcast address of wake-on-LAN.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { compactVerify, createRemoteJWKSet } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { magicPacket } from "../../relay/sync/wol.ts";
import { startTcpProxy, type TcpProxy } from "../helpers/tcpProxy.ts";
import { freePort, startWranglerDev, type WranglerDev } from "../helpers/wrangler.ts";
import { UdpPeer } from "./support/udp.ts";

const MAIN = fileURLToPath(new URL("../../relay/main.ts", import.meta.url));
const MAC = "52:54:00:5e:00:01";

let api: WranglerDev;
let proxy: TcpProxy;
let wol: UdpPeer;
let relay: { child: ChildProcess; base: string; cacheDir: string; logs: () => string };
let credential: string;
let relayPort: number;
const work = mkdtempSync(join(tmpdir(), "edgeboot-sync-it-"));
const kernel = randomBytes(3 * 1024 * 1024);
const initrd = randomBytes(700 * 1024);
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

async function admin(method: string, path: string, body?: unknown, raw?: Buffer) {
  const res = await fetch(`${api.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${api.adminToken}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: raw ?? (body ? JSON.stringify(body) : undefined),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | null | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n--- relay log ---\n${relay?.logs().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const metric = async (name: string) => {
  const text = await (await fetch(`${relay.base}/metrics`)).text();
  const m = new RegExp(`^${name}(?:\\{\\})? (\\d+)`, "m").exec(text);
  return m ? Number(m[1]) : 0;
};

type Health = { sync?: { lastSyncAt: number | null }; cache?: { pinned: number } };
const health = async () => (await (await fetch(`${relay.base}/healthz`)).json()) as Health;

const cacheEvents = async () => (await admin("GET", "/v1/sites/lab/events?phase=cache-hit&limit=200")).body.items as { detail: { sha256: string } }[];

async function startRelay() {
  const stateDir = join(work, "state");
  const child = spawn(
    process.execPath,
    [
      MAIN, "--api-url", proxy.url, "--site", "lab", "--listen", "127.0.0.1", "--advertise", "127.0.0.1",
      "--dhcp-port", "0", "--proxy-dhcp-port", "0", "--tftp-port", "0", "--http-port", String(relayPort),
      "--state-dir", stateDir, "--binaries-dir", join(work, "bin"), "--sync-interval", "1", "--api-timeout-ms", "3000",
      "--wol-broadcast", "127.0.0.1", "--wol-port", String(wol.port),
    ],
    { env: { ...process.env, EDGEBOOT_RELAY_CREDENTIAL: credential }, stdio: ["ignore", "ignore", "pipe"] },
  );
  let logs = "";
  child.stderr!.on("data", (c: Buffer) => void (logs = (logs + c.toString()).slice(-100_000)));
  const started = { child, base: `http://127.0.0.1:${relayPort}`, cacheDir: join(stateDir, "cache"), logs: () => logs };
  relay = started;
  await until("the relay to answer /healthz", 20_000, async () => (await fetch(`${started.base}/healthz`)).ok);
  return started;
}

// SIGTERM, then SIGKILL after a grace period: a relay slow to shut down on a loaded machine (a sync or an event
// flush in flight) must not hang the file; the relay is built to survive a kill -9 (test/relay/faults.test.ts).
async function stopRelay() {
  const { child } = relay;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const grace = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(grace);
}

beforeAll(async () => {
  api = await startWranglerDev();
  for (const bytes of [kernel, initrd]) expect((await admin("PUT", `/v1/artifacts/${sha(bytes)}`, undefined, bytes)).status).toBe(201);
  expect((await admin("POST", "/v1/images", { name: "sync-img", arch: "x86_64", version: "7", artifacts: { kernel: sha(kernel), initrd: [sha(initrd)] } })).status).toBe(201);
  expect((await admin("POST", "/v1/profiles", { name: "sync-prof", image: "sync-img" })).status).toBe(201);
  expect((await admin("POST", "/v1/sites", { slug: "lab", name: "Sync lab" })).status).toBe(201);
  credential = (await admin("POST", "/v1/sites/lab/relays", { name: "relay-sync" })).body.credential;
  expect((await admin("POST", "/v1/sites/lab/hosts", { hostname: "node-1", mac: MAC, profile: "sync-prof", arch: "x86_64" })).status).toBe(201);

  proxy = await startTcpProxy(api.port);
  wol = await UdpPeer.bind(0, "127.0.0.1");
  mkdirSync(join(work, "bin"));
  relayPort = await freePort();
  relay = await startRelay();
}, 240_000);

afterAll(async () => {
  if (relay) await stopRelay();
  wol?.socket.close();
  await proxy?.close();
  await api?.stop();
  rmSync(work, { recursive: true, force: true });
}, 60_000);

describe("artifacts from upload to the relay's cache", () => {
  it("serves the API's signed manifest, verifiable with its JWKS", async () => {
    const res = await fetch(`${api.url}/v1/images/sync-img/manifest?arch=x86_64`, { headers: { authorization: `Bearer ${api.adminToken}`, accept: "application/jose" } });
    expect(res.status).toBe(200);
    const { payload } = await compactVerify(new TextDecoder().decode(await res.arrayBuffer()), createRemoteJWKSet(new URL(`${api.url}/.well-known/jwks.json`)));
    expect(JSON.parse(new TextDecoder().decode(payload)).artifacts.map((a: { sha256: string }) => a.sha256)).toEqual([sha(kernel), sha(initrd)]);
  });

  it("prefetches what the site's profiles reference and serves it as a hit", async () => {
    await until("prefetch of kernel and initrd", 30_000, async () => {
      const files = readdirSync(relay.cacheDir);
      return files.includes(sha(kernel)) && files.includes(sha(initrd));
    });
    const res = await fetch(`${relay.base}/artifacts/${sha(kernel)}`);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(kernel)).toBe(true);
    expect(await metric("edgeboot_cache_hits_total")).toBeGreaterThanOrEqual(1);
    expect(await metric("edgeboot_cache_misses_total")).toBe(0);
    // Registration reached the API: the relay row has the LAN address and cache URL.
    const row = (await admin("GET", "/v1/sites/lab/relays")).body;
    expect(JSON.stringify(row)).toContain(`${relay.base}/artifacts/`);
  });

  it("refuses an upload whose bytes do not match its hash, and stores nothing", async () => {
    const claimed = sha(Buffer.from("something else"));
    const res = await admin("PUT", `/v1/artifacts/${claimed}`, undefined, Buffer.from("not that"));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("hash_mismatch");
    expect((await admin("GET", `/v1/artifacts/${claimed}`)).status).toBe(404);
  });

  it("refetches a cache file corrupted on disk instead of serving it", async () => {
    const before = await metric("edgeboot_cache_corrupt_total");
    writeFileSync(join(relay.cacheDir, sha(initrd)), randomBytes(initrd.length));
    const res = await fetch(`${relay.base}/artifacts/${sha(initrd)}`);
    expect(Buffer.from(await res.arrayBuffer()).equals(initrd)).toBe(true);
    expect(await metric("edgeboot_cache_corrupt_total")).toBe(before + 1);
  });

  it("keeps serving cached artifacts while the API is unreachable, and delivers the events once it is back", async () => {
    await until("earlier cache events to reach the API", 30_000, async () => (await cacheEvents()).length >= 1);
    const seen = (await cacheEvents()).length;
    await proxy.down();
    try {
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${relay.base}/artifacts/${sha(kernel)}`);
        expect(res.status).toBe(200);
        expect(Buffer.from(await res.arrayBuffer()).equals(kernel)).toBe(true);
      }
      // A miss cannot be served without the API.
      expect((await fetch(`${relay.base}/artifacts/${"e".repeat(64)}`)).status).toBe(502);
      await new Promise((r) => setTimeout(r, 1500));
      expect((await cacheEvents()).length).toBe(seen);
    } finally {
      await proxy.up();
    }
    await until("queued cache events to be delivered", 45_000, async () => (await cacheEvents()).length >= seen + 3);
  }, 90_000);

  it("restarts while the API is unreachable and still serves what it had cached", async () => {
    await stopRelay();
    await proxy.down();
    try {
      await startRelay();
      // The pins come from the last manifests that verified (kept on disk), not from the unreachable API.
      await until("the pins to be restored", 10_000, async () => (await health()).cache?.pinned === 2);
      const res = await fetch(`${relay.base}/artifacts/${sha(kernel)}`);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(kernel)).toBe(true);
    } finally {
      await proxy.up();
    }
    // Back online: it syncs again (a fresh snapshot is written) and serves on.
    await until("a sync after the API returns", 20_000, async () => (await health()).sync?.lastSyncAt);
  }, 60_000);

  it("sends a wake-on-LAN packet for an admin's wake request and acknowledges it", async () => {
    const res = await admin("POST", "/v1/sites/lab/hosts/node-1/wake");
    expect(res.status).toBe(202);
    const packet = await wol.next(20_000);
    expect(packet?.msg.equals(magicPacket(MAC))).toBe(true);
    await until("the command to be acknowledged", 20_000, async () => {
      const snap = await fetch(`${api.url}/relay/v1/sync`, { headers: { authorization: `Bearer ${credential}` } });
      return ((await snap.json()) as { commands: unknown[] }).commands.length === 0;
    });
    await until("the wake event", 20_000, async () => (await admin("GET", "/v1/sites/lab/events?phase=wake-sent")).body.items.length >= 1);
  }, 60_000);
});
