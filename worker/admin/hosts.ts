import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq, sql } from "drizzle-orm";
import { requireSiteAccess } from "../auth/bearer.ts";
import type { Db } from "../db/client.ts";
import { audit, auditIfChanged } from "../db/queries/audit.ts";
import { findSite, profileIds, profileNames } from "../db/queries/catalogue.ts";
import { findHost, type HostRow, requireNoClash } from "../db/queries/hosts.ts";
import { hosts } from "../db/schema.ts";
import { IPXE_BUILDS } from "../shared/ipxeBuild.ts";
import { ApiError } from "../errors.ts";
import { checkIfMatch, concurrentChange, etagOf } from "../lib/etag.ts";
import { afterKey, decodeCursor, PageQuery, toPage } from "../lib/pagination.ts";
import { apiBase } from "../boot/urls.ts";
import { HOST_STATES, HostCreate, HostPatch, networkTargetProblem, referencedProfiles } from "./hostFields.ts";
import { oneHost, requireRenderable } from "./renderCheck.ts";
import { adminRouter, errors, jsonBody, jsonContent, noContent, security } from "./openapi.ts";
import { iso, Mac, Slug, Timestamp } from "./schemas.ts";

export const HostView = z
  .object({
    id: z.string(),
    site: z.string(),
    hostname: z.string().nullable(),
    mac: z.string().nullable(),
    uuid: z.string().nullable(),
    serial: z.string().nullable(),
    arch: z.string().nullable(),
    ipxeBuild: z.enum(IPXE_BUILDS).nullable(),
    ipv4: z.string().nullable(),
    labels: z.record(z.string(), z.string()),
    vars: z.record(z.string(), z.unknown()),
    profile: z.string().nullable(),
    intent: z.object({ target: z.string(), mode: z.enum(["once", "always"]), revertOnPhase: z.string().optional() }).nullable(),
    network: z.record(z.string(), z.unknown()).nullable(),
    state: z.enum(HOST_STATES),
    lastSeenAt: Timestamp.nullable(),
    lastIdentity: z.record(z.string(), z.string()).nullable(),
    revision: z.number(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi("Host");

const SiteParam = z.object({ site: Slug });
const HostParam = SiteParam.extend({ host: z.string().min(1).max(253).openapi({ description: "hostname or MAC (any common notation)" }) });
const LabelFilter = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}=.{0,256}$/, "label filters are key=value")
  .transform((f) => {
    const at = f.indexOf("=");
    return { key: f.slice(0, at), value: f.slice(at + 1) };
  });
const ListQuery = PageQuery.extend({
  mac: Mac.optional(),
  state: z.enum(HOST_STATES).optional(),
  // Repeat ?label=k=v to require several labels.
  label: z.union([LabelFilter.transform((l) => [l]), z.array(LabelFilter).max(16)]).optional(),
});
const tags = ["hosts"];

export function toHostView(site: string, row: HostRow, profile: string | null): z.infer<typeof HostView> {
  return {
    id: row.id,
    site,
    hostname: row.hostname,
    mac: row.mac,
    uuid: row.uuid,
    serial: row.serial,
    arch: row.arch,
    ipxeBuild: row.ipxeBuild,
    ipv4: row.ipv4,
    labels: row.labels,
    vars: row.vars,
    profile,
    intent: row.intent,
    network: row.network,
    state: row.state,
    lastSeenAt: iso(row.lastSeenAt),
    lastIdentity: row.lastIdentity,
    revision: row.revision,
    createdAt: iso(row.createdAt)!,
    updatedAt: iso(row.updatedAt)!,
  };
}

async function view(db: Db, site: string, row: HostRow) {
  const names = await profileNames(db, [row.profileId]);
  return toHostView(site, row, row.profileId ? (names.get(row.profileId) ?? null) : null);
}

// The sort key: hostname (unnamed, discovered hosts first), then id for a total order.
const sortKey = [sql`coalesce(${hosts.hostname}, '')`, sql`${hosts.id}`];

export const hostsAdmin = adminRouter()
  .openapi(
    createRoute({
      method: "get",
      path: "/sites/{site}/hosts",
      tags,
      security,
      summary: "List a site's hosts by hostname; filter with ?mac=, ?state= and ?label=key=value (repeatable)",
      request: { params: SiteParam, query: ListQuery },
      responses: { 200: jsonContent(z.object({ items: z.array(HostView), nextCursor: z.string().nullable() }), "Hosts"), ...errors },
    }),
    async (c) => {
      const { site: slug } = c.req.valid("param");
      requireSiteAccess(c, slug, "read");
      const { limit, cursor, mac, state, label } = c.req.valid("query");
      const db = c.get("db");
      const site = await findSite(db, slug);
      const rows = await db
        .select()
        .from(hosts)
        .where(
          and(
            eq(hosts.siteId, site.id),
            mac ? eq(hosts.mac, mac) : undefined,
            state ? eq(hosts.state, state) : undefined,
            // Label keys are restricted to [A-Za-z0-9._/-], so the quoted JSON path cannot be escaped.
            ...(label ?? []).map((l) => sql`json_extract(${hosts.labels}, ${`$."${l.key}"`}) = ${l.value}`),
            afterKey(sortKey, decodeCursor(cursor, 2)),
          ),
        )
        .orderBy(...sortKey.map((k) => asc(k)))
        .limit(limit + 1);
      const names = await profileNames(db, rows.map((r) => r.profileId));
      return c.json(
        toPage(rows, limit, (r) => [r.hostname ?? "", r.id], (r) => toHostView(slug, r, r.profileId ? (names.get(r.profileId) ?? null) : null)),
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/sites/{site}/hosts",
      tags,
      security,
      summary: "Create a host (needs a hostname or a MAC; 409 if either is taken in the site)",
      request: { params: SiteParam, ...jsonBody(HostCreate) },
      responses: { 201: jsonContent(HostView, "Created"), ...errors },
    }),
    async (c) => {
      const { site: slug } = c.req.valid("param");
      const principal = requireSiteAccess(c, slug, "write");
      const input = c.req.valid("json");
      const db = c.get("db");
      const site = await findSite(db, slug);
      const ids = await profileIds(db, referencedProfiles(input), "profile");
      await requireNoClash(db, site.id, input);

      const { profile, ...fields } = input;
      const id = crypto.randomUUID();
      // What the host will boot must render for it (kernel line budget with its network-config=, documents).
      const now = Date.now();
      const candidate = {
        ...{ hostname: null, mac: null, uuid: null, serial: null, arch: null, ipxeBuild: null, ipv4: null, labels: {}, vars: {}, intent: null, network: null, state: "ready" as const },
        ...{ lastSeenAt: null, lastIdentity: null, revision: 1, createdAt: now, updatedAt: now },
        ...fields,
        id,
        siteId: site.id,
        profileId: profile ? ids.get(profile)! : null,
      } as HostRow;
      await requireRenderable({ db, env: c.get("env"), base: apiBase(c.get("env").PUBLIC_URL, c.req.url), lineField: "network", overrides: { host: candidate } }, oneHost(id));
      const [[row]] = await db.batch([
        db
          .insert(hosts)
          .values({ ...fields, id, siteId: site.id, profileId: profile ? ids.get(profile)! : null })
          .returning(),
        audit(db, { actor: principal.name, action: "host.create", resource: "host", resourceId: id, siteId: site.id, detail: { hostname: input.hostname ?? null, mac: input.mac ?? null } }),
      ]);
      c.header("etag", etagOf(row!));
      c.header("location", `/v1/sites/${slug}/hosts/${row!.hostname ?? row!.mac}`);
      return c.json(await view(db, slug, row!), 201);
    },
  )
  .openapi(
    createRoute({ method: "get", path: "/sites/{site}/hosts/{host}", tags, security, summary: "Get a host by hostname or MAC (ETag = revision)", request: { params: HostParam }, responses: { 200: jsonContent(HostView, "The host"), ...errors } }),
    async (c) => {
      const { site: slug, host: ref } = c.req.valid("param");
      requireSiteAccess(c, slug, "read");
      const db = c.get("db");
      const site = await findSite(db, slug);
      const row = await findHost(db, site.id, ref);
      c.header("etag", etagOf(row));
      return c.json(await view(db, slug, row), 200);
    },
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/sites/{site}/hosts/{host}",
      tags,
      security,
      summary: "Update a host (honours If-Match); intent null clears the next-boot intent",
      request: { params: HostParam, ...jsonBody(HostPatch) },
      responses: { 200: jsonContent(HostView, "Updated"), ...errors },
    }),
    async (c) => {
      const { site: slug, host: ref } = c.req.valid("param");
      const principal = requireSiteAccess(c, slug, "write");
      const patch = c.req.valid("json");
      const db = c.get("db");
      const site = await findSite(db, slug);
      const row = await findHost(db, site.id, ref);
      checkIfMatch(c.req.header("if-match"), etagOf(row));

      const hostname = patch.hostname === undefined ? row.hostname : patch.hostname;
      const mac = patch.mac === undefined ? row.mac : patch.mac;
      if (!hostname && !mac) throw new ApiError("invalid_input", "a host needs a hostname or a MAC address", { field: "hostname" });
      const ids = await profileIds(db, referencedProfiles(patch), "profile");
      await requireNoClash(db, site.id, { hostname: patch.hostname, mac: patch.mac }, row.id);
      const network = patch.network === undefined ? row.network : patch.network;
      const targetProblem = networkTargetProblem(network, mac);
      if (targetProblem) throw new ApiError("invalid_input", targetProblem, { field: "network" });
      {
        const { profile, ...fields } = patch;
        const merged = { ...fields, id: row.id, ...(profile === undefined ? {} : { profileId: profile === null ? null : ids.get(profile)! }) };
        await requireRenderable({ db, env: c.get("env"), base: apiBase(c.get("env").PUBLIC_URL, c.req.url), lineField: "network", overrides: { host: merged } }, oneHost(row.id));
      }

      const { profile, ...fields } = patch;
      const [updated] = await db.batch([
        db
          .update(hosts)
          .set({
            ...fields,
            ...(profile === undefined ? {} : { profileId: profile === null ? null : ids.get(profile)! }),
            revision: row.revision + 1,
            updatedAt: Date.now(),
          })
          .where(and(eq(hosts.id, row.id), eq(hosts.revision, row.revision)))
          .returning(),
        auditIfChanged(db, { actor: principal.name, action: "host.update", resource: "host", resourceId: row.id, siteId: site.id, detail: { host: hostname ?? mac, fields: Object.keys(patch).sort() } }),
      ]);
      if (!updated[0]) throw concurrentChange();
      c.header("etag", etagOf(updated[0]));
      return c.json(await view(db, slug, updated[0]), 200);
    },
  )
  .openapi(
    createRoute({ method: "delete", path: "/sites/{site}/hosts/{host}", tags, security, summary: "Delete a host (honours If-Match)", request: { params: HostParam }, responses: { ...noContent, ...errors } }),
    async (c) => {
      const { site: slug, host: ref } = c.req.valid("param");
      const principal = requireSiteAccess(c, slug, "write");
      const db = c.get("db");
      const site = await findSite(db, slug);
      const row = await findHost(db, site.id, ref);
      checkIfMatch(c.req.header("if-match"), etagOf(row));
      const [deleted] = await db.batch([
        db
          .delete(hosts)
          .where(and(eq(hosts.id, row.id), eq(hosts.revision, row.revision)))
          .returning({ id: hosts.id }),
        auditIfChanged(db, { actor: principal.name, action: "host.delete", resource: "host", resourceId: row.id, siteId: site.id, detail: { hostname: row.hostname, mac: row.mac } }),
      ]);
      if (!deleted[0]) throw concurrentChange();
      return c.body(null, 204);
    },
  );
