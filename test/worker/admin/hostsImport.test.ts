import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, seedHost, seedProfile, seedSite, uniq } from "../../helpers/admin.ts";

const count = async (site: string) =>
  (await env.DB.prepare("select count(*) as n from hosts h join sites s on s.id = h.site_id where s.slug = ?").bind(site).first<{ n: number }>())!.n;

const text = (body: string) => ({ raw: body, contentType: "text/plain; charset=utf-8" });

describe("hosts import", () => {
  it("imports dnsmasq dhcp-host lines with a default profile, and audits once", async () => {
    const site = uniq("imp");
    const profile = uniq("p");
    await seedSite(site);
    await seedProfile(profile);
    const conf = "domain=lab\ndhcp-host=52:54:00:00:01:01,10.0.0.21,node-01\ndhcp-host=52:54:00:00:01:02,set:x,node-02.lab.example,10.0.0.22,infinite\ndhcp-host=52:54:00:00:01:03,52:54:00:00:01:04,dual\n";
    const res = await api("POST", `/v1/sites/${site}/hosts/import?profile=${profile}`, undefined, text(conf));
    expect(res.status).toBe(201);
    expect(res.body.created).toBe(3);
    expect(res.body.hosts.map((h: any) => h.hostname)).toEqual(["node-01", "node-02.lab.example", "dual"]);
    expect(res.body.warnings).toEqual([{ line: 4, message: expect.stringMatching(/several MACs/) }]);
    expect(res.body).toMatchObject({ unchanged: 0, skipped: [] });
    const host = await api("GET", `/v1/sites/${site}/hosts/52:54:00:00:01:02`);
    expect(host.body).toMatchObject({ hostname: "node-02.lab.example", ipv4: "10.0.0.22", profile, state: "ready" });
    const audit = await env.DB.prepare("select detail from audit_log a join sites s on s.id = a.site_id where s.slug = ? and action = 'host.import'").bind(site).all();
    expect(audit.results.map((r: any) => JSON.parse(r.detail))).toEqual([{ format: "dnsmasq", count: 3 }]);
  });

  it("imports a JSON array of hosts", async () => {
    const site = uniq("imp");
    await seedSite(site);
    const hosts = Array.from({ length: 25 }, (_, i) => ({ hostname: `n${String(i).padStart(2, "0")}`, mac: `02:00:00:00:10:${i.toString(16).padStart(2, "0")}`, labels: { batch: "1" } }));
    const res = await api("POST", `/v1/sites/${site}/hosts/import`, hosts);
    expect(res.status).toBe(201);
    expect(res.body.created).toBe(25);
    expect(await count(site)).toBe(25);
    expect((await api("GET", `/v1/sites/${site}/hosts?label=batch=1&limit=500`)).body.items).toHaveLength(25);
  });

  it("400 listing every bad line, and nothing is imported", async () => {
    const site = uniq("imp");
    await seedSite(site);
    const conf = "dhcp-host=52:54:00:00:02:01,10.0.0.21,ok-1\ndhcp-host=52:54:00:*:*:*,10.0.0.5\ndhcp-host=52:54:00:00:02:03,10.0.0.999,x\ndhcp-host=52:54:00:00:02:04,deadbeef0001\ndhcp-host=52:54:00:00:02:05,ok-5\n";
    const res = await api("POST", `/v1/sites/${site}/hosts/import`, undefined, text(conf));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_input");
    expect(res.body.error.details.errors.map((e: any) => e.line)).toEqual([2, 3, 4]);
    expect(await count(site)).toBe(0);
  });

  it("400 with per-index issues for a bad JSON array", async () => {
    const site = uniq("imp");
    await seedSite(site);
    const res = await api("POST", `/v1/sites/${site}/hosts/import`, [{ hostname: "ok" }, { mac: "zz" }, {}]);
    expect(res.status).toBe(400);
    expect(res.body.error.details.map((i: any) => i.path[0])).toEqual([1, 2]);
    expect(await count(site)).toBe(0);
  });

  it("re-importing the same file changes nothing; skipped lines are reported with their reason", async () => {
    const site = uniq("imp");
    const profile = uniq("p");
    await seedSite(site);
    await seedProfile(profile);
    const conf = "dhcp-host=52:54:00:00:05:01,10.0.0.51,n-1\ndhcp-host=id:client-7,10.0.0.57,by-id\ndhcp-host=52:54:00:00:05:02,n-2\n";
    const first = await api("POST", `/v1/sites/${site}/hosts/import?profile=${profile}`, undefined, text(conf));
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ created: 2, unchanged: 0 });
    expect(first.body.skipped).toEqual([{ line: 2, message: expect.stringMatching(/DHCP client id \(id:client-7\)/) }]);
    const again = await api("POST", `/v1/sites/${site}/hosts/import?profile=${profile}`, undefined, text(`${conf}dhcp-host=52:54:00:00:05:03,n-3\n`));
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ created: 1, unchanged: 2, hosts: [{ hostname: "n-3" }] });
    const third = await api("POST", `/v1/sites/${site}/hosts/import`, undefined, text(`${conf}dhcp-host=52:54:00:00:05:03,n-3\n`));
    expect(third.status).toBe(200);
    expect(third.body).toMatchObject({ created: 0, unchanged: 3 });
    expect(await count(site)).toBe(3);
    const audit = await env.DB.prepare("select count(*) as n from audit_log a join sites s on s.id = a.site_id where s.slug = ? and action = 'host.import'").bind(site).first<{ n: number }>();
    expect(audit!.n).toBe(2);
  });

  it("409 listing each line that clashes with an existing host and what differs; nothing is imported", async () => {
    const site = uniq("imp");
    await seedSite(site);
    await seedHost(site, { hostname: "n-1", mac: "52:54:00:00:06:01", ipv4: "10.0.0.61" });
    await seedHost(site, { hostname: "n-2", mac: "52:54:00:00:06:02" });
    const conf = "dhcp-host=52:54:00:00:06:09,n-9\ndhcp-host=52:54:00:00:06:01,10.0.0.99,n-1\ndhcp-host=52:54:00:00:06:02,n-1b\n";
    const res = await api("POST", `/v1/sites/${site}/hosts/import`, undefined, text(conf));
    expect(res.status).toBe(409);
    expect(res.body.error.details.conflicts).toEqual([
      { line: 2, field: "mac", value: "52:54:00:00:06:01", existing: "n-1", differences: { ipv4: { existing: "10.0.0.61", import: "10.0.0.99" } } },
      { line: 3, field: "mac", value: "52:54:00:00:06:02", existing: "n-2", differences: { hostname: { existing: "n-2", import: "n-1b" } } },
    ]);
    expect(await count(site)).toBe(2);
  });

  it("409 naming duplicates within the import and against existing hosts; all or nothing", async () => {
    const site = uniq("imp");
    await seedSite(site);
    await seedHost(site, { hostname: "existing", mac: "52:54:00:00:03:01" });
    const within = await api("POST", `/v1/sites/${site}/hosts/import`, undefined, text("dhcp-host=52:54:00:00:03:02,a\ndhcp-host=52:54:00:00:03:02,b\n"));
    expect(within.status).toBe(409);
    expect(within.body.error.details.duplicates).toEqual([{ field: "mac", value: "52:54:00:00:03:02", first: { line: 1 }, again: { line: 2 } }]);
    const existing = await api("POST", `/v1/sites/${site}/hosts/import`, [{ hostname: "new-1", mac: "52:54:00:00:03:09" }, { hostname: "other", mac: "52:54:00:00:03:01" }]);
    expect(existing.status).toBe(409);
    expect(existing.body.error.details.conflicts).toEqual([{ index: 1, field: "mac", value: "52:54:00:00:03:01", existing: "existing", differences: { hostname: { existing: "existing", import: "other" } } }]);
    expect(await count(site)).toBe(1);
  });

  it("400 for an unknown default profile, an empty config, or a body that is neither", async () => {
    const site = uniq("imp");
    await seedSite(site);
    expect((await api("POST", `/v1/sites/${site}/hosts/import?profile=ghost`, [{ hostname: "a" }])).status).toBe(400);
    expect((await api("POST", `/v1/sites/${site}/hosts/import`, undefined, text("# nothing here\n"))).status).toBe(400);
    expect((await api("POST", `/v1/sites/${site}/hosts/import`, { hostname: "a" })).status).toBe(400);
    expect((await api("POST", `/v1/sites/${site}/hosts/import`, undefined, { raw: "x", contentType: "application/xml" })).status).toBe(415);
    expect(await count(site)).toBe(0);
  });

  it("imports 1000 dnsmasq lines in one all-or-nothing batch, and refuses 1001", async () => {
    const site = uniq("imp");
    await seedSite(site);
    const line = (i: number) => `dhcp-host=02:10:00:00:${(i >> 8).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")},10.1.${i >> 8}.${i & 255},n${i}`;
    const conf = Array.from({ length: 1000 }, (_, i) => line(i)).join("\n");
    const res = await api("POST", `/v1/sites/${site}/hosts/import`, undefined, text(conf));
    expect(res.status).toBe(201);
    expect(res.body.created).toBe(1000);
    expect(await count(site)).toBe(1000);
    const other = uniq("imp");
    await seedSite(other);
    const tooMany = await api("POST", `/v1/sites/${other}/hosts/import`, undefined, text(`${conf}\n${line(1000)}`));
    expect(tooMany.status).toBe(400);
    expect(await count(other)).toBe(0);
  });
});
