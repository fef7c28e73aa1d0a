// /h/<token>/<rest> on the relay, against a real local HTTP server standing in for the API (it records what arrives).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiGate, type ApiGate } from "../../relay/apiGate.ts";
import { hostProxyRoute, MAX_HOST_BODY } from "../../relay/boot/hostProxy.ts";
import { BinaryCatalog } from "../../relay/binaries.ts";
import { ClientTable } from "../../relay/dhcp/clients.ts";
import { createRelayHttpServer } from "../../relay/http/server.ts";
import { getFrom, listen } from "./support/http.ts";
import { parts } from "./support/relayParts.ts";

const TOKEN = `eyJhbGciOiJFZERTQSJ9.${"eyJzdWIiOiJoIn0".repeat(2)}.${"s".repeat(86)}`;
type Seen = { method: string; url: string; headers: IncomingMessage["headers"]; body: string };
let seen: Seen[] = [];
let answer: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => void res.end("ok");
let api: Awaited<ReturnType<typeof listen>>;
let relay: Awaited<ReturnType<typeof listen>> & ReturnType<typeof parts>;

const clients = new ClientTable();
async function startRelay(apiUrl: string, timeoutMs = 2000, gate?: ApiGate) {
  const p = parts();
  const binaries = new BinaryCatalog("/nonexistent-edgeboot", []);
  await binaries.ready();
  const route = hostProxyRoute({ apiUrl, credential: "ebr_relay-cred", timeoutMs, idleMs: 1000, clients, gate, log: p.log });
  const server = createRelayHttpServer({ bootIpxe: async () => {}, binaries, registry: p.registry, metrics: p.metrics, log: p.log, extraRoutes: [route] });
  return { ...(await listen(server)), ...p };
}

beforeAll(async () => {
  api = await listen(
    createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() });
        answer(req, res);
      });
    }),
  );
  relay = await startRelay(api.base);
});
afterAll(async () => {
  await relay.close();
  await api.close();
});

const reset = () => {
  seen = [];
  answer = (_req, res) => void res.end("ok");
};

