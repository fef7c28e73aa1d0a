// The admin API as an operator drives it: bearer token, JSON bodies, artifacts uploaded with `curl -T`.
import { sh } from "./proc.ts";

// Plain fields, no parameter properties: the harness also runs under Node's type stripping.
export class AdminApi {
  readonly baseUrl: string;
  readonly #token: string;

  constructor(baseUrl: string, token: string) {
    this.baseUrl = baseUrl;
    this.#token = token;
  }

  async request<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.#token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} -> ${res.status}: ${text.slice(0, 500)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  get = <T = unknown>(path: string) => this.request<T>("GET", path);
  post = <T = unknown>(path: string, body: unknown) => this.request<T>("POST", path, body);
  patch = <T = unknown>(path: string, body: unknown) => this.request<T>("PATCH", path, body);
  put = <T = unknown>(path: string, body: unknown) => this.request<T>("PUT", path, body);

  /** `curl -T file` to PUT /v1/artifacts/<sha256>: streamed, the API verifies the hash. */
  uploadArtifact(file: string, sha256: string): void {
    const status = sh("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", file, "-H", `authorization: Bearer ${this.#token}`, `${this.baseUrl}/v1/artifacts/${sha256}`]);
    if (status !== "201" && status !== "200") throw new Error(`uploading ${file} as ${sha256}: HTTP ${status}`);
  }
}

export interface BootEvent {
  id: string;
  at: string;
  hostId: string | null;
  mac: string | null;
  source: string;
  phase: string;
  bootSession: string | null;
  detail: Record<string, unknown> | null;
}

/** Every event of a site (optionally one host) at or after `since`, oldest first. */
export async function siteEvents(api: AdminApi, site: string, opts: { since?: number; host?: string } = {}): Promise<BootEvent[]> {
  const all: BootEvent[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 50; page++) {
    const q = new URLSearchParams({ limit: "200" });
    if (opts.since !== undefined) q.set("since", String(opts.since));
    if (opts.host) q.set("host", opts.host);
    if (cursor) q.set("cursor", cursor);
    const res: { items: BootEvent[]; nextCursor: string | null } = await api.get(`/v1/sites/${site}/events?${q}`);
    all.push(...res.items);
    cursor = res.nextCursor;
    if (!cursor) break;
  }
  return all.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
}
