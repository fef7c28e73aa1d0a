import { sql } from "drizzle-orm";
import type { Db } from "../client.ts";
import { auditLog } from "../schema.ts";

export type AuditEntry = {
  actor: string;
  action: string;
  resource: string;
  resourceId: string | null;
  siteId?: string | null;
  detail?: Record<string, unknown>;
};

// An audit row for a statement that cannot silently do nothing (a plain INSERT fails the whole batch instead).
export const audit = (db: Db, entry: AuditEntry) =>
  db.insert(auditLog).values({ ...entry, siteId: entry.siteId ?? null, detail: entry.detail ?? {} });

// An audit row only if the statement just before it in the same batch changed a row. Guarded UPDATE/DELETE
// statements (`WHERE revision = ?`) may match nothing when they lose a race; then nothing happened, so nothing is
// logged. SQLite's changes() counts rows changed by the most recent INSERT/UPDATE/DELETE on the connection, and a
// D1 batch runs its statements in order on one connection, inside one transaction.
export const auditIfChanged = (db: Db, entry: AuditEntry) =>
  // Columns in table order (id, at, actor, action, resource, resource_id, site_id, detail); a null id autoincrements.
  // (drizzle's db.run(sql) cannot be batched with bound parameters, insert … select can.)
  db.insert(auditLog).select(
    sql`select null, ${NOW_MS}, ${entry.actor}, ${entry.action}, ${entry.resource}, ${entry.resourceId}, ${entry.siteId ?? null}, ${JSON.stringify(entry.detail ?? {})}
        where changes() > 0`,
  );

const NOW_MS = sql`cast(unixepoch('subsecond') * 1000 as integer)`;
