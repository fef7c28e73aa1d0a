// Per-host config files (profile and site `files`): save-time checks by kind, the token route with its content types,
// escaping, secret scope and delivery policy, the dry run, and the kernel-line rules (boot.files, nocloud: false,
// edgeboot's arguments before `---`). Real Worker, real D1.
import { describe, expect, it } from "vitest";
import { api } from "../../helpers/admin.ts";
import { call, db, eventsOf, freshStoragePerTest, seedHost, seedImage, seedProfile, seedSecret, seedSite, tokensIn } from "./seed.ts";
import { profiles } from "../../../worker/db/schema.ts";

freshStoragePerTest();

const MAC_A = "52:54:00:f1:00:0a";
const MAC_B = "52:54:00:f1:00:0b";

const IGNITION = JSON.stringify({
  ignition: { version: "3.4.0" },
  storage: { files: [{ path: "/etc/hostname", mode: 420, contents: { source: "data:,{{ host.hostname }}" } }, { path: "/etc/motd", contents: { source: "data:,{{ var.motd }}" } }] },
  systemd: { units: [{ name: "join.service", enabled: true, contents: "[Service]\nExecStart=/bin/join {{ secret.JOIN }}\n" }] },
  passwd: { users: [{ name: "core", sshAuthorizedKeys: ["ssh-ed25519 AAAA {{ host.hostname }}"] }] },
});
const TALOS = "version: v1alpha1\nmachine:\n  type: worker\n  network:\n    hostname: {{ host.hostname }}\n  install:\n    disk: /dev/sda\ncluster:\n  controlPlane:\n    endpoint: https://{{ var.vip }}:6443\n";
const PRESEED = "# per-host preseed\nd-i netcfg/get_hostname string {{ host.hostname }}\nd-i mirror/http/hostname string {{ var.mirror }}\nd-i passwd/root-login boolean false\nd-i preseed/late_command string \\\n  echo done\n";
const AUTOINSTALL = "#cloud-config\nautoinstall:\n  version: 1\n  identity:\n    hostname: {{ host.hostname }}\n    username: ops\n    password: {{ var.hash }}\n";

async function lab(profile: Record<string, unknown> = {}, site: Record<string, unknown> = {}) {
  const s = await seedSite({ slug: "lab", vars: { motd: 'say "hi"\nsecond line', vip: "10.0.0.9", mirror: "deb.debian.org", hash: "$6$x: y" }, ...site });
  await seedImage({ name: "os" });
  await seedProfile({
    name: "p",
    image: "os",
    files: {
      ign: { kind: "ignition", template: IGNITION },
      talos: { kind: "talos", template: TALOS },
      preseed: { kind: "preseed", template: PRESEED },
      auto: { kind: "autoinstall", template: AUTOINSTALL },
      note: { kind: "text", template: "host={{ host.hostname }}\n" },
    },
    ...profile,
  });
  await seedHost({ id: "host-a", siteId: s.id, hostname: "node-a", mac: MAC_A, profileId: "prf-p" });
  await seedHost({ id: "host-b", siteId: s.id, hostname: "node-b", mac: MAC_B, profileId: "prf-p" });
  await seedSecret({ siteId: s.id, hostId: "host-a", name: "JOIN" }, "join-of-a");
  await seedSecret({ siteId: s.id, hostId: "host-b", name: "JOIN" }, "join-of-b");
  return s;
}

const chain = async (mac: string) => {
  const res = await call(`/boot/lab/ipxe?mac=${mac}`);
  expect(res.status, res.body).toBe(200);
  return { body: res.body, token: tokensIn(res.body)[0]! };
};
const fetchFile = (token: string, name: string) => call(`/boot/h/${token}/files/${name}`);
const kernelOf = (script: string) => script.split("\n").find((l) => l.startsWith("kernel "))!;

