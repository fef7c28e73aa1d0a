// Scope-tight templates (issue 14, item 1) and template injection (item 3), through the real Worker: every route
// family that stores a template or a substituted value, tried with admin, read, site:a and site:b tokens; then the
// stored data fetched the way a machine does (chain, then its NoCloud seed).
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { api, seedArtifactRow, seedToken, uniq, uniqMac } from "../../helpers/admin.ts";

type Lab = { a: string; b: string; profile: string; image: string; mac: string; tokens: Record<"admin" | "read" | "siteA" | "siteB", string | undefined> };

const GLOBAL_VALUE = "global-value-never-in-site-templates";

async function lab(): Promise<Lab> {
  const a = uniq("a");
  const b = uniq("b");
  for (const slug of [a, b]) expect((await api("POST", "/v1/sites", { slug, name: slug, bootAuth: "open", secretDelivery: "open" })).status).toBe(201);
  const image = uniq("img");
  const kernel = await seedArtifactRow();
  expect((await api("POST", "/v1/images", { name: image, arch: "x86_64", artifacts: { kernel, initrd: [] } })).status).toBe(201);
  const profile = uniq("p");
  expect((await api("POST", "/v1/profiles", { name: profile, image, userData: "#cloud-config\nhostname: {{ host.hostname }}\n" })).status).toBe(201);
  const mac = uniqMac();
  expect((await api("POST", `/v1/sites/${a}/hosts`, { hostname: "node-1", mac, profile })).status).toBe(201);
  expect((await api("PUT", "/v1/secrets/GLOBAL_ONLY", { value: GLOBAL_VALUE })).status).toBeLessThan(300);
  expect((await api("PUT", `/v1/secrets/SITE_A?site=${a}`, { value: "site-a-value" })).status).toBeLessThan(300);
  const tokens = {
    admin: undefined,
    read: (await seedToken(["read"])).secret,
    siteA: (await seedToken([`site:${a}`])).secret,
    siteB: (await seedToken([`site:${b}`])).secret,
  };
  return { a, b, profile, image, mac, tokens };
}

// The seed a machine gets from its chain, and one NoCloud file from it.
async function nocloud(site: string, mac: string, file: string) {
  const chain = await api("GET", `/boot/${site}/ipxe?mac=${mac}`, undefined, { token: null });
  expect(chain.status, String(chain.body)).toBe(200);
  const seed = /s=(http:\/\/api\.test\/boot\/h\/[^/\s]+\/nocloud\/)/.exec(String(chain.body))![1]!;
  return api("GET", `${seed.slice("http://api.test".length)}${file}`, undefined, { token: null });
}

let L: Lab;
beforeEach(async () => {
  L = await lab();
});

