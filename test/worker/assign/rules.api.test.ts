// /v1/sites/:site/rules through the real Worker and D1: create, read, replace, delete; input errors naming the field;
// ties refused at save with both names and nothing stored; scopes; audit; the profile-delete guard; the guarded write.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { insertRuleIfUnchanged, ruleSetFingerprint, siteRules } from "../../../worker/db/queries/rules.ts";
import { createDb } from "../../../worker/db/client.ts";
import { api, seedProfile, seedSite, seedToken, uniq } from "../../helpers/admin.ts";

async function lab() {
  const site = uniq("rules");
  await seedSite(site);
  const profile = uniq("p");
  await seedProfile(profile);
  return { site, profile, rules: `/v1/sites/${site}/rules` };
}

const count = async (sql: string, ...args: unknown[]) => (await env.DB.prepare(sql).bind(...args).first<{ n: number }>())!.n;
const auditCount = (action: string, name: string) => count("select count(*) as n from audit_log where action = ? and json_extract(detail, '$.name') = ?", action, name);

describe("assignment rules: create, read, replace, delete", () => {
  it("stores a normalised selector, shows specificity, and honours ETags", async () => {
    const { site, profile, rules } = await lab();
    const created = await api("POST", rules, {
      name: "qemu",
      profile,
      description: "QEMU NICs",
      selector: { macPrefix: "52-54-00", labels: {}, uuid: "4C4C4544-0042-3510-8052-B4C04F4E3732" },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.headers.get("location")).toBe(`/v1/sites/${site}/rules/qemu`);
    expect(created.body).toMatchObject({
      site,
      name: "qemu",
      profile,
      description: "QEMU NICs",
      // Octets joined by ':', lower-case; the exact UUID in its one spelling; the empty label map dropped.
      selector: { macPrefix: "52:54:00", uuid: "4c4c4544-0042-3510-8052-b4c04f4e3732" },
      specificity: 12_000 + 6 + 36,
      revision: 1,
    });
    expect(created.body.selector).not.toHaveProperty("labels");
    const etag = created.headers.get("etag")!;

    const got = await api("GET", `${rules}/qemu`);
    expect(got.body).toEqual(created.body);
    expect(got.headers.get("etag")).toBe(etag);
    expect((await api("GET", rules)).body).toEqual({ items: [created.body], nextCursor: null });

    const replaced = await api("PUT", `${rules}/qemu`, { profile, selector: { macPrefix: "52:54:00:12" } }, { headers: { "if-match": etag } });
    expect(replaced.status, JSON.stringify(replaced.body)).toBe(200);
    expect(replaced.body).toMatchObject({ selector: { macPrefix: "52:54:00:12" }, description: null, revision: 2, specificity: 4008 });
    const stale = await api("PUT", `${rules}/qemu`, { profile, selector: { arch: "arm64" } }, { headers: { "if-match": etag } });
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe("precondition_failed");

    expect((await api("DELETE", `${rules}/qemu`, undefined, { headers: { "if-match": etag } })).status).toBe(409);
    expect((await api("DELETE", `${rules}/qemu`, undefined, { headers: { "if-match": replaced.headers.get("etag")! } })).status).toBe(204);
    expect((await api("GET", `${rules}/qemu`)).status).toBe(404);
    for (const action of ["rule.create", "rule.replace", "rule.delete"]) expect(await auditCount(action, "qemu"), action).toBeGreaterThanOrEqual(1);
  });

  it("404 for an unknown site or rule; 409 for a taken name", async () => {
    const { profile, rules } = await lab();
    expect((await api("POST", rules, { name: "a", profile, selector: { arch: "arm64" } })).status).toBe(201);
    const dup = await api("POST", rules, { name: "a", profile, selector: { arch: "x86_64" } });
    expect(dup.status).toBe(409);
    expect(dup.body.error.details).toMatchObject({ field: "name", rule: "a" });
    expect((await api("GET", `/v1/sites/${uniq("none")}/rules`)).status).toBe(404);
    expect((await api("PUT", `${rules}/ghost`, { profile, selector: { arch: "arm64" } })).status).toBe(404);
    expect((await api("DELETE", `${rules}/ghost`)).status).toBe(404);
  });
});

describe("assignment rules: bad input names the field and stores nothing", () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ["empty selector", { selector: {} }, "selector"],
    ["unknown selector key", { selector: { rack: "r1" } }, "selector.rack"],
    ["MAC prefix with a half octet", { selector: { macPrefix: "52:54:0" } }, "selector.macPrefix"],
    ["UUID pattern with a non-hex character", { selector: { uuid: "4c4c45zz-*" } }, "selector.uuid"],
    ["UUID pattern of stars only", { selector: { uuid: "**" } }, "selector.uuid"],
    ["serial pattern of stars only", { selector: { serial: "*" } }, "selector.serial"],
    ["label key with a space", { selector: { labels: { "ra ck": "r1" } } }, "selector.labels"],
    ["arch in capitals", { selector: { arch: "ARM64" } }, "selector.arch"],
    ["rule name with capitals", { name: "Bad" }, "name"],
    ["unknown top-level field", { priority: 5 }, "priority"],
  ];
  for (const [what, patch, field] of cases) {
    it(what, async () => {
      const { profile, rules } = await lab();
      const res = await api("POST", rules, { name: "r", profile, selector: { arch: "arm64" }, ...patch });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.error.code).toBe("invalid_input");
      // Where each issue points: its path, and for unknown keys the keys themselves.
      const paths = (res.body.error.details as { path: (string | number)[]; keys?: string[] }[]).map((i) => [...i.path, ...(i.keys ?? [])].join("."));
      expect(paths.some((p) => p.startsWith(field)), JSON.stringify(res.body.error.details)).toBe(true);
      expect((await api("GET", rules)).body.items).toEqual([]);
    });
  }

  it("an unknown profile is a 400 naming the profile field", async () => {
    const { rules } = await lab();
    const res = await api("POST", rules, { name: "r", profile: uniq("ghost"), selector: { arch: "arm64" } });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toMatchObject({ field: "profile" });
    expect((await api("GET", rules)).body.items).toEqual([]);
  });
});

