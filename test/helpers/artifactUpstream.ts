import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

// A stand-in for the API's /relay/v1/artifacts route, for pure cache behaviour: serves registered blobs, counts
// requests, and can hold a transfer half-way or send the wrong bytes on purpose.
export type UpstreamBlob = { bytes: Buffer; corrupt?: boolean; holdAt?: number };

export class ArtifactUpstream {
  readonly blobs = new Map<string, UpstreamBlob>();
  readonly requests: string[] = [];
  credential = "relay-test-credential-0123456789";
  firstByteAt: number[] = [];
  #server: Server = createServer((req, res) => void this.#handle(req, res));
  #released = new Map<string, () => void>();
  #gates = new Map<string, Promise<void>>();

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    return this.url;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const release of this.#released.values()) release();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  add(bytes: Buffer, opts: Omit<UpstreamBlob, "bytes"> = {}): string {
    const sha = createHash("sha256").update(bytes).digest("hex");
    this.blobs.set(sha, { bytes, ...opts });
    if (opts.holdAt !== undefined) {
      this.#gates.set(sha, new Promise<void>((resolve) => this.#released.set(sha, resolve)));
    }
    return sha;
  }

  // Let a held transfer send the rest of its bytes.
  release(sha: string): void {
    this.#released.get(sha)?.();
  }

  async #handle(req: IncomingMessage, res: ServerResponse) {
    const m = /^\/relay\/v1\/artifacts\/([0-9a-f]{64})$/.exec(req.url ?? "");
    if (req.headers.authorization !== `Bearer ${this.credential}`) return void res.writeHead(401).end();
    if (!m) return void res.writeHead(404).end();
    const sha = m[1]!;
    this.requests.push(sha);
    const blob = this.blobs.get(sha);
    if (!blob) return void res.writeHead(404, { "content-type": "application/json" }).end('{"error":{"code":"not_found"}}');
    let bytes = blob.bytes;
    if (blob.corrupt) {
      bytes = Buffer.from(bytes);
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    }
    res.writeHead(200, { "content-length": bytes.length, "content-type": "application/octet-stream" });
    this.firstByteAt.push(performance.now());
    const holdAt = blob.holdAt ?? bytes.length;
    await write(res, bytes.subarray(0, holdAt));
    if (holdAt < bytes.length) await this.#gates.get(sha);
    await write(res, bytes.subarray(holdAt));
    res.end();
  }
}

async function write(res: ServerResponse, chunk: Buffer) {
  if (chunk.length === 0) return;
  if (!res.write(chunk)) await new Promise<void>((resolve) => res.once("drain", () => resolve()));
}