describe("secret scope at save: who may make which template name which secret", () => {
  it("site vendor-data: the site's own secrets only, for every token that may write the site; read and other sites never", async () => {
    const cases: [keyof Lab["tokens"], string, number][] = [
      ["admin", "GLOBAL_ONLY", 400],
      ["siteA", "GLOBAL_ONLY", 400],
      ["siteA", "NOT_SET_ANYWHERE", 400],
      ["siteB", "SITE_A", 403],
      ["read", "SITE_A", 403],
      ["siteA", "SITE_A", 200],
      ["admin", "SITE_A", 200],
    ];
    for (const [who, secret, status] of cases) {
      const res = await api("PATCH", `/v1/sites/${L.a}`, { vendorData: `#cloud-config\nbootcmd: [echo {{ secret.${secret} }}]\n` }, { token: L.tokens[who] });
      expect(res.status, `${who} ${secret}`).toBe(status);
      if (status === 400) {
        expect(res.body.error.details).toMatchObject({ field: "vendorData", secret });
        expect(res.body.error.message).toMatch(secret === "GLOBAL_ONLY" ? /global secret/ : /not a secret of site/);
      }
    }
    // Nothing out of scope was stored: the last successful write is the one there.
    const site = await api("GET", `/v1/sites/${L.a}`);
    expect(site.body.vendorData).toContain("secret.SITE_A");
  });

  it("a new site's vendor-data cannot name any secret yet (admin creating it included)", async () => {
    const res = await api("POST", "/v1/sites", { slug: uniq("c"), name: "c", vendorData: "#cloud-config\nbootcmd: [echo {{ secret.GLOBAL_ONLY }}]\n" });
    expect(res.status).toBe(400);
    expect(res.body.error.details.scope).toBe("global");
  });

  it("profiles (catalogue, admin only) may name global secrets; site and read tokens cannot write profiles at all", async () => {
    const body = { userData: "#cloud-config\nbootcmd: [echo {{ secret.GLOBAL_ONLY }}]\n" };
    for (const who of ["read", "siteA", "siteB"] as const) expect((await api("PATCH", `/v1/profiles/${L.profile}`, body, { token: L.tokens[who] })).status, who).toBe(403);
    expect((await api("PATCH", `/v1/profiles/${L.profile}`, body)).status).toBe(200);
    const ud = await nocloud(L.a, L.mac, "user-data");
    expect(parse(String(ud.body))).toEqual({ bootcmd: [`echo ${GLOBAL_VALUE}`] });
  });

  it("host and site vars and labels: site tokens write their own site only; values never reach global secrets or add keys", async () => {
    for (const who of ["read", "siteB"] as const) {
      expect((await api("PATCH", `/v1/sites/${L.a}/hosts/node-1`, { vars: { x: 1 } }, { token: L.tokens[who] })).status, who).toBe(403);
      expect((await api("PATCH", `/v1/sites/${L.a}`, { vars: { x: 1 } }, { token: L.tokens[who] })).status, who).toBe(403);
      expect((await api("POST", `/v1/sites/${L.a}/hosts`, { hostname: "n9" }, { token: L.tokens[who] })).status, who).toBe(403);
    }
    const attack = { vars: { x: 'x"\nusers: [{name: evil}]\nbootcmd: ["{{ secret.GLOBAL_ONLY }}"]' }, labels: { rack: "r1\nbootcmd: [reboot]" } };
    expect((await api("PATCH", `/v1/sites/${L.a}/hosts/node-1`, attack, { token: L.tokens.siteA })).status).toBe(200);
    const profile = await api("PATCH", `/v1/profiles/${L.profile}`, {
      userData: "#cloud-config\nhostname: {{ host.hostname }}\nusers:\n  - name: ops\n    gecos: {{ var.x }}\nwrite_files:\n  - path: /etc/rack\n    content: {{ host.labels.rack }}\n",
    });
    expect(profile.status).toBe(200);
    const ud = await nocloud(L.a, L.mac, "user-data");
    expect(ud.status).toBe(200);
    const doc = parse(String(ud.body));
    expect(Object.keys(doc)).toEqual(["hostname", "users", "write_files"]);
    expect(doc.users).toEqual([{ name: "ops", gecos: attack.vars.x }]);
    expect(doc.write_files[0].content).toBe(attack.labels.rack);
    expect(String(ud.body)).not.toContain(GLOBAL_VALUE);
  });
});

describe("host import: the same scopes, the same quoting", () => {
  it("read and other sites cannot import; a site token's imported vars stay values", async () => {
    const hosts = [{ hostname: "imp-1", mac: uniqMac(), profile: L.profile, vars: { x: 'y"\nusers: [{name: evil}]' } }];
    for (const who of ["read", "siteB"] as const) expect((await api("POST", `/v1/sites/${L.a}/hosts/import`, hosts, { token: L.tokens[who] })).status, who).toBe(403);
    expect((await api("POST", `/v1/sites/${L.a}/hosts/import`, hosts, { token: L.tokens.siteA })).status).toBe(201);
    expect((await api("PATCH", `/v1/profiles/${L.profile}`, { userData: "#cloud-config\nhostname: {{ host.hostname }}\nbootcmd: [{{ var.x }}]\n" })).status).toBe(400); // node-1 has no var x
    expect((await api("PATCH", `/v1/sites/${L.a}/hosts/node-1`, { vars: { x: "plain" } })).status).toBe(200);
    expect((await api("PATCH", `/v1/profiles/${L.profile}`, { userData: "#cloud-config\nhostname: {{ host.hostname }}\nbootcmd: [{{ var.x }}]\n" })).status).toBe(200);
    const ud = await nocloud(L.a, hosts[0]!.mac, "user-data");
    expect(parse(String(ud.body))).toEqual({ hostname: "imp-1", bootcmd: [hosts[0]!.vars.x] });
  });
});

