// Seeds for the boot-path tests, written straight into D1 (rows as the admin API would leave them), with fixed ids
// so rendered scripts can be compared exactly. Requests go through the real Worker entry with an execution context
// we wait on, so the bookkeeping written with waitUntil is in D1 when a test reads it.
import { applyD1Migrations, createExecutionContext, reset, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { decodeJwt, exportJWK, generateKeyPair } from "jose";
import { loadSession } from "../../../worker/db/queries/bootSessions.ts";
import { afterEach, beforeEach } from "vitest";
import worker from "../../../worker/index.ts";
import { createApp } from "../../../worker/app.ts";
import { createDb } from "../../../worker/db/client.ts";
import type { BootIntent, IpxeMenu, StaticNetwork } from "../../../worker/db/schema.ts";
import { events, hosts, images, profiles, relays, secrets, sites } from "../../../worker/db/schema.ts";
import { sha256Hex } from "../../../worker/lib/crypto.ts";
import { encryptSecret, secretScope } from "../../../worker/lib/secretbox.ts";

export const db = () => createDb(env.DB);

// Each test owns its data: storage is wiped after every test and the schema applied again before the next, so
// fixed ids and slugs (needed for golden scripts) never collide. Called at the top of each test file: test files
// share one module cache (vitest isolate: false), so hooks registered when this module loads would bind to the
// first file only.
export function freshStoragePerTest() {
  beforeEach(async () => {
    await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
  });
  afterEach(async () => {
    await reset();
  });
}
export const BASE = "http://api.test";

export async function call(path: string, init: RequestInit = {}, bindings: Record<string, unknown> = env as unknown as Record<string, unknown>) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`${BASE}${path}`, init) as never, bindings as never, ctx);
  const body = await res.text();
  await waitOnExecutionContext(ctx);
  return { status: res.status, headers: res.headers, body };
}

// The same Worker with the boot path's clock moved (token and session lifetimes).
export async function callAt(at: number, path: string, init: RequestInit = {}, bindings: Record<string, unknown> = env as unknown as Record<string, unknown>) {
  const ctx = createExecutionContext();
  const res = await createApp({ now: () => at }).fetch(new Request(`${BASE}${path}`, init), bindings, ctx);
  const body = await res.text();
  await waitOnExecutionContext(ctx);
  return { status: res.status, headers: res.headers, body };
}

export const ROOT = { authorization: `Bearer ${env.ADMIN_TOKEN}` };

// Fixed artifact hashes keep golden scripts readable.
export const KERNEL = "aa".repeat(32);
export const INITRD = "bb".repeat(32);

export async function seedSite(fields: Partial<typeof sites.$inferInsert> & { slug: string; bootKey?: string }) {
  const { bootKey, ...rest } = fields;
  const row = {
    id: `site-${fields.slug}`,
    name: `Site ${fields.slug}`,
    bootAuth: "open" as const,
    ...rest,
    ...(bootKey ? { bootKeyHash: await sha256Hex(bootKey) } : {}),
  };
  await db().insert(sites).values(row);
  return row;
}

export async function seedImage(fields: Partial<typeof images.$inferInsert> & { name: string; arch?: string }) {
  const arch = fields.arch ?? "x86_64";
  const row = {
    id: `img-${fields.name}-${arch}`,
    version: "1.0",
    artifacts: { kernel: KERNEL, initrd: [INITRD] },
    ...fields,
    arch,
  };
  await db().insert(images).values(row);
  return row;
}

export async function seedProfile(
  fields: Partial<Omit<typeof profiles.$inferInsert, "menu">> & { name: string; menu?: IpxeMenu | null },
) {
  const row = { id: `prf-${fields.name}`, cmdline: "", ...fields };
  await db().insert(profiles).values(row);
  return row;
}

export async function seedHost(
  fields: Partial<Omit<typeof hosts.$inferInsert, "intent" | "network">> & {
    siteId: string;
    id: string;
    intent?: BootIntent | null;
    network?: StaticNetwork | null;
  },
) {
  const row = { state: "ready" as const, ...fields };
  await db().insert(hosts).values(row);
  return row;
}

export async function seedRelay(fields: Partial<typeof relays.$inferInsert> & { siteId: string; id: string; credential?: string }) {
  const { credential, ...rest } = fields;
  const cred = credential ?? `ebr_${fields.id}_0123456789abcdef`;
  const row = { name: fields.id, credentialHash: await sha256Hex(cred), ...rest };
  await db().insert(relays).values(row);
  return { ...row, credential: cred };
}

// A relay's own Ed25519 key pair, registered (public half) on its row.
export async function relayKeyPair() {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  return { privateKey, publicJwk: (await exportJWK(publicKey)) as JsonWebKey };
}

export async function seedSecret(ref: { siteId: string | null; hostId: string | null; name: string }, value: string) {
  const sealed = await encryptSecret(env.SECRETS_KEY, secretScope(ref), value);
  await db().insert(secrets).values({ id: crypto.randomUUID(), ...ref, ...sealed });
}

export async function eventsOf(siteId: string) {
  const rows = await db().select().from(events);
  return rows.filter((e) => e.siteId === siteId).sort((a, b) => a.id - b.id);
}

export async function hostRow(id: string) {
  const [row] = await db().select().from(hosts).where(eq(hosts.id, id));
  return row ?? null;
}

// Host tokens sit in the path; tests compare scripts with the token replaced.
// (API URLs /boot/h/<token>/…, and a bound session's relay URLs <relay>/h/<token>/…).
export const TOKEN_IN_PATH = /\/h\/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)\//g;
export function tokensIn(body: string): string[] {
  return [...body.matchAll(TOKEN_IN_PATH)].map((m) => m[1]!);
}
export const withoutTokens = (body: string) => body.replace(TOKEN_IN_PATH, "/h/TOKEN/");

// What a host token grants, read the way the Worker reads it: the token names a boot session and an entry of it.
export async function tokenScope(token: string) {
  const payload = decodeJwt(token) as { sid: string; e?: number; exp: number };
  const session = await loadSession(env.DB, payload.sid);
  if (!session) throw new Error(`no boot session ${payload.sid}`);
  const entry = session.entries[payload.e ?? 0]!;
  return { ...session, sid: payload.sid, exp: payload.exp, profileId: entry.profileId, imageId: entry.imageId };
}
