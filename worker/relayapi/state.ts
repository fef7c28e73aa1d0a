import { and, asc, eq, gt, isNull } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { assignmentRules, hosts, images, profiles, relayCommands, sites } from "../db/schema.ts";
import { imageArtifactHashes } from "../artifacts/refs.ts";
import { siteImages } from "./plan.ts";

// Wake-on-LAN a quarter of an hour late is a surprise, not a service: older commands are not handed out.
export const COMMAND_TTL_MS = 15 * 60_000;

export type SiteState = Awaited<ReturnType<typeof loadSiteState>>;

// Everything a relay's snapshot is made of. Profiles and images are global and few, so they are read whole.
export async function loadSiteState(db: Db, siteId: string, now: number) {
  const [siteRows, hostRows, profileRows, imageRows, commandRows, ruleRows] = await db.batch([
    db.select().from(sites).where(eq(sites.id, siteId)).limit(1),
    db
      .select({
        mac: hosts.mac,
        uuid: hosts.uuid,
        serial: hosts.serial,
        hostname: hosts.hostname,
        arch: hosts.arch,
        ipxeBuild: hosts.ipxeBuild,
        state: hosts.state,
        profileId: hosts.profileId,
        intent: hosts.intent,
      })
      .from(hosts)
      .where(eq(hosts.siteId, siteId))
      .orderBy(asc(hosts.id)),
    db.select({ id: profiles.id, name: profiles.name, image: profiles.image, menu: profiles.menu }).from(profiles),
    db
      .select({ name: images.name, arch: images.arch, version: images.version, revision: images.revision, artifacts: images.artifacts })
      .from(images)
      .orderBy(asc(images.name), asc(images.arch)),
    db
      .select({ id: relayCommands.id, kind: relayCommands.kind, payload: relayCommands.payload, createdAt: relayCommands.createdAt })
      .from(relayCommands)
      .where(and(eq(relayCommands.siteId, siteId), isNull(relayCommands.deliveredAt), gt(relayCommands.createdAt, now - COMMAND_TTL_MS)))
      .orderBy(asc(relayCommands.createdAt), asc(relayCommands.id)),
    // Machines a rule assigns boot its profile's image: the relay prefetches it and may fetch its artifacts.
    db.select({ profileId: assignmentRules.profileId, selector: assignmentRules.selector }).from(assignmentRules).where(eq(assignmentRules.siteId, siteId)),
  ]);
  return { site: siteRows[0], hosts: hostRows, profiles: profileRows, images: imageRows, commands: commandRows, rules: ruleRows };
}

export function usedImages(state: SiteState, opts: { allArches?: boolean } = {}) {
  return siteImages({
    defaultProfileId: state.site?.defaultProfileId ?? null,
    hosts: state.hosts,
    rules: state.rules,
    profiles: state.profiles,
    images: state.images,
    allArches: opts.allArches ?? false,
  });
}

// A relay may fetch an artifact only if an image its site can boot names it.
export async function siteMayRead(db: Db, siteId: string, sha256: string, now: number): Promise<boolean> {
  const state = await loadSiteState(db, siteId, now);
  return usedImages(state, { allArches: true }).some((img) => imageArtifactHashes(img.artifacts).includes(sha256));
}