describe("assignment rules: ties are refused at save", () => {
  it("refuses a rule that ties with a saved one (409 naming both), stores and audits nothing", async () => {
    const { site, profile, rules } = await lab();
    expect((await api("POST", rules, { name: "rack-1", profile, selector: { labels: { rack: "r1" } } })).status).toBe(201);
    const auditsBefore = await count("select count(*) as n from audit_log");
    const tie = await api("POST", rules, { name: "workers", profile, selector: { labels: { role: "worker" } } });
    expect(tie.status).toBe(409);
    expect(tie.body.error.code).toBe("conflict");
    expect(tie.body.error.message).toContain('"workers"');
    expect(tie.body.error.message).toContain('"rack-1"');
    expect(tie.body.error.details).toMatchObject({ field: "selector", rules: ["workers", "rack-1"], specificity: 2000 });
    expect((await api("GET", rules)).body.items.map((r: any) => r.name)).toEqual(["rack-1"]);
    expect(await count("select count(*) as n from assignment_rules where name = 'workers' and site_id = (select id from sites where slug = ?)", site)).toBe(0);
    expect(await count("select count(*) as n from audit_log")).toBe(auditsBefore);

    // Disjoint (another value of the same label) and more specific (a second label) are both fine.
    expect((await api("POST", rules, { name: "rack-2", profile, selector: { labels: { rack: "r2" } } })).status).toBe(201);
    expect((await api("POST", rules, { name: "rack-1-workers", profile, selector: { labels: { rack: "r1", role: "worker" } } })).status).toBe(201);
    // A tie with two saved rules names all three.
    const both = await api("POST", rules, { name: "zone-a", profile, selector: { labels: { zone: "a" } } });
    expect(both.body.error.details.rules).toEqual(["zone-a", "rack-1", "rack-2"]);
  });

  it("refuses a replace that would tie, and leaves the rule as it was", async () => {
    const { profile, rules } = await lab();
    await api("POST", rules, { name: "arm", profile, selector: { arch: "arm64" } });
    const x86 = await api("POST", rules, { name: "x86", profile, selector: { arch: "x86_64" } });
    // Dropping the arch difference: both would be "arch present" rules of weight 1 that a machine can match.
    const res = await api("PUT", `${rules}/x86`, { profile, selector: { arch: "arm64" } });
    expect(res.status).toBe(409);
    expect(res.body.error.details.rules).toEqual(["x86", "arm"]);
    expect((await api("GET", `${rules}/x86`)).body).toEqual(x86.body);
  });

  it("the write is conditional on the rule set the tie check saw", async () => {
    const { site, profile, rules } = await lab();
    await api("POST", rules, { name: "first", profile, selector: { arch: "arm64" } });
    const db = createDb(env.DB);
    const siteId = (await env.DB.prepare("select id from sites where slug = ?").bind(site).first<{ id: string }>())!.id;
    const profileId = (await env.DB.prepare("select id from profiles where name = ?").bind(profile).first<{ id: string }>())!.id;
    const seen = await siteRules(db, siteId);
    // Another rule lands after the check read the set: the guarded insert writes nothing.
    await api("POST", rules, { name: "second", profile, selector: { arch: "x86_64" } });
    const values = { id: crypto.randomUUID(), siteId, name: "third", description: null, profileId, selector: { arch: "riscv64" } };
    expect(await insertRuleIfUnchanged(db, values, ruleSetFingerprint(seen))).toEqual([]);
    // With the current set, but a profile deleted meanwhile: nothing either.
    const now = await siteRules(db, siteId);
    expect(await insertRuleIfUnchanged(db, { ...values, profileId: "deleted-profile" }, ruleSetFingerprint(now))).toEqual([]);
    // With the current set and a live profile it goes in.
    expect(await insertRuleIfUnchanged(db, values, ruleSetFingerprint(now))).toHaveLength(1);
    expect((await api("GET", rules)).body.items.map((r: any) => r.name)).toEqual(["first", "second", "third"]);
  });
});

