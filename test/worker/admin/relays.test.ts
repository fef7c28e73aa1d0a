import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, seedRelay, seedSite, uniq } from "../../helpers/admin.ts";

const sha256Hex = async (s: string) => [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s)))].map((b) => b.toString(16).padStart(2, "0")).join("");

describe("relays", () => {
  it("creates a relay whose credential is shown once and stored as its SHA-256", async () => {
    const site = uniq("r");
    await seedSite(site);
    const res = await api("POST", `/v1/sites/${site}/relays`, { name: "rack-1" });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.body.secret).toMatch(/^ebr_[A-Za-z0-9_-]{43}$/);
    // The older field name stays as an alias.
    expect(res.body.credential).toBe(res.body.secret);
    expect(res.body.relay).toMatchObject({ site, name: "rack-1", publicKeyJwk: null, lastSeenAt: null, revokedAt: null });
    const row = await env.DB.prepare("select credential_hash from relays where id = ?").bind(res.body.relay.id).first<{ credential_hash: string }>();
    expect(row?.credential_hash).toBe(await sha256Hex(res.body.secret));

    const got = await api("GET", `/v1/sites/${site}/relays/rack-1`);
    expect(got.body).toEqual(res.body.relay);
    const list = await api("GET", `/v1/sites/${site}/relays`);
    expect(list.body).toEqual({ items: [res.body.relay], nextCursor: null });
    for (const body of [got.body, list.body]) {
      expect(JSON.stringify(body)).not.toContain(res.body.credential);
      expect(JSON.stringify(body)).not.toContain(row!.credential_hash);
    }
  });

  it("revokes a relay (idempotent, audited once) and hides it with ?revoked=false", async () => {
    const site = uniq("r");
    await seedSite(site);
    const { relay } = await seedRelay(site, "old");
    await seedRelay(site, "new");
    expect((await api("DELETE", `/v1/sites/${site}/relays/old`)).status).toBe(204);
    expect((await api("DELETE", `/v1/sites/${site}/relays/old`)).status).toBe(204);
    expect((await api("GET", `/v1/sites/${site}/relays/old`)).body.revokedAt).toEqual(expect.any(String));
    expect((await api("GET", `/v1/sites/${site}/relays?revoked=false`)).body.items.map((r: any) => r.name)).toEqual(["new"]);
    expect((await api("GET", `/v1/sites/${site}/relays?revoked=true`)).body.items.map((r: any) => r.name)).toEqual(["old"]);
    const audits = await env.DB.prepare("select count(*) as n from audit_log where resource_id = ? and action = 'relay.revoke'").bind(relay.id).first<{ n: number }>();
    expect(audits?.n).toBe(1);
  });

  it("409 for a duplicate relay name, 404 for unknown site or relay, 400 for a bad name", async () => {
    const site = uniq("r");
    await seedSite(site);
    await seedRelay(site, "dup");
    expect((await api("POST", `/v1/sites/${site}/relays`, { name: "dup" })).status).toBe(409);
    expect((await api("POST", `/v1/sites/${uniq("nope")}/relays`, { name: "x" })).status).toBe(404);
    expect((await api("GET", `/v1/sites/${site}/relays/ghost`)).status).toBe(404);
    expect((await api("POST", `/v1/sites/${site}/relays`, { name: "Bad Name" })).status).toBe(400);
  });
});
