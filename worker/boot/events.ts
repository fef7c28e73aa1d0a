// GET|POST /boot/h/:token/events?phase=: the boot timeline as the machine reports it (installer callbacks, the
// chain's own boot-failed call, cloud-init's phone_home). GET exists because stock iPXE can only GET (imgfetch).
// Recorded synchronously: the caller is told whether it was stored. Reporting the phase a one-shot intent names
// reverts that intent. A token reports events for the life of its boot session, also after the boot is done.
import type { Context } from "hono";
import { z } from "zod";
import { hostPhaseWrites } from "../db/queries/bootEvents.ts";
import { hostInSite } from "../db/queries/bootHost.ts";
import { ApiError, notFound } from "../errors.ts";
import type { Clock } from "./chain.ts";
import type { BootHostEnv } from "./hostToken.ts";
import { parseInput } from "./query.ts";
import { text } from "./respond.ts";

// phone_home posts three public keys (an RSA-4096 one is ~750 characters, form-encoded ~830) plus names.
export const EVENT_BODY_MAX = 8192;
const MAX_FIELDS = 32;
const MAX_VALUE = 2048;

const EventQuery = z.object({ phase: z.string().regex(/^[a-z0-9-]{1,32}$/, "phase is 1-32 of a-z, 0-9 and '-'") });
const FieldName = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "field names are 1-64 of A-Z a-z 0-9 _ . -");
const EventBody = z.record(FieldName, z.json()).refine((o) => Object.keys(o).length <= MAX_FIELDS, `at most ${MAX_FIELDS} fields`);
// cloud-init's phone_home (cc_phone_home.py) posts instance_id, hostname, fqdn and pub_key_* as strings ("N/A" when
// it has none); other senders may add their own fields.
const FormBody = z.record(FieldName, z.string().max(MAX_VALUE, `form values are at most ${MAX_VALUE} characters`)).refine((o) => Object.keys(o).length <= MAX_FIELDS, `at most ${MAX_FIELDS} fields`);

// What edgeboot itself records about a boot (the Worker's and the relay's phases) and its alert marker are not a
// host's to report: a host token is readable off the wire, and a forged `secret-refetch` or `mac-rebind` (or any event
// with `alert`) would put a false alarm, or a false all-clear, in the operator's timeline.
const RESERVED_PHASE = /^(?:chain-|secret-|nocloud-|file-|dhcp-|tftp-|http-binary-|cache-|wake-)|^(?:mac-rebind|https-fallback|discovered|render-failed|artifact-fetched)$/;

const mediaType = (c: Context) => c.req.header("content-type")?.split(";")[0]?.trim().toLowerCase() ?? "";

async function readDetail(c: Context<BootHostEnv>): Promise<Record<string, unknown>> {
  if (c.req.method !== "POST") return {};
  const raw = await c.req.text();
  if (raw.trim() === "") return {};
  if (mediaType(c) === "application/x-www-form-urlencoded") {
    const form: Record<string, string> = {};
    for (const [k, v] of new URLSearchParams(raw)) {
      if (k in form) throw new ApiError("invalid_input", `body: field "${k.slice(0, 64)}" appears twice`, { field: k.slice(0, 64) });
      // Key files end in a newline; the value is the key.
      form[k] = v.trim();
    }
    return parseInput(FormBody, form, "body");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ApiError("invalid_input", "body: must be a JSON object, a form (application/x-www-form-urlencoded) or empty", { field: "body" });
  }
  return parseInput(EventBody, parsed, "body") as Record<string, unknown>;
}

export async function recordHostEvent(c: Context<BootHostEnv>, now: Clock): Promise<Response> {
  const { phase } = parseInput(EventQuery, c.req.query(), "query");
  if (RESERVED_PHASE.test(phase)) throw new ApiError("invalid_input", `phase: "${phase}" is recorded by edgeboot itself, not reported by a host`, { field: "phase" });
  const detail = await readDetail(c);
  if (Object.hasOwn(detail, "alert")) throw new ApiError("invalid_input", "body.alert: reserved for edgeboot's own alert events", { field: "body.alert" });
  const claims = c.get("hostToken");
  const db = c.get("db");
  const host = await hostInSite(db, claims);
  if (!host) throw notFound("host");
  const at = now();
  await db.batch(hostPhaseWrites(db, { siteId: claims.siteId, hostId: claims.hostId, mac: claims.mac, source: "host", phase, bootSession: claims.sid, detail, at }, host.intent !== null));
  return text("ok\n");
}
