// Write-behind batches: event inserts fold into multi-row statements (a D1 batch pays per statement) without losing,
// reordering or mixing up a row; a relay's repeated last-seen writes shrink to the newest; every other statement
// keeps its place.
import { env } from "cloudflare:workers";
import { asc, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import { D1_MAX_BOUND_PARAMS, dropSuperseded, foldAppends, preparedAppend, runWrites } from "../../../worker/db/prepared.ts";
import { insertEventStatement, touchHostStatement, touchRelayStatement, type EventInput } from "../../../worker/db/queries/bootEvents.ts";
import { events, hosts, relays } from "../../../worker/db/schema.ts";
import { db, seedHost, seedRelay, seedSite } from "./seed.ts";

const event = (siteId: string, i: number): EventInput => ({
  siteId,
  hostId: i % 3 === 0 ? null : `h${i}`,
  mac: `52:54:00:00:02:${i.toString(16).padStart(2, "0")}`,
  source: "worker",
  phase: i % 2 ? "chain-served" : "discovered",
  bootSession: `sid-${i}`,
  detail: { i, quote: `it's "${i}"` },
  at: 1_700_000_000_000 + i,
});

describe("foldAppends", () => {
  it("folds 30 events into as few statements as D1's parameter limit allows, and all 30 land in order", async () => {
    const site = await seedSite({ slug: "lab" });
    const inputs = Array.from({ length: 30 }, (_, i) => event(site.id, i));
    const statements = inputs.map(insertEventStatement);
    const perRow = statements[0]!.params.length;
    const folded = foldAppends(statements);
    expect(folded).toHaveLength(Math.ceil(30 / Math.floor(D1_MAX_BOUND_PARAMS / perRow)));
    for (const s of folded) expect(s.params.length).toBeLessThanOrEqual(D1_MAX_BOUND_PARAMS);
    expect(folded.flatMap((s) => s.params)).toEqual(statements.flatMap((s) => s.params));

    await runWrites(env.DB, folded);
    const rows = await db().select().from(events).where(eq(events.siteId, site.id)).orderBy(asc(events.id));
    expect(rows.map(({ hostId, mac, source, phase, bootSession, detail, at }) => ({ siteId: site.id, hostId, mac, source, phase, bootSession, detail, at }))).toEqual(inputs);
  });

  it("keeps every other statement in its place and only folds statements with the same SQL", async () => {
    const site = await seedSite({ slug: "lab" });
    await seedHost({ id: "h1", siteId: site.id, mac: "52:54:00:00:03:01" });
    const touch = touchHostStatement("h1", 1_700_000_000_500);
    const mixed = [insertEventStatement(event(site.id, 1)), touch, insertEventStatement(event(site.id, 2)), touch];
    const folded = foldAppends(mixed);
    expect(folded.map((s) => s.sql)).toEqual([expect.stringMatching(/^insert into "events" .* values \(.*\), \(.*\)$/), touch.sql, touch.sql]);
    await runWrites(env.DB, folded);
    expect((await db().select().from(events).where(eq(events.siteId, site.id))).map((e) => e.bootSession)).toEqual(["sid-1", "sid-2"]);
    expect((await db().select({ lastSeenAt: hosts.lastSeenAt }).from(hosts).where(eq(hosts.id, "h1")))[0]!.lastSeenAt).toBe(1_700_000_000_500);
  });

  it("a lone append statement goes out unchanged", () => {
    const one = insertEventStatement(event("s", 1));
    expect(foldAppends([one])).toEqual([{ sql: one.sql, params: one.params }]);
  });

  it("refuses to mark an insert foldable when a multi-row insert would change its meaning", () => {
    const builder = drizzle({} as D1Database);
    const upsert = preparedAppend(() => builder.insert(events).values({ siteId: "s", source: "worker", phase: "p" }).onConflictDoNothing());
    expect(() => upsert({})).toThrow(/not a single-row insert/);
  });
});

describe("dropSuperseded", () => {
  it("keeps only the newest last-seen write per relay, in its place, and leaves other writes alone", async () => {
    const site = await seedSite({ slug: "lab" });
    await seedHost({ id: "h1", siteId: site.id, mac: "52:54:00:00:03:01" });
    const relayA = await seedRelay({ siteId: site.id, id: "relay-a" });
    const relayB = await seedRelay({ siteId: site.id, id: "relay-b" });
    const touchA1 = touchRelayStatement({ id: relayA.id, at: 1_000 });
    const touchB = touchRelayStatement({ id: relayB.id, at: 2_000 });
    const hostTouch1 = touchHostStatement("h1", 3_000);
    const hostTouch2 = touchHostStatement("h1", 2_500);
    const touchA2 = touchRelayStatement({ id: relayA.id, at: 4_000 });
    const kept = dropSuperseded([touchA1, touchB, hostTouch1, hostTouch2, touchA2]);
    expect(kept).toEqual([touchB, hostTouch1, hostTouch2, touchA2]);
    await runWrites(env.DB, kept);
    const seen = Object.fromEntries((await db().select({ id: relays.id, lastSeenAt: relays.lastSeenAt }).from(relays)).map((r) => [r.id, r.lastSeenAt]));
    expect(seen).toEqual({ [relayA.id]: 4_000, [relayB.id]: 2_000 });
    // Host touches carry identity and state as well as the time: both run, in order.
    expect((await db().select({ lastSeenAt: hosts.lastSeenAt }).from(hosts).where(eq(hosts.id, "h1")))[0]!.lastSeenAt).toBe(2_500);
  });
});
