// Fuzzing the relay's HTTP edge: the parsers behind its routes called directly (≥100,000 inputs each: /boot.ipxe's
// query, the /h/ proxy's path, the artifact route's Range and If-None-Match), then raw HTTP requests over a real
// socket at a relay HTTP server with every route mounted (/boot.ipxe, /artifacts/, /h/, /metrics, /healthz, binaries).
// No throw may escape, no request may get a 500 or another host's chain, and the relay must answer afterwards.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decideRange, etagListMatches } from "../../worker/shared/byteRange.ts";
import { BinaryCatalog } from "../../relay/binaries.ts";
import { createBootIpxeHandler, parseBootQuery } from "../../relay/boot/handler.ts";
import { hostProxyRoute, parseHostPath } from "../../relay/boot/hostProxy.ts";
import { HOST_TOKEN_PATTERN } from "../../worker/shared/relayHeaders.ts";
import { failureScript, refusedScript } from "../../relay/boot/scripts.ts";
import { artifactRoute } from "../../relay/cache/http.ts";
import { ArtifactCache } from "../../relay/cache/store.ts";
import { apiUpstream } from "../../relay/cache/upstream.ts";
import { ClientTable } from "../../relay/dhcp/clients.ts";
import { createRelayHttpServer } from "../../relay/http/server.ts";
import { RelayState } from "../../relay/state.ts";
import { ArtifactUpstream } from "../helpers/artifactUpstream.ts";
import { FUZZ_ITERATIONS, mutateText, pick, prng, report, type Rnd } from "./support/fuzz.ts";
import { getFrom, listen } from "./support/http.ts";
import { parts } from "./support/relayParts.ts";

const HTTP_REQUESTS = Number(process.env.FUZZ_HTTP_REQUESTS ?? 1000);
const MAC = "52:54:00:12:34:56";
const QUERY = "mac=52%3A54%3A00%3A12%3A34%3A56&uuid=4c4c4544-0042-3510-8052-b4c04f4e3132&serial=ABC%20123&arch=x86_64&platform=efi&attempt=2";
const TOKEN = `eyJhbGciOiJFZERTQSJ9.${"eyJzdWIiOiJoIn0".repeat(2)}.${"s".repeat(86)}`;

