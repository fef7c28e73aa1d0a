import { and, eq, inArray } from "drizzle-orm";
import { ApiError, notFound } from "../../errors.ts";
import type { Db } from "../client.ts";
import { artifacts, images, profiles, sites } from "../schema.ts";

export type SiteRow = typeof sites.$inferSelect;

export async function findSite(db: Db, slug: string): Promise<SiteRow> {
  const [row] = await db.select().from(sites).where(eq(sites.slug, slug)).limit(1);
  if (!row) throw notFound("site", { site: slug });
  return row;
}

// Profile names → ids; a name that does not exist is a 400 naming the field it came from.
export async function profileIds(db: Db, names: Iterable<string>, field: string): Promise<Map<string, string>> {
  const wanted = [...new Set(names)];
  const found = new Map<string, string>();
  // D1 binds at most 100 parameters per statement.
  for (let i = 0; i < wanted.length; i += 90) {
    const rows = await db.select({ id: profiles.id, name: profiles.name }).from(profiles).where(inArray(profiles.name, wanted.slice(i, i + 90)));
    for (const r of rows) found.set(r.name, r.id);
  }
  const missing = wanted.filter((n) => !found.has(n));
  if (missing.length) throw new ApiError("invalid_input", `unknown profile${missing.length > 1 ? "s" : ""}: ${missing.join(", ")}`, { field, missing });
  return found;
}

export async function profileId(db: Db, name: string, field: string): Promise<string> {
  return (await profileIds(db, [name], field)).get(name)!;
}

// Profile ids → names, for views (hosts and sites store ids, the API speaks names).
export async function profileNames(db: Db, ids: Iterable<string | null>): Promise<Map<string, string>> {
  const wanted = [...new Set([...ids].filter((id): id is string => id !== null))];
  const out = new Map<string, string>();
  for (let i = 0; i < wanted.length; i += 90) {
    const rows = await db.select({ id: profiles.id, name: profiles.name }).from(profiles).where(inArray(profiles.id, wanted.slice(i, i + 90)));
    for (const r of rows) out.set(r.id, r.name);
  }
  return out;
}

export async function requireImageName(db: Db, name: string, field: string): Promise<void> {
  const [row] = await db.select({ id: images.id }).from(images).where(eq(images.name, name)).limit(1);
  if (!row) throw new ApiError("invalid_input", `unknown image: ${name}`, { field, image: name });
}

// Every hash must name an artifact whose upload finished.
export async function requireReadyArtifacts(db: Db, hashes: string[]): Promise<void> {
  const wanted = [...new Set(hashes)];
  const ready = new Set<string>();
  for (let i = 0; i < wanted.length; i += 90) {
    const rows = await db
      .select({ sha256: artifacts.sha256 })
      .from(artifacts)
      .where(and(inArray(artifacts.sha256, wanted.slice(i, i + 90)), eq(artifacts.state, "ready")));
    for (const r of rows) ready.add(r.sha256);
  }
  const missing = wanted.filter((h) => !ready.has(h));
  if (missing.length) throw new ApiError("invalid_input", "image names artifacts that are not uploaded (PUT /v1/artifacts/:sha256 first)", { missing });
}
