import { and, eq, inArray, ne, or } from "drizzle-orm";
import { ApiError, notFound } from "../../errors.ts";
import { normalizeMac } from "../../lib/mac.ts";
import type { Db } from "../client.ts";
import { hosts } from "../schema.ts";

export type HostRow = typeof hosts.$inferSelect;

// `:host` is a MAC in any common notation or a hostname (hostnames that read as MACs are refused at write time,
// so the two never collide); the host id is accepted too, for hosts that have neither yet.
export async function findHost(db: Db, siteId: string, ref: string): Promise<HostRow> {
  const mac = normalizeMac(ref);
  const [row] = await db
    .select()
    .from(hosts)
    .where(and(eq(hosts.siteId, siteId), mac ? eq(hosts.mac, mac) : or(eq(hosts.hostname, ref.toLowerCase()), eq(hosts.id, ref))))
    .limit(1);
  if (!row) throw notFound("host", { host: ref });
  return row;
}

export type Identity = { hostname?: string | null; mac?: string | null };

// MACs and hostnames are unique per site; name every clash rather than letting the UNIQUE index say "conflict".
export async function findClashes(db: Db, siteId: string, wanted: Identity[], excludeId?: string) {
  const macs = wanted.map((w) => w.mac).filter((v): v is string => Boolean(v));
  const names = wanted.map((w) => w.hostname).filter((v): v is string => Boolean(v));
  const clashes: { field: "mac" | "hostname"; value: string; host: string }[] = [];
  // D1 binds at most 100 parameters per statement.
  for (let i = 0; i < Math.max(macs.length, names.length); i += 45) {
    const m = macs.slice(i, i + 45);
    const n = names.slice(i, i + 45);
    const rows = await db
      .select({ id: hosts.id, mac: hosts.mac, hostname: hosts.hostname })
      .from(hosts)
      .where(
        and(
          eq(hosts.siteId, siteId),
          or(m.length ? inArray(hosts.mac, m) : undefined, n.length ? inArray(hosts.hostname, n) : undefined),
          excludeId ? ne(hosts.id, excludeId) : undefined,
        ),
      );
    for (const r of rows) {
      if (r.mac && m.includes(r.mac)) clashes.push({ field: "mac", value: r.mac, host: r.hostname ?? r.mac });
      if (r.hostname && n.includes(r.hostname)) clashes.push({ field: "hostname", value: r.hostname, host: r.hostname });
    }
  }
  return clashes;
}

export async function requireNoClash(db: Db, siteId: string, wanted: Identity, excludeId?: string) {
  const clashes = await findClashes(db, siteId, [wanted], excludeId);
  if (clashes.length) {
    const first = clashes[0]!;
    throw new ApiError("conflict", `another host in this site already has ${first.field} ${first.value}`, { clashes });
  }
}
