import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createDb } from "../../../worker/db/client.ts";
import { auditIfChanged } from "../../../worker/db/queries/audit.ts";
import { sites } from "../../../worker/db/schema.ts";
import { api, seedSite, seedToken, uniq } from "../../helpers/admin.ts";

describe("audit log", () => {
  it("lists changes newest first with the acting principal, filterable and paginated", async () => {
    const site = uniq("au");
    await seedSite(site);
    const { secret, token } = await seedToken([`site:${site}`]);
    await api("POST", `/v1/sites/${site}/hosts`, { hostname: "n1" }, { token: secret });
    await api("PATCH", `/v1/sites/${site}/hosts/n1`, { state: "booting" }, { token: secret });
    await api("DELETE", `/v1/sites/${site}/hosts/n1`);

    const res = await api("GET", `/v1/audit?site=${site}`);
    expect(res.status).toBe(200);
    expect(res.body.items.map((e: any) => [e.action, e.actor])).toEqual([
      ["host.delete", "root"],
      ["host.update", `token:${token.name}`],
      ["host.create", `token:${token.name}`],
      ["site.create", "root"],
    ]);
    expect(res.body.items[0]).toMatchObject({ resource: "host", site, detail: { hostname: "n1", mac: null } });

    const page1 = await api("GET", `/v1/audit?site=${site}&limit=3`);
    const page2 = await api("GET", `/v1/audit?site=${site}&limit=3&cursor=${page1.body.nextCursor}`);
    expect([...page1.body.items, ...page2.body.items].map((e: any) => e.id)).toEqual(res.body.items.map((e: any) => e.id));
    expect(page2.body.nextCursor).toBeNull();

    const updates = await api("GET", `/v1/audit?site=${site}&action=host.update`);
    expect(updates.body.items).toHaveLength(1);
  });

  it("writes no audit row when a guarded update matched nothing (lost race)", async () => {
    const slug = uniq("au");
    const site = await seedSite(slug);
    const db = createDb(env.DB);
    const before = await env.DB.prepare("select count(*) as n from audit_log").first<{ n: number }>();
    await db.batch([
      db.update(sites).set({ name: "never" }).where(eq(sites.revision, -1)),
      auditIfChanged(db, { actor: "test", action: "site.update", resource: "site", resourceId: site.id, siteId: site.id }),
    ]);
    const after = await env.DB.prepare("select count(*) as n from audit_log").first<{ n: number }>();
    expect(after!.n).toBe(before!.n);
    await db.batch([
      db.update(sites).set({ name: "changed" }).where(eq(sites.id, site.id)),
      auditIfChanged(db, { actor: "test", action: "site.update", resource: "site", resourceId: site.id, siteId: site.id, detail: { x: 1 } }),
    ]);
    const row = await env.DB.prepare("select actor, detail, at from audit_log where resource_id = ? and actor = 'test'").bind(site.id).first<{ actor: string; detail: string; at: number }>();
    expect(row).toMatchObject({ actor: "test", detail: '{"x":1}' });
    expect(Math.abs(row!.at - Date.now())).toBeLessThan(60_000);
  });
});