describe("per-host files: served by kind", () => {
  it("Ignition: JSON with values as JSON strings (quotes and line breaks cannot change its structure)", async () => {
    const site = await lab();
    const { token } = await chain(MAC_A);
    const res = await fetchFile(token, "ign");
    expect(res.status, res.body).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("cache-control")).toBe("no-store");
    const doc = JSON.parse(res.body);
    expect(doc.storage.files).toEqual([
      { path: "/etc/hostname", mode: 420, contents: { source: "data:,node-a" } },
      { path: "/etc/motd", contents: { source: 'data:,say "hi"\nsecond line' } },
    ]);
    expect(doc.systemd.units[0].contents).toBe("[Service]\nExecStart=/bin/join join-of-a\n");
    expect(Object.keys(doc)).toEqual(["ignition", "storage", "systemd", "passwd"]);
    const phases = (await eventsOf(site.id)).map((e) => e.phase);
    expect(phases).toContain("file-ign");
  });

  it("Talos and autoinstall: YAML through the YAML renderer (a value with ': ' stays one string)", async () => {
    await lab();
    const { token } = await chain(MAC_A);
    const talos = await fetchFile(token, "talos");
    expect(talos.status, talos.body).toBe(200);
    expect(talos.headers.get("content-type")).toBe("application/yaml");
    expect(talos.body).toContain("hostname: node-a\n");
    expect(talos.body).toContain("endpoint: https://10.0.0.9:6443\n");
    const auto = await fetchFile(token, "auto");
    expect(auto.status, auto.body).toBe(200);
    expect(auto.headers.get("content-type")).toBe("application/yaml");
    expect(auto.body.startsWith("#cloud-config\nautoinstall:\n")).toBe(true);
    expect(auto.body).toContain('password: "$6$x: y"\n');
  });

  it("preseed and text: text/plain, values substituted on their line", async () => {
    await lab();
    const { token } = await chain(MAC_A);
    const pre = await fetchFile(token, "preseed");
    expect(pre.status, pre.body).toBe(200);
    expect(pre.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    // Values on their line; edgeboot's progress commands added (worker/render/preseedHooks.ts, test/worker/boot/preseedProgress.test.ts).
    const OPTS = "edgeboot_t=; wget --version 2>/dev/null | grep -q 'GNU Wget' && edgeboot_t='-T 10 -t 2'";
    const report = (phase: string) => `wget -q $edgeboot_t -O /dev/null "http://api.test/boot/h/${token}/events?phase=${phase}" || true`;
    expect(pre.body).toBe(
      [
        "# per-host preseed",
        "# edgeboot: installer progress to the boot timeline (installing, installed)",
        `d-i preseed/early_command string ${OPTS}; ${report("installing")}`,
        "d-i netcfg/get_hostname string node-a",
        "d-i mirror/http/hostname string deb.debian.org",
        "d-i passwd/root-login boolean false",
        `d-i preseed/late_command string sh -c 'echo done'; edgeboot_rc=$?; ${OPTS}; if [ $edgeboot_rc = 0 ]; then ${report("installed")}; else ${report("failed")}; fi; exit $edgeboot_rc`,
        "",
      ].join("\n"),
    );
    const note = await fetchFile(token, "note");
    expect(note.body).toBe("host=node-a\n");
  });

  it("a value with a line break in a preseed is a 500 render_failed naming the file, and a render-failed event", async () => {
    const site = await lab({ files: { preseed: { kind: "preseed", template: "d-i passwd/user-fullname string {{ var.motd }}\n" } } });
    const { token } = await chain(MAC_A);
    const res = await fetchFile(token, "preseed");
    expect(res.status).toBe(500);
    const err = JSON.parse(res.body).error;
    expect(err.code).toBe("render_failed");
    expect(err.message).toContain("files/preseed");
    expect(err.message).toContain("var.motd");
    const failed = (await eventsOf(site.id)).filter((e) => e.phase === "render-failed");
    expect(failed).toHaveLength(1);
  });

  it("an unknown file name is a 404", async () => {
    await lab();
    const { token } = await chain(MAC_A);
    expect((await fetchFile(token, "nope")).status).toBe(404);
    expect((await fetchFile(token, "..")).status).toBe(404);
  });
});