describe("relay /h/ proxy", () => {
  it("forwards GET with the relay credential and the client address, never the client's own Authorization", async () => {
    reset();
    answer = (_req, res) => void res.writeHead(200, { "content-type": "text/yaml", etag: '"x"', "set-cookie": "a=b", "x-internal": "1" }).end("instance-id: i-1\n");
    const res = await getFrom(`${relay.base}/h/${TOKEN}/nocloud/meta-data?x=1`, "127.0.0.2", { headers: { authorization: "Bearer stolen", "user-agent": "Cloud-Init/22.4" } });
    expect(res).toMatchObject({ status: 200, body: "instance-id: i-1\n" });
    expect(res.headers["content-type"]).toBe("text/yaml");
    expect(res.headers.etag).toBe('"x"');
    expect(res.headers["set-cookie"]).toBeUndefined();
    expect(res.headers["x-internal"]).toBeUndefined();
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: "GET", url: `/boot/h/${TOKEN}/nocloud/meta-data?x=1` });
    expect(seen[0]!.headers.authorization).toBe("Bearer ebr_relay-cred");
    expect(seen[0]!.headers["edgeboot-client-address"]).toBe("127.0.0.2");
    expect(seen[0]!.headers["user-agent"]).toBe("Cloud-Init/22.4");
    // The token reads secrets: it never reaches the relay's log.
    expect(relay.lines.join("\n")).not.toContain(TOKEN);
  });

  it("vouches with Edgeboot-Client-Mac only for an address one MAC claimed in DHCP (an installed OS's other lease)", async () => {
    reset();
    clients.claim({ ip: "127.0.0.4", mac: "52:54:00:00:00:04", ipxe: false, source: "dhcp-request", os: true });
    await getFrom(`${relay.base}/h/${TOKEN}/nocloud/user-data`, "127.0.0.4");
    expect(seen[0]!.headers["edgeboot-client-mac"]).toBe("52:54:00:00:00:04");
    expect(seen[0]!.headers["edgeboot-client-address"]).toBe("127.0.0.4");
    clients.claim({ ip: "127.0.0.4", mac: "52:54:00:00:00:05", ipxe: false, source: "dhcp-request", os: true });
    await getFrom(`${relay.base}/h/${TOKEN}/nocloud/user-data`, "127.0.0.4");
    expect(seen[1]!.headers["edgeboot-client-mac"]).toBeUndefined(); // two MACs claimed it: no vouch
    // A client cannot vouch for itself: its own header is not passed on.
    await getFrom(`${relay.base}/h/${TOKEN}/nocloud/user-data`, "127.0.0.8", { headers: { "edgeboot-client-mac": "52:54:00:00:00:04", "edgeboot-client-address": "10.9.9.9" } });
    expect(seen[2]!.headers["edgeboot-client-mac"]).toBeUndefined();
    expect(seen[2]!.headers["edgeboot-client-address"]).toBe("127.0.0.8");
  });

  it("passes API errors through and streams large bodies (HEAD and Range too)", async () => {
    reset();
    answer = (_req, res) => void res.writeHead(403, { "content-type": "application/json" }).end('{"error":{"code":"forbidden","message":"secret_refetch"}}');
    expect(await getFrom(`${relay.base}/h/${TOKEN}/nocloud/user-data`, "127.0.0.1")).toMatchObject({ status: 403, body: '{"error":{"code":"forbidden","message":"secret_refetch"}}' });
    const big = Buffer.alloc(6 * 1024 * 1024, 7);
    answer = (req, res) => {
      if (req.headers.range) return void res.writeHead(206, { "content-range": "bytes 0-9/6291456", "content-length": "10" }).end(big.subarray(0, 10));
      res.writeHead(200, { "content-length": String(big.length), "content-type": "application/octet-stream" });
      if (req.method === "HEAD") return void res.end();
      let off = 0;
      const pump = () => {
        while (off < big.length) {
          const ok = res.write(big.subarray(off, (off += 65536)));
          if (!ok) return void res.once("drain", pump);
        }
        res.end();
      };
      pump();
    };
    const got = await fetch(`${relay.base}/h/${TOKEN}/artifacts/${"a".repeat(64)}`);
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).equals(big)).toBe(true);
    const head = await fetch(`${relay.base}/h/${TOKEN}/artifacts/${"a".repeat(64)}`, { method: "HEAD" });
    expect(head.headers.get("content-length")).toBe(String(big.length));
    const range = await fetch(`${relay.base}/h/${TOKEN}/artifacts/${"a".repeat(64)}`, { headers: { range: "bytes=0-9" } });
    expect(range.status).toBe(206);
    expect(range.headers.get("content-range")).toBe("bytes 0-9/6291456");
    expect(seen.at(-1)!.headers.range).toBe("bytes=0-9");
  });

  it("forwards a POST body, and refuses one over the cap before the API sees it", async () => {
    reset();
    const ok = await getFrom(`${relay.base}/h/${TOKEN}/events?phase=installed`, "127.0.0.3", { method: "POST", headers: { "content-type": "application/json" }, body: '{"detail":{"a":1}}' });
    expect(ok.status).toBe(200);
    expect(seen[0]).toMatchObject({ method: "POST", url: `/boot/h/${TOKEN}/events?phase=installed`, body: '{"detail":{"a":1}}' });
    expect(seen[0]!.headers["content-type"]).toBe("application/json");
    const declared = await getFrom(`${relay.base}/h/${TOKEN}/events`, "127.0.0.3", { method: "POST", body: "x".repeat(MAX_HOST_BODY + 1) });
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.body)).toEqual({ error: { code: "too_large", message: `request body is larger than ${MAX_HOST_BODY} bytes` } });
    // Chunked (no Content-Length): counted as it arrives.
    const chunked = await fetch(`${relay.base}/h/${TOKEN}/events`, {
      method: "POST",
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 20; i++) c.enqueue(new Uint8Array(8192));
          c.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(seen).toHaveLength(1);
  });

  it("refuses malformed tokens, paths, queries and methods without contacting the API", async () => {
    reset();
    const bad = [
      "/h/not-a-token/nocloud/meta-data",
      `/h/${TOKEN}`,
      `/h/${TOKEN}/`,
      `/h/${TOKEN}/nocloud//meta-data`,
      `/h/${TOKEN}/nocloud/../../v1/tokens`,
      `/h/${TOKEN}/nocloud/%2e%2e/x`,
      `/h/${TOKEN}/.hidden`,
      `/h/${TOKEN}/a/b/c/d/e/f/g`,
      `/h/${TOKEN}/nocloud/meta-data?${"q".repeat(1100)}`,
    ];
    for (const path of bad) {
      const res = await getFrom(`${relay.base}${path}`, "127.0.0.1");
      expect(res.status, path).toBe(400);
      expect(JSON.parse(res.body).error.code, path).toMatch(/^invalid_/);
    }
    const put = await fetch(`${relay.base}/h/${TOKEN}/events`, { method: "PUT", body: "x" });
    expect(put.status).toBe(405);
    expect(put.headers.get("allow")).toBe("GET, HEAD, POST");
    expect(seen).toEqual([]);
  });

  it("answers 502 when the API is down and 504 when it does not answer in time, with the JSON error shape", async () => {
    const down = await startRelay("http://127.0.0.1:9");
    try {
      const res = await getFrom(`${down.base}/h/${TOKEN}/nocloud/meta-data`, "127.0.0.1");
      expect(res.status).toBe(502);
      expect(JSON.parse(res.body).error.code).toBe("api_unreachable");
    } finally {
      await down.close();
    }
    reset();
    answer = () => {}; // never answers
    const slow = await startRelay(api.base, 300);
    try {
      const t0 = performance.now();
      const res = await getFrom(`${slow.base}/h/${TOKEN}/nocloud/meta-data`, "127.0.0.1");
      expect(res.status).toBe(504);
      expect(JSON.parse(res.body)).toEqual({ error: { code: "api_timeout", message: "the API did not answer within 300 ms" } });
      expect(performance.now() - t0).toBeLessThan(3000);
    } finally {
      await slow.close();
    }
    // The relay still answers afterwards.
    reset();
    expect((await getFrom(`${relay.base}/h/${TOKEN}/nocloud/meta-data`, "127.0.0.1")).status).toBe(200);
  });
});

