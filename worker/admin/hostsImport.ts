import { createRoute, z } from "@hono/zod-openapi";
import { and, eq, inArray, or } from "drizzle-orm";
import { requireSiteAccess } from "../auth/bearer.ts";
import type { Db } from "../db/client.ts";
import { audit } from "../db/queries/audit.ts";
import { findSite, profileIds, profileNames } from "../db/queries/catalogue.ts";
import type { HostRow } from "../db/queries/hosts.ts";
import { hosts } from "../db/schema.ts";
import { ApiError } from "../errors.ts";
import { type DnsmasqProblem, parseDnsmasqHosts } from "./dnsmasq.ts";
import { HostCreate, type HostCreateInput, referencedProfiles } from "./hostFields.ts";
import { adminRouter, errors, jsonContent, security } from "./openapi.ts";
import { CatalogueName, Slug } from "./schemas.ts";

export const MAX_IMPORT = 1000;
// D1 binds at most 100 parameters per statement; a host row binds about 20.
const ROWS_PER_INSERT = 4;

const ImportQuery = z.object({ profile: CatalogueName.optional().openapi({ description: "profile for imported hosts that name none" }) });
const LineNote = z.object({ line: z.number(), message: z.string() });
const ImportResult = z.object({
  created: z.number(),
  // Entries identical to a host the site has: a re-import of the same file changes nothing.
  unchanged: z.number(),
  hosts: z.array(z.object({ id: z.string(), hostname: z.string().nullable(), mac: z.string().nullable() })),
  skipped: z.array(LineNote),
  warnings: z.array(LineNote),
});

type Entry = { where: { index: number } | { line: number }; host: HostCreateInput };

// dnsmasq entries become host inputs validated by the same schema as POST /hosts; a failure names its line.
function fromDnsmasq(text: string): { entries: Entry[]; warnings: DnsmasqProblem[]; skipped: DnsmasqProblem[] } {
  const parsed = parseDnsmasqHosts(text);
  const problems = [...parsed.errors];
  const entries: Entry[] = [];
  for (const h of parsed.hosts) {
    const result = HostCreate.safeParse({ hostname: h.hostname, mac: h.macs[0], ipv4: h.ipv4 });
    if (result.success) entries.push({ where: { line: h.line }, host: result.data });
    else problems.push({ line: h.line, message: result.error.issues.map((i) => `${i.path.join(".") || "host"}: ${i.message}`).join("; ") });
  }
  if (problems.length) throw new ApiError("invalid_input", `${problems.length} invalid dhcp-host line(s); nothing was imported`, { errors: problems.sort((a, b) => a.line - b.line) });
  if (entries.length === 0) {
    const why = parsed.skipped.length ? `no importable dhcp-host lines (${parsed.skipped.length} skipped)` : "no dhcp-host lines found";
    throw new ApiError("invalid_input", why, { errors: [], skipped: parsed.skipped });
  }
  if (entries.length > MAX_IMPORT) throw new ApiError("invalid_input", `at most ${MAX_IMPORT} hosts per import`, { count: entries.length });
  return { entries, warnings: parsed.warnings, skipped: parsed.skipped };
}

// Where an entry stands against the site's hosts: new, already there as given, or in conflict with one or two hosts.
type Standing = { kind: "new" } | { kind: "unchanged" } | { kind: "conflict"; conflict: Conflict };
type Conflict = { line?: number; index?: number; field: string; value: string; existing: string; differences?: Record<string, { existing: unknown; import: unknown }> };

const COMPARED = ["hostname", "mac", "uuid", "serial", "arch", "ipxeBuild", "ipv4", "labels", "vars", "intent", "network", "state"] as const;
const same = (a: unknown, b: unknown) => JSON.stringify(sortKeys(a ?? null)) === JSON.stringify(sortKeys(b ?? null));
const sortKeys = (v: unknown): unknown =>
  Array.isArray(v) ? v.map(sortKeys) : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => [k, sortKeys(x)])) : v;

async function existingHosts(db: Db, siteId: string, entries: Entry[]): Promise<HostRow[]> {
  const macs = entries.map((e) => e.host.mac).filter((v): v is string => Boolean(v));
  const names = entries.map((e) => e.host.hostname).filter((v): v is string => Boolean(v));
  const rows: HostRow[] = [];
  // D1 binds at most 100 parameters per statement.
  for (let i = 0; i < Math.max(macs.length, names.length); i += 45) {
    const m = macs.slice(i, i + 45);
    const n = names.slice(i, i + 45);
    // site_id inside each branch: SQLite then seeks hosts_site_mac and hosts_site_hostname (a MULTI-INDEX OR);
    // `site_id = ? AND (… OR …)` walked every host of the site per statement, so a 100k import went quadratic.
    const byMac = m.length ? and(eq(hosts.siteId, siteId), inArray(hosts.mac, m)) : undefined;
    const byName = n.length ? and(eq(hosts.siteId, siteId), inArray(hosts.hostname, n)) : undefined;
    rows.push(...(await db.select().from(hosts).where(or(byMac, byName))));
  }
  return [...new Map(rows.map((r) => [r.id, r])).values()];
}