describe("per-host files: who reads what", () => {
  it("each host's token renders that host's file; a forged token reads nothing", async () => {
    await lab();
    const a = await chain(MAC_A);
    const b = await chain(MAC_B);
    expect(JSON.parse((await fetchFile(b.token, "ign")).body).systemd.units[0].contents).toContain("join-of-b");
    expect((await fetchFile(a.token, "note")).body).toBe("host=node-a\n");
    expect((await fetchFile(b.token, "note")).body).toBe("host=node-b\n");
    // host B's payload under host A's signature
    const [, payloadB] = b.token.split(".");
    const [headA, , sigA] = a.token.split(".");
    const forged = await fetchFile(`${headA}.${payloadB}.${sigA}`, "ign");
    expect(forged.status).toBe(401);
  });

  it("a file naming secrets follows the delivery policy (once: a refetch is 410); one without secrets can be read again", async () => {
    await lab();
    const { token } = await chain(MAC_A);
    expect((await fetchFile(token, "ign")).status).toBe(200);
    const again = await fetchFile(token, "ign");
    expect(again.status).toBe(410);
    expect(JSON.parse(again.body).error.code).toBe("secret_refetch");
    expect((await fetchFile(token, "preseed")).status).toBe(200);
    expect((await fetchFile(token, "preseed")).status).toBe(200);
  });

  it("the profile's file wins over the site's; a site file never renders a global secret, even if stored", async () => {
    await lab({}, { files: { note: { kind: "text", template: "site\n" }, sitewide: { kind: "text", template: "g={{ secret.GLOBAL }}\n" }, mine: { kind: "text", template: "j={{ secret.JOIN }}\n" } } });
    await seedSecret({ siteId: null, hostId: null, name: "GLOBAL" }, "global-value");
    const { token } = await chain(MAC_A);
    expect((await fetchFile(token, "note")).body).toBe("host=node-a\n");
    const res = await fetchFile(token, "sitewide");
    expect(res.status).toBe(500);
    expect(res.body).not.toContain("global-value");
    expect(JSON.parse(res.body).error.message).toContain('secret "GLOBAL" is not set');
    // the site's hosts' secrets are in a site file's reach
    expect((await fetchFile(token, "mine")).body).toBe("j=join-of-a\n");
  });
});

describe("per-host files: save-time checks (admin API)", () => {
  const post = (files: unknown) => api("POST", "/v1/profiles", { name: "f", files });
  const refused = async (files: unknown, field: string, text: string) => {
    const res = await post(files);
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.details.field).toBe(field);
    expect(res.body.error.message).toContain(text);
    expect((await api("GET", "/v1/profiles/f")).status).toBe(404);
  };

  it("accepts each kind and returns the map", async () => {
    const files = { ign: { kind: "ignition", template: IGNITION }, talos: { kind: "talos", template: TALOS }, "preseed.cfg": { kind: "preseed", template: PRESEED }, auto: { kind: "autoinstall", template: AUTOINSTALL }, t: { kind: "text", template: "x" } };
    const res = await post(files);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.files).toEqual(files);
    expect(res.body.nocloud).toBe(true);
  });

  it("refuses malformed Ignition naming the field and the JSON path", async () => {
    await refused({ ign: { kind: "ignition", template: JSON.stringify({ ignition: { version: "2.2.0" } }) } }, "files.ign.template", "ignition.version");
    await refused({ ign: { kind: "ignition", template: JSON.stringify({ ignition: { version: "3.4.0" }, storage: { files: [{ path: "etc/x" }] } }) } }, "files.ign.template", "storage.files[0].path");
    await refused({ ign: { kind: "ignition", template: '{"ignition": {"version": "3.4.0"}, "x": {{ var.n }}}' } }, "files.ign.template", "inside a JSON string");
    await refused({ ign: { kind: "ignition", template: "{" } }, "files.ign.template", "not valid JSON");
  });

  it("refuses a Talos config without cluster, a bad preseed line and an autoinstall without autoinstall:", async () => {
    await refused({ t: { kind: "talos", template: "version: v1alpha1\nmachine: {}\n" } }, "files.t.template", "cluster");
    await refused({ p: { kind: "preseed", template: "d-i netcfg/get_hostname string x\nd-i mirror/country strng manual\n" } }, "files.p.template", "line 2");
    await refused({ p: { kind: "preseed", template: "d-i passwd/root-login boolean maybe\n" } }, "files.p.template", "true or false");
    await refused({ a: { kind: "autoinstall", template: "#cloud-config\nruncmd: [true]\n" } }, "files.a.template", "autoinstall");
    await refused({ a: { kind: "autoinstall", template: "autoinstall:\n  version: 1\n" } }, "files.a.template", "#cloud-config");
    await refused({ t: { kind: "text", template: "{{ nope.x }}" } }, "files.t.template", "unknown variable");
  });

  it("a file that would not render for an assigned host is refused at save, naming the field and host", async () => {
    await lab();
    const res = await api("PATCH", "/v1/profiles/p", { files: { x: { kind: "text", template: "{{ var.missing }}" } } });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.details.field).toBe("files.x.template");
    expect(res.body.error.message).toContain('host "node-a"');
    const site = await api("PATCH", "/v1/sites/lab", { files: { y: { kind: "preseed", template: "d-i passwd/user-fullname string {{ var.motd }}" } } });
    expect(site.status, JSON.stringify(site.body)).toBe(400);
    expect(site.body.error.details.field).toBe("files.y.template");
    expect((await api("GET", "/v1/sites/lab")).body.files).toEqual({});
  });

  it("refuses bad names and kinds", async () => {
    expect((await post({ "Bad Name": { kind: "text", template: "" } })).status).toBe(400);
    expect((await post({ x: { kind: "kickstart", template: "" } })).status).toBe(400);
  });

  it("secret scope: a site's files name only the site's and its hosts' secrets", async () => {
    await api("POST", "/v1/sites", { slug: "lab", name: "Lab" });
    await seedSecret({ siteId: null, hostId: null, name: "GLOBAL" }, "g");
    const global = await api("PATCH", "/v1/sites/lab", { files: { x: { kind: "text", template: "{{ secret.GLOBAL }}" } } });
    expect(global.status).toBe(400);
    expect(global.body.error.details).toMatchObject({ field: "files.x.template", scope: "global" });
    expect((await api("GET", "/v1/sites/lab")).body.files).toEqual({});
    const { id } = (await api("GET", "/v1/sites/lab")).body;
    await seedSecret({ siteId: id, hostId: null, name: "SITE" }, "s");
    const ok = await api("PATCH", "/v1/sites/lab", { files: { x: { kind: "text", template: "{{ secret.SITE }}" } } });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    // profiles are admin-written: global secrets are in their reach
    expect((await post({ x: { kind: "text", template: "{{ secret.GLOBAL }}" } })).status).toBe(201);
  });
});

