// A host's iPXE build override (ipxeBuild): validated by the hosts API, stored, and carried to the relay in its sync
// snapshot, where the proxyDHCP decision reads it (test/relay/dhcp-binary-choice.test.ts covers that side).
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, ROOT_TOKEN, seedHost, seedRelay, seedSite, uniq, uniqMac } from "../../helpers/admin.ts";

const sync = async (credential: string) => {
  const res = await api("GET", "/relay/v1/sync", undefined, { token: null, headers: { authorization: `Bearer ${credential}` } });
  expect(res.status).toBe(200);
  return res.body as { hosts: Array<Record<string, unknown>> };
};

describe("hosts: ipxeBuild", () => {
  it("is null by default, set on create and by PATCH, cleared with null, and synced to the site's relay", async () => {
    const site = uniq("ib");
    await seedSite(site);
    const { credential } = await seedRelay(site);
    const plain = uniqMac();
    const arm = uniqMac();
    const a = await seedHost(site, { hostname: "plain-1", mac: plain });
    expect(a.ipxeBuild).toBeNull();
    const created = await api("POST", `/v1/sites/${site}/hosts`, { hostname: "arm-1", mac: arm, arch: "arm64", ipxeBuild: "snponly" });
    expect(created.status).toBe(201);
    expect(created.body.ipxeBuild).toBe("snponly");
    expect((await api("GET", `/v1/sites/${site}/hosts/arm-1`)).body.ipxeBuild).toBe("snponly");

    const byMac = (hosts: Array<Record<string, unknown>>, mac: string) => hosts.find((h) => h.mac === mac);
    let snap = await sync(credential);
    expect(byMac(snap.hosts, arm)).toMatchObject({ hostname: "arm-1", arch: "arm64", ipxeBuild: "snponly" });
    expect(byMac(snap.hosts, plain)).toMatchObject({ hostname: "plain-1", ipxeBuild: null });

    const patched = await api("PATCH", `/v1/sites/${site}/hosts/plain-1`, { ipxeBuild: "ipxe" });
    expect(patched.status).toBe(200);
    expect(patched.body.ipxeBuild).toBe("ipxe");
    const cleared = await api("PATCH", `/v1/sites/${site}/hosts/arm-1`, { ipxeBuild: null });
    expect(cleared.body.ipxeBuild).toBeNull();
    snap = await sync(credential);
    expect(byMac(snap.hosts, plain)?.ipxeBuild).toBe("ipxe");
    expect(byMac(snap.hosts, arm)?.ipxeBuild).toBeNull();
  });

  it("refuses a value that is not an iPXE build (a file name, a path) naming the field, and stores nothing", async () => {
    const site = uniq("ib");
    await seedSite(site);
    for (const bad of ["snponly.efi", "../../etc/passwd", "SNPONLY", "", 7]) {
      const res = await api("POST", `/v1/sites/${site}/hosts`, { hostname: "bad-1", mac: uniqMac(), ipxeBuild: bad });
      expect(res.status, String(bad)).toBe(400);
      expect(res.body.error.code).toBe("invalid_input");
      const issue = res.body.error.details.find((d: { path: string[] }) => d.path.join(".") === "ipxeBuild");
      expect(issue?.message, JSON.stringify(res.body.error)).toMatch(/ipxe, snponly/);
    }
    expect((await api("GET", `/v1/sites/${site}/hosts/bad-1`)).status).toBe(404);

    await seedHost(site, { hostname: "ok-1", mac: uniqMac(), ipxeBuild: "ipxe" });
    const res = await api("PATCH", `/v1/sites/${site}/hosts/ok-1`, { ipxeBuild: "snp" });
    expect(res.status).toBe(400);
    expect((await api("GET", `/v1/sites/${site}/hosts/ok-1`)).body).toMatchObject({ ipxeBuild: "ipxe", revision: 1 });
  });

  it("is described in the OpenAPI document", async () => {
    const res = await api("GET", "/v1/openapi.json");
    expect(res.status).toBe(200);
    const schemas = res.body.components.schemas;
    expect(schemas.Host.properties.ipxeBuild.enum).toEqual(["ipxe", "snponly", null]);
    expect(JSON.stringify(schemas.HostCreate.properties.ipxeBuild)).toMatch(/snponly/);
  });

  it("shows on the status page's host view when set, and not otherwise", async () => {
    const site = uniq("ib");
    await seedSite(site);
    await seedHost(site, { hostname: "shown-1", mac: uniqMac(), ipxeBuild: "snponly" });
    await seedHost(site, { hostname: "plain-2", mac: uniqMac() });
    const page = async (host: string) => {
      const req = new Request(`http://api.test/ui/sites/${site}/hosts/${host}`, { headers: { cookie: `edgeboot_session=${encodeURIComponent(ROOT_TOKEN)}` } });
      const res = await (exports as any).default.fetch(req);
      expect(res.status).toBe(200);
      return res.text() as Promise<string>;
    };
    expect(await page("shown-1")).toMatch(/<dt>iPXE build<\/dt><dd>snponly<\/dd>/);
    expect(await page("plain-2")).not.toMatch(/iPXE build/);
  });
});
