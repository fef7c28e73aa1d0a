// Boot sessions (migration 0002): written with the chain that issues their tokens, read by every /boot/h/<token>/
// request, ended when the host reports done or chains again. Statements are plain SQL bound per request.
import type { BoundStatement } from "../prepared.ts";
import type { BootSessionEntry, SecretDelivery } from "../schema.ts";

export type BootSession = {
  id: string;
  siteId: string;
  hostId: string;
  mac: string | null;
  clientAddress: string | null;
  relayId: string | null;
  entries: BootSessionEntry[];
  hostRoot: string | null;
  delivery: SecretDelivery;
  state: "active" | "done" | "superseded";
  served: Record<string, number>;
  issuedAt: number;
  secretUntil: number;
  expiresAt: number;
  // SHA-256 of the issuing relay's credential while that relay is not revoked (for `bound`).
  relayCredentialHash: string | null;
};

export type NewBootSession = Omit<BootSession, "state" | "served" | "relayCredentialHash">;

// A host has one live session: a new chain supersedes the ones before it (their tokens stop working), then the new row.
export function issueSessionStatements(s: NewBootSession): BoundStatement[] {
  return [
    supersedeStatement(s.hostId, s.siteId, s.issuedAt),
    {
      sql: `insert into boot_sessions (id, site_id, host_id, mac, client_address, relay_id, entries, host_root, delivery, issued_at, secret_until, expires_at)
            values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      params: [s.id, s.siteId, s.hostId, s.mac, s.clientAddress, s.relayId, JSON.stringify(s.entries), s.hostRoot, s.delivery, s.issuedAt, s.secretUntil, s.expiresAt],
    },
  ];
}

// Without statistics SQLite picks boot_sessions_site_issued here and walks every session of the site (10,002 rows
// at 10k hosts after one boot each); the host's own index reads its few (test/worker/fleet/rowsRead.test.ts).
export const supersedeStatement = (hostId: string, siteId: string, at: number): BoundStatement => ({
  sql: `update boot_sessions indexed by boot_sessions_host_state set state = 'superseded', ended_at = ? where host_id = ? and site_id = ? and state != 'superseded'`,
  params: [at, hostId, siteId],
});

const SESSION_READ = `select s.id, s.site_id, s.host_id, s.mac, s.client_address, s.relay_id, s.entries, s.host_root, s.delivery, s.state,
  s.served, s.issued_at, s.secret_until, s.expires_at,
  (select r.credential_hash from relays r where r.id = s.relay_id and r.revoked_at is null) as relay_credential_hash
  from boot_sessions s where s.id = ?`;

type SessionRow = {
  id: string;
  site_id: string;
  host_id: string;
  mac: string | null;
  client_address: string | null;
  relay_id: string | null;
  entries: string;
  host_root: string | null;
  delivery: SecretDelivery;
  state: BootSession["state"];
  served: string;
  issued_at: number;
  secret_until: number;
  expires_at: number;
  relay_credential_hash: string | null;
};

export async function loadSession(d1: D1Database, sid: string): Promise<BootSession | null> {
  const row = await d1.prepare(SESSION_READ).bind(sid).first<SessionRow>();
  if (!row) return null;
  return {
    id: row.id,
    siteId: row.site_id,
    hostId: row.host_id,
    mac: row.mac,
    clientAddress: row.client_address,
    relayId: row.relay_id,
    entries: JSON.parse(row.entries) as BootSessionEntry[],
    hostRoot: row.host_root,
    delivery: row.delivery,
    state: row.state,
    served: JSON.parse(row.served) as Record<string, number>,
    issuedAt: row.issued_at,
    secretUntil: row.secret_until,
    expiresAt: row.expires_at,
    relayCredentialHash: row.relay_credential_hash,
  };
}

// JSON path of a served file's key (`user-data`, `files/<name>`): quoted, so any file name is one key.
const servedPath = (file: string) => `$.${JSON.stringify(file)}`;

// `once`: marks the file served only if it was not yet and the session is still active, as one conditional write;
// SQLite serialises writers, so of two racing fetches exactly one gets the row back.
export async function claimSecretFile(d1: D1Database, sid: string, file: string, at: number): Promise<boolean> {
  const path = servedPath(file);
  const row = await d1
    .prepare(`update boot_sessions set served = json_set(served, ?, ?), last_used_at = ? where id = ? and state = 'active' and json_type(served, ?) is null returning id`)
    .bind(path, at, at, sid, path)
    .first<{ id: string }>();
  return row !== null;
}

// `bound` and `open`: the first time a file was served is kept; later fetches are events only.
export const markServedStatement = (sid: string, file: string, at: number): BoundStatement => ({
  sql: `update boot_sessions set served = json_set(served, ?, coalesce(json_extract(served, ?), ?)), last_used_at = ? where id = ?`,
  params: [servedPath(file), servedPath(file), at, at, sid],
});

export const touchSessionStatement = (sid: string, at: number): BoundStatement => ({
  sql: `update boot_sessions set last_used_at = ? where id = ?`,
  params: [at, sid],
});

// The host reported its boot done (booted, installed, failed): secret-bearing files close; events stay open.
export const endSessionStatement = (sid: string, at: number): BoundStatement => ({
  sql: `update boot_sessions set state = 'done', ended_at = ?, last_used_at = ? where id = ? and state = 'active'`,
  params: [at, at, sid],
});

// Sessions past their maximum age can never be used again (their tokens' exp is the same instant): the cron
// deletes them in bounded chunks, oldest first (boot_sessions_expires).
export async function pruneBootSessions(d1: D1Database, now: number, opts: { chunk?: number; maxChunks?: number } = {}): Promise<number> {
  const chunk = opts.chunk ?? 2000;
  const maxChunks = opts.maxChunks ?? 50;
  const statement = d1.prepare(`delete from boot_sessions where id in (select id from boot_sessions where expires_at <= ? order by expires_at limit ?)`);
  let deleted = 0;
  for (let i = 0; i < maxChunks; i++) {
    const { meta } = await statement.bind(now, chunk).run();
    deleted += meta.changes;
    if (meta.changes < chunk) break;
  }
  return deleted;
}
