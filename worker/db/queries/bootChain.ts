// Reads for the chain hot path: one statement keyed by the site slug and the machine's identity — site,
// authenticating relay, host candidates, the site's assignment rules, a live relay cache, and the catalogue token. The profiles the decision needs
// come from bootProfiles.ts, reused while the token is unchanged. SQL built once per isolate.
import { and, desc, eq, gt, isNotNull, isNull, sql, type Placeholder, type SQL } from "drizzle-orm";
import type { Db } from "../client.ts";
import { decodeJsonRows, jsonObjectOf, prepareRaw, runPrepared, type PreparedSelect } from "../prepared.ts";
import { assignmentRules, catalogueVersion, hosts, images, profiles, relays, sites } from "../schema.ts";

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
  // The authenticating relay's own LAN base, for `bound` delivery (seed and events URLs through that relay).
  cacheUrl: relays.cacheUrl,
};

// The read's values; a null never matches (`col = NULL` is not true), so absent identities drop out.
const p = {
  slug: sql.placeholder("slug"),
  mac: sql.placeholder("mac"),
  uuid: sql.placeholder("uuid"),
  serial: sql.placeholder("serial"),
  credentialHash: sql.placeholder("credentialHash"),
  relayId: sql.placeholder("relayId"),
  cacheSeenSince: sql.placeholder("cacheSeenSince"),
};

// Only what authentication, the decision, the render and the last-seen bookkeeping use: a site's vendor-data, say,
// can be kilobytes and has no business on every chain.
const chainSiteColumns = {
  id: sites.id,
  slug: sites.slug,
  name: sites.name,
  bootAuth: sites.bootAuth,
  bootKeyHash: sites.bootKeyHash,
  unknownHostPolicy: sites.unknownHostPolicy,
  defaultProfileId: sites.defaultProfileId,
  discoverRetrySeconds: sites.discoverRetrySeconds,
  hostTokenTtlSeconds: sites.hostTokenTtlSeconds,
  allowDirect: sites.allowDirect,
  secretDelivery: sites.secretDelivery,
  vars: sites.vars,
  // Names of the site's files for `{{ boot.files.<name> }}` on the kernel line.
  files: sites.files,
};
const chainHostColumns = {
  id: hosts.id,
  hostname: hosts.hostname,
  mac: hosts.mac,
  uuid: hosts.uuid,
  serial: hosts.serial,
  arch: hosts.arch,
  ipv4: hosts.ipv4,
  labels: hosts.labels,
  vars: hosts.vars,
  // Static addressing: the chain writes it onto the kernel line (network-config=, worker/render/kernelArgs.ts).
  network: hosts.network,
  profileId: hosts.profileId,
  intent: hosts.intent,
  state: hosts.state,
  lastSeenAt: hosts.lastSeenAt,
  lastIdentity: hosts.lastIdentity,
};
// A site's rules (worker/assign/): few per site (MAX_RULES_PER_SITE), read through the (site_id, name) index.
const chainRuleColumns = {
  name: assignmentRules.name,
  profileId: assignmentRules.profileId,
  selector: assignmentRules.selector,
};
export type ChainRule = Pick<typeof assignmentRules.$inferSelect, keyof typeof chainRuleColumns>;
export type ChainSite = Pick<SiteRow, keyof typeof chainSiteColumns>;
export type ChainHost = Pick<HostRow, keyof typeof chainHostColumns>;

type ChainReadRow = {
  site: string | null;
  relay: string | null;
  byMac: string | null;
  byUuid: string | null;
  bySerial: string | null;
  rules: string | null;
  cacheUrl: string | null;
  token: string | null;
};

// One statement, one row: each read is a scalar subquery yielding JSON. D1 prepares every statement it runs (and
// prepares it again once bound), so one statement costs far less than a batch of five. The host candidates are the
// MAC match and, without one, the oldest UUID and serial matches (what pickHost chooses among), found with min()
// rather than an ordered subquery: bound parameters under ORDER BY in a subquery cost D1 a fresh query plan on every
// call.
let chainRead: PreparedSelect<ChainReadRow> | null = null;

