import { env, exports } from "cloudflare:workers";
import { artifactKey } from "../../../worker/artifacts/store.ts";
import { parseEnv, type Env } from "../../../worker/env.ts";

export const ADMIN = { authorization: `Bearer ${env.ADMIN_TOKEN}` };

export function workerEnv(): Env {
  const parsed = parseEnv(env);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.env;
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// Deterministic pseudo-random bytes, so a test can name sizes and still get distinct contents.
export function bytesOf(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

// Stores an artifact the way a finished upload leaves it: object in R2, then its row.
export async function seedArtifact(bytes: Uint8Array, opts: { state?: "ready" | "pending"; contentType?: string } = {}) {
  const sha256 = await sha256Hex(bytes);
  if (opts.state !== "pending") await env.ARTIFACTS.put(artifactKey(sha256), bytes);
  await env.DB.prepare("insert into artifacts (sha256, size, content_type, state) values (?, ?, ?, ?)")
    .bind(sha256, bytes.length, opts.contentType ?? "application/octet-stream", opts.state ?? "ready")
    .run();
  return sha256;
}

// An API token with the given scopes, stored the way POST /v1/tokens stores it (SHA-256 of the secret).
export async function seedToken(scopes: string[]): Promise<Record<string, string>> {
  const token = `ebt_test_${crypto.randomUUID().replace(/-/g, "")}`;
  await env.DB.prepare("insert into api_tokens (id, name, token_hash, scopes, created_by) values (?, ?, ?, ?, 'test')")
    .bind(crypto.randomUUID(), `t-${scopes.join("-")}`, await sha256Hex(new TextEncoder().encode(token)), JSON.stringify(scopes))
    .run();
  return { authorization: `Bearer ${token}` };
}

// The Worker's own entry (exports.default), typed here until the test env declares the main module.
export const worker = (exports as unknown as { default: { fetch(input: string, init?: RequestInit): Promise<Response> } }).default;

export const api = (path: string, init: RequestInit = {}) => worker.fetch(`http://api.test${path}`, init);

export const put = (sha: string, bytes: Uint8Array, headers: Record<string, string> = ADMIN) =>
  api(`/v1/artifacts/${sha}`, { method: "PUT", body: bytes, headers });

export async function r2Has(sha: string): Promise<boolean> {
  return (await env.ARTIFACTS.head(artifactKey(sha))) !== null;
}

export async function artifactRow(sha: string) {
  return env.DB.prepare("select * from artifacts where sha256 = ?").bind(sha).first<{ sha256: string; size: number; state: string; upload_id: string | null }>();
}

export async function auditRows(action: string, resourceId: string) {
  return (
    await env.DB.prepare("select * from audit_log where action = ? and resource_id = ? order by id")
      .bind(action, resourceId)
      .all<{ actor: string; resource_id: string | null; detail: string }>()
  ).results;
}
