import { createRoute, z } from "@hono/zod-openapi";
import { requireSiteAccess } from "../auth/bearer.ts";
import { audit } from "../db/queries/audit.ts";
import { findSite, profileIds } from "../db/queries/catalogue.ts";
import { findClashes } from "../db/queries/hosts.ts";
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
const ImportResult = z.object({
  created: z.number(),
  hosts: z.array(z.object({ id: z.string(), hostname: z.string().nullable(), mac: z.string().nullable() })),
  warnings: z.array(z.object({ line: z.number(), message: z.string() })),
});

type Entry = { where: { index: number } | { line: number }; host: HostCreateInput };

// dnsmasq entries become host inputs validated by the same schema as POST /hosts; a failure names its line.
function fromDnsmasq(text: string): { entries: Entry[]; warnings: DnsmasqProblem[] } {
  const parsed = parseDnsmasqHosts(text);
  const problems = [...parsed.errors];
  const entries: Entry[] = [];
  for (const h of parsed.hosts) {
    const result = HostCreate.safeParse({ hostname: h.hostname, mac: h.macs[0], ipv4: h.ipv4 });
    if (result.success) entries.push({ where: { line: h.line }, host: result.data });
    else problems.push({ line: h.line, message: result.error.issues.map((i) => `${i.path.join(".") || "host"}: ${i.message}`).join("; ") });
  }
  if (problems.length) throw new ApiError("invalid_input", `${problems.length} invalid dhcp-host line(s); nothing was imported`, { errors: problems.sort((a, b) => a.line - b.line) });
  if (entries.length === 0) throw new ApiError("invalid_input", "no dhcp-host lines found", { errors: [] });
  if (entries.length > MAX_IMPORT) throw new ApiError("invalid_input", `at most ${MAX_IMPORT} hosts per import`, { count: entries.length });
  return { entries, warnings: parsed.warnings };
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
    summary: "Import hosts all-or-nothing: a JSON array of hosts, or text/plain dnsmasq.conf (dhcp-host= lines)",
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
    responses: { 201: jsonContent(ImportResult, "Every host was created"), ...errors },
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
    const { entries, warnings } = isText
      ? fromDnsmasq(await c.req.text())
      : { entries: (json as HostCreateInput[]).map((host, index): Entry => ({ where: { index }, host })), warnings: [] };

    const within = duplicatesWithin(entries);
    if (within.length) throw new ApiError("conflict", "the import names the same MAC or hostname more than once; nothing was imported", { duplicates: within });
    const clashes = await findClashes(db, site.id, entries.map((e) => e.host));
    if (clashes.length) throw new ApiError("conflict", "hosts with these MACs or hostnames already exist in the site; nothing was imported", { duplicates: clashes });

    const names = entries.flatMap((e) => referencedProfiles(e.host));
    const ids = await profileIds(db, defaultProfile ? [...names, defaultProfile] : names, "profile");
    const rows = entries.map(({ host: { profile, ...fields } }) => {
      const name = profile === undefined ? defaultProfile : profile;
      return { ...fields, id: crypto.randomUUID(), siteId: site.id, profileId: name ? ids.get(name)! : null };
    });

    const inserts = [];
    for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) inserts.push(db.insert(hosts).values(rows.slice(i, i + ROWS_PER_INSERT)));
    // One batch is one transaction: every host and the audit row, or nothing.
    await db.batch([
      audit(db, { actor: principal.name, action: "host.import", resource: "host", resourceId: null, siteId: site.id, detail: { format: isText ? "dnsmasq" : "json", count: rows.length } }),
      ...inserts,
    ]);
    return c.json({ created: rows.length, hosts: rows.map((r) => ({ id: r.id, hostname: r.hostname ?? null, mac: r.mac ?? null })), warnings }, 201);
  },
);
