// Artifact roles reach the relay's cache like kernels (worker/artifacts/README.md "Roles"): the NixOS and Alpine
// recipes' images (store, modloop, apkovl besides kernel and initrd), created through the admin API of a real
// `wrangler dev`, are pinned from the signed manifests and prefetched by a real relay process (`node relay/main.ts`,
// DHCP/TFTP off), then served from its cache, with the file-name suffix the kernel line uses; the API's chain for the
// site (asked with the relay's credential, as the relay asks) then names only that cache. (The relay's own
// /boot.ipxe answers only MACs it learned over DHCP: test/relay/boot-handler.test.ts.)
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyRecipe, placeholderBytes, type ApiCall } from "../../worker/recipes/apply.ts";
import { alpine } from "../../worker/recipes/alpine.ts";
import { nixos } from "../../worker/recipes/nixos.ts";
import type { Recipe } from "../../worker/recipes/recipe.ts";
import { freePort, startWranglerDev, type WranglerDev } from "../helpers/wrangler.ts";
import { createHash } from "node:crypto";

const MAIN = fileURLToPath(new URL("../../relay/main.ts", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "edgeboot-roles-"));
let api: WranglerDev;
let relay: { child: ChildProcess; base: string; cacheDir: string; logs: () => string };
let credential: string;

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
// Every (role, sha) of a recipe's image, from the same placeholder bytes the recipe uploads.
const hashesOf = (r: Recipe) =>
  Object.entries(r.image.artifacts).flatMap(([role, v]) => (Array.isArray(v) ? v : [v]).map((f) => ({ role, file: f, sha256: sha(placeholderBytes(r, role, f)) })));

const admin: ApiCall = async (method, path, body, raw) => {
  const res = await fetch(`${api.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${api.adminToken}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: raw ?? (body !== undefined ? JSON.stringify(body) : undefined),
  });
  const text = await res.text();
  return { status: res.status, body: text && (res.headers.get("content-type") ?? "").includes("json") ? JSON.parse(text) : text };
};

async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | null | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n--- relay log ---\n${relay?.logs().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  api = await startWranglerDev();
  expect((await admin("POST", "/v1/sites", { slug: "lab", name: "Roles lab" })).status).toBe(201);
  for (const r of [nixos, alpine]) await applyRecipe(admin, r, "lab");
  credential = (await admin("POST", "/v1/sites/lab/relays", { name: "relay-roles" })).body.credential;
  const port = await freePort();
  const stateDir = join(work, "state");
  mkdirSync(join(work, "bin"));
  const child = spawn(
    process.execPath,
    [
      MAIN, "--api-url", api.url, "--site", "lab", "--listen", "127.0.0.1", "--advertise", "127.0.0.1",
      "--dhcp-port", "0", "--proxy-dhcp-port", "0", "--tftp-port", "0", "--http-port", String(port),
      "--state-dir", stateDir, "--binaries-dir", join(work, "bin"), "--sync-interval", "1", "--api-timeout-ms", "5000",
    ],
    { env: { ...process.env, EDGEBOOT_RELAY_CREDENTIAL: credential }, stdio: ["ignore", "ignore", "pipe"] },
  );
  let logs = "";
  child.stderr!.on("data", (c: Buffer) => void (logs = (logs + c.toString()).slice(-100_000)));
  relay = { child, base: `http://127.0.0.1:${port}`, cacheDir: join(stateDir, "cache"), logs: () => logs };
  await until("the relay to answer /healthz", 30_000, async () => (await fetch(`${relay.base}/healthz`)).ok);
}, 240_000);

afterAll(async () => {
  if (relay && relay.child.exitCode === null && relay.child.signalCode === null) {
    const exited = new Promise((r) => relay.child.once("exit", r));
    relay.child.kill("SIGTERM");
    const grace = setTimeout(() => relay.child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(grace);
  }
  await api?.stop();
  rmSync(work, { recursive: true, force: true });
}, 60_000);

describe("roles beyond kernel and initrd at the relay", () => {
  it("prefetches store, modloop and apkovl with the kernels and serves them from the cache, suffix included", async () => {
    const all = [...hashesOf(nixos), ...hashesOf(alpine)];
    expect(all.map((a) => a.role).sort()).toEqual(["apkovl", "initrd", "initrd", "kernel", "kernel", "modloop", "store"]);
    await until("prefetch of every role", 60_000, async () => {
      const files = readdirSync(relay.cacheDir);
      return all.every((a) => files.includes(a.sha256));
    });
    for (const a of all) {
      const res = await fetch(`${relay.base}/artifacts/${a.sha256}`);
      expect(res.status, a.role).toBe(200);
      expect(await res.text()).toContain(`role ${a.role} (${a.file})`);
    }
    const ovl = hashesOf(alpine).find((a) => a.role === "apkovl")!;
    const named = await fetch(`${relay.base}/artifacts/${ovl.sha256}/edgeboot.apkovl.tar.gz`);
    expect([named.status, named.headers.get("etag")]).toEqual([200, `"${ovl.sha256}"`]);
  });

  it("the chain the relay fetches names its cache for the store initrd and for modloop/apkovl on the kernel line", async () => {
    const cache = `${relay.base}/artifacts`;
    const chain = (mac: string) =>
      until(`a chain for ${mac} naming the relay cache`, 30_000, async () => {
        const res = await fetch(`${api.url}/boot/lab/ipxe?mac=${mac}&arch=x86_64&platform=efi`, { headers: { authorization: `Bearer ${credential}`, "edgeboot-client-address": "127.0.0.1" } });
        const text = await res.text();
        return res.status === 200 && text.includes(cache) ? text : null;
      });
    const store = hashesOf(nixos).find((a) => a.role === "store")!;
    expect(await chain(nixos.host.mac)).toContain(`initrd --name initrd1 ${cache}/${store.sha256} || goto retry`);
    const alp = await chain(alpine.host.mac);
    const [modloop, apkovl] = ["modloop", "apkovl"].map((r) => hashesOf(alpine).find((a) => a.role === r)!.sha256);
    expect(alp).toContain(` modloop=${cache}/${modloop}/modloop-lts `);
    expect(alp).toContain(` apkovl=${cache}/${apkovl}/edgeboot.apkovl.tar.gz `);
  }, 60_000);
});
