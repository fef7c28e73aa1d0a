import { z } from "zod";

// Token scopes: `admin` (everything), `read` (GET/HEAD on everything but tokens and audit), `site:<slug>` (read and
// write within that one site, read of the global catalogue: profiles and images). Pure, so the matrix is unit-testable.
export const SITE_SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export const Scope = z.union([
  z.literal("admin"),
  z.literal("read"),
  z.string().regex(/^site:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, "site scope is site:<slug>"),
]);
export type Scope = z.infer<typeof Scope>;

export type AccessMode = "read" | "write";

export const isAdmin = (scopes: readonly string[]) => scopes.includes("admin");

export const siteScopes = (scopes: readonly string[]) => scopes.filter((s) => s.startsWith("site:")).map((s) => s.slice(5));

export function canAccessSite(scopes: readonly string[], slug: string, mode: AccessMode): boolean {
  if (isAdmin(scopes)) return true;
  if (mode === "read" && scopes.includes("read")) return true;
  return siteScopes(scopes).includes(slug);
}

// Profiles, images and artifacts are shared by every site: anyone may read them, only admin may change them.
export function canAccessCatalogue(scopes: readonly string[], mode: AccessMode): boolean {
  if (isAdmin(scopes)) return true;
  return mode === "read" && (scopes.includes("read") || siteScopes(scopes).length > 0);
}

// Which sites a principal sees in lists: every site, or only the ones named by its site scopes.
export function visibleSites(scopes: readonly string[]): "all" | string[] {
  if (isAdmin(scopes) || scopes.includes("read")) return "all";
  return siteScopes(scopes);
}

// A token that can write nowhere is refused any unsafe method before a handler runs (defence in depth).
export const canWriteAnything = (scopes: readonly string[]) => isAdmin(scopes) || siteScopes(scopes).length > 0;
