import { describe, expect, it } from "vitest";
import { api, seedHost, seedProfile, seedSite, uniq, uniqMac } from "../../helpers/admin.ts";

describe("hosts: errors", () => {
  it("400 with issues for bad MAC, UUID, hostname, IP, network and intent", async () => {
    const site = uniq("h");
    await seedSite(site);
    const res = await api("POST", `/v1/sites/${site}/hosts`, {
      hostname: "-bad-.example",
      mac: "00:11:22:33:44",
      uuid: "not-a-uuid",
      ipv4: "10.0.0.300",
      network: { addresses: ["10.0.0.5"], gateway4: "nope" },
      intent: { target: "x", mode: "always", revertOnPhase: "installed" },
      state: "sleeping",
    });
    expect(res.status).toBe(400);
    const paths = res.body.error.details.map((i: any) => i.path.join("."));
    expect(paths).toEqual(expect.arrayContaining(["hostname", "mac", "uuid", "ipv4", "network.addresses.0", "network.gateway4", "intent.revertOnPhase", "state"]));
  });

  it("400 for a host with neither hostname nor MAC, and for a hostname that reads as a MAC", async () => {
    const site = uniq("h");
    await seedSite(site);
    expect((await api("POST", `/v1/sites/${site}/hosts`, { uuid: "4c4c4544-0042-3510-8052-b4c04f4e3732" })).status).toBe(400);
    const macName = await api("POST", `/v1/sites/${site}/hosts`, { hostname: "deadbeef0001" });
    expect(macName.status).toBe(400);
    expect(macName.body.error.details[0].message).toMatch(/MAC/);
    const host = await seedHost(site, { hostname: "only-name" });
    const strip = await api("PATCH", `/v1/sites/${site}/hosts/only-name`, { hostname: null });
    expect(strip.status).toBe(400);
    expect(host.mac).toBeNull();
  });

  it("400 naming unknown profiles (host profile and intent target)", async () => {
    const site = uniq("h");
    await seedSite(site);
    const res = await api("POST", `/v1/sites/${site}/hosts`, { hostname: "n", profile: "ghost", intent: { target: "phantom", mode: "once" } });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: "invalid_input", details: { missing: ["ghost", "phantom"] } });
  });

  it("409 for a duplicate MAC or hostname in the site; the same MAC is fine in another site", async () => {
    const [a, b] = [uniq("h"), uniq("h")];
    await seedSite(a);
    await seedSite(b);
    const mac = uniqMac();
    await seedHost(a, { hostname: "n1", mac });
    const dupMac = await api("POST", `/v1/sites/${a}/hosts`, { hostname: "n2", mac: mac.toUpperCase() });
    expect(dupMac.status).toBe(409);
    expect(dupMac.body.error).toMatchObject({ code: "conflict", details: { clashes: [{ field: "mac", value: mac }] } });
    const dupName = await api("POST", `/v1/sites/${a}/hosts`, { hostname: "N1", mac: uniqMac() });
    expect(dupName.status).toBe(409);
    expect(dupName.body.error.details.clashes[0]).toMatchObject({ field: "hostname", value: "n1" });
    await seedHost(a, { hostname: "n3", mac: uniqMac() });
    const patchClash = await api("PATCH", `/v1/sites/${a}/hosts/n3`, { mac });
    expect(patchClash.status).toBe(409);
    expect((await api("POST", `/v1/sites/${b}/hosts`, { hostname: "n1", mac })).status).toBe(201);
  });

  it("404 for unknown hosts; 409 for a stale If-Match on PATCH and DELETE", async () => {
    const site = uniq("h");
    await seedSite(site);
    expect((await api("GET", `/v1/sites/${site}/hosts/nobody`)).status).toBe(404);
    expect((await api("DELETE", `/v1/sites/${site}/hosts/02:00:00:00:00:99`)).status).toBe(404);
    const host = await seedHost(site, { hostname: "n", mac: uniqMac() });
    await api("PATCH", `/v1/sites/${site}/hosts/n`, { state: "booting" });
    const stale = await api("PATCH", `/v1/sites/${site}/hosts/n`, { state: "booted" }, { headers: { "if-match": `"${host.id}.1"` } });
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe("precondition_failed");
    expect((await api("DELETE", `/v1/sites/${site}/hosts/n`, undefined, { headers: { "if-match": `"${host.id}.1"` } })).status).toBe(409);
    expect((await api("GET", `/v1/sites/${site}/hosts/n`)).body.state).toBe("booting");
  });

  it("refuses deleting a profile a host uses or aims an intent at (409)", async () => {
    const site = uniq("h");
    const [p1, p2] = [uniq("p"), uniq("p")];
    await seedSite(site);
    await seedProfile(p1);
    await seedProfile(p2);
    await seedHost(site, { hostname: "n", profile: p1, intent: { target: p2, mode: "once" } });
    for (const p of [p1, p2]) {
      const res = await api("DELETE", `/v1/profiles/${p}`);
      expect(res.status, p).toBe(409);
      expect(res.body.error.details.hosts).toBe(1);
    }
  });
});
