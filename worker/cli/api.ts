// The admin API client: JSON in and out, ETags surfaced, and every failure a CliError carrying the API's
// `{"error":{"code","message","details"}}` (or "unreachable" when no answer came).
import { readApiBody } from "./apiBody.ts";
import { CliError } from "./errors.ts";
import type { Target } from "./config.ts";

export type Reply<T = unknown> = { status: number; body: T; etag: string | null; text: string };
type Options = { body?: unknown; text?: string; contentType?: string; ifMatch?: string | null; accept?: string };

export type Api = ReturnType<typeof apiClient>;

export function apiClient(target: Pick<Target, "api" | "token">, doFetch: typeof fetch = fetch) {
  async function request<T = any>(method: string, path: string, opts: Options = {}): Promise<Reply<T>> {
    const headers: Record<string, string> = { authorization: `Bearer ${target.token}`, accept: opts.accept ?? "application/json" };
    let body: string | undefined;
    if (opts.text !== undefined) {
      headers["content-type"] = opts.contentType ?? "text/plain";
      body = opts.text;
    } else if (opts.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(opts.body);
    }
    if (opts.ifMatch) headers["if-match"] = opts.ifMatch;
    let res: Response;
    try {
      res = await doFetch(`${target.api}${path}`, { method, headers, body, signal: AbortSignal.timeout(60_000) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new CliError("unreachable", `cannot reach the API at ${target.api} (${why}); check --api / EDGEBOOT_API and that the API is up`);
    }
    const { text, json, error: e } = await readApiBody(res);
    if (!res.ok) {
      throw new CliError(e?.code ?? `http_${res.status}`, e?.message ?? (text.slice(0, 200) || res.statusText), e?.details ?? null, res.status);
    }
    return { status: res.status, body: (json ?? text) as T, etag: res.headers.get("etag"), text };
  }

  // Every page of a list (`{items, nextCursor}`).
  async function list<T = any>(path: string, limit = 500): Promise<T[]> {
    const out: T[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10_000; page++) {
      const sep = path.includes("?") ? "&" : "?";
      const r: Reply<{ items: T[]; nextCursor: string | null }> = await request("GET", `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      out.push(...r.body.items);
      cursor = r.body.nextCursor;
      if (!cursor) break;
    }
    return out;
  }

  return { base: target.api, request, list, get: <T = any>(path: string) => request<T>("GET", path) };
}

export const enc = encodeURIComponent;