describe("secret scope at render: enforced even for data written around the API", () => {
  it("a site's vendor-data naming a global secret renders as not set, never the value", async () => {
    await env.DB.prepare("update sites set vendor_data = ? where slug = ?").bind("#cloud-config\nbootcmd: [echo {{ secret.GLOBAL_ONLY }}]\n", L.a).run();
    const vd = await nocloud(L.a, L.mac, "vendor-data");
    expect(vd.status).toBe(500);
    expect(vd.body.error).toMatchObject({ code: "render_failed", message: 'could not render vendor-data: secret "GLOBAL_ONLY" is not set' });
    expect(JSON.stringify(vd.body)).not.toContain(GLOBAL_VALUE);
    // The dry run agrees, for every principal that may read the site.
    for (const who of ["admin", "read", "siteA"] as const) {
      const dry = await api("GET", `/v1/sites/${L.a}/hosts/node-1/render/vendor-data`, undefined, { token: L.tokens[who] });
      expect(dry.status, who).toBe(500);
    }
    expect((await api("GET", `/v1/sites/${L.a}/hosts/node-1/render/vendor-data`, undefined, { token: L.tokens.siteB })).status).toBe(403);
  });

  it("the same name as a site secret resolves to the site's value", async () => {
    await api("PUT", `/v1/secrets/GLOBAL_ONLY?site=${L.a}`, { value: "site-copy" });
    expect((await api("PATCH", `/v1/sites/${L.a}`, { vendorData: "#cloud-config\nbootcmd: [echo {{ secret.GLOBAL_ONLY }}]\n" }, { token: L.tokens.siteA })).status).toBe(200);
    const vd = await nocloud(L.a, L.mac, "vendor-data");
    expect(parse(String(vd.body))).toEqual({ bootcmd: ["echo site-copy"] });
  });
});

describe("save-time validation: nothing stored, the field named", () => {
  it("refuses invalid documents on profiles and sites", async () => {
    const bad: [string, string, Record<string, unknown>, string][] = [
      ["PATCH", `/v1/profiles/${"<p>"}`, { userData: "#cloud-config\nusers: [\n" }, "userData"],
      ["PATCH", `/v1/profiles/${"<p>"}`, { networkConfig: "network:\n  version: 3\n" }, "networkConfig"],
      ["PATCH", `/v1/profiles/${"<p>"}`, { networkConfig: "auto eth0\niface eth0 inet dhcp\n" }, "networkConfig"],
      ["PATCH", `/v1/profiles/${"<p>"}`, { vendorData: "#cloud-config\nnot_a_module: 1\n" }, "vendorData"],
      ["PATCH", "/v1/sites/<a>", { vendorData: "hello\n" }, "vendorData"],
    ];
    const before = await api("GET", `/v1/profiles/${L.profile}`);
    for (const [method, path, body, field] of bad) {
      const res = await api(method, path.replace("<p>", L.profile).replace("<a>", L.a), body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.details.field).toBe(field);
    }
    expect((await api("GET", `/v1/profiles/${L.profile}`)).body.revision).toBe(before.body.revision);
  });

  it("a template that cannot render for an assigned host is refused, naming field and host", async () => {
    const res = await api("PATCH", `/v1/profiles/${L.profile}`, { userData: "#cloud-config\nbootcmd: [echo {{ var.missing }}]\n" });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe(`userData would not render for host "node-1" (site "${L.a}"): variable "var.missing" is not set`);
    // Giving the host the variable makes it renderable.
    expect((await api("PATCH", `/v1/sites/${L.a}/hosts/node-1`, { vars: { missing: "here" } })).status).toBe(200);
    expect((await api("PATCH", `/v1/profiles/${L.profile}`, { userData: "#cloud-config\nbootcmd: [echo {{ var.missing }}]\n" })).status).toBe(200);
    // And removing it again is refused on the host side.
    const back = await api("PATCH", `/v1/sites/${L.a}/hosts/node-1`, { vars: {} });
    expect(back.status).toBe(400);
    expect(back.body.error.details.field).toBe("userData");
  });

  it("a kernel line over Linux's budget is refused when the profile or the host is saved", async () => {
    const long = `opt=${"x".repeat(1600)}`;
    expect((await api("PATCH", `/v1/profiles/${L.profile}`, { cmdline: long })).status).toBe(200);
    // The host's static network adds network-config= and tips it over: blamed on the host's network.
    const net = { addresses: ["10.0.0.5/24", "fd00::5/64"], gateway4: "10.0.0.1", gateway6: "fd00::1", nameservers: ["10.0.0.53", "10.0.0.54"], searchDomains: ["a.example", "b.example"] };
    const host = await api("PATCH", `/v1/sites/${L.a}/hosts/node-1`, { network: net });
    expect(host.status).toBe(400);
    expect(host.body.error.details.field).toBe("network");
    expect(host.body.error.message).toMatch(/kernel command line is \d+ bytes \(cmdline 1604, seed \d+, network-config \d+\)/);
    const longer = await api("PATCH", `/v1/profiles/${L.profile}`, { cmdline: `opt=${"x".repeat(1950)}` });
    expect(longer.status).toBe(400);
    expect(longer.body.error.details.field).toBe("cmdline");
  });
});
