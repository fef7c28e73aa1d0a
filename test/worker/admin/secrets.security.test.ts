import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { decryptSecret, encryptSecret, secretScope } from "../../../worker/lib/secretbox.ts";
import { api, seedHost, seedSite, uniq } from "../../helpers/admin.ts";

type Row = { id: string; site_id: string | null; host_id: string | null; name: string; iv: string; ciphertext: string };
const rowsNamed = async (name: string) => (await env.DB.prepare("select * from secrets where name = ? order by site_id, host_id").bind(name).all<Row>()).results;

describe("secretbox", () => {
  const key = env.SECRETS_KEY;

  it("round-trips, with a fresh IV per encryption", async () => {
    const scope = secretScope({ siteId: "s", hostId: "h", name: "JOIN" });
    const a = await encryptSecret(key, scope, "hunter2 ✓");
    const b = await encryptSecret(key, scope, "hunter2 ✓");
    expect(a.iv).not.toBe(b.iv);
    expect(a.ciphertext).not.toBe(b.ciphertext);
    expect(atob(a.iv)).toHaveLength(12);
    expect(await decryptSecret(key, scope, a)).toBe("hunter2 ✓");
  });

  it("refuses another scope, another name, a tampered ciphertext and another key", async () => {
    const scope = secretScope({ siteId: "s", hostId: "h", name: "JOIN" });
    const sealed = await encryptSecret(key, scope, "v");
    await expect(decryptSecret(key, secretScope({ siteId: "s", hostId: "other", name: "JOIN" }), sealed)).rejects.toThrow(/could not be decrypted/);
    await expect(decryptSecret(key, secretScope({ siteId: "s", hostId: null, name: "JOIN" }), sealed)).rejects.toThrow(/could not be decrypted/);
    await expect(decryptSecret(key, secretScope({ siteId: "s", hostId: "h", name: "OTHER" }), sealed)).rejects.toThrow(/could not be decrypted/);
    const bytes = Uint8Array.from(atob(sealed.ciphertext), (c) => c.charCodeAt(0));
    bytes[0] = bytes[0]! ^ 1;
    await expect(decryptSecret(key, scope, { iv: sealed.iv, ciphertext: btoa(String.fromCharCode(...bytes)) })).rejects.toThrow(/could not be decrypted/);
    await expect(decryptSecret(btoa(String.fromCharCode(...new Uint8Array(32).fill(7))), scope, sealed)).rejects.toThrow(/could not be decrypted/);
    await expect(encryptSecret("c2hvcnQ=", scope, "v")).rejects.toThrow(/32 bytes/);
  });
});

