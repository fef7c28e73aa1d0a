// GET|HEAD|POST /h/<host token>/<rest> on the relay: the host-token paths (NoCloud data, per-host files, events,
// artifacts) carried to `${apiUrl}/boot/h/<token>/<rest>` with the relay credential and the client address the relay
// saw, for sites whose secret-delivery policy is `bound` (only via the relay that issued the chain, for that address).
// The token and path shape are checked before anything is sent; request bodies (events) are small and read whole
// within a cap, so an over-size one never reaches the API; responses stream through. The API decides what the token
// may read: the relay adds nothing but its credential and the address.
import type { IncomingMessage, ServerResponse } from "node:http";
import { ApiBusyError, type ApiGate } from "../apiGate.ts";
import { requestFor } from "../builtins.ts";
import type { ClientTable } from "../dhcp/clients.ts";
import type { RouteHandler } from "../http/server.ts";
import type { Logger } from "../log.ts";
import { CLIENT_ADDRESS_HEADER, CLIENT_MAC_HEADER, HOST_TOKEN_PATTERN } from "../../worker/shared/relayHeaders.ts";
import { clientIp } from "./handler.ts";

export const HOST_PREFIX = "/h/";
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/; // no empty, "." or ".." segments, no hidden names
const MAX_SEGMENTS = 6;
const MAX_SEARCH = 1024;
export const MAX_HOST_BODY = 64 * 1024;
// Headers passed each way; nothing else (no client Authorization, no hop-by-hop headers).
const REQUEST_HEADERS = ["accept", "content-type", "range", "if-range", "if-none-match", "if-modified-since", "user-agent"];
const RESPONSE_HEADERS = ["content-type", "content-length", "content-range", "accept-ranges", "etag", "last-modified", "cache-control", "retry-after", "edgeboot-error"];

export type HostPath = { token: string; rest: string; search: string };
export type HostPathError = { status: number; code: string; message: string };

// Pure (fuzzed): the path and query of a /h/ request, or why it is refused.
export function parseHostPath(pathname: string, search: string): { ok: true; value: HostPath } | ({ ok: false } & HostPathError) {
  const fail = (status: number, code: string, message: string) => ({ ok: false as const, status, code, message });
  if (!pathname.startsWith(HOST_PREFIX)) return fail(404, "not_found", "not a host path");
  const parts = pathname.slice(HOST_PREFIX.length).split("/");
  const token = parts.shift() ?? "";
  if (!HOST_TOKEN_PATTERN.test(token)) return fail(400, "invalid_host_token", "the host token in the path is malformed");
  if (parts.length === 0 || parts.length > MAX_SEGMENTS || !parts.every((p) => SEGMENT.test(p))) {
    return fail(400, "invalid_host_path", `the path after the token must be 1-${MAX_SEGMENTS} segments of [A-Za-z0-9._-]`);
  }
  if (search.length > MAX_SEARCH || /[^\x21-\x7e]/.test(search)) return fail(400, "invalid_query", `the query must be at most ${MAX_SEARCH} printable characters`);
  return { ok: true, value: { token, rest: parts.join("/"), search } };
}

export function sendJsonError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.destroy();
  const body = JSON.stringify({ error: { code, message } });
  res.writeHead(status, { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(body), "cache-control": "no-store" }).end(body);
}

// The request body, whole, or null when it passes `max` (declared or actual) or the client goes away.
function readBody(req: IncomingMessage, max: number): Promise<Buffer | "too_large" | null> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > max) return Promise.resolve("too_large");
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.removeAllListeners("data");
        req.resume();
        return resolve("too_large");
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(size > max ? "too_large" : Buffer.concat(chunks)));
    req.on("error", () => resolve(null));
    req.on("aborted", () => resolve(null));
  });
}