// What a script line may start with: the relay's own scripts have a fixed shape, whatever the input.
const SCRIPT_LINE = /^(#!ipxe|# edgeboot relay: [^\r]*|echo edgeboot: [^\r]*|:retry|:renew|sleep \d+|dhcp \|\| goto retry|goto retry|chain --replace --autofree http:\/\/relay\/boot\.ipxe\?[^\s]* \|\| goto (renew|retry)|)$/;

describe("fuzz the HTTP parsers", () => {
  it(`/boot.ipxe query: ${FUZZ_ITERATIONS} mutated queries; scripts built from them keep their shape`, () => {
    const rnd = prng(0xb007);
    const counts = { inputs: 0, ok: 0, refused: 0, withMac: 0 };
    for (let i = 0; i < FUZZ_ITERATIONS; i++) {
      const text = mutateText(QUERY, rnd);
      counts.inputs++;
      let r: ReturnType<typeof parseBootQuery>;
      try {
        r = parseBootQuery(new URLSearchParams(text));
      } catch (err) {
        throw new Error(`seed 0xb007 iteration ${i} (${JSON.stringify(text)}): ${(err as Error).stack}`);
      }
      if (!r.ok) {
        counts.refused++;
        expect(r.message.length).toBeGreaterThan(0);
        continue;
      }
      counts.ok++;
      if (r.mac) {
        counts.withMac++;
        if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(r.mac)) throw new Error(`iteration ${i}: mac ${r.mac} not canonical`);
      }
      if (i % 10 === 0) {
        const params = { mac: r.mac ?? MAC, uuid: r.query.uuid, serial: r.query.serial, arch: r.query.arch, platform: r.query.platform };
        for (const script of [
          refusedScript({ relayBase: "http://relay", params, attempt: r.query.attempt ?? 1, reason: "unknown-client", message: text }),
          failureScript({ relayBase: "http://relay", params, attempt: r.query.attempt ?? 1, reason: text, message: text }),
        ]) {
          for (const line of script.split("\n")) if (!SCRIPT_LINE.test(line) || line.includes("${")) throw new Error(`iteration ${i}: script line ${JSON.stringify(line)}`);
        }
      }
    }
    report("boot-query", counts);
    expect(counts.ok).toBeGreaterThan(FUZZ_ITERATIONS / 20);
    expect(counts.refused).toBeGreaterThan(FUZZ_ITERATIONS / 20);
  });

  it(`/h/ proxy path: ${FUZZ_ITERATIONS} mutated paths; only well-formed ones are forwarded`, () => {
    const rnd = prng(0x4057);
    const seeds = [`/h/${TOKEN}/nocloud/meta-data`, `/h/${TOKEN}/events?phase=installed`, `/h/${TOKEN}/artifacts/${"ab".repeat(32)}`, `/h/${TOKEN}/files/preseed.cfg`];
    const counts = { inputs: 0, forwarded: 0 } as Record<string, number> & { inputs: number; forwarded: number };
    for (let i = 0; i < FUZZ_ITERATIONS; i++) {
      const raw = mutateText(pick(rnd, seeds), rnd);
      const q = raw.indexOf("?");
      counts.inputs++;
      let r: ReturnType<typeof parseHostPath>;
      try {
        r = parseHostPath(q < 0 ? raw : raw.slice(0, q), q < 0 ? "" : raw.slice(q));
      } catch (err) {
        throw new Error(`seed 0x4057 iteration ${i} (${JSON.stringify(raw)}): ${(err as Error).stack}`);
      }
      if (!r.ok) {
        counts[r.code] = (counts[r.code] ?? 0) + 1;
        continue;
      }
      counts.forwarded++;
      const { token, rest, search } = r.value;
      if (!HOST_TOKEN_PATTERN.test(token) || rest.split("/").some((s) => s === "" || s === "." || s === ".." || s.startsWith(".")) || /[%\s]/.test(rest) || search.length > 1024) {
        throw new Error(`iteration ${i}: forwarded a bad path ${JSON.stringify(raw)}`);
      }
    }
    report("host-path", counts);
    expect(counts.forwarded).toBeGreaterThan(FUZZ_ITERATIONS / 50);
  });

  it(`artifact route headers: ${FUZZ_ITERATIONS} Range and ${FUZZ_ITERATIONS} If-None-Match values`, () => {
    const rnd = prng(0xa77);
    const counts = { ranges: 0, full: 0, partial: 0, unsatisfiable: 0, etags: 0, etagMatches: 0 };
    const rangeSeeds = ["bytes=0-99", "bytes=-500", "bytes=100-", "bytes=5-4", "bytes=0-0,5-9", "items=0-1"];
    const sizes = [0, 1, 99, 100, 4096, 2 ** 31, Number.MAX_SAFE_INTEGER];
    for (let i = 0; i < FUZZ_ITERATIONS; i++) {
      const header = mutateText(pick(rnd, rangeSeeds), rnd);
      const size = pick(rnd, sizes);
      counts.ranges++;
      const d = decideRange(header, size);
      counts[d.kind]++;
      if (d.kind === "partial") {
        const { offset, length } = d.range;
        if (!(Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 1 && offset + length <= size)) {
          throw new Error(`seed 0xa77 iteration ${i}: range ${JSON.stringify(header)} of ${size} gave ${offset}+${length}`);
        }
      }
    }
    const etag = `"${"ab".repeat(32)}"`;
    for (let i = 0; i < FUZZ_ITERATIONS; i++) {
      const header = mutateText(pick(rnd, [etag, `W/${etag}`, `"x", ${etag}`, "*"]), rnd);
      counts.etags++;
      if (etagListMatches(header, etag)) counts.etagMatches++;
    }
    report("artifact-headers", counts);
    expect(counts.partial).toBeGreaterThan(100);
  });
});

// ---- raw HTTP over a real socket -------------------------------------------------------------------------------

type Raw = { status: number | null; ms: number };

function rawRequest(port: number, text: Buffer, timeoutMs = 3000): Promise<Raw> {
  const started = performance.now();
  return new Promise((resolve) => {
    const sock = connect(port, "127.0.0.1");
    let buf = "";
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(buf);
      resolve({ status: m ? Number(m[1]) : null, ms: performance.now() - started });
    };
    const timer = setTimeout(finish, timeoutMs);
    sock.on("data", (c: Buffer) => {
      buf += c.toString("latin1");
      if (buf.length > 256) finish(); // the status line is all we need; do not download artifacts
    });
    sock.on("error", finish);
    sock.on("close", finish);
    sock.end(text);
  });
}

