import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, generateKeyPair, importJWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyRelayBootToken } from "../../worker/shared/relayToken.ts";
import { BinaryCatalog } from "../../relay/binaries.ts";
import type { ChainFetcher } from "../../relay/boot/chain.ts";
import { createBootIpxeHandler } from "../../relay/boot/handler.ts";
import { failureScript } from "../../relay/boot/scripts.ts";
import { ClientTable } from "../../relay/dhcp/clients.ts";
import { createRelayHttpServer } from "../../relay/http/server.ts";
import type { RelayKeys } from "../../relay/keys.ts";
import { RelayState } from "../../relay/state.ts";
import { listen } from "./support/http.ts";
import { parts } from "./support/relayParts.ts";

const MAC = "52:54:00:12:34:56";
const config = { apiUrl: "https://api.example", site: "lab", credential: "relay-cred", apiTimeoutMs: 1000, directTokenTtlSeconds: 120 };
let dir: string;
let keys: RelayKeys;
let publicKey: CryptoKey;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "edgeboot-http-"));
  writeFileSync(join(dir, "ipxe.efi"), "MZ-efi-bytes");
  writeFileSync(join(dir, "undionly.kpxe"), "kpxe");
  const pair = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  keys = { privateKey: pair.privateKey, publicJwk: (await exportJWK(pair.publicKey)) as RelayKeys["publicJwk"] };
  publicKey = (await importJWK(keys.publicJwk, "EdDSA")) as CryptoKey;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function relay(opts: { fetchChain: ChainFetcher; state?: RelayState; clients?: ClientTable; extra?: Parameters<typeof createRelayHttpServer>[0]["extraRoutes"] }) {
  const p = parts();
  const binaries = new BinaryCatalog(dir, []);
  await binaries.ready();
  let base = "";
  const bootIpxe = createBootIpxeHandler({
    config,
    state: opts.state ?? new RelayState({ relayId: null, allowDirect: false }),
    keys,
    getKey: async () => publicKey,
    clients: opts.clients ?? new ClientTable(),
    relayBase: () => base,
    log: p.log,
    metrics: p.metrics,
    events: p.sink,
    fetchChain: opts.fetchChain,
    now: () => 1_800_000_000_000,
  });
  const server = createRelayHttpServer({ bootIpxe, binaries, registry: p.registry, metrics: p.metrics, log: p.log, extraRoutes: opts.extra ?? [] });
  const l = await listen(server);
  base = l.base;
  return { ...l, ...p };
}

const chainBody = "#!ipxe\nkernel http://relay/artifacts/abc\nboot\n";