describe("secrets API", () => {
  it("stores global, site and host secrets encrypted and bound to their scope; PUT replaces", async () => {
    const site = uniq("sec");
    const s = await seedSite(site);
    const h = await seedHost(site, { hostname: "n1", mac: "02:5e:c0:00:00:01" });
    const name = `JOIN_${crypto.randomUUID().slice(0, 8)}`;
    const put = async (query: string, value: string) => api("PUT", `/v1/secrets/${name}${query}`, { value });

    const g = await put("", "global-value");
    expect(g.status).toBe(201);
    expect(g.body).toEqual({ name, site: null, host: null, createdAt: expect.any(String), updatedAt: expect.any(String) });
    expect((await put(`?site=${site}`, "site-value")).status).toBe(201);
    const hostPut = await put(`?site=${site}&host=02-5E-C0-00-00-01`, "host-value");
    expect(hostPut.body).toMatchObject({ name, site, host: "n1" });
    expect((await put("", "global-value-2")).status).toBe(200);

    const rows = await rowsNamed(name);
    expect(rows).toHaveLength(3);
    const plain: Record<string, string> = {};
    for (const row of rows) {
      expect(row.ciphertext).not.toContain("value");
      plain[row.host_id ? "host" : row.site_id ? "site" : "global"] = await decryptSecret(env.SECRETS_KEY, secretScope({ siteId: row.site_id, hostId: row.host_id, name }), row);
    }
    expect(plain).toEqual({ global: "global-value-2", site: "site-value", host: "host-value" });
    expect(rows.find((r) => r.host_id)).toMatchObject({ site_id: s.id, host_id: h.id });

    // A ciphertext moved to another row does not decrypt there.
    const hostRow = rows.find((r) => r.host_id)!;
    await expect(decryptSecret(env.SECRETS_KEY, secretScope({ siteId: s.id, hostId: null, name }), hostRow)).rejects.toThrow();
  });

  it("never returns a value: not from PUT, list, audit, or errors", async () => {
    const site = uniq("sec");
    await seedSite(site);
    await seedHost(site, { hostname: "n1" });
    const value = `very-secret-${crypto.randomUUID()}`;
    const name = `PW_${crypto.randomUUID().slice(0, 8)}`;
    const responses = [
      await api("PUT", `/v1/secrets/${name}?site=${site}&host=n1`, { value }),
      await api("PUT", `/v1/secrets/${name}?site=${site}`, { value }),
      await api("GET", `/v1/secrets?site=${site}`),
      await api("GET", `/v1/secrets?site=${site}&host=n1`),
      await api("GET", "/v1/secrets?limit=500"),
      await api("GET", `/v1/audit?site=${site}`),
      await api("PUT", `/v1/secrets/${name}?site=${site}`, { value, extra: value }),
      await api("PUT", `/v1/secrets/bad-name?site=${site}`, { value }),
    ];
    for (const res of responses) expect(JSON.stringify(res.body)).not.toContain(value);
    const rows = await rowsNamed(name);
    for (const res of responses) for (const row of rows) expect(JSON.stringify(res.body)).not.toContain(row.ciphertext);
    const listed = responses[2]!.body.items.map((i: any) => [i.name, i.site, i.host]);
    expect(listed).toHaveLength(2);
    expect(listed).toEqual(expect.arrayContaining([[name, site, "n1"], [name, site, null]]));
    expect(responses[3]!.body.items).toEqual([expect.objectContaining({ name, host: "n1" })]);
    const audit = await env.DB.prepare("select detail from audit_log where action = 'secret.put' and detail like ?").bind(`%${name}%`).all();
    expect(audit.results).toHaveLength(2);
    for (const r of audit.results as any[]) expect(r.detail).not.toContain(value);
  });

  it("deletes a secret at exactly its scope", async () => {
    const site = uniq("sec");
    await seedSite(site);
    const name = `DEL_${crypto.randomUUID().slice(0, 8)}`;
    await api("PUT", `/v1/secrets/${name}`, { value: "g" });
    await api("PUT", `/v1/secrets/${name}?site=${site}`, { value: "s" });
    expect((await api("DELETE", `/v1/secrets/${name}?site=${site}`)).status).toBe(204);
    expect((await api("DELETE", `/v1/secrets/${name}?site=${site}`)).status).toBe(404);
    const left = await rowsNamed(name);
    expect(left.map((r) => r.site_id)).toEqual([null]);
  });

  it("400 for bad names, empty values, host without site; 404 for unknown site or host", async () => {
    const site = uniq("sec");
    await seedSite(site);
    expect((await api("PUT", "/v1/secrets/1BAD", { value: "v" })).status).toBe(400);
    expect((await api("PUT", "/v1/secrets/OK", { value: "" })).status).toBe(400);
    expect((await api("PUT", "/v1/secrets/OK?host=n1", { value: "v" })).status).toBe(400);
    expect((await api("PUT", `/v1/secrets/OK?site=${uniq("nope")}`, { value: "v" })).status).toBe(404);
    expect((await api("PUT", `/v1/secrets/OK?site=${site}&host=ghost`, { value: "v" })).status).toBe(404);
  });
});
