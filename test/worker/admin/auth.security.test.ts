import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { api, ROOT_TOKEN, seedHost, seedProfile, seedSite, seedToken, uniq } from "../../helpers/admin.ts";

describe("bearer authentication", () => {
  it("401 unauthorized without a token, with a malformed header or an unknown token", async () => {
    for (const authorization of [null, "Basic dXNlcjpwYXNz", "Bearer", "Bearer short", `Bearer ${env.ADMIN_TOKEN}x`, "Bearer ebt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"]) {
      const headers: Record<string, string> = authorization ? { authorization } : {};
      const res = await (exports as any).default.fetch(new Request("http://api.test/v1/sites", { headers }));
      expect(res.status, String(authorization)).toBe(401);
      expect((await res.json()).error.code).toBe("unauthorized");
    }
  });

  it("calls a token that cannot be one invalid, not missing", async () => {
    const wrong = await api("GET", "/v1/sites", undefined, { token: "wrong" });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.message).toMatch(/^invalid token/);
    const none = await api("GET", "/v1/sites", undefined, { token: null });
    expect(none.body.error.message).toMatch(/^missing or malformed Authorization header/);
  });

  it("the root token is admin; its scheme is case-insensitive", async () => {
    const res = await (exports as any).default.fetch(new Request("http://api.test/v1/tokens", { headers: { authorization: `bearer ${env.ADMIN_TOKEN}` } }));
    expect(res.status).toBe(200);
  });

  it("guards every /v1 route, including the ones other modules mount", async () => {
    for (const path of ["/v1/sites", "/v1/profiles", "/v1/images", "/v1/tokens", "/v1/secrets", "/v1/audit", "/v1/artifacts", "/v1/nothing-here"]) {
      expect((await api("GET", path, undefined, { token: null })).status, path).toBe(401);
    }
  });

  it("serves /v1/openapi.json without a token", async () => {
    expect((await api("GET", "/v1/openapi.json", undefined, { token: null })).status).toBe(200);
  });

  it("401 for revoked and expired tokens", async () => {
    const revoked = await seedToken(["admin"]);
    await api("DELETE", `/v1/tokens/${revoked.token.id}`);
    const r = await api("GET", "/v1/sites", undefined, { token: revoked.secret });
    expect(r.status).toBe(401);
    expect(r.body.error.message).toMatch(/revoked/);

    const expiring = await seedToken(["admin"], { expiresAt: new Date(Date.now() + 60_000).toISOString() });
    expect((await api("GET", "/v1/sites", undefined, { token: expiring.secret })).status).toBe(200);
    await env.DB.prepare("update api_tokens set expires_at = ? where id = ?").bind(Date.now() - 1, expiring.token.id).run();
    const e = await api("GET", "/v1/sites", undefined, { token: expiring.secret });
    expect(e.status).toBe(401);
    expect(e.body.error.message).toMatch(/expired/);
  });

  it("an admin token created by root can do admin things", async () => {
    const { secret } = await seedToken(["admin"]);
    const res = await api("POST", "/v1/tokens", { name: uniq("child"), scopes: ["read"] }, { token: secret });
    expect(res.status).toBe(201);
    expect(res.body.token.createdBy).toMatch(/^token:/);
  });
});

