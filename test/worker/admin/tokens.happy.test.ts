import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, seedSite, seedToken, uniq } from "../../helpers/admin.ts";

describe("tokens: happy paths", () => {
  it("creates a token shown once, stores its hash, lists it without secrets, and it authenticates", async () => {
    const site = uniq("t");
    await seedSite(site);
    const name = uniq("ci");
    const res = await api("POST", "/v1/tokens", { name, scopes: [`site:${site}`, "read"], expiresAt: new Date(Date.now() + 3600_000).toISOString() });
    expect(res.status).toBe(201);
    expect(res.body.secret).toMatch(/^ebt_[A-Za-z0-9_-]{43}$/);
    expect(res.body.token).toMatchObject({ name, scopes: [`site:${site}`, "read"], revokedAt: null, lastUsedAt: null, createdBy: "root" });
    const row = await env.DB.prepare("select token_hash from api_tokens where id = ?").bind(res.body.token.id).first<{ token_hash: string }>();
    expect(row?.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(row?.token_hash).not.toContain(res.body.secret);

    const all = await api("GET", "/v1/tokens?limit=500");
    const listed = all.body.items.find((t: any) => t.id === res.body.token.id);
    expect(listed).toEqual(res.body.token);
    expect(JSON.stringify(all.body)).not.toContain(res.body.secret);
    expect(JSON.stringify(all.body)).not.toContain(row!.token_hash);
    expect((await api("GET", `/v1/tokens/${res.body.token.id}`)).body).toEqual(res.body.token);

    const asToken = await api("GET", `/v1/sites/${site}`, undefined, { token: res.body.secret });
    expect(asToken.status).toBe(200);
  });

  it("records the acting token in audit rows and lastUsedAt at most once a minute", async () => {
    const site = uniq("t");
    await seedSite(site);
    const { secret, token } = await seedToken([`site:${site}`]);
    const created = await api("POST", `/v1/sites/${site}/hosts`, { hostname: "n1" }, { token: secret });
    expect(created.status).toBe(201);
    const audit = await env.DB.prepare("select actor from audit_log where resource_id = ?").bind(created.body.id).first<{ actor: string }>();
    expect(audit?.actor).toBe(`token:${token.name}`);

    // waitUntil work settles shortly after the response.
    const lastUsed = async () => (await env.DB.prepare("select last_used_at from api_tokens where id = ?").bind(token.id).first<{ last_used_at: number | null }>())!.last_used_at;
    let first: number | null = null;
    for (let i = 0; i < 50 && first === null; i++) {
      first = await lastUsed();
      if (first === null) await new Promise((r) => setTimeout(r, 20));
    }
    expect(first).toEqual(expect.any(Number));
    await api("GET", `/v1/sites/${site}`, undefined, { token: secret });
    await new Promise((r) => setTimeout(r, 50));
    expect(await lastUsed()).toBe(first);
  });

  it("revokes a token: idempotent, audited once, and the token gets 401 from then on", async () => {
    const { secret, token } = await seedToken(["read"]);
    expect((await api("GET", "/v1/profiles", undefined, { token: secret })).status).toBe(200);
    expect((await api("DELETE", `/v1/tokens/${token.id}`)).status).toBe(204);
    expect((await api("DELETE", `/v1/tokens/${token.id}`)).status).toBe(204);
    const res = await api("GET", "/v1/profiles", undefined, { token: secret });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("unauthorized");
    const n = await env.DB.prepare("select count(*) as n from audit_log where resource_id = ? and action = 'token.revoke'").bind(token.id).first<{ n: number }>();
    expect(n?.n).toBe(1);
    expect((await api("GET", `/v1/tokens/${token.id}`)).body.revokedAt).toEqual(expect.any(String));
  });

  it("400 for bad scopes, past expiry and unknown sites; 409 for a reused name; 404 for unknown ids", async () => {
    const bad = await api("POST", "/v1/tokens", { name: uniq("x"), scopes: ["root", "site:Bad Slug"] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.map((i: any) => i.path.join("."))).toEqual(["scopes.0", "scopes.1"]);
    expect((await api("POST", "/v1/tokens", { name: uniq("x"), scopes: [] })).status).toBe(400);
    const past = await api("POST", "/v1/tokens", { name: uniq("x"), scopes: ["read"], expiresAt: "2020-01-01T00:00:00Z" });
    expect(past.status).toBe(400);
    const ghost = await api("POST", "/v1/tokens", { name: uniq("x"), scopes: ["site:no-such-site"] });
    expect(ghost.status).toBe(400);
    expect(ghost.body.error.details).toEqual({ field: "scopes", missing: ["no-such-site"] });
    const { token } = await seedToken(["read"]);
    expect((await api("POST", "/v1/tokens", { name: token.name, scopes: ["read"] })).status).toBe(409);
    expect((await api("DELETE", `/v1/tokens/${crypto.randomUUID()}`)).status).toBe(404);
    expect((await api("DELETE", "/v1/tokens/not-a-uuid")).status).toBe(400);
  });
});
