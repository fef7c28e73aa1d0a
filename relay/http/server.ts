// The relay's LAN HTTP server: /boot.ipxe (chain hand-off), /healthz, /metrics, the iPXE binaries for UEFI HTTP Boot
// (`/ipxe.efi` etc.), plus routes mounted by prefix by other parts (the artifact cache mounts `/artifacts/`).
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { http } from "../builtins.ts";
import { pipeline } from "node:stream/promises";
import type { BinaryCatalog } from "../binaries.ts";
import type { ClientTable } from "../dhcp/clients.ts";
import type { EventSink } from "../events.ts";
import type { Logger } from "../log.ts";
import type { MetricsRegistry, RelayMetrics } from "../metrics.ts";

export type RouteHandler = { prefix: string; handle(req: IncomingMessage, res: ServerResponse): void | Promise<void> };

export type Health = { ok: boolean; detail: Record<string, unknown> };

export type RelayHttpDeps = {
  bootIpxe: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>;
  binaries: BinaryCatalog;
  registry: MetricsRegistry;
  metrics: RelayMetrics;
  log: Logger;
  health?: () => Health;
  extraRoutes?: RouteHandler[];
  // A UEFI HTTP Boot download is a boot step: an `http-binary-sent` event, labelled with the MAC DHCP bound to the
  // client's address (as TFTP's `tftp-sent`).
  events?: EventSink;
  clients?: Pick<ClientTable, "macForIp">;
  now?: () => number;
};

export function sendText(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body), "cache-control": "no-store", ...headers });
  res.end(body);
}

// The relay's own refusals in the API's error shape, as /h/ and /artifacts/ answer them ({"error":{code,message}}).
function sendError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  sendText(res, status, `${JSON.stringify({ error: { code, message, details: null } })}\n`, { "content-type": "application/json", ...headers });
}

// UEFI HTTP Boot accepts an image by Content-Type application/efi or a path ending in .efi (EDK2 HttpBootCheckImageType).
const contentTypeFor = (name: string) => (name.endsWith(".efi") ? "application/efi" : "application/octet-stream");

async function serveBinary(deps: RelayHttpDeps, req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
  const opened = await deps.binaries.open(decodeURIComponentSafe(path.slice(1)) ?? "");
  if (!opened.ok) return false;
  const { fh, size, name } = opened.file;
  const client = req.socket.remoteAddress?.replace(/^::ffff:/, "") ?? "";
  res.writeHead(200, { "content-type": contentTypeFor(name), "content-length": size, "cache-control": "no-cache" });
  if (req.method === "HEAD") {
    // EDK2 asks for the size first (HttpBootGetBootFile with HeaderOnly), then GETs.
    await fh.close();
    res.end();
    if (deps.log.enabled("debug")) deps.log.debug("http boot binary probed", { file: name, client, bytes: size });
    return true;
  }
  const now = deps.now ?? Date.now;
  const started = now();
  let ok = true;
  try {
    await pipeline(fh.createReadStream({ highWaterMark: 1 << 20 }), res);
  } catch {
    ok = false; // Client went away mid-download.
  }
  const mac = deps.clients?.macForIp(client) ?? undefined;
  const detail = { file: name, client, ...(ok ? { bytes: size } : {}), ms: now() - started };
  deps.events?.emit({ phase: ok ? "http-binary-sent" : "http-binary-failed", ...(mac ? { mac } : {}), detail, at: now() });
  deps.log[ok ? "info" : "warn"](ok ? "http boot binary sent" : "http boot binary download broke off", { ...detail, ...(mac ? { mac } : {}) });
  return true;
}

const decodeURIComponentSafe = (s: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
};

export function createRelayHttpServer(deps: RelayHttpDeps): Server {
  // Longest prefix first, so `/artifacts/x/` can be mounted beside `/artifacts/`.
  const extra = [...(deps.extraRoutes ?? [])].sort((a, b) => b.prefix.length - a.prefix.length);
  const count = (route: string, res: ServerResponse) => res.once("finish", () => deps.metrics.httpRequests.inc({ route, status: String(res.statusCode) }));

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://relay.invalid");
    } catch {
      return sendError(res, 400, "invalid_input", "the request target is not a valid URL");
    }
    const path = url.pathname;
    const mounted = extra.find((r) => path.startsWith(r.prefix));
    if (mounted) {
      count(mounted.prefix, res);
      return mounted.handle(req, res);
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      count("other", res);
      return sendError(res, 405, "method_not_allowed", "GET or HEAD only", { allow: "GET, HEAD" });
    }
    if (path === "/boot.ipxe") {
      count("/boot.ipxe", res);
      return deps.bootIpxe(req, res, url);
    }
    if (path === "/healthz") {
      count("/healthz", res);
      const health = deps.health?.() ?? { ok: true, detail: {} };
      const body = JSON.stringify({ status: health.ok ? "ok" : "degraded", ...health.detail });
      res.writeHead(health.ok ? 200 : 503, { "content-type": "application/json", "cache-control": "no-store" });
      return void res.end(`${body}\n`);
    }
    if (path === "/metrics") {
      count("/metrics", res);
      return sendText(res, 200, deps.registry.render(), { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
    }
    count("binary", res);
    if (await serveBinary(deps, req, res, path)) return;
    sendError(res, 404, "not_found", "no such route or binary on this relay");
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      deps.log.error("http handler failed", { path: req.url?.split("?")[0], error: err });
      if (!res.headersSent) sendError(res, 500, "internal", "the relay failed to handle this request");
      else res.destroy();
    });
  });
  // Slow or idle LAN clients must not pin sockets forever.
  server.headersTimeout = 15_000;
  server.requestTimeout = 60_000;
  server.keepAliveTimeout = 5_000;
  return server;
}

// Resolves with the bound port (useful with port 0 in tests); rejects on EADDRINUSE/EACCES instead of crashing.
export function listenHttp(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const addr = server.address();
      resolve(typeof addr === "object" && addr ? addr.port : port);
    });
  });
}
