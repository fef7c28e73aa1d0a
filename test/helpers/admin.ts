import { env, exports } from "cloudflare:workers";

// Calls the admin API through the real Worker entry, with the root token unless told otherwise.
// Other suites import these to seed data the way an operator would.
export const ROOT_TOKEN = env.ADMIN_TOKEN;
const BASE = "http://api.test";

export type ApiResponse<T = any> = { status: number; headers: Headers; body: T };

export type ApiOptions = { token?: string | null; headers?: Record<string, string>; raw?: BodyInit; contentType?: string };

export async function api<T = any>(method: string, path: string, body?: unknown, opts: ApiOptions = {}): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  const token = opts.token === undefined ? ROOT_TOKEN : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let payload: BodyInit | undefined = opts.raw;
  if (payload === undefined && body !== undefined) {
    payload = JSON.stringify(body);
    headers["content-type"] = "application/json";
  }
  if (opts.contentType) headers["content-type"] = opts.contentType;
  const res = await (exports as any).default.fetch(new Request(`${BASE}${path}`, { method, headers, body: payload }));
  const text = await res.text();
  let parsed: unknown = text;
  if ((res.headers.get("content-type") ?? "").includes("json") && text) parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: parsed as T };
}

// Throws unless the status is what the seed expects, so a broken seed fails loudly at its line.
async function must<T = any>(expected: number, method: string, path: string, body?: unknown): Promise<T> {
  const res = await api<T>(method, path, body);
  if (res.status !== expected) throw new Error(`${method} ${path} → ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export const seedSite = (slug: string, fields: Record<string, unknown> = {}) => must(201, "POST", "/v1/sites", { slug, name: `Site ${slug}`, ...fields });

export const seedProfile = (name: string, fields: Record<string, unknown> = {}) => must(201, "POST", "/v1/profiles", { name, ...fields });

export const seedHost = (site: string, fields: Record<string, unknown>) => must(201, "POST", `/v1/sites/${site}/hosts`, fields);

export const seedImage = (fields: Record<string, unknown>) => must(201, "POST", "/v1/images", fields);

// A relay and its credential (shown once by the API).
export const seedRelay = (site: string, name = "relay-1") => must<{ relay: any; credential: string }>(201, "POST", `/v1/sites/${site}/relays`, { name });

// A scoped API token; returns the bearer secret and the token's metadata.
export async function seedToken(scopes: string[], fields: Record<string, unknown> = {}): Promise<{ secret: string; token: any }> {
  return must(201, "POST", "/v1/tokens", { name: `t-${crypto.randomUUID().slice(0, 8)}`, scopes, ...fields });
}

// Test storage is shared within a file: give every seeded name a unique suffix.
export const uniq = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;

// A MAC no other test uses (locally administered range).
export const uniqMac = () => `02:${[...crypto.getRandomValues(new Uint8Array(5))].map((b) => b.toString(16).padStart(2, "0")).join(":")}`;

// An artifact row as a finished (or pending) upload leaves it; the catalogue only checks the row, not the bytes.
export async function seedArtifactRow(state: "ready" | "pending" = "ready"): Promise<string> {
  const sha = [...crypto.getRandomValues(new Uint8Array(32))].map((b) => b.toString(16).padStart(2, "0")).join("");
  await env.DB.prepare("insert into artifacts (sha256, size, state) values (?, 1, ?)").bind(sha, state).run();
  return sha;
}