describe("assignment rules: scopes", () => {
  it("admin and the site's own token write; read reads; another site's token does neither", async () => {
    const { site, profile, rules } = await lab();
    const other = uniq("other");
    await seedSite(other);
    const read = (await seedToken(["read"])).secret;
    const mine = (await seedToken([`site:${site}`])).secret;
    const theirs = (await seedToken([`site:${other}`])).secret;
    const body = (name: string, value: string) => ({ name, profile, selector: { labels: { rack: value } } });

    expect((await api("POST", rules, body("by-root", "r0"))).status).toBe(201);
    expect((await api("POST", rules, body("by-site", "r1"), { token: mine })).status).toBe(201);
    expect((await api("POST", rules, body("by-read", "r2"), { token: read })).status).toBe(403);
    expect((await api("POST", rules, body("by-other", "r3"), { token: theirs })).status).toBe(403);

    expect((await api("GET", rules, undefined, { token: read })).body.items).toHaveLength(2);
    expect((await api("GET", `${rules}/by-site`, undefined, { token: mine })).status).toBe(200);
    expect((await api("GET", rules, undefined, { token: theirs })).status).toBe(403);
    expect((await api("GET", `${rules}/by-root`, undefined, { token: theirs })).status).toBe(403);

    expect((await api("PUT", `${rules}/by-root`, { profile, selector: { labels: { rack: "r9" } } }, { token: theirs })).status).toBe(403);
    expect((await api("PUT", `${rules}/by-root`, { profile, selector: { labels: { rack: "r9" } } }, { token: read })).status).toBe(403);
    expect((await api("DELETE", `${rules}/by-root`, undefined, { token: theirs })).status).toBe(403);
    expect((await api("DELETE", `${rules}/by-root`, undefined, { token: read })).status).toBe(403);
    expect((await api("PUT", `${rules}/by-root`, { profile, selector: { labels: { rack: "r9" } } }, { token: mine })).status).toBe(200);
    expect((await api("DELETE", `${rules}/by-root`, undefined, { token: mine })).status).toBe(204);
    expect((await api("GET", rules)).body.items.map((r: any) => r.name)).toEqual(["by-site"]);
    // The audit names who did it.
    expect(await count("select count(*) as n from audit_log where action = 'rule.delete' and actor like 'token:%' and json_extract(detail, '$.name') = 'by-root'")).toBe(1);
  });
});

