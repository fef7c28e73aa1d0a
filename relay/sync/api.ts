import { SiteSnapshot } from "./snapshot.ts";

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

export class RelayApiClient {
  readonly apiUrl: string;
  #credential: string;
  #fetch: typeof fetch;
  #timeoutMs: number;

  constructor(opts: { apiUrl: string; credential: string; fetch?: typeof fetch; timeoutMs?: number }) {
    this.apiUrl = opts.apiUrl.replace(/\/+$/, "");
    this.#credential = opts.credential;
    this.#fetch = opts.fetch ?? fetch;
    this.#timeoutMs = opts.timeoutMs ?? 15_000;
  }

  async register(body: RegisterBody): Promise<{ relay: { id: string; name: string; site: string }; pollSeconds: number }> {
    const res = await this.#call("POST", "/relay/v1/register", body);
    return (await res.json()) as { relay: { id: string; name: string; site: string }; pollSeconds: number };
  }

  async sync(etag: string | null): Promise<SyncResult> {
    const res = await this.#call("GET", "/relay/v1/sync", undefined, etag ? { "if-none-match": etag } : {});
    if (res.status === 304) return { status: 304 };
    const parsed = SiteSnapshot.safeParse(await res.json());
    if (!parsed.success) throw new ApiError("rejected", res.status, `sync snapshot has an unexpected shape: ${parsed.error.issues[0]?.message}`);
    return { status: 200, etag: res.headers.get("etag"), snapshot: parsed.data };
  }

  async postEvents(events: QueuedEvent[]): Promise<{ received: number; stored: number }> {
    const res = await this.#call("POST", "/relay/v1/events", { events });
    return (await res.json()) as { received: number; stored: number };
  }

  async ack(commandId: string, result: { ok: boolean; error?: string }): Promise<void> {
    const res = await this.#call("POST", `/relay/v1/commands/${encodeURIComponent(commandId)}/ack`, result);
    await res.body?.cancel();
  }

  async #call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    let res: Response;
    try {
      res = await this.#fetch(`${this.apiUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.#credential}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...headers,
        },
        body: body === undefined ? null : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      throw new ApiError("unavailable", null, `${method} ${path}: ${(err as Error).message}`);
    }
    if (res.ok || res.status === 304) return res;
    const text = await res.text().catch(() => "");
    const kind = res.status >= 500 || res.status === 429 || res.status === 408 ? "unavailable" : "rejected";
    throw new ApiError(kind, res.status, `${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  }
}
