import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, seedHost, seedProfile, seedSite, uniq } from "../../helpers/admin.ts";

const auditOf = async (resourceId: string, action: string) =>
  (await env.DB.prepare("select actor, action, resource, site_id, detail from audit_log where resource_id = ? and action = ? order by id").bind(resourceId, action).all()).results;

describe("sites: happy paths", () => {
  it("creates a site with defaults, returns it with an ETag and audits it", async () => {
    const slug = uniq("lab");
    const res = await api("POST", "/v1/sites", { slug, name: "Lab" });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      slug,
      name: "Lab",
      bootAuth: "relay",
      hasBootKey: false,
      unknownHostPolicy: "discover",
      defaultProfile: null,
      discoverRetrySeconds: 30,
      hostTokenTtlSeconds: 3600,
      allowDirect: false,
      vars: {},
      vendorData: null,
      revision: 1,
    });
    expect(res.headers.get("etag")).toBe(`"${res.body.id}.1"`);
    expect(res.headers.get("location")).toBe(`/v1/sites/${slug}`);
    expect(await auditOf(res.body.id, "site.create")).toEqual([{ actor: "root", action: "site.create", resource: "site", site_id: res.body.id, detail: JSON.stringify({ slug }) }]);

    const got = await api("GET", `/v1/sites/${slug}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(res.body);
    expect(got.headers.get("etag")).toBe(res.headers.get("etag"));
  });

  it("stores the default profile by id, shows it by name, and patches with If-Match bumping the revision", async () => {
    const profile = uniq("debian");
    await seedProfile(profile);
    const slug = uniq("east");
    const site = await seedSite(slug, { unknownHostPolicy: "default", defaultProfile: profile, bootAuth: "open" });
    expect(site.defaultProfile).toBe(profile);
    const row = await env.DB.prepare("select s.default_profile_id as pid, p.name from sites s join profiles p on p.id = s.default_profile_id where s.slug = ?").bind(slug).first();
    expect(row).toEqual({ pid: expect.stringMatching(/^[0-9a-f-]{36}$/), name: profile });

    const patched = await api("PATCH", `/v1/sites/${slug}`, { name: "East", vars: { ntp: "10.0.0.1" }, allowDirect: true, vendorData: "#cloud-config\n" }, { headers: { "if-match": `"${site.id}.1"` } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: "East", vars: { ntp: "10.0.0.1" }, allowDirect: true, revision: 2, defaultProfile: profile, vendorData: "#cloud-config\n" });
    expect(patched.headers.get("etag")).toBe(`"${site.id}.2"`);
    expect(await auditOf(site.id, "site.update")).toEqual([expect.objectContaining({ detail: JSON.stringify({ fields: ["allowDirect", "name", "vars", "vendorData"] }) })]);

    const cleared = await api("PATCH", `/v1/sites/${slug}`, { unknownHostPolicy: "deny", defaultProfile: null }, { headers: { "if-match": "*" } });
    expect(cleared.body).toMatchObject({ unknownHostPolicy: "deny", defaultProfile: null, revision: 3 });
  });

  it("lists sites in slug order across pages with an opaque cursor", async () => {
    const prefix = uniq("pg");
    for (const s of ["c", "a", "b"]) await seedSite(`${prefix}-${s}`);
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 100; page++) {
      const res: any = await api("GET", `/v1/sites?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((s: any) => s.slug));
      cursor = res.body.nextCursor;
      if (!cursor) break;
    }
    expect(seen).toEqual([...seen].sort());
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((s) => s.startsWith(prefix))).toEqual([`${prefix}-a`, `${prefix}-b`, `${prefix}-c`]);
  });

  it("generates a boot key once, stores only its SHA-256 and rotates it", async () => {
    const slug = uniq("k");
    await seedSite(slug, { bootAuth: "key" });
    const res = await api("POST", `/v1/sites/${slug}/boot-key`);
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    // `secret`, the shown-once field of every route; `bootKey` is its older name, kept as an alias.
    expect(res.body).toEqual({ site: slug, secret: expect.stringMatching(/^ebk_[A-Za-z0-9_-]{43}$/), bootKey: res.body.secret });
    const digest = [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(res.body.bootKey)))].map((b) => b.toString(16).padStart(2, "0")).join("");
    const row = await env.DB.prepare("select boot_key_hash from sites where slug = ?").bind(slug).first<{ boot_key_hash: string }>();
    expect(row?.boot_key_hash).toBe(digest);

    const got = await api("GET", `/v1/sites/${slug}`);
    expect(got.body).toMatchObject({ hasBootKey: true, revision: 2 });
    expect(JSON.stringify(got.body)).not.toContain(res.body.bootKey);
    expect(JSON.stringify(got.body)).not.toContain(digest);

    const rotated = await api("POST", `/v1/sites/${slug}/boot-key`);
    expect(rotated.body.bootKey).not.toBe(res.body.bootKey);
    const after = await env.DB.prepare("select boot_key_hash from sites where slug = ?").bind(slug).first<{ boot_key_hash: string }>();
    expect(after?.boot_key_hash).not.toBe(digest);
  });

  it("deletes an empty site; a site with hosts only with ?force=true, taking its hosts along", async () => {
    const empty = uniq("gone");
    const site = await seedSite(empty);
    expect((await api("DELETE", `/v1/sites/${empty}`)).status).toBe(204);
    expect((await api("GET", `/v1/sites/${empty}`)).status).toBe(404);
    expect(await auditOf(site.id, "site.delete")).toHaveLength(1);

    const full = uniq("full");
    await seedSite(full);
    await seedHost(full, { hostname: "n1", mac: "02:00:00:00:00:01" });
    const refused = await api("DELETE", `/v1/sites/${full}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe("conflict");
    expect((await api("DELETE", `/v1/sites/${full}?force=true`)).status).toBe(204);
    const left = await env.DB.prepare("select count(*) as n from hosts h join sites s on s.id = h.site_id where s.slug = ?").bind(full).first<{ n: number }>();
    expect(left?.n).toBe(0);
  });
});