// Every field the entry sets must equal the host's; the ?profile= default is not compared (it only fills new hosts).
function standing(e: Entry, rows: HostRow[], profileOf: (r: HostRow) => string | null): Standing {
  const byMac = e.host.mac ? rows.find((r) => r.mac === e.host.mac) : undefined;
  const byName = e.host.hostname ? rows.find((r) => r.hostname === e.host.hostname) : undefined;
  if (!byMac && !byName) return { kind: "new" };
  const where = "line" in e.where ? { line: e.where.line } : { index: e.where.index };
  const ref = (r: HostRow) => r.hostname ?? r.mac ?? r.id;
  if (byMac && byName && byMac.id !== byName.id) {
    return { kind: "conflict", conflict: { ...where, field: "mac", value: e.host.mac!, existing: ref(byMac), differences: { hostname: { existing: byMac.hostname, import: e.host.hostname } } } };
  }
  const row = (byMac ?? byName)!;
  const differences: Conflict["differences"] = {};
  for (const field of COMPARED) {
    const wanted = e.host[field];
    if (wanted !== undefined && !same(wanted, row[field])) differences[field] = { existing: row[field], import: wanted };
  }
  if (e.host.profile !== undefined && e.host.profile !== profileOf(row)) differences.profile = { existing: profileOf(row), import: e.host.profile };
  if (Object.keys(differences).length === 0) return { kind: "unchanged" };
  const field = byMac ? "mac" : "hostname";
  return { kind: "conflict", conflict: { ...where, field, value: (byMac ? e.host.mac : e.host.hostname)!, existing: ref(row), differences } };
}

// Two entries of one import claiming the same MAC or hostname.
function duplicatesWithin(entries: Entry[]) {
  const seen = new Map<string, Entry["where"]>();
  const dups: { field: string; value: string; first: Entry["where"]; again: Entry["where"] }[] = [];
  for (const e of entries) {
    for (const [field, value] of [["mac", e.host.mac], ["hostname", e.host.hostname]] as const) {
      if (!value) continue;
      const first = seen.get(`${field}:${value}`);
      if (first) dups.push({ field, value, first, again: e.where });
      else seen.set(`${field}:${value}`, e.where);
    }
  }
  return dups;
}

export const hostsImportAdmin = adminRouter().openapi(
  createRoute({
    method: "post",
    path: "/sites/{site}/hosts/import",
    tags: ["hosts"],
    security,
    summary:
      "Import hosts all-or-nothing: a JSON array of hosts, or text/plain dnsmasq.conf (dhcp-host= lines). Entries the site already has as given count as unchanged (a re-import changes nothing); other clashes are a 409 listing each entry",
    request: {
      params: z.object({ site: Slug }),
      query: ImportQuery,
      // Not "required": that would run the JSON validator on text/plain bodies too. The media type gate still refuses
      // any other content type (415), and an absent body is refused below.
      body: {
        required: false,
        content: {
          "application/json": { schema: z.array(HostCreate).min(1).max(MAX_IMPORT) },
          "text/plain": { schema: z.string().openapi({ example: "dhcp-host=52:54:00:12:34:56,10.0.0.21,node-01\n" }) },
        },
      },
    },
    responses: { 201: jsonContent(ImportResult, "Hosts were created (the others were unchanged)"), 200: jsonContent(ImportResult, "Nothing to create: every entry was already there"), ...errors },
  }),
  async (c) => {
    const { site: slug } = c.req.valid("param");
    const principal = requireSiteAccess(c, slug, "write");
    const { profile: defaultProfile } = c.req.valid("query");
    const db = c.get("db");
    const site = await findSite(db, slug);

    const isText = (c.req.header("content-type") ?? "").toLowerCase().startsWith("text/plain");
    const json: unknown = c.req.valid("json");
    if (!isText && !Array.isArray(json)) throw new ApiError("invalid_input", "send a JSON array of hosts, or text/plain dnsmasq.conf content");
    const { entries: all, warnings, skipped } = isText
      ? fromDnsmasq(await c.req.text())
      : { entries: (json as HostCreateInput[]).map((host, index): Entry => ({ where: { index }, host })), warnings: [], skipped: [] };

    const within = duplicatesWithin(all);
    if (within.length) throw new ApiError("conflict", "the import names the same MAC or hostname more than once; nothing was imported", { duplicates: within });
    // A re-import is idempotent: entries the site already has as given are left alone; any other clash is listed
    // per line (with what differs) and nothing is written.
    const rows = await existingHosts(db, site.id, all);
    const names0 = await profileNames(db, rows.map((r) => r.profileId));
    const standings = all.map((e) => standing(e, rows, (r) => (r.profileId ? (names0.get(r.profileId) ?? null) : null)));
    const conflicts = standings.flatMap((s) => (s.kind === "conflict" ? [s.conflict] : []));
    if (conflicts.length) {
      throw new ApiError("conflict", `${conflicts.length} entr${conflicts.length === 1 ? "y clashes" : "ies clash"} with hosts the site has; nothing was imported`, { conflicts });
    }
    const entries = all.filter((_, i) => standings[i]!.kind === "new");
    const unchanged = all.length - entries.length;
    if (entries.length === 0) return c.json({ created: 0, unchanged, hosts: [], skipped, warnings }, 200);

    const names = entries.flatMap((e) => referencedProfiles(e.host));
    const ids = await profileIds(db, defaultProfile ? [...names, defaultProfile] : names, "profile");
    const created = entries.map(({ host: { profile, ...fields } }) => {
      const name = profile === undefined ? defaultProfile : profile;
      return { ...fields, id: crypto.randomUUID(), siteId: site.id, profileId: name ? ids.get(name)! : null };
    });

    const inserts = [];
    for (let i = 0; i < created.length; i += ROWS_PER_INSERT) inserts.push(db.insert(hosts).values(created.slice(i, i + ROWS_PER_INSERT)));
    // One batch is one transaction: every host and the audit row, or nothing.
    await db.batch([
      audit(db, { actor: principal.name, action: "host.import", resource: "host", resourceId: null, siteId: site.id, detail: { format: isText ? "dnsmasq" : "json", count: created.length } }),
      ...inserts,
    ]);
    return c.json({ created: created.length, unchanged, hosts: created.map((r) => ({ id: r.id, hostname: r.hostname ?? null, mac: r.mac ?? null })), skipped, warnings }, 201);
  },
);
