// Event retention through the Worker's real `scheduled` export (the cron trigger's entry), against real D1.
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import worker from "../../../worker/index.ts";
import { applyRetention } from "../../../worker/retention.ts";
import { resetDb } from "./fleetSeed.ts";

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 6, 12, 0, 0);

beforeEach(resetDb);

async function seed() {
  const d1 = env.DB;
  await d1.batch([
    d1.prepare("INSERT INTO sites (id, slug, name) VALUES ('s-a', 'a', 'A')"),
    d1.prepare("INSERT INTO sites (id, slug, name, event_retention_days) VALUES ('s-b', 'b', 'B', 7)"),
    d1.prepare("INSERT INTO hosts (id, site_id, mac) VALUES ('h1', 's-a', '52:54:00:00:00:01'), ('h2', 's-a', '52:54:00:00:00:02'), ('h3', 's-b', '52:54:00:00:00:03')"),
  ]);
  // A boot timeline: what the Worker, the relay and the host record for one boot, `daysAgo` before NOW.
  const boot = (site: string, host: string | null, daysAgo: number, tag: string) =>
    ["dhcp-offer", "tftp-sent", "chain-served", "nocloud-meta-data", "nocloud-user-data", "booted"].map((phase, i) =>
      d1.prepare("INSERT INTO events (site_id, host_id, source, phase, detail, at) VALUES (?, ?, 'worker', ?, ?, ?)").bind(site, host, phase, JSON.stringify({ tag }), NOW - daysAgo * DAY + i * 1000),
    );
  await d1.batch([
    ...boot("s-a", "h1", 60, "h1-60"),
    ...boot("s-a", "h1", 40, "h1-40"),
    ...boot("s-a", "h1", 1, "h1-1"),
    ...boot("s-a", "h2", 50, "h2-50"), // h2's only boot: its last timeline, kept however old
    ...boot("s-a", null, 45, "unknown-45"),
    ...boot("s-a", null, 10, "unknown-10"),
    ...boot("s-a", "gone", 45, "gone-45"), // a deleted host's events age out
    ...boot("s-a", "gone", 2, "gone-2"),
    ...boot("s-b", "h3", 10, "h3-10"),
    ...boot("s-b", "h3", 3, "h3-3"),
  ]);
}

const tags = async () => {
  const { results } = await env.DB.prepare("SELECT json_extract(detail, '$.tag') AS tag, count(*) AS n FROM events GROUP BY 1 ORDER BY 1").all<{ tag: string; n: number }>();
  return Object.fromEntries(results.map((r) => [r.tag, r.n]));
};

describe("event retention (cron)", () => {
  it("the scheduled handler keeps each site's window and each host's last boot timeline", async () => {
    await seed();
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: NOW, cron: "23 * * * *" }), env as never, ctx);
    await waitOnExecutionContext(ctx);
    // Site a keeps 30 days (the default), site b 7; whole timelines go or stay.
    expect(await tags()).toEqual({ "gone-2": 6, "h1-1": 6, "h2-50": 6, "h3-3": 6, "unknown-10": 6 });
  });

  it("a host's last timeline is its newest boot, DHCP and TFTP before the chain included", async () => {
    await seed();
    // Another boot of h1 an hour after its last one, chain-served only: the earlier boot is no longer the last.
    await env.DB.prepare("INSERT INTO events (site_id, host_id, source, phase, detail, at) VALUES ('s-a', 'h1', 'worker', 'chain-served', '{\"tag\":\"h1-last\"}', ?)").bind(NOW - DAY + 3600_000).run();
    await applyRetention(env.DB, NOW + 100 * DAY);
    // 100 days on, only each live host's last boot is left.
    expect(await tags()).toEqual({ "h1-last": 1, "h2-50": 6, "h3-3": 6 });
  });

  it("works in bounded chunks and a cut-short run is finished by the next", async () => {
    await seed();
    const first = await applyRetention(env.DB, NOW, { chunk: 5, maxChunks: 3 });
    expect(first).toMatchObject({ deleted: 15, chunks: 3, complete: false });
    const second = await applyRetention(env.DB, NOW, { chunk: 5, maxChunks: 100 });
    expect(second.complete).toBe(true);
    expect(first.deleted + second.deleted).toBe(30);
    expect(await tags()).toEqual({ "gone-2": 6, "h1-1": 6, "h2-50": 6, "h3-3": 6, "unknown-10": 6 });
    // Nothing left to do: a run deletes nothing.
    expect((await applyRetention(env.DB, NOW)).deleted).toBe(0);
  });

  it("the site setting is read and written through the admin API, within bounds", async () => {
    await seed();
    const call = async (method: string, body?: unknown) => {
      const ctx = createExecutionContext();
      const res = await worker.fetch(
        new Request("http://api.test/v1/sites/b", { method, headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) }) as never,
        env as never,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      return { status: res.status, body: (await res.json()) as Record<string, any> };
    };
    expect((await call("GET")).body.eventRetentionDays).toBe(7);
    expect((await call("PATCH", { eventRetentionDays: 90 })).body.eventRetentionDays).toBe(90);
    const bad = await call("PATCH", { eventRetentionDays: 0 });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.error)).toContain("eventRetentionDays");
    expect((await call("GET")).body.eventRetentionDays).toBe(90);
  });
});
