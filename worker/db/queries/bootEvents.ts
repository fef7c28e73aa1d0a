// Writes of the boot path, built as statements for one D1 batch (all or nothing), plus the admin events read.
import { and, desc, eq, gte, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { drizzle } from "drizzle-orm/d1";
import type { Db } from "../client.ts";
import { preparedWrite } from "../prepared.ts";
import { auditLog, bootSessions, events, hosts, relays } from "../schema.ts";

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

// The boot path's bookkeeping, as statements for its per-request batches (worker/boot/writeBehind.ts), with SQL
// built once per isolate. The builder never runs a query: it only turns drizzle builders into SQL text, so it needs
// no real binding.
const builder = drizzle({} as D1Database);
const ph = sql.placeholder;

export const insertEventStatement = preparedWrite<EventInput>(() =>
  builder.insert(events).values({
    siteId: ph("siteId"),
    hostId: ph("hostId"),
    mac: ph("mac"),
    source: ph("source"),
    phase: ph("phase"),
    bootSession: ph("bootSession"),
    detail: ph("detail"),
    at: ph("at"),
  }),
);

// Last seen and the identity the machine reported; boot-side bookkeeping, so the admin revision is not bumped.
// identity (JSON text) and state: null keeps the stored value.
const touchHostWrite = preparedWrite<{ id: string; at: number; identity: string | null; state: string | null }>(() =>
  builder
    .update(hosts)
    .set({ lastSeenAt: sql`${ph("at")}`, lastIdentity: sql`coalesce(${ph("identity")}, ${hosts.lastIdentity})`, state: sql`coalesce(${ph("state")}, ${hosts.state})` })
    .where(eq(hosts.id, ph("id"))),
);
export const touchHostStatement = (hostId: string, at: number, identity?: Record<string, string>, state?: "booting") =>
  touchHostWrite({ id: hostId, at, identity: identity ? JSON.stringify(identity) : null, state: state ?? null });

// Last seen is a hint for operators, kept to this granularity like a token's last use: a machine re-chaining in a loop
// or fetching its NoCloud files does not rewrite its row on every request (a storm's D1 writes are one at a time).
export const LAST_SEEN_GRANULARITY_MS = 60_000;

export const seenRecently = (lastSeenAt: number | null, at: number) => lastSeenAt !== null && at - lastSeenAt < LAST_SEEN_GRANULARITY_MS;

// The touch of a host row already read, or null while its last seen is fresh.
export const touchHostIfStale = (host: { id: string; lastSeenAt: number | null }, at: number) => (seenRecently(host.lastSeenAt, at) ? null : touchHostStatement(host.id, at));

const insertSeenHostWrite = preparedWrite<Record<string, unknown>>(() =>
  builder
    .insert(hosts)
    .values({
      id: ph("id"),
      siteId: ph("siteId"),
      mac: ph("mac"),
      uuid: ph("uuid"),
      serial: ph("serial"),
      arch: ph("arch"),
      state: ph("state"),
      lastSeenAt: ph("at"),
      lastIdentity: ph("identity"),
      createdAt: ph("at"),
      updatedAt: ph("at"),
    })
    .onConflictDoNothing(),
);
// A machine seen for the first time (discover / default policy). The id is derived from site + identity, so two
// racing first requests insert the same row once (the second insert is ignored).
export const insertSeenHostStatement = (
  row: { id: string; siteId: string; mac: string | null; uuid: string | null; serial: string | null; arch: string | null },
  at: number,
  identity: Record<string, string>,
  state: "discovered" | "booting",
) => insertSeenHostWrite({ ...row, at, identity, state });

const touchRelayWrite = preparedWrite<{ id: string; at: number }>(() => builder.update(relays).set({ lastSeenAt: sql`${ph("at")}` }).where(eq(relays.id, ph("id"))));
export const touchRelayStatement = touchRelayWrite;

// Phases a host reports that are also host states.
const STATE_PHASES: Record<string, "booted" | "installing" | "installed" | "failed"> = {
  booted: "booted",
  installing: "installing",
  installed: "installed",
  failed: "failed",
  "boot-failed": "failed",
};

// Phases that end a boot for its secret-bearing files (worker/boot/delivery.ts): the OS is up or installed, or the
// boot failed. The session's token keeps reporting events.
export const DONE_PHASES: ReadonlySet<string> = new Set(["booted", "installed", "failed", "boot-failed"]);

// intentSet: the host row read before had an intent. Without one, the revert and its audit row are left out (two
// statements less on every report); an intent set between that read and this batch belongs to the next boot.
export function hostPhaseWrites(db: Db, e: EventInput & { hostId: string; bootSession: string }, intentSet = true) {
  const state = STATE_PHASES[e.phase];
  const done = DONE_PHASES.has(e.phase);
  const intentMatches = sql`json_extract(${hosts.intent}, '$.mode') = 'once' and coalesce(json_extract(${hosts.intent}, '$.revertOnPhase'), 'installed') = ${e.phase}`;
  const revert = [
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
  ] as const;
  const writes: [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]] = [
    insertEvent(db, e),
    ...(intentSet ? revert : []),
    db
      .update(hosts)
      .set({ lastSeenAt: e.at, ...(state ? { state } : {}) })
      .where(eq(hosts.id, e.hostId)),
    db
      .update(bootSessions)
      .set({
        lastUsedAt: e.at,
        ...(done ? { state: sql`case when ${bootSessions.state} = 'active' then 'done' else ${bootSessions.state} end`, endedAt: sql`coalesce(${bootSessions.endedAt}, ${e.at})` } : {}),
      })
      .where(eq(bootSessions.id, e.bootSession)),
  ];
  return writes;
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