describe("GET /v1/sites/:site/assignment: trying rules on an identity", () => {
  it("says which rule a machine would get and why the others would not; bad input names the field", async () => {
    const { site, profile, rules } = await lab();
    await api("POST", rules, { name: "qemu", profile, selector: { macPrefix: "52:54:00" } });
    await api("POST", rules, { name: "dell", profile, selector: { uuid: "4c4c4544-*" } });
    await api("POST", rules, { name: "workers", profile, selector: { labels: { role: "worker" } } });
    const path = `/v1/sites/${site}/assignment`;

    const both = await api("GET", `${path}?mac=52-54-00-aa-bb-cc&uuid=4C4C4544-0042-3510-8052-B4C04F4E3732`);
    expect(both.status, JSON.stringify(both.body)).toBe(200);
    expect(both.body.machine).toEqual({ labels: {}, arch: null, mac: "52:54:00:aa:bb:cc", uuid: "4c4c4544-0042-3510-8052-b4c04f4e3732", serial: null });
    expect(both.body.rules.matched).toBe("dell");
    expect(both.body.rules.items.map((i: { name: string; result: string }) => [i.name, i.result])).toEqual([
      ["dell", "matched"],
      ["qemu", "outranked"],
      ["workers", "no-match"],
    ]);
    expect(both.body.rules.items[2].why).toBe("no label role");

    const labelled = await api("GET", `${path}?mac=02:00:00:00:00:01&label=role=worker&label=rack=r1`);
    expect(labelled.body.machine.labels).toEqual({ role: "worker", rack: "r1" });
    expect(labelled.body.rules).toMatchObject({ matched: "workers", decided: true });

    const none = await api("GET", `${path}?mac=02:00:00:00:00:01`);
    expect(none.body.rules).toMatchObject({ matched: null, decided: false, why: "no rule matches; the site's unknown-host policy applies" });

    const bad = await api("GET", `${path}?mac=zz`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toEqual(["mac"]);

    const other = uniq("other");
    await seedSite(other);
    const theirs = (await seedToken([`site:${other}`])).secret;
    expect((await api("GET", `${path}?mac=02:00:00:00:00:01`, undefined, { token: theirs })).status).toBe(403);
    const read = (await seedToken(["read"])).secret;
    expect((await api("GET", `${path}?mac=02:00:00:00:00:01`, undefined, { token: read })).status).toBe(200);
  });
});

describe("assignment rules and profiles", () => {
  it("a profile a rule names cannot be deleted (409 naming the rule)", async () => {
    const { site, profile, rules } = await lab();
    await api("POST", rules, { name: "uses-it", profile, selector: { arch: "arm64" } });
    const res = await api("DELETE", `/v1/profiles/${profile}`);
    expect(res.status).toBe(409);
    expect(res.body.error.details.rules).toEqual([`${site}/uses-it`]);
    await api("DELETE", `${rules}/uses-it`);
    expect((await api("DELETE", `/v1/profiles/${profile}`)).status).toBe(204);
  });

  it("deleting the site deletes its rules", async () => {
    const { site, profile, rules } = await lab();
    await api("POST", rules, { name: "gone", profile, selector: { arch: "arm64" } });
    expect((await api("DELETE", `/v1/sites/${site}`)).status).toBe(204);
    expect(await count("select count(*) as n from assignment_rules where name = 'gone' and site_id not in (select id from sites)")).toBe(0);
    expect((await api("DELETE", `/v1/profiles/${profile}`)).status).toBe(204);
  });

  it("the OpenAPI document describes the routes and the explain section", async () => {
    const doc = (await api("GET", "/v1/openapi.json")).body;
    expect(Object.keys(doc.paths["/sites/{site}/rules"]).sort()).toEqual(["get", "post"]);
    expect(Object.keys(doc.paths["/sites/{site}/rules/{rule}"]).sort()).toEqual(["delete", "get", "put"]);
    expect(Object.keys(doc.paths["/sites/{site}/assignment"])).toEqual(["get"]);
    expect(doc.components.schemas.Explain.properties).toHaveProperty("rules");
    expect(doc.components.schemas).toHaveProperty("RuleSelector");
  });
});
