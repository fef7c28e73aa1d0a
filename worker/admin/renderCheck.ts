// Save-time proof that what is being saved still renders for every host it reaches: the kernel line (with real-length
// host tokens and the host's network-config=, within Linux's budget) and each NoCloud document, through the same
// renderers as the boot path, with secret placeholders in the template's reach (boot/nocloud.ts SecretReach).
// Nothing is stored when a host fails; the error names the field and the host.
// Bound: at most MAX_CHECKED_HOSTS hosts per save (a profile assigned to more is checked on that many, the oldest
// first; the rest fail at render time with render_failed, as before). Menu entries are checked through the dry run.
import { and, eq, inArray, isNull, or, sql, type SQL } from "drizzle-orm";
import { archCandidates } from "../boot/plan.ts";
import { previewMinter, type PreviewMinter } from "../boot/previewTokens.ts";
import { bootEntry } from "../boot/renderChain.ts";
import { nocloudTemplate, type SecretReach } from "../boot/nocloud.ts";
import { templateContext } from "../boot/templateContext.ts";
import { cacheBase, eventsUrl, seedUrl } from "../boot/urls.ts";
import type { Db } from "../db/client.ts";
import { liveCache, type HostRow, type ImageRow, type ProfileRow, type SiteRow } from "../db/queries/bootChain.ts";
import { hosts, images, profiles, secrets, sites } from "../db/schema.ts";
import { fileUrls, pickFile } from "../boot/files.ts";
import { renderFile } from "../render/files.ts";
import type { Env } from "../env.ts";
import { ApiError } from "../errors.ts";
import { RELAY_HEALTHY_MS } from "../relayapi/health.ts";
import { renderDocument } from "../render/documents.ts";
import { kernelLine } from "../render/ipxe.ts";
import { compileTemplate, secretNames, TemplateError } from "../render/template.ts";
import { CmdlineError } from "../render/ipxe.ts";

export const MAX_CHECKED_HOSTS = 1000;
// D1 binds at most 100 parameters per statement.
const CHUNK = 90;

export type RenderProblem = { field: string; site: string; host: string; message: string };
type SecretName = { name: string; siteId: string | null; hostId: string | null };

export type CheckInput = {
  db: Db;
  env: Pick<Env, "SIGNING_KEYS">;
  base: string;
  // Which field an over-long kernel line is blamed on: the profile's cmdline, or the host's network.
  lineField: "cmdline" | "network";
  // What the save would store, applied over the rows read (the check runs before the write).
  overrides?: { site?: Partial<SiteRow> & { id: string }; profile?: Partial<ProfileRow> & { id: string }; host?: Partial<HostRow> & { id: string } };
};

async function inChunks<T>(ids: string[], read: (chunk: string[]) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  const unique = [...new Set(ids)];
  for (let i = 0; i < unique.length; i += CHUNK) out.push(...(await read(unique.slice(i, i + CHUNK))));
  return out;
}

// The profiles a host may boot: its intent's target (by name) and its own profile.
function bootedBy(host: HostRow, byId: Map<string, ProfileRow>, byName: Map<string, ProfileRow>): ProfileRow[] {
  const out: ProfileRow[] = [];
  const own = host.profileId ? byId.get(host.profileId) : undefined;
  if (own) out.push(own);
  const target = host.intent && host.intent.target !== "local" ? byName.get(host.intent.target) : undefined;
  if (target && target !== own) out.push(target);
  return out;
}

async function checkOne(
  input: CheckInput,
  site: SiteRow,
  host: HostRow,
  profile: ProfileRow,
  image: ImageRow | undefined,
  names: SecretName[],
  minter: PreviewMinter,
  cache: string | null,
): Promise<RenderProblem[]> {
  const where = { site: site.slug, host: host.hostname ?? host.mac ?? host.id };
  const problems: RenderProblem[] = [];
  const fail = (field: string, err: unknown) => {
    if (err instanceof TemplateError || err instanceof CmdlineError) problems.push({ field, ...where, message: err.message });
    else throw err;
  };
  if (image?.artifacts?.kernel) {
    try {
      const entry = await bootEntry({ site, host, base: input.base, cache }, { profile, image }, await minter.mint({ profile, image }));
      try {
        kernelLine(entry);
      } catch (err) {
        fail(host.network ? input.lineField : "cmdline", err);
      }
    } catch (err) {
      fail("cmdline", err);
    }
  }
  const token = minter.minted[0] ?? "";
  for (const file of ["user-data", "vendor-data", "network-config"] as const) {
    if (file === "network-config" && host.network) continue;
    const { field, text, reach } = nocloudTemplate(file, { site, profile });
    if (!text) continue;
    const wanted = new Set(secretNames(compileTemplate(text)));
    const secret = secretPlaceholders(names, host, site, wanted, reach);
    const ctx = templateContext({ site, profile, host, boot: { baseUrl: input.base, seedUrl: seedUrl(input.base, token), eventsUrl: eventsUrl(input.base, token) }, secrets: secret });
    try {
      renderDocument(field, text, ctx);
    } catch (err) {
      // The site's vendor-data is the site's field; the profile's documents are the profile's.
      fail(field === "vendorData" && reach === "site" ? "vendorData" : field, err);
    }
  }
  // Per-host files (boot/files.ts), each as the host would get it.
  const fileNames = new Set([...Object.keys(site.files ?? {}), ...Object.keys(profile.files ?? {})]);
  for (const name of fileNames) {
    const file = pickFile(name, { site, profile });
    if (!file) continue;
    const secret = secretPlaceholders(names, host, site, new Set(secretNames(compileTemplate(file.template))), file.reach);
    const boot = { baseUrl: input.base, seedUrl: seedUrl(input.base, token), eventsUrl: eventsUrl(input.base, token), files: fileUrls({ site, profile, base: input.base, token }) };
    try {
      renderFile(file.kind, file.template, templateContext({ site, profile, host, boot, secrets: secret }));
    } catch (err) {
      fail(`files.${name}.template`, err);
    }
  }
  return problems;
}