describe("GET /boot.ipxe, relay mode", () => {
  it("returns the verified chain fetched with the MAC from the query", async () => {
    const asked: unknown[] = [];
    const r = await relay({ fetchChain: async (params) => (asked.push(params), { ok: true, body: chainBody, ms: 3 }) });
    try {
      const res = await fetch(`${r.base}/boot.ipxe?mac=52-54-00-12-34-56&uuid=&serial=ABC%20123&arch=x86_64&platform=efi`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
      expect(await res.text()).toBe(chainBody);
      expect(asked).toEqual([{ mac: MAC, uuid: undefined, serial: "ABC 123", arch: "x86_64", platform: "efi" }]);
      expect(r.events).toMatchObject([{ phase: "chain-served", mac: MAC }]);
      expect(r.registry.render()).toContain('edgeboot_chain_fetches_total{result="ok"} 1');
    } finally {
      await r.close();
    }
  });

  it("prefers the MAC the relay saw in DHCP for the client's IP", async () => {
    const clients = new ClientTable();
    clients.noteAddress("127.0.0.1", "aa:bb:cc:dd:ee:ff");
    const asked: string[] = [];
    const r = await relay({ clients, fetchChain: async (p) => (asked.push(p.mac), { ok: true, body: chainBody, ms: 1 }) });
    try {
      await (await fetch(`${r.base}/boot.ipxe?mac=${MAC}`)).text();
      expect(asked).toEqual(["aa:bb:cc:dd:ee:ff"]);
      expect(r.lines.some((l) => l.includes("query MAC differs"))).toBe(true);
    } finally {
      await r.close();
    }
  });

  it("answers a refused chain with the failure script, reports it, and backs off on each attempt", async () => {
    const r = await relay({ fetchChain: async () => ({ ok: false, reason: "bad_signature", message: "chain signature does not verify", ms: 2 }) });
    try {
      const first = await (await fetch(`${r.base}/boot.ipxe?mac=${MAC}&arch=x86_64`)).text();
      expect(first).toBe(
        [
          "#!ipxe",
          "# edgeboot relay: no verified boot script (bad_signature)",
          "echo edgeboot: cannot boot 52:54:00:12:34:56 yet: chain signature does not verify",
          "echo edgeboot: attempt 1, retrying in 5 s",
          ":retry",
          "sleep 5",
          `chain --replace --autofree ${r.base}/boot.ipxe?mac=52%3A54%3A00%3A12%3A34%3A56&arch=x86_64&attempt=2 || goto renew`,
          ":renew",
          "echo edgeboot: relay unreachable, renewing DHCP",
          "dhcp || goto retry",
          "goto retry",
          "",
        ].join("\n"),
      );
      const third = await (await fetch(`${r.base}/boot.ipxe?mac=${MAC}&attempt=3`)).text();
      expect(third).toContain("sleep 20");
      expect(third).toContain("attempt=4");
      expect(r.events.map((e) => e.phase)).toEqual(["chain-refused", "chain-refused"]);
      expect(r.events[0]!.detail).toMatchObject({ reason: "bad_signature", attempt: 1 });
      expect(r.registry.render()).toContain('edgeboot_chain_fetches_total{result="bad_signature"} 2');
    } finally {
      await r.close();
    }
  });

  it("caps the backoff at five minutes and keeps every value out of iPXE syntax", () => {
    const s = failureScript({ relayBase: "http://r", params: { mac: MAC, serial: "${evil} x" }, attempt: 40, reason: "api_status", message: "API said ${boom}\nshell" });
    expect(s).toContain("sleep 300");
    expect(s).not.toContain("${");
    expect(s.split("\n").filter((l) => l.startsWith("shell"))).toEqual([]);
  });

  it("answers a bad request with a 400 script that does not loop", async () => {
    const r = await relay({ fetchChain: async () => ({ ok: true, body: chainBody, ms: 1 }) });
    try {
      for (const q of ["", "?mac=nope", `?mac=${MAC}&uuid=not-a-uuid`, `?mac=${MAC}&arch=BAD%20ARCH`]) {
        const res = await fetch(`${r.base}/boot.ipxe${q}`);
        expect(res.status, q).toBe(400);
        const body = await res.text();
        expect(body).toMatch(/^#!ipxe\necho edgeboot: bad boot request: /);
        expect(body).toContain("exit 1");
      }
    } finally {
      await r.close();
    }
  });
});

describe("GET /boot.ipxe, direct mode", () => {
  it("sends an HTTPS-capable iPXE to the API with a relay-signed token, falling back to the relay", async () => {
    const clients = new ClientTable();
    clients.noteClient(MAC, { https: true, arch: 7 });
    const state = new RelayState({ relayId: "relay-1", allowDirect: true });
    const r = await relay({ clients, state, fetchChain: async () => ({ ok: true, body: chainBody, ms: 1 }) });
    try {
      const body = await (await fetch(`${r.base}/boot.ipxe?mac=${MAC}&arch=x86_64&platform=efi`)).text();
      const direct = /^chain --replace --autofree (https:\/\/api\.example\/boot\/lab\/ipxe\?\S+) \|\| goto relay$/m.exec(body);
      expect(direct).not.toBeNull();
      const url = new URL(direct![1]!);
      expect(url.searchParams.get("mac")).toBe(MAC);
      const claims = await verifyRelayBootToken(url.searchParams.get("t")!, async () => publicKey, { site: "lab", mac: MAC, nowSeconds: 1_800_000_060 });
      expect(claims).toMatchObject({ relayId: "relay-1", site: "lab" });
      expect(body).toContain(`chain --replace --autofree ${r.base}/boot.ipxe?mac=52%3A54%3A00%3A12%3A34%3A56&arch=x86_64&platform=efi&via=relay`);
      expect(r.events).toMatchObject([{ phase: "chain-direct", mac: MAC }]);
    } finally {
      await r.close();
    }
  });

  it("uses relay mode when the site does not allow direct, the client lacks HTTPS, or direct already failed", async () => {
    const clients = new ClientTable();
    clients.noteClient(MAC, { https: true, arch: 7 });
    clients.noteClient("52:54:00:00:00:02", { https: false, arch: 7 });
    const fetched: string[] = [];
    const fetchChain: ChainFetcher = async (p) => (fetched.push(p.mac), { ok: true, body: chainBody, ms: 1 });
    const off = await relay({ clients, state: new RelayState({ relayId: "relay-1", allowDirect: false }), fetchChain });
    const on = await relay({ clients, state: new RelayState({ relayId: "relay-1", allowDirect: true }), fetchChain });
    try {
      expect(await (await fetch(`${off.base}/boot.ipxe?mac=${MAC}`)).text()).toBe(chainBody);
      expect(await (await fetch(`${on.base}/boot.ipxe?mac=52:54:00:00:00:02`)).text()).toBe(chainBody);
      expect(await (await fetch(`${on.base}/boot.ipxe?mac=${MAC}&via=relay`)).text()).toBe(chainBody);
      expect(fetched).toHaveLength(3);
    } finally {
      await off.close();
      await on.close();
    }
  });
});

describe("the rest of the relay's HTTP port", () => {
  it("serves iPXE binaries for UEFI HTTP Boot with application/efi, HEAD included", async () => {
    const r = await relay({ fetchChain: async () => ({ ok: true, body: "", ms: 0 }) });
    try {
      const res = await fetch(`${r.base}/ipxe.efi`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/efi");
      expect(await res.text()).toBe("MZ-efi-bytes");
      const head = await fetch(`${r.base}/undionly.kpxe`, { method: "HEAD" });
      expect(head.headers.get("content-type")).toBe("application/octet-stream");
      expect(head.headers.get("content-length")).toBe("4");
      expect((await fetch(`${r.base}/..%2f..%2fetc%2fpasswd`)).status).toBe(404);
      expect((await fetch(`${r.base}/nope.efi`)).status).toBe(404);
      expect((await fetch(`${r.base}/ipxe.efi`, { method: "POST" })).status).toBe(405);
    } finally {
      await r.close();
    }
  });

  it("answers /healthz and /metrics, and mounts extra routes by prefix", async () => {
    const r = await relay({
      fetchChain: async () => ({ ok: true, body: "", ms: 0 }),
      extra: [{ prefix: "/artifacts/", handle: (req, res) => void res.end(`artifact ${req.method} ${req.url}`) }],
    });
    try {
      expect(await (await fetch(`${r.base}/healthz`)).json()).toMatchObject({ status: "ok" });
      const metrics = await fetch(`${r.base}/metrics`);
      expect(metrics.headers.get("content-type")).toContain("version=0.0.4");
      expect(await metrics.text()).toContain("# TYPE edgeboot_tftp_transfers_total counter");
      const art = await fetch(`${r.base}/artifacts/abc`, { method: "POST" });
      expect(await art.text()).toBe("artifact POST /artifacts/abc");
    } finally {
      await r.close();
    }
  });
});
