import { createRoute, z } from "@hono/zod-openapi";
import { and, desc, eq, sql } from "drizzle-orm";
import { requireAdmin } from "../auth/bearer.ts";
import { auditLog, sites } from "../db/schema.ts";
import { afterKey, decodeCursor, PageQuery, toPage } from "../lib/pagination.ts";
import { adminRouter, errors, jsonContent, security } from "./openapi.ts";
import { Slug, Timestamp } from "./schemas.ts";

const AuditQuery = PageQuery.extend({
  site: Slug.optional(),
  resource: z.string().regex(/^[a-z_]{1,32}$/).optional(),
  action: z.string().regex(/^[a-z_.]{1,64}$/).optional(),
});

const AuditEntry = z
  .object({
    id: z.number(),
    at: Timestamp,
    actor: z.string(),
    action: z.string(),
    resource: z.string(),
    resourceId: z.string().nullable(),
    site: z.string().nullable().openapi({ description: "slug, null for global changes or sites since deleted" }),
    siteId: z.string().nullable(),
    detail: z.record(z.string(), z.unknown()),
  })
  .openapi("AuditEntry");

// GET /v1/audit: every change made through the API, newest first (admin).
export const auditAdmin = adminRouter().openapi(
  createRoute({
    method: "get",
    path: "/audit",
    tags: ["audit"],
    security,
    summary: "The audit log, newest first (admin); filter with ?site=, ?resource=, ?action=",
    request: { query: AuditQuery },
    responses: { 200: jsonContent(z.object({ items: z.array(AuditEntry), nextCursor: z.string().nullable() }), "Audit entries"), ...errors },
  }),
  async (c) => {
    requireAdmin(c);
    const { limit, cursor, site, resource, action } = c.req.valid("query");
    const rows = await c
      .get("db")
      .select({ entry: auditLog, site: sites.slug })
      .from(auditLog)
      .leftJoin(sites, eq(sites.id, auditLog.siteId))
      .where(
        and(
          site ? eq(sites.slug, site) : undefined,
          resource ? eq(auditLog.resource, resource) : undefined,
          action ? eq(auditLog.action, action) : undefined,
          afterKey([sql`${auditLog.id}`], decodeCursor(cursor, 1), "desc"),
        ),
      )
      .orderBy(desc(auditLog.id))
      .limit(limit + 1);
    return c.json(
      toPage(rows, limit, (r) => [r.entry.id], ({ entry, site }) => ({
        id: entry.id,
        at: new Date(entry.at).toISOString(),
        actor: entry.actor,
        action: entry.action,
        resource: entry.resource,
        resourceId: entry.resourceId,
        site,
        siteId: entry.siteId,
        detail: entry.detail,
      })),
      200,
    );
  },
);