// A placeholder for each wanted secret the host would get within the template's reach.
function secretPlaceholders(names: SecretName[], host: HostRow, site: SiteRow, wanted: Set<string>, reach: SecretReach): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of names) {
    if (!wanted.has(s.name)) continue;
    const applies = s.hostId ? s.hostId === host.id : s.siteId ? s.siteId === site.id : reach === "catalogue";
    if (applies) out[s.name] = `secret-${s.name}`;
  }
  return out;
}

/** Hosts matching `filter` (at most MAX_CHECKED_HOSTS) rendered with what the save would store. */
export async function renderProblems(input: CheckInput, filter: SQL): Promise<RenderProblem[]> {
  const { db, overrides = {} } = input;
  const apply = <T extends { id: string }>(row: T, o?: Partial<T> & { id: string }) => (o && o.id === row.id ? { ...row, ...o } : row);
  let hostRows = (await db.select().from(hosts).where(filter).orderBy(hosts.createdAt).limit(MAX_CHECKED_HOSTS)) as HostRow[];
  if (overrides.host && !hostRows.some((h) => h.id === overrides.host!.id)) hostRows = [...hostRows, overrides.host as HostRow];
  hostRows = hostRows.map((h) => apply(h, overrides.host));
  if (!hostRows.length) return [];

  const siteRows = (await inChunks(hostRows.map((h) => h.siteId), (ids) => db.select().from(sites).where(inArray(sites.id, ids)))).map((s) => apply(s, overrides.site));
  const profileIds = hostRows.map((h) => h.profileId).filter((x): x is string => Boolean(x));
  const targets = hostRows.map((h) => (h.intent && h.intent.target !== "local" ? h.intent.target : null)).filter((x): x is string => Boolean(x));
  const profileRows = [
    ...(await inChunks(profileIds, (ids) => db.select().from(profiles).where(inArray(profiles.id, ids)))),
    ...(await inChunks(targets, (names) => db.select().from(profiles).where(inArray(profiles.name, names)))),
  ].map((p) => apply(p, overrides.profile));
  if (overrides.profile && !profileRows.some((p) => p.id === overrides.profile!.id) && (overrides.profile as ProfileRow).name) profileRows.push(overrides.profile as ProfileRow);
  const byId = new Map(profileRows.map((p) => [p.id, p]));
  const byName = new Map(profileRows.map((p) => [p.name, p]));
  const imageRows = await inChunks(profileRows.map((p) => p.image).filter((x): x is string => Boolean(x)), (names) => db.select().from(images).where(inArray(images.name, names)));
  const secretRows = await inChunks(siteRows.map((s) => s.id), (ids) =>
    db.select({ name: secrets.name, siteId: secrets.siteId, hostId: secrets.hostId }).from(secrets).where(or(inArray(secrets.siteId, ids), and(isNull(secrets.siteId), isNull(secrets.hostId)))),
  );
  const unique = new Map(secretRows.map((r) => [`${r.siteId}/${r.hostId}/${r.name}`, r]));
  const names = [...unique.values()];
  const caches = new Map<string, string | null>();
  for (const s of siteRows) caches.set(s.id, cacheBase((await liveCache(db, s.id, Date.now() - RELAY_HEALTHY_MS))[0]?.cacheUrl ?? null));

  const problems: RenderProblem[] = [];
  for (const host of hostRows) {
    const site = siteRows.find((s) => s.id === host.siteId);
    if (!site) continue;
    for (const profile of bootedBy(host, byId, byName)) {
      const archs = archCandidates(host.arch, null);
      const image = imageRows.find((i) => i.name === profile.image && archs.includes(i.arch));
      // A fresh minter per boot: the chain's token for a single profile is entry 0, as here.
      const minter = await previewMinter(input.env, Date.now());
      problems.push(...(await checkOne(input, site, host, profile, image, names, minter, caches.get(site.id) ?? null)));
      if (problems.length >= 20) return problems;
    }
  }
  return problems;
}

export async function requireRenderable(input: CheckInput, filter: SQL): Promise<void> {
  const problems = await renderProblems(input, filter);
  if (!problems.length) return;
  const first = problems[0]!;
  throw new ApiError("invalid_input", `${first.field} would not render for host "${first.host}" (site "${first.site}"): ${first.message}`, { field: first.field, problems });
}

// Filters for the callers.
export const hostsOfProfile = (p: { id: string; name: string }) => sql`${hosts.profileId} = ${p.id} or json_extract(${hosts.intent}, '$.target') = ${p.name}`;
export const hostsOfSite = (siteId: string) => eq(hosts.siteId, siteId);
export const oneHost = (hostId: string) => eq(hosts.id, hostId);
