import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, seedHost, seedProfile, seedSite, uniq, uniqMac } from "../../helpers/admin.ts";

describe("hosts: happy paths", () => {
  it("creates a host, normalising MAC, UUID and hostname, and reads it by hostname or any MAC notation", async () => {
    const site = uniq("h");
    const profile = uniq("p");
    await seedSite(site);
    await seedProfile(profile);
    const res = await api("POST", `/v1/sites/${site}/hosts`, {
      hostname: "Node-01.Lab.Example.",
      mac: "52-54-00-AB-CD-EF",
      uuid: "{4C4C4544-0042-3510-8052-B4C04F4E3732}",
      serial: "CZ1234 5678",
      arch: "x86_64",
      ipv4: "10.0.0.21",
      labels: { rack: "r12", role: "worker" },
      vars: { disk: "/dev/sda" },
      profile,
      intent: { target: "local", mode: "once", revertOnPhase: "installed" },
      network: { interface: "eno1", addresses: ["10.0.0.21/24", "2001:db8::21/64"], gateway4: "10.0.0.1", nameservers: ["10.0.0.1"], searchDomains: ["lab.example"] },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      site,
      hostname: "node-01.lab.example",
      mac: "52:54:00:ab:cd:ef",
      uuid: "4c4c4544-0042-3510-8052-b4c04f4e3732",
      serial: "CZ1234 5678",
      profile,
      intent: { target: "local", mode: "once", revertOnPhase: "installed" },
      state: "ready",
      revision: 1,
    });
    expect(res.headers.get("location")).toBe(`/v1/sites/${site}/hosts/node-01.lab.example`);
    for (const ref of ["node-01.lab.example", "NODE-01.lab.example", "52:54:00:ab:cd:ef", "5254.00ab.cdef", "525400ABCDEF"]) {
      const got = await api("GET", `/v1/sites/${site}/hosts/${ref}`);
      expect(got.status, ref).toBe(200);
      expect(got.body.id).toBe(res.body.id);
      expect(got.headers.get("etag")).toBe(`"${res.body.id}.1"`);
    }
    const row = await env.DB.prepare("select profile_id, intent from hosts where id = ?").bind(res.body.id).first<{ profile_id: string; intent: string }>();
    expect(row?.profile_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.parse(row!.intent)).toEqual({ target: "local", mode: "once", revertOnPhase: "installed" });
  });

  it("patches a host: sets and clears an intent, changes profile, bumps revision, audits", async () => {
    const site = uniq("h");
    const [p1, p2] = [uniq("p"), uniq("p")];
    await seedSite(site);
    await seedProfile(p1);
    await seedProfile(p2);
    const host = await seedHost(site, { hostname: "n1", mac: uniqMac(), profile: p1 });
    const set = await api("PATCH", `/v1/sites/${site}/hosts/n1`, { intent: { target: p2, mode: "once" }, state: "discovered" }, { headers: { "if-match": `"${host.id}.1"` } });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ intent: { target: p2, mode: "once" }, state: "discovered", profile: p1, revision: 2 });
    const cleared = await api("PATCH", `/v1/sites/${site}/hosts/${host.mac}`, { intent: null, profile: p2, labels: { a: "b" } });
    expect(cleared.body).toMatchObject({ intent: null, profile: p2, labels: { a: "b" }, revision: 3 });
    const audit = await env.DB.prepare("select actor, detail from audit_log where resource_id = ? and action = 'host.update' order by id").bind(host.id).all();
    expect(audit.results.map((r: any) => JSON.parse(r.detail).fields)).toEqual([["intent", "state"], ["intent", "labels", "profile"]]);
  });

  it("lists hosts by hostname with mac, state and label filters", async () => {
    const site = uniq("h");
    await seedSite(site);
    const mac = uniqMac();
    await seedHost(site, { hostname: "b", mac, labels: { rack: "r1", role: "db" } });
    await seedHost(site, { hostname: "a", mac: uniqMac(), labels: { rack: "r1", role: "web" }, state: "installed" });
    await seedHost(site, { hostname: "c", mac: uniqMac(), labels: { rack: "r2", role: "web" } });
    await seedHost(site, { mac: uniqMac(), state: "discovered" });

    const names = async (query: string) => (await api("GET", `/v1/sites/${site}/hosts${query}`)).body.items.map((h: any) => h.hostname);
    expect(await names("")).toEqual([null, "a", "b", "c"]);
    expect(await names(`?mac=${mac.toUpperCase().replace(/:/g, "-")}`)).toEqual(["b"]);
    expect(await names("?state=installed")).toEqual(["a"]);
    expect(await names("?label=rack=r1")).toEqual(["a", "b"]);
    expect(await names("?label=rack=r1&label=role=web")).toEqual(["a"]);
    expect(await names("?label=role=nothing")).toEqual([]);

    const first = await api("GET", `/v1/sites/${site}/hosts?limit=3`);
    expect(first.body.items).toHaveLength(3);
    const rest = await api("GET", `/v1/sites/${site}/hosts?limit=3&cursor=${first.body.nextCursor}`);
    expect(rest.body.items.map((h: any) => h.hostname)).toEqual(["c"]);
    expect(rest.body.nextCursor).toBeNull();
  });

  it("deletes a host by MAC", async () => {
    const site = uniq("h");
    await seedSite(site);
    const mac = uniqMac();
    await seedHost(site, { hostname: "gone", mac });
    expect((await api("DELETE", `/v1/sites/${site}/hosts/${mac.replace(/:/g, "")}`)).status).toBe(204);
    expect((await api("GET", `/v1/sites/${site}/hosts/gone`)).status).toBe(404);
  });
});
