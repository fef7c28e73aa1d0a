// GET /v1/sites/:site/events?host=&phase=&since=&limit=&cursor=: the boot timeline, newest first, as
// `{items, nextCursor}` like every other list.
import { Hono } from "hono";
import { z } from "zod";
import { zv } from "../artifacts/http.ts";
import { requireSiteAccess } from "../auth/bearer.ts";
import type { AppEnv } from "../context.ts";
import { ApiError } from "../errors.ts";
import { findSite, findSiteHost } from "../db/queries/bootAdmin.ts";
import { listEvents } from "../db/queries/bootEvents.ts";
import { decodeCursor, PageQuery, toPage } from "../lib/pagination.ts";

export const EventsParam = z.object({ site: z.string().min(1).max(63) });
export const EventsQuery = PageQuery.extend({
  // Hostname, MAC or host id.
  host: z.string().min(1).max(253).optional(),
  phase: z.string().regex(/^[a-z0-9-]{1,32}$/, "phase is 1-32 of a-z, 0-9 and '-'").optional(),
  // Only events at or after this time: unix milliseconds or an ISO 8601 date-time.
  since: z
    .string()
    .transform((v, ctx) => {
      const ms = /^\d{1,15}$/.test(v) ? Number(v) : Date.parse(v);
      if (!Number.isFinite(ms)) {
        ctx.addIssue({ code: "custom", message: "since is unix milliseconds or an ISO 8601 date-time" });
        return z.NEVER;
      }
      return ms;
    })
    .optional(),
});

export const eventsAdmin = new Hono<AppEnv>().get("/sites/:site/events", zv("param", EventsParam), zv("query", EventsQuery), async (c) => {
  const { site: slug } = c.req.valid("param");
  const q = c.req.valid("query");
  requireSiteAccess(c, slug, "read");
  const db = c.get("db");
  const scope = q.host ? await findSiteHost(db, slug, q.host) : { site: await findSite(db, slug), host: null };
  const key = decodeCursor(q.cursor, 2);
  if (key && !key.every((v) => typeof v === "number")) throw new ApiError("invalid_input", "invalid cursor", { cursor: q.cursor });
  const cursor = key as [number, number] | undefined;
  const rows = await listEvents(db, { siteId: scope.site.id, hostId: scope.host?.id, phase: q.phase, since: q.since, before: cursor }, q.limit);
  const page = toPage(rows, q.limit, (r) => [r.at, r.id], (r) => ({
    id: r.id,
    at: new Date(r.at).toISOString(),
    hostId: r.hostId,
    mac: r.mac,
    source: r.source,
    phase: r.phase,
    bootSession: r.bootSession,
    detail: r.detail,
  }));
  return c.json(page);
});
