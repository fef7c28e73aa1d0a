// Reads for the chain hot path: at most two D1 round trips. Round one is one batch keyed by the site slug (site,
// the authenticating relay, host candidates, a live relay cache); round two is one statement for the chosen profile,
// the profiles its menu names, and their images for the candidate architectures.
import { and, desc, eq, gt, inArray, isNotNull, isNull, or, sql, type SQL } from "drizzle-orm";
import type { Db } from "../client.ts";
import { hosts, images, profiles, relays, sites } from "../schema.ts";

export type SiteRow = typeof sites.$inferSelect;
export type HostRow = typeof hosts.$inferSelect;
export type ProfileRow = typeof profiles.$inferSelect;
export type ImageRow = typeof images.$inferSelect;

export type HostIdentity = { mac: string | null; uuid: string | null; serial: string | null };

export type ChainLookup = HostIdentity & {
  siteSlug: string;
  relayCredentialHash: string | null;
  relayId: string | null;
  // Relays last seen before this (ms) are not trusted to serve their cache.
  cacheSeenSince: number;
};

const relayAuthColumns = {
  id: relays.id,
  siteId: relays.siteId,
  credentialHash: relays.credentialHash,
  publicKeyJwk: relays.publicKeyJwk,
  revokedAt: relays.revokedAt,
};

export async function loadChainContext(db: Db, q: ChainLookup) {
  const siteId = sql`(select ${sites.id} from ${sites} where ${sites.slug} = ${q.siteSlug})`;
  const identity = or(
    q.mac ? eq(hosts.mac, q.mac) : undefined,
    q.uuid ? eq(hosts.uuid, q.uuid) : undefined,
    q.serial ? eq(hosts.serial, q.serial) : undefined,
  );
  const [siteRows, relayRows, hostRows, cacheRows] = await db.batch([
    db.select().from(sites).where(eq(sites.slug, q.siteSlug)).limit(1),
    // By credential hash (header) or by id (the kid of a relay-signed token); "" matches nothing.
    db
      .select(relayAuthColumns)
      .from(relays)
      .where(q.relayCredentialHash ? eq(relays.credentialHash, q.relayCredentialHash) : eq(relays.id, q.relayId ?? ""))
      .limit(1),
    db
      .select()
      .from(hosts)
      .where(and(eq(hosts.siteId, siteId), identity ?? sql`0`))
      .orderBy(hosts.createdAt)
      .limit(10),
    liveCache(db, siteId, q.cacheSeenSince),
  ]);
  return {
    site: siteRows[0] ?? null,
    relay: relayRows[0] ?? null,
    host: pickHost(hostRows, q),
    cacheUrl: cacheRows[0]?.cacheUrl ?? null,
  };
}

// The most recently seen relay of the site that registered a cache URL and is still polling.
export const liveCache = (db: Db, siteId: string | SQL, seenSince: number) =>
  db
    .select({ cacheUrl: relays.cacheUrl })
    .from(relays)
    .where(and(eq(relays.siteId, siteId), isNotNull(relays.cacheUrl), isNull(relays.revokedAt), gt(relays.lastSeenAt, seenSince)))
    .orderBy(desc(relays.lastSeenAt))
    .limit(1);

// MAC first, then UUID, then serial (DESIGN "Matching"); among equals the oldest record wins.
export function pickHost<H extends Pick<HostRow, "mac" | "uuid" | "serial">>(rows: H[], id: HostIdentity): H | null {
  return (
    (id.mac ? rows.find((h) => h.mac === id.mac) : undefined) ??
    (id.uuid ? rows.find((h) => h.uuid === id.uuid) : undefined) ??
    (id.serial ? rows.find((h) => h.serial === id.serial) : undefined) ??
    null
  );
}

export type ProfileRef = { by: "id" | "name"; value: string };

export type ProfileWithImages = { profile: ProfileRow; images: ImageRow[] };

// One statement: the profile, the profiles its menu items name, and their images for the candidate archs.
export async function loadBootProfiles(db: Db, ref: ProfileRef, archs: string[]): Promise<Map<string, ProfileWithImages>> {
  const match = ref.by === "id" ? sql`q.id = ${ref.value}` : sql`q.name = ${ref.value}`;
  const menuTargets = sql`(select json_extract(j.value, '$.target') from ${profiles} q, json_each(q.menu, '$.items') j where ${match})`;
  const rows = await db
    .select({ profile: profiles, image: images })
    .from(profiles)
    .leftJoin(images, and(eq(images.name, profiles.image), inArray(images.arch, archs.length ? archs : [""])))
    .where(or(ref.by === "id" ? eq(profiles.id, ref.value) : eq(profiles.name, ref.value), inArray(profiles.name, menuTargets)));
  const byName = new Map<string, ProfileWithImages>();
  for (const row of rows) {
    let entry = byName.get(row.profile.name);
    if (!entry) byName.set(row.profile.name, (entry = { profile: row.profile, images: [] }));
    if (row.image) entry.images.push(row.image);
  }
  return byName;
}
