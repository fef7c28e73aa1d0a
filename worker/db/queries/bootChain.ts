// Reads for the chain hot path. One batch keyed by the site slug and the machine's identity: site, authenticating
// relay, host candidates, a live relay cache, and (predicted in SQL from the same host pick) the profile the machine
// will boot, the profiles its menu names, and their images for the candidate archs. The handler checks the prediction
// against decide(); only when they differ (a write raced the batch) does it read the profiles again, so a chain
// costs one D1 round trip and at most two.
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
  // iPXE's ${buildarch}, for the image prediction.
  requestArch: string | null;
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
  const identity =
    or(q.mac ? eq(hosts.mac, q.mac) : undefined, q.uuid ? eq(hosts.uuid, q.uuid) : undefined, q.serial ? eq(hosts.serial, q.serial) : undefined) ?? sql`0`;
  const predicted = predictedProfiles(siteId, q, identity);
  const [siteRows, relayRows, hostRows, cacheRows, profileRows, imageRows] = await db.batch([
    db.select().from(sites).where(eq(sites.slug, q.siteSlug)).limit(1),
    // By credential hash (header) or by id (the kid of a relay-signed token); "" matches nothing.
    db
      .select(relayAuthColumns)
      .from(relays)
      .where(q.relayCredentialHash ? eq(relays.credentialHash, q.relayCredentialHash) : eq(relays.id, q.relayId ?? ""))
      .limit(1),
    db.select().from(hosts).where(and(eq(hosts.siteId, siteId), identity)).orderBy(hosts.createdAt).limit(10),
    liveCache(db, siteId, q.cacheSeenSince),
    // No joins inside a batch: drizzle maps batched rows by column name, and profiles and images share names.
    db.select().from(profiles).where(predicted.profiles),
    db.select().from(images).where(predicted.images),
  ]);
  return {
    site: siteRows[0] ?? null,
    relay: relayRows[0] ?? null,
    host: pickHost(hostRows, q),
    cacheUrl: cacheRows[0]?.cacheUrl ?? null,
    profiles: groupImages(profileRows, imageRows),
  };
}

// The same choice as plan.ts decide() and archCandidates(), in SQL over the host pickHost() would pick.
function predictedProfiles(siteId: SQL, q: ChainLookup, identity: SQL) {
  const rank = sql`case when ${hosts.mac} = ${q.mac ?? ""} then 0 when ${hosts.uuid} = ${q.uuid ?? ""} then 1 else 2 end`;
  const picked = (col: SQL) => sql`(select ${col} from ${hosts} where ${hosts.siteId} = ${siteId} and ${identity} order by ${rank}, ${hosts.createdAt} limit 1)`;
  const intent = picked(sql`${hosts.intent}`);
  const target = sql`json_extract(${intent}, '$.target')`;
  const hostProfile = picked(sql`${hosts.profileId}`);
  const siteDefault = sql`(select case when ${sites.unknownHostPolicy} = 'default' then ${sites.defaultProfileId} end from ${sites} where ${sites.slug} = ${q.siteSlug})`;
  const byId = sql`(case when ${intent} is null then coalesce(${hostProfile}, ${siteDefault}) end)`;
  const byName = sql`(case when ${target} <> 'local' then ${target} end)`;
  const main = or(eq(profiles.id, byId), eq(profiles.name, byName))!;
  const menuTargets = sql`(select json_extract(j.value, '$.target') from ${profiles} q, json_each(q.menu, '$.items') j where q.id = ${byId} or q.name = ${byName})`;
  const all = or(main, inArray(profiles.name, menuTargets))!;
  const hostArch = picked(sql`${hosts.arch}`);
  const requested = archCandidates(null, q.requestArch);
  return {
    profiles: all,
    images: and(
      inArray(images.name, sql`(select ${profiles.image} from ${profiles} where ${all})`),
      sql`((${hostArch} is not null and ${images.arch} = ${hostArch}) or (${hostArch} is null and ${inArray(images.arch, requested)}))`,
    ),
  };
}

/**
 * Image architectures to try, best first. iPXE reports its own build arch: BIOS iPXE is an i386 build even on
 * 64-bit machines, so i386 falls back to x86_64 images. A host's recorded arch pins it.
 */
export function archCandidates(hostArch: string | null | undefined, requestArch: string | null | undefined): string[] {
  if (hostArch) return [hostArch];
  const arch = requestArch || "x86_64";
  return arch === "i386" ? ["i386", "x86_64"] : [arch];
}

function groupImages(profileRows: ProfileRow[], imageRows: ImageRow[]): Map<string, ProfileWithImages> {
  const byName = new Map<string, ProfileWithImages>();
  for (const profile of profileRows) byName.set(profile.name, { profile, images: imageRows.filter((i) => i.name === profile.image) });
  return byName;
}

// Whether the loaded profiles hold the one a decision names (else the prediction lost a race with a write).
export const holdsProfile = (loaded: Map<string, ProfileWithImages>, ref: ProfileRef) =>
  ref.by === "name" ? loaded.has(ref.value) : [...loaded.values()].some((e) => e.profile.id === ref.value);

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