describe("kernel line", () => {
  it("boot.files.<name> is the file's token URL; nocloud: false leaves out ds=; edgeboot's arguments stay before ---", async () => {
    await lab({ nocloud: false, cmdline: "auto=true priority=critical url={{ boot.files.preseed }} --- console=ttyS0" });
    const { body, token } = await chain(MAC_A);
    const line = kernelOf(body);
    expect(line).toContain(`url=http://api.test/boot/h/${token}/files/preseed --- console=ttyS0 ||`);
    expect(line).not.toContain("ds=");
    // the URL in the line serves the file
    expect((await fetchFile(token, "preseed")).status).toBe(200);
  });

  it("with NoCloud, ds= goes before the first --- (d-i hands what follows to the installed system)", async () => {
    await lab({ cmdline: "priority=critical --- console=ttyS0 quiet" });
    const { body, token } = await chain(MAC_A);
    const line = kernelOf(body);
    expect(line).toMatch(new RegExp(`priority=critical ds=nocloud;dsmode=net;s=http://api\\.test/boot/h/${token.replace(/[.]/g, "\\.")}/nocloud/ --- console=ttyS0 quiet \\|\\|`));
  });

  it("without ---, ds= stays last", async () => {
    await lab({ cmdline: "console=ttyS0" });
    const line = kernelOf((await chain(MAC_A)).body);
    expect(line).toMatch(/console=ttyS0 ds=nocloud;dsmode=net;s=\S+\/nocloud\/ \|\|/);
  });

  it("PATCH nocloud over the admin API changes the line", async () => {
    await lab({ cmdline: "console=ttyS0" });
    const res = await api("PATCH", "/v1/profiles/p", { nocloud: false });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(kernelOf((await chain(MAC_A)).body)).not.toContain("ds=");
  });
});

describe("dry run", () => {
  it("/render/files/<name> renders with placeholder token and masked secrets", async () => {
    await lab();
    const res = await api("GET", "/v1/sites/lab/hosts/node-a/render/files/ign");
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.body.systemd.units[0].contents).toContain("<secret:JOIN>");
    expect(JSON.stringify(res.body)).not.toContain("join-of-a");
    expect((await api("GET", "/v1/sites/lab/hosts/node-a/render/files/none")).status).toBe(404);
    void db;
    void profiles;
  });
});
