// Reads for the admin views of the boot path (dry-run render, explain, events): a site and one of its hosts.
import { and, eq, isNull, or } from "drizzle-orm";
import type { Db } from "../client.ts";
import { hosts, secrets, sites } from "../schema.ts";
import { notFound } from "../../errors.ts";
import { normalizeMac } from "../../lib/mac.ts";

export async function findSite(db: Db, slug: string) {
  const [site] = await db.select().from(sites).where(eq(sites.slug, slug)).limit(1);
  if (!site) throw notFound("site", { site: slug });
  return site;
}

// `:host` is a hostname, a MAC (any spelling) or the host id.
export async function findSiteHost(db: Db, slug: string, ref: string) {
  const mac = normalizeMac(ref);
  const [row] = await db
    .select({ site: sites, host: hosts })
    .from(hosts)
    .innerJoin(sites, eq(sites.id, hosts.siteId))
    .where(and(eq(sites.slug, slug), mac ? eq(hosts.mac, mac) : or(eq(hosts.hostname, ref.toLowerCase()), eq(hosts.id, ref))))
    .limit(1);
  if (!row) {
    await findSite(db, slug);
    throw notFound("host", { site: slug, host: ref });
  }
  return row;
}

// Names only: a dry-run shows where secrets go, never their values.
export function secretNamesFor(db: Db, t: { siteId: string; hostId: string }) {
  return db
    .select({ name: secrets.name, siteId: secrets.siteId, hostId: secrets.hostId })
    .from(secrets)
    .where(
      or(eq(secrets.hostId, t.hostId), and(eq(secrets.siteId, t.siteId), isNull(secrets.hostId)), and(isNull(secrets.siteId), isNull(secrets.hostId))),
    );
}
