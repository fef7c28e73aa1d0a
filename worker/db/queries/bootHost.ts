// Reads behind a host token (/boot/h/<token>/...): one batch each. The token names the host, site, profile and image
// of its boot session; a row that no longer matches (host deleted, moved to another site) reads as not found.
import { and, eq, isNull, or } from "drizzle-orm";
import type { Db } from "../client.ts";
import { hosts, images, profiles, secrets, sites } from "../schema.ts";

export type TokenScope = { hostId: string; siteId: string; profileId: string | null };

// withSecrets: false for a document that renders no template (meta-data), so its request reads no secret rows.
export async function loadNocloudContext(db: Db, t: TokenScope, withSecrets = true) {
  // No joins inside a batch: drizzle maps batched rows by column name, and joined tables share names (id, vars…).
  const [hostRows, siteRows, profileRows, secretRows = []] = await db.batch([
    db
      .select()
      .from(hosts)
      .where(and(eq(hosts.id, t.hostId), eq(hosts.siteId, t.siteId)))
      .limit(1),
    db.select().from(sites).where(eq(sites.id, t.siteId)).limit(1),
    db.select().from(profiles).where(eq(profiles.id, t.profileId ?? "")).limit(1),
    // Global, site and host secrets; the narrowest scope wins when names collide.
    ...(withSecrets
      ? [
          db
            .select()
            .from(secrets)
            .where(
              or(
                eq(secrets.hostId, t.hostId),
                and(eq(secrets.siteId, t.siteId), isNull(secrets.hostId)),
                and(isNull(secrets.siteId), isNull(secrets.hostId)),
              ),
            ),
        ]
      : []),
  ]);
  const [host] = hostRows;
  const [site] = siteRows;
  return host && site ? { host, site, profile: profileRows[0] ?? null, secrets: secretRows } : null;
}

// The host a token names, with whether it carries an intent (a host report may revert it).
export async function hostInSite(db: Db, t: { hostId: string; siteId: string }) {
  const [row] = await db
    .select({ id: hosts.id, intent: hosts.intent })
    .from(hosts)
    .where(and(eq(hosts.id, t.hostId), eq(hosts.siteId, t.siteId)))
    .limit(1);
  return row ?? null;
}

export async function loadTokenImage(db: Db, t: { hostId: string; siteId: string; imageId: string | null }) {
  const [hostRows, imageRows] = await db.batch([
    db.select({ id: hosts.id }).from(hosts).where(and(eq(hosts.id, t.hostId), eq(hosts.siteId, t.siteId))).limit(1),
    db.select({ artifacts: images.artifacts }).from(images).where(eq(images.id, t.imageId ?? "")).limit(1),
  ]);
  return hostRows[0] ? { image: imageRows[0] ?? null } : null;
}
