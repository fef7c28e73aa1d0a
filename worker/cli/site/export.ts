// The API's current state of a site as a site file: the site, its hosts and assignment rules, the profiles they use (menus followed), the
// images those profiles boot, and references for the site's secrets. Secret values are never exported; each
// reference names an environment variable to fill in. Fields at their defaults are left out.
import { enc, type Api } from "../api.ts";
import { API_VERSION } from "./schema.ts";

type Row = Record<string, any>;

const empty = (v: unknown) => v === null || v === undefined || v === "" || (Array.isArray(v) && v.length === 0) || (typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 0);
const compact = (o: Row, keys: string[]) => Object.fromEntries(keys.filter((k) => !empty(o[k])).map((k) => [k, o[k]]));

export async function exportSite(api: Api, slug: string): Promise<Row> {
  const site = (await api.get(`/v1/sites/${enc(slug)}`)).body as Row;
  const [hosts, rules, profiles, images, secrets] = await Promise.all([
    api.list(`/v1/sites/${enc(slug)}/hosts`),
    api.list(`/v1/sites/${enc(slug)}/rules`),
    api.list("/v1/profiles"),
    api.list("/v1/images"),
    api.list(`/v1/secrets?site=${enc(slug)}`),
  ]);

  // Profiles the site can boot: its default, its hosts' profiles and intents, its rules', and what their menus reach.
  const wanted = new Set<string>([site.defaultProfile, ...hosts.flatMap((h) => [h.profile, h.intent?.target]), ...rules.map((r) => r.profile)].filter((n): n is string => typeof n === "string" && n !== "local"));
  const byName = new Map(profiles.map((p) => [p.name as string, p]));
  for (const name of [...wanted]) walkMenus(name, byName, wanted);
  const usedProfiles = profiles.filter((p) => wanted.has(p.name));
  const usedImages = images.filter((i) => usedProfiles.some((p) => p.image === i.name));

  const siteOut = {
    slug: site.slug,
    name: site.name,
    bootAuth: site.bootAuth,
    unknownHostPolicy: site.unknownHostPolicy,
    ...compact(site, ["defaultProfile"]),
    discoverRetrySeconds: site.discoverRetrySeconds,
    hostTokenTtlSeconds: site.hostTokenTtlSeconds,
    allowDirect: site.allowDirect,
    // Settings newer APIs have; absent from older ones.
    ...compact(site, ["secretDelivery", "eventRetentionDays", "vars", "vendorData"]),
  };
  return {
    apiVersion: API_VERSION,
    site: siteOut,
    ...(usedImages.length ? { images: usedImages.map((i) => ({ name: i.name, arch: i.arch, ...compact(i, ["version"]), artifacts: compact(i.artifacts, Object.keys(i.artifacts)) })) } : {}),
    ...(usedProfiles.length
      ? {
          profiles: usedProfiles.map((p) => ({
            name: p.name,
            ...compact(p, ["description", "image", "cmdline", "menu", "userData", "vendorData", "networkConfig", "vars", "files"]),
            ...(p.nocloud === false ? { nocloud: false } : {}),
          })),
        }
      : {}),
    ...(hosts.length ? { hosts: hosts.map((h) => compact(h, ["hostname", "mac", "uuid", "serial", "arch", "ipxeBuild", "ipv4", "labels", "vars", "profile", "network"])) } : {}),
    ...(rules.length ? { rules: rules.map((r) => ({ name: r.name, profile: r.profile, selector: r.selector, ...compact(r, ["description"]) })) } : {}),
    ...(secrets.length
      ? { secrets: secrets.map((s) => ({ name: s.name, ...(s.host ? { host: s.host } : {}), fromEnv: envName(s.name, s.host) })) }
      : {}),
  };
}

function walkMenus(name: string, byName: Map<string, Row>, seen: Set<string>) {
  for (const item of byName.get(name)?.menu?.items ?? []) {
    if (item.target === "local" || seen.has(item.target)) continue;
    seen.add(item.target);
    walkMenus(item.target, byName, seen);
  }
}

// EDGEBOOT_SECRET_<NAME> or EDGEBOOT_SECRET_<HOST>_<NAME>: a variable to set before the next apply that writes it.
const envName = (name: string, host: string | null) => `EDGEBOOT_SECRET_${host ? `${host.replace(/[^A-Za-z0-9]/g, "_").toUpperCase()}_` : ""}${name.toUpperCase()}`;