function randomRequest(rnd: Rnd, sha: string): Buffer {
  const method = pick(rnd, ["GET", "GET", "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "G\u0000T", "BREW"]);
  const path = mutateText(
    pick(rnd, [`/boot.ipxe?${QUERY}`, `/artifacts/${sha}`, `/artifacts/${sha}/vmlinuz`, `/h/${TOKEN}/nocloud/meta-data`, `/h/${TOKEN}/events?phase=x`, "/metrics", "/healthz", "/ipxe.efi", "/"]),
    rnd,
  );
  const headers: string[] = ["Host: relay", "Connection: close"];
  if (rnd() < 0.3) headers.push(`Range: ${mutateText("bytes=0-99", rnd)}`);
  if (rnd() < 0.2) headers.push(`If-None-Match: ${mutateText(`"${sha}"`, rnd)}`);
  if (rnd() < 0.1) headers.push(`X-${mutateText("Junk", rnd)}: ${mutateText("value", rnd)}`);
  let body = "";
  if (method === "POST" || rnd() < 0.05) {
    body = "x".repeat(Math.floor(rnd() * 2000));
    headers.push(rnd() < 0.1 ? `Content-Length: ${mutateText(String(body.length), rnd)}` : `Content-Length: ${body.length}`);
  }
  return Buffer.from(`${method} ${path} HTTP/1.1\r\n${headers.join("\r\n")}\r\n\r\n${body}`, "latin1");
}

describe("fuzz the relay's HTTP server over a real socket", () => {
  let dir: string;
  const upstream = new ArtifactUpstream();
  let apiStandIn: Awaited<ReturnType<typeof listen>>;
  let relay: Awaited<ReturnType<typeof listen>> & ReturnType<typeof parts>;
  let cache: ArtifactCache;
  let chainsFetched: string[] = [];
  let sha: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "edgeboot-fuzz-http-"));
    writeFileSync(join(dir, "ipxe.efi"), "MZ");
    await upstream.start();
    sha = upstream.add(Buffer.alloc(300_000, 1));
    apiStandIn = await listen(createServer((req, res) => void req.resume().on("end", () => res.end("ok"))));
    const p = parts();
    const binaries = new BinaryCatalog(dir, []);
    await binaries.ready();
    cache = new ArtifactCache({ dir: join(dir, "cache"), budgetBytes: 10_000_000, upstream: apiUpstream({ apiUrl: upstream.url, credential: upstream.credential }) });
    await cache.open();
    const clients = new ClientTable();
    clients.claim({ ip: "127.0.0.5", mac: MAC, ipxe: true, source: "dhcp-request" }); // the one machine that booted
    let base = "";
    const bootIpxe = createBootIpxeHandler({
      config: { apiUrl: "http://unused.invalid", site: "lab", credential: "c", apiTimeoutMs: 1000, directTokenTtlSeconds: 60 },
      state: new RelayState({ relayId: null, allowDirect: false }),
      keys: { privateKey: null as never, publicJwk: null as never },
      getKey: async () => {
        throw new Error("unused");
      },
      clients,
      relayBase: () => base,
      log: p.log,
      metrics: p.metrics,
      events: p.sink,
      fetchChain: async (params, client) => (chainsFetched.push(`${params.mac}@${client.address}`), { ok: true, body: "#!ipxe\necho chain\n", ms: 0 }),
    });
    const server = createRelayHttpServer({
      bootIpxe,
      binaries,
      registry: p.registry,
      metrics: p.metrics,
      log: p.log,
      health: () => ({ ok: true, detail: { cache: { bytes: cache.usedBytes } } }),
      extraRoutes: [artifactRoute(cache), hostProxyRoute({ apiUrl: apiStandIn.base, credential: "c", timeoutMs: 1000, log: p.log })],
    });
    const l = await listen(server);
    base = l.base;
    relay = { ...l, ...p };
  });

  afterAll(async () => {
    await relay?.close();
    await apiStandIn?.close();
    cache?.close();
    await upstream.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`${HTTP_REQUESTS} raw requests: no 500, no chain for an address that never booted, and the relay keeps answering`, async () => {
    chainsFetched = [];
    const rnd = prng(0x4e77);
    const port = Number(new URL(relay.base).port);
    const statuses: Record<string, number> = {};
    const CONCURRENCY = 8;
    for (let i = 0; i < HTTP_REQUESTS; i += CONCURRENCY) {
      const batch = Array.from({ length: Math.min(CONCURRENCY, HTTP_REQUESTS - i) }, () => rawRequest(port, randomRequest(rnd, sha)));
      for (const r of await Promise.all(batch)) {
        const key = r.status === null ? (r.ms >= 2900 ? "hung" : "closed") : String(r.status);
        statuses[key] = (statuses[key] ?? 0) + 1;
      }
    }
    report("http-socket", { requests: HTTP_REQUESTS, ...statuses });
    expect(statuses["500"] ?? 0).toBe(0);
    expect(statuses.hung ?? 0).toBe(0);
    expect(chainsFetched).toEqual([]); // every fuzzed request came from 127.0.0.1, which never sent DHCP
    expect(relay.lines.filter((l) => l.includes("http handler failed"))).toEqual([]);
    // Still answering, every route.
    expect((await fetch(`${relay.base}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${relay.base}/metrics`)).text()).toContain("edgeboot_http_requests_total");
    expect((await fetch(`${relay.base}/artifacts/${sha}`)).status).toBe(200);
    expect((await getFrom(`${relay.base}/boot.ipxe?mac=${MAC}`, "127.0.0.5")).body).toBe("#!ipxe\necho chain\n");
    expect(chainsFetched).toEqual([`${MAC}@127.0.0.5`]);
  }, 120_000);
});
