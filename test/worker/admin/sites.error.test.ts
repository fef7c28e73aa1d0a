import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, seedProfile, seedSite, uniq } from "../../helpers/admin.ts";

describe("sites: errors", () => {
  it("400 with zod issues for invalid fields, unknown fields and a slug change", async () => {
    const bad = await api("POST", "/v1/sites", { slug: "Not A Slug", name: "", bootAuth: "password", discoverRetrySeconds: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("invalid_input");
    const paths = bad.body.error.details.map((i: any) => i.path.join("."));
    expect(paths).toEqual(expect.arrayContaining(["slug", "name", "bootAuth", "discoverRetrySeconds"]));

    const slug = uniq("s");
    await seedSite(slug);
    const rename = await api("PATCH", `/v1/sites/${slug}`, { slug: "other" });
    expect(rename.status).toBe(400);
    expect(rename.body.error.details[0]).toMatchObject({ code: "unrecognized_keys", keys: ["slug"] });
  });

  it("400 for an unknown default profile and for policy default without one", async () => {
    const unknown = await api("POST", "/v1/sites", { slug: uniq("s"), name: "x", defaultProfile: "no-such-profile" });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatchObject({ code: "invalid_input", details: { field: "defaultProfile", missing: ["no-such-profile"] } });

    const policy = await api("POST", "/v1/sites", { slug: uniq("s"), name: "x", unknownHostPolicy: "default" });
    expect(policy.status).toBe(400);
    expect(policy.body.error.details).toEqual({ field: "defaultProfile" });
  });

  it("409 for a duplicate slug, 404 for an unknown site", async () => {
    const slug = uniq("dup");
    await seedSite(slug);
    const dup = await api("POST", "/v1/sites", { slug, name: "again" });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe("conflict");
    for (const [method, body] of [["GET"], ["PATCH", { name: "x" }], ["DELETE"]] as const) {
      const res = await api(method, `/v1/sites/${uniq("nope")}`, body);
      expect(res.status, method).toBe(404);
      expect(res.body.error.code).toBe("not_found");
    }
  });

  it("409 precondition_failed for a stale or weak If-Match, and nothing changes or is audited", async () => {
    const slug = uniq("etag");
    const site = await seedSite(slug);
    const ok = await api("PATCH", `/v1/sites/${slug}`, { name: "v2" }, { headers: { "if-match": `"${site.id}.1"` } });
    expect(ok.status).toBe(200);
    for (const tag of [`"${site.id}.1"`, `W/"${site.id}.2"`, `"other.2"`]) {
      const stale = await api("PATCH", `/v1/sites/${slug}`, { name: "v3" }, { headers: { "if-match": tag } });
      expect(stale.status, tag).toBe(409);
      expect(stale.body.error.code).toBe("precondition_failed");
      expect(stale.body.error.details).toEqual({ ifMatch: tag, etag: `"${site.id}.2"` });
    }
    const del = await api("DELETE", `/v1/sites/${slug}`, undefined, { headers: { "if-match": `"${site.id}.1"` } });
    expect(del.status).toBe(409);
    expect((await api("GET", `/v1/sites/${slug}`)).body).toMatchObject({ name: "v2", revision: 2 });
    const audits = await env.DB.prepare("select action from audit_log where resource_id = ? order by id").bind(site.id).all();
    expect(audits.results.map((r: any) => r.action)).toEqual(["site.create", "site.update"]);
  });

  it("refuses deleting a profile a site defaults to (409)", async () => {
    const profile = uniq("p");
    await seedProfile(profile);
    await seedSite(uniq("s"), { defaultProfile: profile });
    const res = await api("DELETE", `/v1/profiles/${profile}`);
    expect(res.status).toBe(409);
    expect(res.body.error.details).toMatchObject({ sites: 1 });
  });
});
