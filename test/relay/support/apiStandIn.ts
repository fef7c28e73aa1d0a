// A real HTTP server standing in for the API where the Worker is not the subject (relay fault tests): register, sync,
// events (stored by id, so resends are visible as duplicates), artifacts (can hold a transfer half-way), signed chains
// and the JWKS to check them. Every /relay/v1 and /boot request must carry the relay credential.
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type CryptoKey } from "jose";
import { signChain } from "../../../worker/shared/chainSignature.ts";

export type StoredEvent = { id: string; phase: string; at: number; mac?: string | null; detail?: Record<string, unknown> };

export class ApiStandIn {
  readonly credential = "ebr_fault-test-credential-0123456789";
  readonly events = new Map<string, StoredEvent>();
  eventPosts = 0;
  duplicates = 0;
  // While set, event batches are stored but their response is held (the relay sees a delivery that never ends).
  holdEvents = false;
  readonly blobs = new Map<string, { bytes: Buffer; holdAt?: number }>();
  readonly chainRequests: Array<{ mac: string | null; clientAddress: string | undefined }> = [];
  // The site's hosts as /relay/v1/sync lists them.
  hosts: Array<Record<string, unknown>> = [];
  #server: Server = createServer((req, res) => void this.#handle(req, res).catch(() => res.destroy()));
  #keys!: { privateKey: CryptoKey; jwk: Record<string, unknown> };
  #held: Array<() => void> = [];

  async start(): Promise<void> {
    const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    this.#keys = { privateKey, jwk: { ...(await exportJWK(publicKey)), kid: "fault-1", alg: "EdDSA", use: "sig" } };
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  add(bytes: Buffer, holdAt?: number): string {
    const sha = createHash("sha256").update(bytes).digest("hex");
    this.blobs.set(sha, { bytes, ...(holdAt === undefined ? {} : { holdAt }) });
    return sha;
  }

  release(): void {
    for (const r of this.#held.splice(0)) r();
  }

  async stop(): Promise<void> {
    this.release();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://api");
    if (url.pathname === "/.well-known/jwks.json") return json(res, 200, { keys: [this.#keys.jwk] });
    if (req.headers.authorization !== `Bearer ${this.credential}`) return json(res, 401, { error: { code: "unauthorized", message: "bad credential" } });
    const body = await readAll(req);
    if (req.method === "POST" && url.pathname === "/relay/v1/register") return json(res, 200, { relay: { id: "relay-fault", name: "fault", site: "lab" }, pollSeconds: 1 });
    if (req.method === "GET" && url.pathname === "/relay/v1/sync") {
      return json(res, 200, {
        site: { slug: "lab", name: "Lab", bootAuth: "relay", allowDirect: false, unknownHostPolicy: "discover" },
        relay: { id: "relay-fault", name: "fault" },
        hosts: this.hosts,
        prefetch: [],
        commands: [],
        manifests: [],
        pollSeconds: 1,
      });
    }
    if (req.method === "POST" && url.pathname === "/relay/v1/events") {
      this.eventPosts++;
      const { events } = JSON.parse(body.toString("utf8")) as { events: StoredEvent[] };
      for (const e of events) {
        if (this.events.has(e.id)) this.duplicates++;
        else this.events.set(e.id, e);
      }
      if (this.holdEvents) await new Promise<void>((r) => this.#held.push(r));
      return json(res, 200, { received: events.length, stored: events.length });
    }
    const art = /^\/relay\/v1\/artifacts\/([0-9a-f]{64})$/.exec(url.pathname);
    if (req.method === "GET" && art) {
      const blob = this.blobs.get(art[1]!);
      if (!blob) return json(res, 404, { error: { code: "not_found", message: "no such artifact" } });
      res.writeHead(200, { "content-length": blob.bytes.length, "content-type": "application/octet-stream" });
      const holdAt = blob.holdAt ?? blob.bytes.length;
      await write(res, blob.bytes.subarray(0, holdAt));
      if (holdAt < blob.bytes.length) await new Promise<void>((r) => this.#held.push(r));
      await write(res, blob.bytes.subarray(holdAt));
      return void res.end();
    }
    if (req.method === "GET" && url.pathname === "/boot/lab/ipxe") {
      const mac = url.searchParams.get("mac");
      const client = req.headers["edgeboot-client-address"];
      this.chainRequests.push({ mac, clientAddress: typeof client === "string" ? client : undefined });
      const chain = `#!ipxe\necho chain for ${mac}\nboot\n`;
      const sig = await signChain(chain, { site: "lab", mac, iat: Math.floor(Date.now() / 1000) }, this.#keys.privateKey, "fault-1");
      res.writeHead(200, { "content-type": "text/plain", "edgeboot-chain-signature": sig });
      return void res.end(chain);
    }
    return json(res, 404, { error: { code: "not_found", message: `no route ${req.method} ${url.pathname}` } });
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) }).end(text);
}

function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

async function write(res: ServerResponse, chunk: Buffer): Promise<void> {
  if (chunk.length === 0) return;
  if (!res.write(chunk)) await new Promise<void>((resolve) => res.once("drain", () => resolve()));
}
