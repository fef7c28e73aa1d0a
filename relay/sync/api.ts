import { apiRequest, type ApiAnswer } from "../apiRequest.ts";
import { SiteSnapshot } from "./snapshot.ts";

// A sync snapshot carries every host of the site (~200 bytes each): room for 100,000 hosts.
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

// The relay's side of /relay/v1. Failures are split in two: "unavailable" (network, 5xx, 429: retry later,
// keep serving from local state) and "rejected" (other 4xx: this request will not succeed as it is).
export class ApiError extends Error {
  readonly kind: "unavailable" | "rejected";
  readonly status: number | null;
  constructor(kind: "unavailable" | "rejected", status: number | null, message: string) {
    super(message);
    this.name = "RelayApiError";
    this.kind = kind;
    this.status = status;
  }
}

export type RegisterBody = {
  publicKeyJwk: { kty: "OKP"; crv: "Ed25519"; x: string };
  lanAddress: string;
  cacheUrl: string;
  version: string;
};

export type QueuedEvent = {
  id: string;
  phase: string;
  at: number;
  mac?: string | null;
  bootSession?: string | null;
  detail?: Record<string, unknown>;
};

export type SyncResult = { status: 304 } | { status: 200; etag: string | null; snapshot: SiteSnapshot };

function json(res: ApiAnswer): unknown {
  try {
    return JSON.parse(res.body.toString("utf8"));
  } catch {
    throw new ApiError("unavailable", res.status, `the API answered ${res.status} with a body that is not JSON`);
  }
}

export class RelayApiClient {
  readonly apiUrl: string;
  #credential: string;
  #timeoutMs: number;
  #signal: AbortSignal | undefined;

  // signal: aborts every request in flight and to come (the relay stopping).
  constructor(opts: { apiUrl: string; credential: string; timeoutMs?: number; signal?: AbortSignal }) {
    this.apiUrl = opts.apiUrl.replace(/\/+$/, "");
    this.#credential = opts.credential;
    this.#timeoutMs = opts.timeoutMs ?? 15_000;
    this.#signal = opts.signal;
  }

  async register(body: RegisterBody): Promise<{ relay: { id: string; name: string; site: string }; pollSeconds: number }> {
    const res = await this.#call("POST", "/relay/v1/register", body);
    return json(res) as { relay: { id: string; name: string; site: string }; pollSeconds: number };
  }

  async sync(etag: string | null): Promise<SyncResult> {
    const res = await this.#call("GET", "/relay/v1/sync", undefined, etag ? { "if-none-match": etag } : {});
    if (res.status === 304) return { status: 304 };
    const parsed = SiteSnapshot.safeParse(json(res));
    if (!parsed.success) throw new ApiError("rejected", res.status, `sync snapshot has an unexpected shape: ${parsed.error.issues[0]?.message}`);
    const tag = res.headers.etag;
    return { status: 200, etag: typeof tag === "string" ? tag : null, snapshot: parsed.data };
  }

  async postEvents(events: QueuedEvent[]): Promise<{ received: number; stored: number }> {
    const res = await this.#call("POST", "/relay/v1/events", { events });
    return json(res) as { received: number; stored: number };
  }

  async ack(commandId: string, result: { ok: boolean; error?: string }): Promise<void> {
    await this.#call("POST", `/relay/v1/commands/${encodeURIComponent(commandId)}/ack`, result);
  }

  async #call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiAnswer> {
    let res: ApiAnswer;
    try {
      res = await apiRequest(`${this.apiUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.#credential}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        timeoutMs: this.#timeoutMs,
        maxBytes: MAX_ANSWER_BYTES,
        ...(this.#signal ? { signal: this.#signal } : {}),
      });
    } catch (err) {
      throw new ApiError("unavailable", null, `${method} ${path}: ${(err as Error).message}`);
    }
    if ((res.status >= 200 && res.status < 300) || res.status === 304) return res;
    const text = res.body.toString("utf8");
    const kind = res.status >= 500 || res.status === 429 || res.status === 408 ? "unavailable" : "rejected";
    throw new ApiError(kind, res.status, `${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  }
}
