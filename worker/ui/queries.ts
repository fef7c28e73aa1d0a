// Summaries the status page adds to what the admin API returns. Called only with site and host ids the admin API
// has already returned to the same token, so they read nothing the token could not read through the API.
import { and, eq, gte, inArray, or, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { events, hosts, relays } from "../db/schema.ts";
import type { TimelineEvent } from "./timeline.ts";

export type StateCounts = Map<string, Record<string, number>>;

// Host counts by state per site.
export async function hostStateCounts(db: Db, siteIds: string[]): Promise<StateCounts> {
  const out: StateCounts = new Map(siteIds.map((id) => [id, {}]));
  if (!siteIds.length) return out;
  const rows = await db
    .select({ siteId: hosts.siteId, state: hosts.state, n: sql<number>`count(*)` })
    .from(hosts)
    .where(inArray(hosts.siteId, siteIds))
    .groupBy(hosts.siteId, hosts.state);
  for (const r of rows) out.get(r.siteId)![r.state] = r.n;
  return out;
}

export type RelaySummary = { siteId: string; name: string; lastSeenAt: number | null; revokedAt: number | null; softwareVersion: string | null };

export async function relaysOfSites(db: Db, siteIds: string[]): Promise<RelaySummary[]> {
  if (!siteIds.length) return [];
  return db
    .select({ siteId: relays.siteId, name: relays.name, lastSeenAt: relays.lastSeenAt, revokedAt: relays.revokedAt, softwareVersion: relays.softwareVersion })
    .from(relays)
    .where(inArray(relays.siteId, siteIds));
}

export type LastPhase = { phase: string; at: number };

// The newest event of each host on a page: one indexed probe per host (events_host_at), ids passed as one JSON array
// so a 500-host page stays one statement under D1's 100 bound parameters.
export async function lastPhases(db: Db, hostIds: string[]): Promise<Map<string, LastPhase>> {
  const out = new Map<string, LastPhase>();
  if (!hostIds.length) return out;
  const rows = await db.all<{ hostId: string; phase: string; at: number }>(sql`
    select j.value as hostId, e.phase as phase, e.at as at
    from json_each(${JSON.stringify(hostIds)}) j
    join ${events} e on e.id = (select x.id from ${events} x where x.host_id = j.value order by x.at desc, x.id desc limit 1)`);
  for (const r of rows) out.set(r.hostId, { phase: r.phase, at: r.at });
  return out;
}

export type CacheUse = { hits: number; misses: number; hitBytes: number; missBytes: number };
export const CACHE_WINDOW_MS = 24 * 3600_000;

// What each relay's artifact cache served in the last day, from its cache-hit / cache-miss events.
export async function relayCacheUse(db: Db, siteId: string, now: number): Promise<Map<string, CacheUse>> {
  const rows = await db.all<{ relay: string | null; phase: string; n: number; bytes: number | null }>(sql`
    select json_extract(${events.detail}, '$.relay') as relay, ${events.phase} as phase, count(*) as n,
           sum(coalesce(json_extract(${events.detail}, '$.bytes'), 0)) as bytes
    from ${events}
    where ${events.siteId} = ${siteId} and ${events.at} >= ${now - CACHE_WINDOW_MS} and ${events.phase} in ('cache-hit', 'cache-miss')
    group by 1, 2`);
  const out = new Map<string, CacheUse>();
  for (const r of rows) {
    if (typeof r.relay !== "string") continue;
    const u = out.get(r.relay) ?? { hits: 0, misses: 0, hitBytes: 0, missBytes: 0 };
    if (r.phase === "cache-hit") (u.hits += r.n), (u.hitBytes += r.bytes ?? 0);
    else (u.misses += r.n), (u.missBytes += r.bytes ?? 0);
    out.set(r.relay, u);
  }
  return out;
}

// How far back a host's timeline reaches before its newest event.
export const TIMELINE_WINDOW_MS = 2 * 3600_000;
const TIMELINE_MAX_EVENTS = 500;

const toEvent = (r: typeof events.$inferSelect): TimelineEvent => ({ id: r.id, at: r.at, source: r.source, phase: r.phase, mac: r.mac, detail: r.detail });

// A host's recent events: by host id or by its MAC (relay events that arrived before the host row existed), plus
// the site's MAC-less relay cache events of the same window (the caller keeps those from the host's addresses).
export async function hostTimelineEvents(db: Db, siteId: string, host: { id: string; mac: string | null }) {
  const [newest] = await db
    .select({ at: sql<number>`max(${events.at})` })
    .from(events)
    .where(eq(events.hostId, host.id));
  const anchors = [newest?.at ?? null];
  if (host.mac) {
    const [byMac] = await db.select({ at: sql<number>`max(${events.at})` }).from(events).where(and(eq(events.siteId, siteId), eq(events.mac, host.mac), gte(events.at, Date.now() - TIMELINE_WINDOW_MS * 12)));
    anchors.push(byMac?.at ?? null);
  }
  const latest = Math.max(...anchors.map((a) => a ?? 0));
  if (!latest) return { host: [], macless: [] };
  const rows = await db
    .select()
    .from(events)
    .where(
      and(
        eq(events.siteId, siteId),
        gte(events.at, latest - TIMELINE_WINDOW_MS),
        or(eq(events.hostId, host.id), host.mac ? eq(events.mac, host.mac) : undefined, and(sql`${events.mac} is null`, inArray(events.phase, ["cache-hit", "cache-miss"]))),
      ),
    )
    .orderBy(sql`${events.at} desc, ${events.id} desc`)
    .limit(TIMELINE_MAX_EVENTS);
  const asc = rows.reverse();
  return {
    host: asc.filter((r) => r.hostId === host.id || (host.mac !== null && r.mac === host.mac)).map(toEvent),
    macless: asc.filter((r) => r.mac === null && r.hostId !== host.id).map(toEvent),
  };
}

// Names for the hosts a page of events mentions.
export async function hostNames(db: Db, siteId: string, ids: string[]) {
  const out = new Map<string, { id: string; hostname: string | null; mac: string | null }>();
  const wanted = [...new Set(ids)];
  if (!wanted.length) return out;
  const rows = await db.all<{ id: string; hostname: string | null; mac: string | null }>(sql`
    select h.id as id, h.hostname as hostname, h.mac as mac from json_each(${JSON.stringify(wanted)}) j
    join ${hosts} h on h.id = j.value where h.site_id = ${siteId}`);
  for (const r of rows) out.set(r.id, r);
  return out;
}