export function hostProxyRoute(deps: {
  apiUrl: string;
  credential: string;
  timeoutMs: number; // until the API's response headers arrive
  idleMs?: number; // a response body that stalls this long is cut off
  clients?: Pick<ClientTable, "vouch">;
  dhcpSettle?: () => Promise<void>; // DHCP on a worker thread: resolves once its posted claims are in `clients`
  gate?: ApiGate; // bounds this relay's requests in flight at the API (held until the response headers)
  log: Logger;
}): RouteHandler {
  const base = new URL(deps.apiUrl.replace(/\/*$/, "/"));
  const send = requestFor(base);
  const idleMs = deps.idleMs ?? 60_000;
  return {
    prefix: HOST_PREFIX,
    async handle(req, res) {
      const method = req.method ?? "";
      if (method !== "GET" && method !== "HEAD" && method !== "POST") return sendJsonError(res, 405, "method_not_allowed", "GET, HEAD or POST only", { allow: "GET, HEAD, POST" });
      const raw = req.url ?? "";
      const q = raw.indexOf("?");
      const parsed = parseHostPath(q < 0 ? raw : raw.slice(0, q), q < 0 ? "" : raw.slice(q));
      if (!parsed.ok) return sendJsonError(res, parsed.status, parsed.code, parsed.message);
      let body: Buffer | null = null;
      if (method === "POST") {
        const read = await readBody(req, MAX_HOST_BODY);
        if (read === "too_large") return sendJsonError(res, 413, "too_large", `request body is larger than ${MAX_HOST_BODY} bytes`, { connection: "close" });
        if (read === null) return void res.destroy();
        body = read;
      }
      const client = clientIp(req);
      const headers: Record<string, string> = { authorization: `Bearer ${deps.credential}`, [CLIENT_ADDRESS_HEADER]: client, "accept-encoding": "identity" };
      for (const name of REQUEST_HEADERS) {
        const v = req.headers[name];
        if (typeof v === "string" && v.length <= 1024) headers[name] = v;
      }
      // Vouched only when unambiguous (one MAC ever claimed this address, no contest): the API then accepts an OS
      // address other than iPXE's for the boot session's own MAC.
      let mac = deps.clients?.vouch(client);
      // DHCP on a worker thread: an OS REQUEST for this address may still be on its way to the table (handler.ts).
      if (!mac && deps.clients && deps.dhcpSettle) {
        await deps.dhcpSettle();
        mac = deps.clients.vouch(client);
      }
      if (mac) headers[CLIENT_MAC_HEADER] = mac;
      if (body) headers["content-length"] = String(body.length);
      const { token, rest, search } = parsed.value;
      const target = new URL(`boot/h/${token}/${rest}${search}`, base);
      let release: () => void = () => {};
      if (deps.gate) {
        try {
          release = await deps.gate.acquire();
        } catch (err) {
          if (!(err instanceof ApiBusyError)) throw err;
          return sendJsonError(res, 503, "api_busy", err.message, { "retry-after": "5" });
        }
        if (res.destroyed || !res.socket || res.socket.destroyed) return release(); // the client left while it waited
      }
      const started = performance.now();
      const upstream = send(target, { method, headers });
      // Until the response headers: a timer, not a signal, so a long artifact body is not cut at the same deadline.
      let timedOut = false;
      const headerTimer = setTimeout(() => {
        timedOut = true;
        upstream.destroy(new Error("timeout"));
      }, deps.timeoutMs);
      // A client gone before the end aborts the API request; after the end the socket belongs to the agent's pool.
      let ended = false;
      const onClientGone = () => {
        if (!ended) upstream.destroy();
      };
      res.once("close", onClientGone);
      upstream.on("response", (up) => {
        release();
        clearTimeout(headerTimer);
        const out: Record<string, string> = {};
        for (const name of RESPONSE_HEADERS) {
          const v = up.headers[name];
          if (typeof v === "string") out[name] = v;
        }
        res.writeHead(up.statusCode ?? 502, out);
        // The headers came in time; from here a stalled body is cut after idleMs, not the whole timeout.
        up.socket.setTimeout(idleMs, () => up.destroy(new Error(`API response stalled for ${idleMs} ms`)));
        up.pipe(res);
        up.on("error", () => res.destroy());
        up.on("end", () => {
          ended = true;
          deps.log.debug("host path proxied", { client, path: `/h/…/${rest}`, status: up.statusCode, ms: Math.round(performance.now() - started) });
        });
      });
      upstream.on("error", (err) => {
        release();
        clearTimeout(headerTimer);
        res.off("close", onClientGone);
        if (res.headersSent) return void res.destroy();
        // The token never goes to the log: it reads the host's secrets.
        deps.log.warn("host path: API request failed", { client, path: `/h/…/${rest}`, error: err.message, timedOut });
        if (timedOut) sendJsonError(res, 504, "api_timeout", `the API did not answer within ${deps.timeoutMs} ms`);
        else sendJsonError(res, 502, "api_unreachable", `the API is unreachable: ${err.message}`);
      });
      upstream.end(body ?? undefined);
    },
  };
}
