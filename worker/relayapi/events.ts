import { and, eq, inArray } from "drizzle-orm";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { zv } from "../artifacts/http.ts";
import { events, hosts } from "../db/schema.ts";
import { ApiError } from "../errors.ts";
import { normalizeMac } from "../lib/mac.ts";
import type { RelayApiEnv } from "./context.ts";

export const EVENT_BATCH_MAX = 500;
export const EVENT_BODY_MAX_BYTES = 512 * 1024;
const DETAIL_MAX_CHARS = 4096;
// Ten rows × nine columns stays under D1's 100 bound parameters per statement.
const ROWS_PER_INSERT = 10;

const Mac = z.string().transform((v, ctx) => normalizeMac(v) ?? (ctx.addIssue({ code: "custom", message: "not a MAC address" }), z.NEVER));

const RelayEvent = z.strictObject({
  // Chosen by the relay (its queue's id); the same id sent twice is stored once.
  id: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, "id must be 1-128 characters of [A-Za-z0-9._:-]"),
  // The same alphabet the admin event filters and the boot callbacks use.
  phase: z.string().regex(/^[a-z0-9-]{1,32}$/, "phase is 1-32 of a-z, 0-9 and '-'"),
  at: z.number().int().min(Date.UTC(2020, 0, 1)),
  mac: Mac.nullish(),
  bootSession: z.string().max(128).nullish(),
  detail: z
    .record(z.string(), z.unknown())
    .refine((d) => JSON.stringify(d).length <= DETAIL_MAX_CHARS, `detail must serialise to at most ${DETAIL_MAX_CHARS} characters`)
    .optional(),
});

const EventsBody = z.strictObject({ events: z.array(RelayEvent).min(1).max(EVENT_BATCH_MAX) });

// POST /relay/v1/events: batches from the relay's on-disk queue. Idempotent by (site, event id), so the relay
// may resend a batch whose response it never saw.
export const eventsRoute = new Hono<RelayApiEnv>().post(
  "/events",
  bodyLimit({
    maxSize: EVENT_BODY_MAX_BYTES,
    onError: () => {
      throw new ApiError("too_large", `event batches are limited to ${EVENT_BODY_MAX_BYTES} bytes`);
    },
  }),
  zv("json", EventsBody),
  async (c) => {
    const relay = c.get("relay");
    const db = c.get("db");
    const batch = c.req.valid("json").events;
    const now = Date.now();
    const macs = [...new Set(batch.flatMap((e) => (e.mac ? [e.mac] : [])))];
    const hostIds = new Map<string, string>();
    for (let i = 0; i < macs.length; i += 90) {
      const rows = await db
        .select({ id: hosts.id, mac: hosts.mac })
        .from(hosts)
        .where(and(eq(hosts.siteId, relay.siteId), inArray(hosts.mac, macs.slice(i, i + 90))));
      for (const r of rows) if (r.mac) hostIds.set(r.mac, r.id);
    }
    const rows = batch.map((e) => ({
      siteId: relay.siteId,
      hostId: e.mac ? (hostIds.get(e.mac) ?? null) : null,
      mac: e.mac ?? null,
      source: "relay",
      phase: e.phase,
      bootSession: e.bootSession ?? null,
      // The relay's clock may be off; never let it write the future.
      at: Math.min(e.at, now),
      detail: { ...(e.detail ?? {}), relay: relay.relayName },
      externalId: e.id,
    }));
    const inserts = [];
    for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
      inserts.push(db.insert(events).values(rows.slice(i, i + ROWS_PER_INSERT)).onConflictDoNothing().returning({ id: events.id }));
    }
    const [first, ...rest] = inserts;
    const results = first ? await db.batch([first, ...rest]) : [];
    const stored = results.reduce((n, r) => n + r.length, 0);
    return c.json({ received: batch.length, stored, duplicates: batch.length - stored });
  },
);
