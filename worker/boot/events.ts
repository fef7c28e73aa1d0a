// GET|POST /boot/h/:token/events?phase=: the boot timeline as the machine reports it (installer callbacks, the
// chain's own boot-failed call). GET exists because stock iPXE can only GET (imgfetch). Recorded synchronously:
// the caller is told whether it was stored. Reporting the phase a one-shot intent names reverts that intent.
import type { Context } from "hono";
import { z } from "zod";
import { hostPhaseWrites } from "../db/queries/bootEvents.ts";
import { hostInSite } from "../db/queries/bootHost.ts";
import { ApiError, notFound } from "../errors.ts";
import type { Clock } from "./chain.ts";
import type { BootHostEnv } from "./hostToken.ts";
import { text } from "./respond.ts";

export const EVENT_BODY_MAX = 4096;

const EventQuery = z.object({ phase: z.string().regex(/^[a-z0-9-]{1,32}$/, "phase is 1-32 of a-z, 0-9 and '-'") });
const EventBody = z.record(z.string().max(64), z.json()).refine((o) => Object.keys(o).length <= 32, "at most 32 fields");

async function readDetail(c: Context<BootHostEnv>): Promise<Record<string, unknown>> {
  if (c.req.method !== "POST") return {};
  const raw = await c.req.text();
  if (raw.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ApiError("invalid_input", "event body must be a JSON object (or empty)");
  }
  return EventBody.parse(parsed) as Record<string, unknown>;
}

export async function recordHostEvent(c: Context<BootHostEnv>, now: Clock): Promise<Response> {
  const { phase } = EventQuery.parse(c.req.query());
  const detail = await readDetail(c);
  const claims = c.get("hostToken");
  const db = c.get("db");
  if (!(await hostInSite(db, claims))) throw notFound("host");
  const at = now();
  await db.batch([
    ...hostPhaseWrites(db, { siteId: claims.siteId, hostId: claims.hostId, mac: claims.mac, source: "host", phase, bootSession: claims.sid, detail, at }),
  ]);
  return text("ok\n");
}
