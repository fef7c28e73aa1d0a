// Writes of the boot path, built as statements for one D1 batch (all or nothing), plus the admin events read.
import { and, desc, eq, gte, sql } from "drizzle-orm";
import type { Db } from "../client.ts";
import { auditLog, events, hosts, relays } from "../schema.ts";

export type EventInput = {
  siteId: string;
  hostId: string | null;
  mac: string | null;
  source: "worker" | "host";
  phase: string;
  bootSession: string | null;
  detail: Record<string, unknown>;
  at: number;
};

export const insertEvent = (db: Db, e: EventInput) => db.insert(events).values(e);

// Last seen and the identity the machine reported; boot-side bookkeeping, so the admin revision is not bumped.
export const touchHost = (db: Db, hostId: string, at: number, identity?: Record<string, string>, state?: "booting") =>
  db
    .update(hosts)
    .set({ lastSeenAt: at, ...(identity ? { lastIdentity: identity } : {}), ...(state ? { state } : {}) })
    .where(eq(hosts.id, hostId));

// A machine seen for the first time (discover / default policy). The id is derived from site + identity, so two
// racing first requests insert the same row once (the second insert is ignored).
export const insertSeenHost = (
  db: Db,
  row: { id: string; siteId: string; mac: string | null; uuid: string | null; serial: string | null; arch: string | null },
  at: number,
  identity: Record<string, string>,
  state: "discovered" | "booting",
) =>
  db
    .insert(hosts)
    .values({ ...row, state, lastSeenAt: at, lastIdentity: identity, createdAt: at, updatedAt: at })
    .onConflictDoNothing();

export const touchRelay = (db: Db, relayId: string, at: number) => db.update(relays).set({ lastSeenAt: at }).where(eq(relays.id, relayId));

// Phases a host reports that are also host states.
const STATE_PHASES: Record<string, "booted" | "installing" | "installed" | "failed"> = {
  booted: "booted",
  installing: "installing",
  installed: "installed",
  failed: "failed",
  "boot-failed": "failed",
};

export function hostPhaseWrites(db: Db, e: EventInput & { hostId: string }) {
  const state = STATE_PHASES[e.phase];
  const intentMatches = sql`json_extract(${hosts.intent}, '$.mode') = 'once' and coalesce(json_extract(${hosts.intent}, '$.revertOnPhase'), 'installed') = ${e.phase}`;
  return [
    insertEvent(db, e),
    // The audit row first: it is only written while the intent still matches, i.e. when the revert below applies.
    db.insert(auditLog).select(
      db
        // insert … select needs every column, in table order; a null id lets SQLite assign it.
        .select({
          id: sql<number>`null`.as("id"),
          at: sql<number>`${e.at}`.as("at"),
          actor: sql<string>`'boot'`.as("actor"),
          action: sql<string>`'host.intent.reverted'`.as("action"),
          resource: sql<string>`'host'`.as("resource"),
          resourceId: hosts.id,
          siteId: hosts.siteId,
          detail: sql<Record<string, unknown>>`json_object('phase', ${e.phase}, 'intent', json(${hosts.intent}))`.as("detail"),
        })
        .from(hosts)
        .where(and(eq(hosts.id, e.hostId), intentMatches)),
    ),
    // A one-shot intent reverts when the host reports the phase it names, never on a timer.
    db
      .update(hosts)
      .set({ intent: null, revision: sql`${hosts.revision} + 1`, updatedAt: e.at })
      .where(and(eq(hosts.id, e.hostId), intentMatches)),
    db
      .update(hosts)
      .set({ lastSeenAt: e.at, ...(state ? { state } : {}) })
      .where(eq(hosts.id, e.hostId)),
  ] as const;
}

export type EventFilter = { siteId: string; hostId?: string; phase?: string; since?: number; before?: [number, number] };

// Newest first; the cursor is (at, id) of the last row of the previous page.
export function listEvents(db: Db, f: EventFilter, limit: number) {
  return db
    .select()
    .from(events)
    .where(
      and(
        eq(events.siteId, f.siteId),
        f.hostId ? eq(events.hostId, f.hostId) : undefined,
        f.phase ? eq(events.phase, f.phase) : undefined,
        f.since !== undefined ? gte(events.at, f.since) : undefined,
        f.before ? sql`(${events.at}, ${events.id}) < (${f.before[0]}, ${f.before[1]})` : undefined,
      ),
    )
    .orderBy(desc(events.at), desc(events.id))
    .limit(limit + 1);
}

