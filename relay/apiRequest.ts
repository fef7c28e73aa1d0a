// One request to the API with a bounded body: node:http(s), not fetch. fetch is undici, which alone costs the relay
// ~6 MiB RSS (measured on Node 22) for the few small JSON and text answers the relay reads; artifact bodies stream
// through cache/upstream.ts and the /h/ proxy instead.
import type { IncomingHttpHeaders } from "node:http";
import { requestFor } from "./builtins.ts";

export type ApiAnswer = { status: number; headers: IncomingHttpHeaders; body: Buffer };

// Why a request failed before an answer: the deadline passed, the body passed maxBytes, or the network said so.
export class ApiRequestError extends Error {
  readonly kind: "timeout" | "too_large" | "network";
  constructor(kind: "timeout" | "too_large" | "network", message: string) {
    super(message);
    this.name = "ApiRequestError";
    this.kind = kind;
  }
}

export function apiRequest(
  url: string | URL,
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer; timeoutMs: number; maxBytes: number; signal?: AbortSignal },
): Promise<ApiAnswer> {
  const target = typeof url === "string" ? new URL(url) : url;
  return new Promise((resolve, reject) => {
    let settled = false;
    const onAbort = () => fail(new ApiRequestError("network", "the relay is stopping"));
    const fail = (err: ApiRequestError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      req.destroy();
      reject(err);
    };
    const headers: Record<string, string> = { "accept-encoding": "identity", ...opts.headers };
    if (opts.body !== undefined) headers["content-length"] = String(Buffer.byteLength(opts.body));
    // The deadline covers the whole answer, body included (the answers are small).
    const timer = setTimeout(() => fail(new ApiRequestError("timeout", `no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    const req = requestFor(target)(target, { method: opts.method ?? "GET", headers }, (res) => {
      const declared = Number(res.headers["content-length"] ?? "0");
      if (declared > opts.maxBytes) return fail(new ApiRequestError("too_large", `answer larger than ${opts.maxBytes} bytes`));
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > opts.maxBytes) return fail(new ApiRequestError("too_large", `answer larger than ${opts.maxBytes} bytes`));
        chunks.push(chunk);
      });
      res.on("error", (err) => fail(new ApiRequestError("network", err.message)));
      res.on("aborted", () => fail(new ApiRequestError("network", "the API closed the connection mid-answer")));
      res.on("end", () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener("abort", onAbort);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks, size) });
      });
    });
    req.on("error", (err) => fail(new ApiRequestError("network", err.message)));
    // A stopping relay does not wait out a request's deadline (an unanswered register held a failed start 8 s).
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    req.end(opts.body);
  });
}