function buildChainRead() {
  const siteId = sql`(select ${sites.id} from ${sites} where ${sites.slug} = ${p.slug})`;
  const host = jsonObjectOf(chainHostColumns);
  // A UUID or serial is the machine's own claim, and PXE broadcasts its UUID (option 97) to the whole LAN: a request
  // that carries a MAC (a relay's is one it learned from the client) matches by them only records that have no MAC,
  // never another NIC's host (else any LAN machine sending the victim's uuid= got its chain, tokens and secrets).
  const claimable = sql`(h.mac is null or ${p.mac} is null)`;
  const oldest = (column: "uuid" | "serial", value: Placeholder) =>
    sql`(select ${host} from ${hosts} h where h.site_id = ${siteId} and h.${sql.raw(column)} = ${value} and ${claimable}
         and h.created_at = (select min(o.created_at) from ${hosts} o where o.site_id = h.site_id and o.${sql.raw(column)} = h.${sql.raw(column)}
           and (o.mac is null or ${p.mac} is null)) limit 1)`;
  // UUID and serial candidates matter only when no host has the MAC (pickHost's order); CASE skips their reads.
  const byMac = sql`(select ${host} from ${hosts} where ${hosts.siteId} = ${siteId} and ${hosts.mac} = ${p.mac})`;
  // The relay: by credential hash (header) or by id (the kid of a relay-signed token); the caller sets at most one.
  const query = sql`select
    (select ${jsonObjectOf(chainSiteColumns)} from ${sites} where ${sites.slug} = ${p.slug}) as site,
    (select ${jsonObjectOf(relayAuthColumns)} from ${relays} where ${relays.credentialHash} = ${p.credentialHash} or ${relays.id} = ${p.relayId} limit 1) as relay,
    ${byMac} as by_mac,
    case when ${byMac} is null then ${oldest("uuid", p.uuid)} end as by_uuid,
    case when ${byMac} is null then ${oldest("serial", p.serial)} end as by_serial,
    (select json_group_array(${jsonObjectOf(chainRuleColumns)}) from ${assignmentRules} where ${assignmentRules.siteId} = ${siteId}) as rules,
    (select ${relays.cacheUrl} from ${relays} where ${liveCacheWhere(siteId, p.cacheSeenSince)} order by ${relays.lastSeenAt} desc limit 1) as cache_url,
    (select ${catalogueVersion.token} from ${catalogueVersion} where ${catalogueVersion.id} = 1) as token`;
  return prepareRaw<ChainReadRow>(query, {
    site: "site",
    relay: "relay",
    byMac: "by_mac",
    byUuid: "by_uuid",
    bySerial: "by_serial",
    rules: "rules",
    cacheUrl: "cache_url",
    token: "token",
  });
}

export async function loadChainContext(db: Db, q: ChainLookup) {
  chainRead ??= buildChainRead();
  const [rows] = await runPrepared(db.$client, [chainRead] as const, {
    slug: q.siteSlug,
    mac: q.mac,
    uuid: q.uuid,
    serial: q.serial,
    credentialHash: q.relayCredentialHash,
    relayId: q.relayCredentialHash ? null : q.relayId,
    cacheSeenSince: q.cacheSeenSince,
  });
  const row = rows[0];
  const candidates = [row?.byMac, row?.byUuid, row?.bySerial].flatMap((json) => decodeJsonRows<ChainHost>(json, chainHostColumns));
  return {
    site: decodeJsonRows<ChainSite>(row?.site, chainSiteColumns)[0] ?? null,
    relay: decodeJsonRows<RelayAuthRow>(row?.relay, relayAuthColumns)[0] ?? null,
    host: pickHost(candidates, q),
    rules: decodeJsonRows<ChainRule>(row?.rules, chainRuleColumns),
    cacheUrl: row?.cacheUrl ?? null,
    catalogueToken: row?.token ?? null,
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

// MAC first, then UUID, then serial (DESIGN "Matching"); among equals the oldest record wins. With a MAC in the
// request, UUID and serial match only records without a MAC (see buildChainRead).
export function pickHost<H extends Pick<HostRow, "mac" | "uuid" | "serial">>(rows: H[], id: HostIdentity): H | null {
  const claimable = (h: H) => h.mac === null || !id.mac;
  return (
    (id.mac ? rows.find((h) => h.mac === id.mac) : undefined) ??
    (id.uuid ? rows.find((h) => h.uuid === id.uuid && claimable(h)) : undefined) ??
    (id.serial ? rows.find((h) => h.serial === id.serial && claimable(h)) : undefined) ??
    null
  );
}

export type ProfileRef = { by: "id" | "name"; value: string };

export type ProfileWithImages = { profile: ProfileRow; images: ImageRow[] };
