import type { IncomingMessage, ServerResponse } from "node:http";
import { decideRange, etagListMatches } from "../../worker/shared/byteRange.ts";
import type { RouteHandler } from "../http/server.ts";
import { FillError } from "./fill.ts";
import type { ArtifactCache } from "./store.ts";
import { sendFile, sendFromFill } from "./send.ts";

// The optional trailing segment of /artifacts/<sha256>/<name> (same rule as the Worker's host artifact route).
export const ARTIFACT_FILE_NAME = /^[A-Za-z0-9._-]{1,128}$/;

export type CacheEvent = { phase: "cache-hit" | "cache-miss"; sha256: string; bytes: number; status: number; ms: number; client: string | null };

// `/artifacts/<sha256>[/<name>]` on the relay's LAN HTTP port: hits from disk, misses streamed while they fill.
export function artifactRoute(cache: ArtifactCache, opts: { onServed?: (e: CacheEvent) => void } = {}): RouteHandler {
  return {
    prefix: "/artifacts/",
    async handle(req, res) {
      const started = performance.now();
      // Read now: once a client has closed the connection (wget does, right after the last byte) it is gone.
      const client = req.socket.remoteAddress ?? null;
      if (req.method !== "GET" && req.method !== "HEAD") return void sendError(res, 405, "method_not_allowed", "GET or HEAD only", { allow: "GET, HEAD" });
      const [sha256, name, ...rest] = (req.url ?? "").split("?")[0]!.slice("/artifacts/".length).toLowerCase().split("/");
      // One optional file-name segment, ignored for lookup: boot tools that need a file name in the URL
      // (live-boot's fetch= takes only .squashfs/.iso/.tgz/.tar) get the same bytes as without it.
      if (rest.length > 0) return void sendError(res, 404, "not_found", "artifact URLs are /artifacts/<sha256> or /artifacts/<sha256>/<name>");
      if (name !== undefined && !ARTIFACT_FILE_NAME.test(name)) {
        return void sendError(res, 400, "invalid_input", "the artifact file name is 1-128 of A-Z a-z 0-9 . _ -");
      }
      let lookup;
      try {
        lookup = await cache.lookup(sha256 ?? "");
      } catch (err) {
        return void sendFillError(res, err);
      }
      let size: number;
      if (lookup.kind === "hit") size = lookup.size;
      else {
        try {
          size = await lookup.fill.ready;
        } catch (err) {
          return void sendFillError(res, err);
        }
      }
      const release = async () => {
        if (lookup.kind === "hit") await lookup.fh.close().catch(() => {});
      };

      const etag = `"${sha256 ?? ""}"`;
      res.setHeader("etag", etag);
      res.setHeader("cache-control", "public, max-age=31536000, immutable");
      res.setHeader("accept-ranges", "bytes");
      if (etagListMatches(header(req, "if-none-match"), etag)) {
        await release();
        res.writeHead(304).end();
        return;
      }
      const ifRange = header(req, "if-range");
      const decision = decideRange(ifRange !== null && ifRange.trim() !== etag ? null : header(req, "range"), size);
      if (decision.kind === "unsatisfiable") {
        await release();
        return void sendError(res, 416, "range_not_satisfiable", "range not satisfiable", { "content-range": `bytes */${size}` });
      }
      const start = decision.kind === "partial" ? decision.range.offset : 0;
      const end = decision.kind === "partial" ? start + decision.range.length - 1 : size - 1;
      res.setHeader("content-type", "application/octet-stream");
      res.setHeader("content-length", String(end - start + 1));
      if (decision.kind === "partial") res.setHeader("content-range", `bytes ${start}-${end}/${size}`);
      res.writeHead(decision.kind === "partial" ? 206 : 200);
      if (req.method === "HEAD") {
        await release();
        res.end();
        return;
      }
      const bytes = lookup.kind === "hit" ? await sendFile(res, lookup.fh, start, end) : await sendFromFill(res, lookup.fill, start, end);
      cache.countServed(bytes);
      opts.onServed?.({
        phase: lookup.kind === "hit" ? "cache-hit" : "cache-miss",
        sha256: sha256 ?? "",
        bytes,
        status: res.statusCode,
        ms: Math.round(performance.now() - started),
        client,
      });
    },
  };
}

const header = (req: IncomingMessage, name: string): string | null => {
  const v = req.headers[name];
  return typeof v === "string" ? v : null;
};

function sendFillError(res: ServerResponse, err: unknown) {
  if (err instanceof FillError) {
    const code = err.status === 404 ? "not_found" : err.status === 503 ? "unavailable" : "bad_gateway";
    return sendError(res, err.status, code, err.message);
  }
  return sendError(res, 500, "internal", "artifact cache error");
}

function sendError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}) {
  if (res.headersSent) return res.destroy();
  const body = JSON.stringify({ error: { code, message } });
  res.writeHead(status, { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
}
