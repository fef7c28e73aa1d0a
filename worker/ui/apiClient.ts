// The status page reads and acts through the admin API itself, in-process (no network hop), with the session's own
// bearer token: the same validation, scope checks and queries as `curl` gets, and the same error bodies.
import type { Context } from "hono";
import type { UiEnv } from "./session.ts";

export type ApiFailure = { code: string; message: string; details: unknown };
export type ApiResult<T> = { ok: true; status: number; body: T; etag: string | null } | { ok: false; status: number; error: ApiFailure };

// The app itself (Hono's fetch); typed loosely because Hono's ExecutionContext differs from workers-types'.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Fetcher = { fetch: (req: Request, env?: any, ctx?: any) => Response | Promise<Response> };

export type AdminClient = {
  get<T>(path: string): Promise<ApiResult<T>>;
  send<T>(method: "POST" | "PATCH", path: string, body: unknown, ifMatch?: string | null): Promise<ApiResult<T>>;
};

export function adminClient(c: Context<UiEnv>, app: Fetcher, token: string): AdminClient {
  let ctx: unknown;
  try {
    ctx = c.executionCtx;
  } catch {
    // app.request in unit tests has no execution context.
  }
  const origin = new URL(c.req.url).origin;
  const call = async <T>(method: string, path: string, body?: unknown, ifMatch?: string | null): Promise<ApiResult<T>> => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (ifMatch) headers["if-match"] = ifMatch;
    const res = await app.fetch(new Request(`${origin}/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }), c.env, ctx);
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    if (res.ok) return { ok: true, status: res.status, body: parsed as T, etag: res.headers.get("etag") };
    const err = (parsed as { error?: ApiFailure } | null)?.error;
    return { ok: false, status: res.status, error: err ?? { code: "internal", message: `the API answered ${res.status}`, details: null } };
  };
  return {
    get: (path) => call("GET", path),
    send: (method, path, body, ifMatch) => call(method, path, body, ifMatch),
  };
}

// A path segment for a hostname, MAC or id.
export const seg = (v: string) => encodeURIComponent(v);

export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}
