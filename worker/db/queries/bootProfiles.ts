// The profiles a boot decision needs (the profile, the profiles its menu items name) and their images for the
// candidate archs. The chain path reads the catalogue token (catalogue_version, replaced by triggers on every change
// to profiles or images) in its one read statement and reuses what it resolved under the same token, so a warm
// chain costs one D1 round trip; a miss costs a second. Cached maps are shared: callers only read them.
import { and, eq, getTableColumns, inArray, or, sql, type Column } from "drizzle-orm";
import { QueryBuilder } from "drizzle-orm/sqlite-core";
import type { Db } from "../client.ts";
import { prepareSelect, runPrepared } from "../prepared.ts";
import { catalogueVersion, images, profiles } from "../schema.ts";
import type { ImageRow, ProfileRef, ProfileRow, ProfileWithImages } from "./bootChain.ts";

const p = { id: sql.placeholder("id"), name: sql.placeholder("name"), arch: sql.placeholder("arch"), fallbackArch: sql.placeholder("fallbackArch") };

let statements: ReturnType<typeof build> | null = null;

function build() {
  const qb = new QueryBuilder();
  const named = or(eq(profiles.id, p.id), eq(profiles.name, p.name))!;
  const menuTargets = sql`(select json_extract(j.value, '$.target') from ${profiles} q, json_each(q.menu, '$.items') j where q.id = ${p.id} or q.name = ${p.name})`;
  const wanted = or(named, inArray(profiles.name, menuTargets))!;
  return [
    prepareSelect<ProfileRow>(qb.select().from(profiles).where(wanted), getTableColumns(profiles) as Record<string, Column>),
    prepareSelect<ImageRow>(
      qb
        .select()
        .from(images)
        .where(and(inArray(images.name, qb.select({ image: profiles.image }).from(profiles).where(wanted)), inArray(images.arch, [p.arch, p.fallbackArch]))),
      getTableColumns(images) as Record<string, Column>,
    ),
    catalogueTokenStatement(),
  ] as const;
}

const catalogueTokenStatement = () =>
  prepareSelect<{ token: string }>(new QueryBuilder().select({ token: catalogueVersion.token }).from(catalogueVersion).where(eq(catalogueVersion.id, 1)), {
    token: catalogueVersion.token,
  });

// One round trip: the profiles, their images, and the catalogue token they were read under.
export async function loadBootProfiles(db: Db, ref: ProfileRef, archs: string[]): Promise<{ profiles: Map<string, ProfileWithImages>; token: string | null }> {
  statements ??= build();
  const [arch = "", fallbackArch = arch] = archs;
  const [profileRows, imageRows, tokenRows] = await runPrepared(db.$client, statements, {
    id: ref.by === "id" ? ref.value : null,
    name: ref.by === "name" ? ref.value : null,
    arch,
    fallbackArch,
  });
  const byName = new Map<string, ProfileWithImages>();
  for (const profile of profileRows) byName.set(profile.name, { profile, images: imageRows.filter((i) => i.name === profile.image) });
  return { profiles: byName, token: tokenRows[0]?.token ?? null };
}

// Per isolate and per database binding: resolutions under one catalogue token. A new token drops the old ones.
const MAX_ENTRIES = 512;
type Resolved = { token: string; entries: Map<string, Map<string, ProfileWithImages>> };
const resolved = new WeakMap<D1Database, Resolved>();

export async function cachedBootProfiles(db: Db, ref: ProfileRef, archs: string[], token: string | null): Promise<Map<string, ProfileWithImages>> {
  const key = `${ref.by}:${ref.value}|${archs.join(",")}`;
  const current = resolved.get(db.$client);
  const hit = token !== null && current?.token === token ? current.entries.get(key) : undefined;
  if (hit) return hit;
  const loaded = await loadBootProfiles(db, ref, archs);
  // Filed under the token read with the rows, so a change between the two round trips cannot be cached as current.
  if (loaded.token !== null) {
    let entries = resolved.get(db.$client)?.token === loaded.token ? resolved.get(db.$client)!.entries : null;
    if (!entries || entries.size >= MAX_ENTRIES) resolved.set(db.$client, { token: loaded.token, entries: (entries = new Map()) });
    entries.set(key, loaded.profiles);
  }
  return loaded.profiles;
}
