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
import { getFrom, listen } from "./support/http.ts";
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

// What the relay learns when this client's iPXE DHCPs: MAC holds the test client's address (loopback).
function seen(mac = MAC, ip = "127.0.0.1", clients = new ClientTable()): ClientTable {
  clients.claim({ ip, mac, ipxe: true, source: "dhcp-request" });
  return clients;
}

describe("GET /boot.ipxe, relay mode", () => {
  it("returns the verified chain for the MAC this address used in DHCP, sending the client address to the API", async () => {
    const asked: unknown[] = [];
    const r = await relay({ clients: seen(), fetchChain: async (params, client) => (asked.push(params, client), { ok: true, body: chainBody, ms: 3 }) });
    try {
      const res = await fetch(`${r.base}/boot.ipxe?mac=52-54-00-12-34-56&uuid=&serial=ABC%20123&arch=x86_64&platform=efi`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
      expect(await res.text()).toBe(chainBody);
      expect(asked).toEqual([{ mac: MAC, uuid: undefined, serial: "ABC 123", arch: "x86_64", platform: "efi" }, { address: "127.0.0.1" }]);
      expect(r.events).toMatchObject([{ phase: "chain-served", mac: MAC }]);
      expect(r.registry.render()).toContain('edgeboot_chain_fetches_total{result="ok"} 1');
    } finally {
      await r.close();
    }
  });

  it("never serves a chain to an address the relay has not seen in DHCP, whatever MAC the query names", async () => {
    const asked: string[] = [];
    // The victim booted from another address; the requester (loopback) never sent DHCP.
    const clients = seen(MAC, "10.0.0.50");
    const r = await relay({ clients, fetchChain: async (p) => (asked.push(p.mac), { ok: true, body: chainBody, ms: 1 }) });
    try {
      const res = await fetch(`${r.base}/boot.ipxe?mac=${MAC}&arch=x86_64`);
      expect(res.status).toBe(200); // iPXE runs only a successful download: the reason must reach its console
      const body = await res.text();
      expect(body).toBe(
        [
          "#!ipxe",
          "# edgeboot relay: chain refused (unknown-client)",
          "echo edgeboot: the relay refused this boot: this relay has not seen DHCP from this address; a chain goes only to the address a MAC took by DHCP",
          "echo edgeboot: attempt 1, renewing DHCP and retrying in 5 s",
          ":retry",
          "sleep 5",
          "dhcp || goto retry",
          `chain --replace --autofree ${r.base}/boot.ipxe?mac=52%3A54%3A00%3A12%3A34%3A56&arch=x86_64&attempt=2 || goto retry`,
          "",
        ].join("\n"),
      );
      expect(asked).toEqual([]);
      expect(r.events).toEqual([{ phase: "chain-refused", detail: { client: "127.0.0.1", reason: "unknown-client", queryMac: MAC, attempt: 1 }, at: 1_800_000_000_000 }]);
      expect(r.registry.render()).toContain('edgeboot_chain_fetches_total{result="unknown_client"} 1');
    } finally {
      await r.close();
    }
  });

  it("reports refusals to one address at most six times a minute (the metric counts them all)", async () => {
    const r = await relay({ clients: seen(MAC, "10.0.0.50"), fetchChain: async () => ({ ok: true, body: chainBody, ms: 1 }) });
    try {
      for (let i = 0; i < 10; i++) await (await fetch(`${r.base}/boot.ipxe?mac=${MAC}`)).text();
      expect(r.events.filter((e) => e.phase === "chain-refused")).toHaveLength(6);
      expect(r.registry.render()).toContain('edgeboot_chain_fetches_total{result="unknown_client"} 10');
    } finally {
      await r.close();
    }
  });

  it("refuses a query MAC that differs from the one this address used in DHCP", async () => {
    const asked: string[] = [];
    const r = await relay({ clients: seen("aa:bb:cc:dd:ee:ff"), fetchChain: async (p) => (asked.push(p.mac), { ok: true, body: chainBody, ms: 1 }) });
    try {
      const body = await (await fetch(`${r.base}/boot.ipxe?mac=${MAC}`)).text();
      expect(body).toContain("# edgeboot relay: chain refused (mac-mismatch)");
      expect(asked).toEqual([]);
      expect(r.events).toMatchObject([{ phase: "chain-refused", mac: "aa:bb:cc:dd:ee:ff", detail: { reason: "mac-mismatch", queryMac: MAC } }]);
      // Without a MAC in the query, the one from DHCP is used.
      expect(await (await fetch(`${r.base}/boot.ipxe?arch=x86_64`)).text()).toBe(chainBody);
      expect(asked).toEqual(["aa:bb:cc:dd:ee:ff"]);
    } finally {
      await r.close();
    }
  });

  it("serves neither side of a contested MAC or address", async () => {
    const asked: string[] = [];
    const clients = seen(MAC, "127.0.0.1");
    clients.claim({ ip: "10.0.0.66", mac: MAC, ipxe: true, source: "pxe-request" }); // a forged claim from elsewhere
    const r = await relay({ clients, fetchChain: async (p) => (asked.push(p.mac), { ok: true, body: chainBody, ms: 1 }) });
    try {
      expect(await (await fetch(`${r.base}/boot.ipxe?mac=${MAC}`)).text()).toContain("chain refused (mac-contested)");
      const other = seen("52:54:00:00:00:99", "127.0.0.2");
      other.claim({ ip: "127.0.0.2", mac: "52:54:00:00:00:98", ipxe: true, source: "dhcp-request" });
      expect(other.lookup("127.0.0.2")).toMatchObject({ kind: "contested", reason: "ip-held" });
      expect(asked).toEqual([]);
      expect(r.events).toMatchObject([{ phase: "chain-refused", mac: MAC, detail: { reason: "mac-contested", others: ["10.0.0.66"] } }]);
    } finally {
      await r.close();
    }
  });

  it("answers a refused chain with the failure script, reports it, and backs off on each attempt", async () => {
    const r = await relay({ clients: seen(), fetchChain: async () => ({ ok: false, reason: "bad_signature", message: "chain signature does not verify", ms: 2 }) });
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
    // A wait that long outlives the relay's DHCP binding (5 min from the last packet): DHCP is renewed before the chain.
    expect(s).toMatch(/sleep 300\ndhcp \|\| goto retry\nchain /);
    expect(failureScript({ relayBase: "http://r", params: { mac: MAC }, attempt: 2, reason: "api_status", message: "m" })).toMatch(/sleep 10\nchain /);
    expect(s).not.toContain("${");
    expect(s.split("\n").filter((l) => l.startsWith("shell"))).toEqual([]);
  });

  it("answers a bad request with a 400 script that does not loop", async () => {
    const r = await relay({ clients: seen(), fetchChain: async () => ({ ok: true, body: chainBody, ms: 1 }) });
    try {
      for (const q of ["?mac=nope", `?mac=${MAC}&uuid=not-a-uuid`, `?mac=${MAC}&arch=BAD%20ARCH`]) {
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
    const clients = seen();
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
    const clients = seen();
    seen("52:54:00:00:00:02", "127.0.0.2", clients);
    clients.noteClient(MAC, { https: true, arch: 7 });
    clients.noteClient("52:54:00:00:00:02", { https: false, arch: 7 });
    const fetched: string[] = [];
    const fetchChain: ChainFetcher = async (p) => (fetched.push(p.mac), { ok: true, body: chainBody, ms: 1 });
    const off = await relay({ clients, state: new RelayState({ relayId: "relay-1", allowDirect: false }), fetchChain });
    const on = await relay({ clients, state: new RelayState({ relayId: "relay-1", allowDirect: true }), fetchChain });
    try {
      expect(await (await fetch(`${off.base}/boot.ipxe?mac=${MAC}`)).text()).toBe(chainBody);
      expect((await getFrom(`${on.base}/boot.ipxe?mac=52:54:00:00:00:02`, "127.0.0.2")).body).toBe(chainBody);
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
