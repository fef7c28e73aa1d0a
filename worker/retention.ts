// Event retention, run by the cron trigger (wrangler.toml `[triggers]`, `scheduled` in index.ts). Events are the one
// table that grows with every boot (~10 rows per boot), so each site keeps `event_retention_days` of them (default
// 30), plus each host's last boot timeline however old: its events from shortly before its newest `chain-served` on. Events of
// hosts that no longer exist, and of unknown machines, just age out. Deletes go in chunks so one statement stays
// well inside D1's per-query limits; a run stops after a bounded number of chunks and the next run continues.
import { pruneBootSessions } from "./db/queries/bootSessions.ts";

export const RETENTION_CHUNK = 2000;
export const RETENTION_MAX_CHUNKS = 250;
const DAY_MS = 86_400_000;
// DHCP, TFTP and the relay's events of a boot come shortly before its chain-served: they belong to that boot.
export const BOOT_LEAD_MS = 10 * 60_000;

// Old events of the site that are not part of their host's last boot: a `chain-served` of the same host more than
// BOOT_LEAD_MS newer exists (events_host_at), or the host is gone. Oldest first (events_site_at), so a partial run trims from the far end.
const DELETE_CHUNK = `DELETE FROM events WHERE id IN (
  SELECT e.id FROM events e WHERE e.site_id = ?1 AND e.at < ?2 AND (
    e.host_id IS NULL
    OR EXISTS (SELECT 1 FROM events n WHERE n.host_id = e.host_id AND n.at > e.at + ?4 AND n.phase = 'chain-served')
    OR NOT EXISTS (SELECT 1 FROM hosts h WHERE h.id = e.host_id))
  ORDER BY e.at LIMIT ?3)`;

export type RetentionResult = { sites: number; deleted: number; chunks: number; complete: boolean };

export async function applyRetention(d1: D1Database, now: number, opts: { chunk?: number; maxChunks?: number } = {}): Promise<RetentionResult> {
  const chunk = opts.chunk ?? RETENTION_CHUNK;
  const maxChunks = opts.maxChunks ?? RETENTION_MAX_CHUNKS;
  const { results: sites } = await d1.prepare("SELECT id, event_retention_days AS days FROM sites ORDER BY id").all<{ id: string; days: number }>();
  const statement = d1.prepare(DELETE_CHUNK);
  let deleted = 0;
  let chunks = 0;
  let complete = true;
  for (const site of sites) {
    const cutoff = now - site.days * DAY_MS;
    for (;;) {
      if (chunks >= maxChunks) {
        complete = false;
        break;
      }
      const { meta } = await statement.bind(site.id, cutoff, chunk, BOOT_LEAD_MS).run();
      chunks++;
      deleted += meta.changes;
      if (meta.changes < chunk) break;
    }
    if (!complete) break;
  }
  return { sites: sites.length, deleted, chunks, complete };
}

export async function scheduledRetention(d1: D1Database, scheduledTime: number): Promise<RetentionResult> {
  const result = await applyRetention(d1, scheduledTime);
  // Boot sessions past their maximum age (worker/db/queries/bootSessions.ts) go too: one row per chain otherwise grows.
  const sessionsDeleted = await pruneBootSessions(d1, scheduledTime);
  console.log(JSON.stringify({ msg: "event retention", ...result, sessionsDeleted }));
  return result;
}