describe("relay /h/ proxy behind the API gate", () => {
  it("queues a request while the one slot waits for the API, answers 503 api_busy past the wait, and frees the slot with the answer", async () => {
    reset();
    const gate = createApiGate({ limit: 1, maxWaitMs: 400 });
    const gated = await startRelay(api.base, 2000, gate);
    try {
      let releaseFirst: () => void = () => {};
      answer = (req, res) => {
        if (req.url!.endsWith("/slow")) releaseFirst = () => res.end("slow");
        else res.end("fast");
      };
      const slow = getFrom(`${gated.base}/h/${TOKEN}/nocloud/slow`, "127.0.0.2");
      await new Promise((r) => setTimeout(r, 100));
      expect(gate.stats()).toEqual({ active: 1, waiting: 0 });
      // The API has not answered the first request's headers: the second waits, then gives up with 503.
      const refused = await getFrom(`${gated.base}/h/${TOKEN}/nocloud/fast`, "127.0.0.2");
      expect(refused.status).toBe(503);
      expect(JSON.parse(refused.body)).toMatchObject({ error: { code: "api_busy" } });
      expect(refused.headers["retry-after"]).toBe("5");
      expect(seen.map((r) => r.url.split("/").pop())).toEqual(["slow"]);
      releaseFirst();
      expect(await slow).toMatchObject({ status: 200, body: "slow" });
      expect(await getFrom(`${gated.base}/h/${TOKEN}/nocloud/fast`, "127.0.0.2")).toMatchObject({ status: 200, body: "fast" });
      expect(gate.stats()).toEqual({ active: 0, waiting: 0 });
    } finally {
      await gated.close();
    }
  });
});
