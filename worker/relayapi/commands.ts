import { and, eq, isNull } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import { zv } from "../artifacts/http.ts";
import { relayCommands } from "../db/schema.ts";
import { notFound } from "../errors.ts";
import type { RelayApiEnv } from "./context.ts";

const AckParam = z.object({ id: z.string().min(1).max(64) });
const AckBody = z.strictObject({ ok: z.boolean(), error: z.string().max(500).optional() });

// POST /relay/v1/commands/:id/ack: the relay ran (or failed to run) a command; it is not handed out again.
// Acking twice is fine; another site's command is "not found".
export const commandsRoute = new Hono<RelayApiEnv>().post("/commands/:id/ack", zv("param", AckParam), zv("json", AckBody), async (c) => {
  const relay = c.get("relay");
  const db = c.get("db");
  const { id } = c.req.valid("param");
  const body = c.req.valid("json");
  const where = and(eq(relayCommands.id, id), eq(relayCommands.siteId, relay.siteId));
  const [cmd] = await db.select().from(relayCommands).where(where).limit(1);
  if (!cmd) throw notFound("command", { id });
  if (cmd.deliveredAt === null) {
    await db
      .update(relayCommands)
      .set({ deliveredAt: Date.now(), payload: { ...cmd.payload, result: { ok: body.ok, error: body.error ?? null, relay: relay.relayName } } })
      .where(and(where, isNull(relayCommands.deliveredAt)));
  }
  return c.json({ id, acknowledged: true });
});
