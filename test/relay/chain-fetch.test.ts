import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { generateKeyPair } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signChain } from "../../worker/shared/chainSignature.ts";
import { createChainFetcher, MAX_CHAIN_BYTES } from "../../relay/boot/chain.ts";
import { listen } from "./support/http.ts";

const NOW = 1_800_000_000;
const MAC = "52:54:00:12:34:56";
const BODY = "#!ipxe\necho hello\n";
const CLIENT = { address: "10.0.0.42" };
let keys: Awaited<ReturnType<typeof generateKeyPair>>;
let handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void> = () => {};
let server: Awaited<ReturnType<typeof listen>>;

beforeAll(async () => {
  keys = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  server = await listen(createServer((req, res) => void handler(req, res)));
});
afterAll(() => server.close());

const fetcher = (opts: { timeoutMs?: number; apiUrl?: string } = {}) =>
  createChainFetcher({
    apiUrl: opts.apiUrl ?? server.base,
    site: "lab",
    credential: "relay-cred",
    timeoutMs: opts.timeoutMs ?? 2000,
    getKey: async () => keys.publicKey,
    now: () => NOW * 1000,
  });
const signed = async (body: string, binding: { site?: string; mac?: string | null; iat?: number } = {}) =>
  signChain(body, { site: binding.site ?? "lab", mac: binding.mac === undefined ? MAC : binding.mac, iat: binding.iat ?? NOW }, keys.privateKey, "k1");

describe("chain fetch from the API", () => {
  it("sends the relay credential and the boot parameters, and returns a verified chain", async () => {
    let seen: IncomingMessage | null = null;
    const sig = await signed(BODY);
    handler = (req, res) => {
      seen = req;
      res.writeHead(200, { "content-type": "text/plain", "edgeboot-chain-signature": sig }).end(BODY);
    };
    const r = await fetcher()({ mac: MAC, serial: "S N", arch: "x86_64" }, CLIENT);
    expect(r).toMatchObject({ ok: true, body: BODY });
    expect(seen!.url).toBe("/boot/lab/ipxe?mac=52%3A54%3A00%3A12%3A34%3A56&serial=S+N&arch=x86_64");
    expect(seen!.headers.authorization).toBe("Bearer relay-cred");
    expect(seen!.headers["edgeboot-client-address"]).toBe("10.0.0.42");
  });

  it("refuses a chain signed for another MAC, another site, too long ago, or not signed at all", async () => {
    for (const [binding, reason] of [
      [{ mac: "52:54:00:00:00:00" }, "wrong_mac"],
      [{ site: "other" }, "wrong_site"],
      [{ iat: NOW - 3600 }, "stale"],
    ] as const) {
      const sig = await signed(BODY, binding);
      handler = (_req, res) => void res.writeHead(200, { "edgeboot-chain-signature": sig }).end(BODY);
      expect(await fetcher()({ mac: MAC }, CLIENT)).toMatchObject({ ok: false, reason });
    }
    handler = (_req, res) => void res.writeHead(200).end(BODY);
    expect(await fetcher()({ mac: MAC }, CLIENT)).toMatchObject({ ok: false, reason: "malformed" });
    const other = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const forged = await signChain(BODY, { site: "lab", mac: MAC, iat: NOW }, other.privateKey, "k1");
    handler = (_req, res) => void res.writeHead(200, { "edgeboot-chain-signature": forged }).end(BODY);
    expect(await fetcher()({ mac: MAC }, CLIENT)).toMatchObject({ ok: false, reason: "bad_signature" });
  });

  it("reports API errors, timeouts, unreachable APIs and oversized bodies", async () => {
    handler = (_req, res) => void res.writeHead(401, { "edgeboot-error": "unauthorized" }).end("#!ipxe\nexit 1\n");
    expect(await fetcher()({ mac: MAC }, CLIENT)).toMatchObject({ ok: false, reason: "api_status", status: 401, message: "API answered 401 (unauthorized)" });
    // The API's reason (its refusal script's echo line) reaches the console the relay answers, without the code twice.
    handler = (_req, res) =>
      void res.writeHead(409, { "edgeboot-error": "not_bootable" }).end('#!ipxe\necho edgeboot: not_bootable: image "base" has no build for arm64\nexit 1\n');
    expect(await fetcher()({ mac: MAC }, CLIENT)).toMatchObject({ ok: false, status: 409, message: 'API answered 409 (not_bootable): image "base" has no build for arm64' });
    handler = () => {}; // never answers
    expect(await fetcher({ timeoutMs: 200 })({ mac: MAC }, CLIENT)).toMatchObject({ ok: false, reason: "api_timeout" });
    expect(await fetcher({ apiUrl: "http://127.0.0.1:9" })({ mac: MAC }, CLIENT)).toMatchObject({ ok: false, reason: "api_unreachable" });
    const big = "x".repeat(MAX_CHAIN_BYTES + 1);
    handler = (_req, res) => void res.writeHead(200).end(big);
    expect(await fetcher()({ mac: MAC }, CLIENT)).toMatchObject({ ok: false, reason: "too_large" });
    handler = (_req, res) => {
      res.writeHead(200, { "transfer-encoding": "chunked" });
      for (let i = 0; i < 40; i++) res.write("y".repeat(8192));
      res.end();
    };
    expect(await fetcher()({ mac: MAC }, CLIENT)).toMatchObject({ ok: false, reason: "too_large" });
  });
});