describe("scope matrix", () => {
  const a = uniq("a");
  const b = uniq("b");
  const profile = uniq("p");
  let siteA = "";
  let reader = "";

  beforeAll(async () => {
    await seedSite(a);
    await seedSite(b);
    await seedProfile(profile);
    await seedHost(a, { hostname: "a1", mac: "02:aa:00:00:00:01" });
    await seedHost(b, { hostname: "b1", mac: "02:bb:00:00:00:01" });
    siteA = (await seedToken([`site:${a}`])).secret;
    reader = (await seedToken(["read"])).secret;
  });

  const expectStatus = async (token: string, method: string, path: string, status: number, body?: unknown) => {
    const res = await api(method, path, body, { token });
    expect(res.status, `${method} ${path}`).toBe(status);
    if (status === 403) expect(res.body.error.code).toBe("forbidden");
    return res;
  };

  it("a site:a token reads and writes site a only", async () => {
    const list = await expectStatus(siteA, "GET", "/v1/sites", 200);
    expect(list.body.items.map((s: any) => s.slug)).toEqual([a]);
    await expectStatus(siteA, "GET", `/v1/sites/${a}`, 200);
    await expectStatus(siteA, "PATCH", `/v1/sites/${a}`, 200, { name: "mine" });
    await expectStatus(siteA, "GET", `/v1/sites/${a}/hosts`, 200);
    await expectStatus(siteA, "GET", `/v1/sites/${a}/hosts/a1`, 200);
    await expectStatus(siteA, "POST", `/v1/sites/${a}/hosts`, 201, { hostname: "a2" });
    await expectStatus(siteA, "PATCH", `/v1/sites/${a}/hosts/a2`, 200, { state: "booting" });
    await expectStatus(siteA, "DELETE", `/v1/sites/${a}/hosts/a2`, 204);
    await expectStatus(siteA, "POST", `/v1/sites/${a}/relays`, 201, { name: "ra" });
    await expectStatus(siteA, "POST", `/v1/sites/${a}/boot-key`, 201);
    await expectStatus(siteA, "PUT", `/v1/secrets/JOIN?site=${a}`, 201, { value: "s3cret" });
    await expectStatus(siteA, "GET", `/v1/secrets?site=${a}`, 200);
  });

  it("a site token cannot open its site's boot to anyone (bootAuth open serves every chain and secret); admin can", async () => {
    const res = await expectStatus(siteA, "PATCH", `/v1/sites/${a}`, 403, { bootAuth: "open" });
    expect(res.body.error.details.field).toBe("bootAuth");
    expect((await api("GET", `/v1/sites/${a}`)).body.bootAuth).not.toBe("open");
    await expectStatus(siteA, "PATCH", `/v1/sites/${a}`, 200, { bootAuth: "key" });
    await expectStatus(ROOT_TOKEN, "PATCH", `/v1/sites/${a}`, 200, { bootAuth: "open" });
    // Already open (an admin's choice): a site file applied with the site token may restate it.
    await expectStatus(siteA, "PATCH", `/v1/sites/${a}`, 200, { bootAuth: "open", name: "still mine" });
    await expectStatus(ROOT_TOKEN, "PATCH", `/v1/sites/${a}`, 200, { bootAuth: "relay" });
  });

  it("a site:a token cannot read or write site b (403, even for sites that do not exist)", async () => {
    for (const [method, path, body] of [
      ["GET", `/v1/sites/${b}`],
      ["PATCH", `/v1/sites/${b}`, { name: "x" }],
      ["DELETE", `/v1/sites/${b}`],
      ["GET", `/v1/sites/${b}/hosts`],
      ["GET", `/v1/sites/${b}/hosts/b1`],
      ["POST", `/v1/sites/${b}/hosts`, { hostname: "x" }],
      ["PATCH", `/v1/sites/${b}/hosts/b1`, { state: "failed" }],
      ["DELETE", `/v1/sites/${b}/hosts/b1`],
      ["POST", `/v1/sites/${b}/hosts/import`, [{ hostname: "x" }]],
      ["GET", `/v1/sites/${b}/relays`],
      ["POST", `/v1/sites/${b}/relays`, { name: "x" }],
      ["POST", `/v1/sites/${b}/boot-key`],
      ["PUT", `/v1/secrets/X?site=${b}`, { value: "v" }],
      ["GET", `/v1/secrets?site=${b}`],
      ["GET", "/v1/sites/no-such-site"],
    ] as const) {
      await expectStatus(siteA, method, path, 403, body);
    }
    expect((await api("GET", `/v1/sites/${b}/hosts/b1`)).body.state).toBe("ready");
  });

  it("a site token reads the shared catalogue but cannot change it, nor sites, tokens, audit or global secrets", async () => {
    await expectStatus(siteA, "GET", "/v1/profiles", 200);
    await expectStatus(siteA, "GET", `/v1/profiles/${profile}`, 200);
    await expectStatus(siteA, "GET", "/v1/images", 200);
    await expectStatus(siteA, "GET", "/v1/artifacts", 200);
    for (const [method, path, body] of [
      ["POST", "/v1/sites", { slug: uniq("x"), name: "x" }],
      ["DELETE", `/v1/sites/${a}`],
      ["POST", "/v1/profiles", { name: uniq("x") }],
      ["PATCH", `/v1/profiles/${profile}`, { cmdline: "x" }],
      ["DELETE", `/v1/profiles/${profile}`],
      ["POST", "/v1/images", { name: "x", arch: "x86_64", artifacts: { kernel: "0".repeat(64) } }],
      ["GET", "/v1/tokens"],
      ["POST", "/v1/tokens", { name: uniq("x"), scopes: ["admin"] }],
      ["GET", "/v1/audit"],
      ["PUT", "/v1/secrets/GLOBAL", { value: "v" }],
      ["GET", "/v1/secrets"],
      ["DELETE", `/v1/artifacts/${"0".repeat(64)}`],
    ] as const) {
      await expectStatus(siteA, method, path, 403, body);
    }
  });

  it("a read token reads every site and the catalogue but cannot write anything", async () => {
    await expectStatus(reader, "GET", `/v1/sites/${a}`, 200);
    await expectStatus(reader, "GET", `/v1/sites/${b}/hosts/b1`, 200);
    await expectStatus(reader, "GET", "/v1/profiles", 200);
    await expectStatus(reader, "GET", "/v1/secrets", 200);
    const all = await expectStatus(reader, "GET", "/v1/sites?limit=500", 200);
    expect(all.body.items.map((s: any) => s.slug)).toEqual(expect.arrayContaining([a, b]));
    for (const [method, path, body] of [
      ["PATCH", `/v1/sites/${a}`, { name: "x" }],
      ["POST", `/v1/sites/${a}/hosts`, { hostname: "x" }],
      ["DELETE", `/v1/sites/${b}/hosts/b1`],
      ["POST", "/v1/profiles", { name: uniq("x") }],
      ["PUT", `/v1/secrets/X?site=${a}`, { value: "v" }],
      ["POST", "/v1/tokens", { name: uniq("x"), scopes: ["admin"] }],
      ["GET", "/v1/tokens"],
      ["GET", "/v1/audit"],
    ] as const) {
      await expectStatus(reader, method, path, 403, body);
    }
  });
});
