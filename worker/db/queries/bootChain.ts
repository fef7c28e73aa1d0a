// Reads for the chain hot path: one batch of simple statements keyed by the site slug and the machine's identity —
// site, authenticating relay, host candidates, a live relay cache, and the catalogue token. The profiles the decision
// needs come from bootProfiles.ts, reused while the token is unchanged. Statements are built once per isolate.
import { and, desc, eq, getTableColumns, gt, isNotNull, isNull, or, sql, type Column, type Placeholder, type SQL, type Table } from "drizzle-orm";
import { QueryBuilder } from "drizzle-orm/sqlite-core";
import type { Db } from "../client.ts";
import { prepareSelect, runPrepared } from "../prepared.ts";
import { catalogueTokenStatement } from "./bootProfiles.ts";
import { hosts, images, profiles, relays, sites } from "../schema.ts";

export type SiteRow = typeof sites.$inferSelect;
export type HostRow = typeof hosts.$inferSelect;
export type ProfileRow = typeof profiles.$inferSelect;
export type ImageRow = typeof images.$inferSelect;
export type RelayAuthRow = Pick<typeof relays.$inferSelect, keyof typeof relayAuthColumns>;

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

// The read batch's values; a null never matches (`col = NULL` is not true), so absent identities drop out.
const p = {
  slug: sql.placeholder("slug"),
  mac: sql.placeholder("mac"),
  uuid: sql.placeholder("uuid"),
  serial: sql.placeholder("serial"),
  credentialHash: sql.placeholder("credentialHash"),
  relayId: sql.placeholder("relayId"),
  cacheSeenSince: sql.placeholder("cacheSeenSince"),
};

let chainBatch: ReturnType<typeof buildChainBatch> | null = null;

function buildChainBatch() {
  const qb = new QueryBuilder();
  const siteId = sql`(select ${sites.id} from ${sites} where ${sites.slug} = ${p.slug})`;
  const identity = or(eq(hosts.mac, p.mac), eq(hosts.uuid, p.uuid), eq(hosts.serial, p.serial))!;
  const all = <T extends Table>(table: T) => getTableColumns(table) as Record<string, Column>;
  return [
    prepareSelect<SiteRow>(qb.select().from(sites).where(eq(sites.slug, p.slug)).limit(1), all(sites)),
    // By credential hash (header) or by id (the kid of a relay-signed token); the caller sets at most one.
    prepareSelect<RelayAuthRow>(
      qb.select(relayAuthColumns).from(relays).where(or(eq(relays.credentialHash, p.credentialHash), eq(relays.id, p.relayId))).limit(1),
      relayAuthColumns,
    ),
    prepareSelect<HostRow>(qb.select().from(hosts).where(and(eq(hosts.siteId, siteId), identity)).orderBy(hosts.createdAt).limit(10), all(hosts)),
    prepareSelect<{ cacheUrl: string | null }>(
      qb.select({ cacheUrl: relays.cacheUrl }).from(relays).where(liveCacheWhere(siteId, p.cacheSeenSince)).orderBy(desc(relays.lastSeenAt)).limit(1),
      { cacheUrl: relays.cacheUrl },
    ),
    catalogueTokenStatement(),
  ] as const;
}

export async function loadChainContext(db: Db, q: ChainLookup) {
  chainBatch ??= buildChainBatch();
  const [siteRows, relayRows, hostRows, cacheRows, tokenRows] = await runPrepared(db.$client, chainBatch, {
    slug: q.siteSlug,
    mac: q.mac,
    uuid: q.uuid,
    serial: q.serial,
    credentialHash: q.relayCredentialHash,
    relayId: q.relayCredentialHash ? null : q.relayId,
    cacheSeenSince: q.cacheSeenSince,
  });
  return {
    site: siteRows[0] ?? null,
    relay: relayRows[0] ?? null,
    host: pickHost(hostRows, q),
    cacheUrl: cacheRows[0]?.cacheUrl ?? null,
    catalogueToken: tokenRows[0]?.token ?? null,
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

// The most recently seen relay of the site that registered a cache URL and is still polling.
const liveCacheWhere = (siteId: string | SQL, seenSince: number | SQL | Placeholder) =>
  and(eq(relays.siteId, siteId), isNotNull(relays.cacheUrl), isNull(relays.revokedAt), gt(relays.lastSeenAt, seenSince));

export const liveCache = (db: Db, siteId: string, seenSince: number) =>
  db.select({ cacheUrl: relays.cacheUrl }).from(relays).where(liveCacheWhere(siteId, seenSince)).orderBy(desc(relays.lastSeenAt)).limit(1);

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
