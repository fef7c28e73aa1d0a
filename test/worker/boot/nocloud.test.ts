// NoCloud seed behind the host token: meta-data, templated user-data/vendor-data/network-config, host secrets.
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { call, eventsOf, freshStoragePerTest, ROOT, seedHost, seedImage, seedProfile, seedSecret, seedSite, tokensIn } from "./seed.ts";

freshStoragePerTest();

const MAC_A = "52:54:00:00:00:0a";
const MAC_B = "52:54:00:00:00:0b";

async function lab(profile: Record<string, unknown> = {}, site: Record<string, unknown> = {}) {
  const s = await seedSite({ slug: "lab", vars: { ntp: "10.0.0.1", role: "site" }, ...site });
  await seedImage({ name: "debian" });
  const p = await seedProfile({ name: "debian-live", image: "debian", vars: { role: "profile", pool: "a" }, ...profile });
  await seedHost({ id: "host-a", siteId: s.id, hostname: "node-a", mac: MAC_A, profileId: p.id, vars: { role: "host" }, labels: { rack: "r1" } });
  await seedHost({ id: "host-b", siteId: s.id, hostname: "node-b", mac: MAC_B, profileId: p.id });
  return s;
}

// The seed URL exactly as the machine got it from its chain.
async function seedOf(mac: string): Promise<string> {
  const res = await call(`/boot/lab/ipxe?mac=${mac}`);
  expect(res.status).toBe(200);
  return `/boot/h/${tokensIn(res.body)[0]}/nocloud/`;
}

describe("NoCloud", () => {
  it("meta-data: stable instance-id, hostname as quoted YAML", async () => {
    await lab();
    const seed = await seedOf(MAC_A);
    const res = await call(`${seed}meta-data`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.body).toBe('instance-id: "iid-host-a"\nlocal-hostname: "node-a"\nhostname: "node-a"\n');
    // Same answer for the next boot session.
    expect((await call(`${await seedOf(MAC_A)}meta-data`)).body).toBe(res.body);
  });

  it("meta-data: a host without a hostname gets one derived from its MAC", async () => {
    const s = await lab();
    await seedHost({ id: "host-c", siteId: s.id, mac: "52:54:00:00:00:0c", profileId: "prf-debian-live" });
    expect((await call(`${await seedOf("52:54:00:00:00:0c")}meta-data`)).body).toContain('local-hostname: "host-52540000000c"\n');
  });

  it("accepts tiny-cloud's double slash before the file name", async () => {
    await lab();
    const res = await call(`${await seedOf(MAC_A)}/meta-data`);
    expect(res.status).toBe(200);
    expect(res.body).toContain("iid-host-a");
  });

  it("user-data: layered variables (site < profile < host), host fields, labels, JSON filter", async () => {
    await lab({
      userData: [
        "#cloud-config",
        "hostname: {{ host.hostname }}",
        "ntp: {{ var.ntp }} role={{ var.role }} pool={{ var.pool }} rack={{ host.labels.rack }}",
        "bootcmd: [site {{ site.slug }}, profile {{ profile.name }}]",
        'phone_home: {url: "{{ boot.eventsUrl }}?phase=booted", post: all}',
        "write_files:",
        "  - path: /etc/literal",
        '    content: "{{ "{{" }} not a reference"',
        "runcmd: {{ host.labels | json }}",
        "",
      ].join("\n"),
    });
    const seed = await seedOf(MAC_A);
    const res = await call(`${seed}user-data`);
    expect(res.status).toBe(200);
    expect(res.body).toBe(
      [
        "#cloud-config",
        "hostname: node-a",
        "ntp: 10.0.0.1 role=host pool=a rack=r1",
        // Collections come out in block style (PyYAML-safe), whatever style the template used.
        "bootcmd:",
        "  - site lab",
        "  - profile debian-live",
        "phone_home:",
        `  url: "http://api.test${seed.replace("/nocloud/", "/events")}?phase=booted"`,
        "  post: all",
        "write_files:",
        "  - path: /etc/literal",
        "    content: \"{{ not a reference\"",
        "runcmd:",
        "  rack: r1",
        "",
      ].join("\n"),
    );
  });

  it("user-data: #alpine-config and #! scripts pass through unchanged apart from templating", async () => {
    const script = "#!/bin/sh\necho hi > /tmp/x\n# ${NOT_OURS} stays\n";
    await lab({ userData: script });
    expect((await call(`${await seedOf(MAC_A)}user-data`)).body).toBe(script);
    const alpine = "#alpine-config\nssh:\n  authorized_keys: [\"ssh-ed25519 AAAA {{ host.hostname }}\"]\n";
    await seedProfile({ name: "alp", image: "debian", userData: alpine });
    const s2 = await seedSite({ slug: "lab2" });
    await seedHost({ id: "host-z", siteId: s2.id, hostname: "zed", mac: "52:54:00:00:00:0f", profileId: "prf-alp" });
    const res = await call(`/boot/lab2/ipxe?mac=52:54:00:00:00:0f`);
    const body = (await call(`/boot/h/${tokensIn(res.body)[0]}/nocloud/user-data`)).body;
    expect(body).toBe("#alpine-config\nssh:\n  authorized_keys:\n    - \"ssh-ed25519 AAAA zed\"\n");
  });

  it("user-data with a host secret contains it for that host; another host never sees it", async () => {
    const s = await lab({ userData: "#cloud-config\nruncmd: [join {{ secret.JOIN_TOKEN }}]\n" });
    await seedSecret({ siteId: s.id, hostId: "host-a", name: "JOIN_TOKEN" }, "s3cr3t-for-a");
    const a = await call(`${await seedOf(MAC_A)}user-data`);
    expect(a.status).toBe(200);
    expect(a.body).toBe("#cloud-config\nruncmd:\n  - join s3cr3t-for-a\n");

    // Host B has no such secret: a clear render failure, never A's value or an empty string.
    const b = await call(`${await seedOf(MAC_B)}user-data`);
    expect(b.status).toBe(500);
    expect(b.body).not.toContain("s3cr3t-for-a");
    expect(JSON.parse(b.body).error).toMatchObject({ code: "render_failed", message: 'could not render user-data: secret "JOIN_TOKEN" is not set' });
    const failed = (await eventsOf(s.id)).filter((e) => e.phase === "render-failed");
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ hostId: "host-b", source: "worker" });
    expect(JSON.stringify(failed[0]!.detail)).not.toContain("s3cr3t");

    // With a site-wide value B gets that one; A's own (narrower) secret still wins for A.
    await seedSecret({ siteId: s.id, hostId: null, name: "JOIN_TOKEN" }, "site-wide");
    expect((await call(`${await seedOf(MAC_B)}user-data`)).body).toBe("#cloud-config\nruncmd:\n  - join site-wide\n");
    expect((await call(`${await seedOf(MAC_A)}user-data`)).body).toBe("#cloud-config\nruncmd:\n  - join s3cr3t-for-a\n");
  });

  it("a ciphertext moved to another host's row does not decrypt", async () => {
    const s = await lab({ userData: "{{ secret.K }}" });
    await seedSecret({ siteId: s.id, hostId: "host-a", name: "K" }, "for-a");
    // Copy A's sealed row onto B (as a database-level tamper would).
    const { env } = await import("cloudflare:workers");
    await env.DB.prepare("insert into secrets (id, site_id, host_id, name, iv, ciphertext) select 'copy', site_id, 'host-b', name, iv, ciphertext from secrets where host_id = 'host-a'").run();
    const b = await call(`${await seedOf(MAC_B)}user-data`);
    expect(b.status).toBe(500);
    expect(JSON.parse(b.body).error.message).toBe('could not render user-data: secret "K" could not be decrypted');
  });

  it("vendor-data: the profile's, else the site's; empty when neither", async () => {
    await lab({ vendorData: null }, { vendorData: "#cloud-config\nntp: {{ var.ntp }}\n" });
    expect((await call(`${await seedOf(MAC_A)}vendor-data`)).body).toBe("#cloud-config\nntp: 10.0.0.1\n");
  });

  it("vendor-data: profile wins over site; no user-data template → empty document", async () => {
    await lab({ vendorData: "#cloud-config\nfrom: profile\n" }, { vendorData: "#cloud-config\nfrom: site\n" });
    const seed = await seedOf(MAC_A);
    expect((await call(`${seed}vendor-data`)).body).toBe("#cloud-config\nfrom: profile\n");
    const ud = await call(`${seed}user-data`);
    expect(ud.status).toBe(200);
    expect(ud.body).toBe("");
  });

  it("network-config: v1 from the host's static addressing (the kernel line's network-config=, decoded)", async () => {
    const s = await lab();
    const network = { addresses: ["10.0.0.50/24", "fd00::50/64"], gateway4: "10.0.0.1", gateway6: "fd00::1", nameservers: ["10.0.0.53"], searchDomains: ["lab.example"] };
    await seedHost({ id: "host-s", siteId: s.id, hostname: "static-1", mac: "52:54:00:00:00:5a", profileId: "prf-debian-live", network });
    const v1 = {
      version: 1,
      config: [
        {
          type: "physical",
          name: "eth0",
          mac_address: "52:54:00:00:00:5a",
          subnets: [
            { type: "static", address: "10.0.0.50/24", gateway: "10.0.0.1" },
            { type: "static6", address: "fd00::50/64", gateway: "fd00::1" },
          ],
        },
        { type: "nameserver", address: ["10.0.0.53"], search: ["lab.example"] },
      ],
    };
    const chain = await call("/boot/lab/ipxe?mac=52:54:00:00:00:5a");
    const res = await call(`/boot/h/${tokensIn(chain.body)[0]}/nocloud/network-config`);
    expect(JSON.parse(res.body)).toEqual({ network: v1 });
    // The kernel line carries the same config, gzipped and base64 encoded (cloud-init's _b64dgz).
    const arg = /network-config=([A-Za-z0-9+/=]+)/.exec(chain.body)![1]!;
    const gz = Uint8Array.from(atob(arg), (ch) => ch.charCodeAt(0));
    const text = await new Response(new Blob([gz]).stream().pipeThrough(new DecompressionStream("gzip"))).text();
    expect(JSON.parse(text)).toEqual(v1);
    // meta-data: ifupdown-ng text and nameservers for tiny-cloud.
    const md = await call(`/boot/h/${tokensIn(chain.body)[0]}/nocloud/meta-data`);
    expect(md.body).toContain(
      'network-interfaces: "auto lo\\niface lo inet loopback\\n\\nauto eth0\\niface eth0 inet static\\n\\taddress 10.0.0.50/24\\n\\taddress fd00::50/64\\n\\tgateway 10.0.0.1\\n\\tgateway fd00::1\\n"\nresolv_conf:\n  nameservers: ["10.0.0.53"]\n',
    );
  });

  it("network-config: by interface name when given; the profile template otherwise; else empty (DHCP fallback)", async () => {
    const s = await lab({ networkConfig: "network:\n  version: 2\n  ethernets: {eth0: {dhcp4: true}}\n" });
    await seedHost({ id: "host-n", siteId: s.id, mac: "52:54:00:00:00:5b", profileId: "prf-debian-live", network: { interface: "eno1", addresses: ["10.0.0.9/24"] } });
    expect(JSON.parse((await call(`${await seedOf("52:54:00:00:00:5b")}network-config`)).body)).toEqual({
      network: { version: 1, config: [{ type: "physical", name: "eno1", mac_address: "52:54:00:00:00:5b", subnets: [{ type: "static", address: "10.0.0.9/24" }] }] },
    });
    expect((await call(`${await seedOf(MAC_A)}network-config`)).body).toBe("network:\n  version: 2\n  ethernets: {eth0: {dhcp4: true}}\n");
    expect((await call(`${await seedOf(MAC_B)}network-config`)).body).toBe("network:\n  version: 2\n  ethernets: {eth0: {dhcp4: true}}\n");
  });

  it("values saved through the API with YAML 1.1 line breaks or refused characters are served escaped", async () => {
    await lab({ userData: "#cloud-config\n# rack {{ host.labels.rack }}\nhostname: {{ host.hostname }}\nbootcmd:\n  - echo {{ host.labels.rack }} {{ var.note }}\n" });
    const json = { ...ROOT, "content-type": "application/json" };
    const rack = "r1\u0085bootcmd: [reboot]";
    const note = "\u2028x: 1\u0086";
    const saved = await call("/v1/sites/lab/hosts/node-a", { method: "PATCH", headers: json, body: JSON.stringify({ labels: { rack }, vars: { note } }) });
    expect(saved.status, saved.body).toBe(200);
    const ud = (await call(`${await seedOf(MAC_A)}user-data`)).body;
    // NEL, LS and the C1 character are escapes inside one double-quoted scalar; the comment has spaces instead.
    expect(ud).toBe('#cloud-config\n# rack r1 bootcmd: [reboot]\nhostname: node-a\nbootcmd:\n  - "echo r1\\Nbootcmd: [reboot] \\Lx: 1\\x86"\n');
    expect(parse(ud)).toEqual({ hostname: "node-a", bootcmd: [`echo ${rack} ${note}`] });
  });

  it("a raw YAML 1.1 line break in a template, or a second ds= on the kernel line, is refused at save; nothing stored", async () => {
    await lab({ cmdline: "console=ttyS0 rack={{ var.rack }}", vars: { rack: "r1" } });
    const json = { ...ROOT, "content-type": "application/json" };
    const before = await call("/v1/profiles/debian-live", { headers: ROOT });
    const refuse = async (path: string, body: unknown, field: string, message: RegExp) => {
      const res = await call(path, { method: "PATCH", headers: json, body: JSON.stringify(body) });
      expect(res.status, res.body).toBe(400);
      expect(JSON.parse(res.body).error.details.field).toBe(field);
      expect(JSON.parse(res.body).error.message).toMatch(message);
    };
    await refuse("/v1/profiles/debian-live", { userData: "#cloud-config\nhostname: a\u0085b\n" }, "userData", /character U\+0085/);
    await refuse("/v1/profiles/debian-live", { cmdline: "console=ttyS0 ds=nocloud;s=http://10.0.0.9/seed/" }, "cmdline", /"ds=…" conflicts with the NoCloud arguments/);
    expect((await call("/v1/profiles/debian-live", { headers: ROOT })).body).toBe(before.body);
    // A value cannot bring one in either (tiny-cloud would read its seed, the first ds=).
    await refuse("/v1/sites/lab/hosts/node-a", { vars: { rack: "r1 ds=nocloud;s=http://10.6.6.6/" } }, "cmdline", /conflicts with the NoCloud arguments/);
    const chain = await call(`/boot/lab/ipxe?mac=${MAC_A}`);
    expect(chain.body).toContain(" rack=r1 ds=nocloud;dsmode=net;s=");
  });

  it("a static network whose default route no address can reach is refused at save; nothing stored", async () => {
    await lab();
    const json = { ...ROOT, "content-type": "application/json" };
    const patch = (network: unknown) => call("/v1/sites/lab/hosts/node-a", { method: "PATCH", headers: json, body: JSON.stringify({ network }) });
    const before = (await call("/v1/sites/lab/hosts/node-a", { headers: ROOT })).body;
    for (const [network, path] of [
      [{ addresses: ["192.0.2.10/32"], gateway4: "192.0.2.1" }, "network.gateway4"],
      [{ addresses: ["10.0.0.5/24"], gateway4: "10.0.1.1" }, "network.gateway4"],
      [{ addresses: ["fd00::5/64"], gateway4: "10.0.0.1" }, "network.gateway4"],
      [{ addresses: ["10.0.0.5/24"], gateway6: "fe80::1" }, "network.gateway6"],
      [{ addresses: ["fd00::5/64"], gateway6: "fd01::1" }, "network.gateway6"],
    ] as const) {
      const res = await patch(network);
      expect(res.status, JSON.stringify(network)).toBe(400);
      expect(JSON.parse(res.body).error.details.map((i: { path: string[] }) => i.path.join(".")), JSON.stringify(network)).toContain(path);
    }
    expect((await call("/v1/sites/lab/hosts/node-a", { headers: ROOT })).body).toBe(before);
    // In a prefix of a later address, or link-local for IPv6: fine.
    expect((await patch({ addresses: ["10.0.1.5/24", "10.0.0.5/24", "2001:db8::5/64"], gateway4: "10.0.0.1", gateway6: "fe80::1" })).status).toBe(200);
  });

  it("records each fetch in the timeline, with the boot session", async () => {
    const s = await lab({ userData: "#cloud-config\n" });
    const seed = await seedOf(MAC_A);
    for (const f of ["meta-data", "user-data", "vendor-data", "network-config"]) expect((await call(`${seed}${f}`)).status).toBe(200);
    const evs = await eventsOf(s.id);
    expect(evs.map((e) => e.phase)).toEqual(["chain-served", "nocloud-meta-data", "nocloud-user-data", "nocloud-vendor-data", "nocloud-network-config"]);
    expect(new Set(evs.map((e) => e.bootSession)).size).toBe(1);
  });

  it("unknown files are 404", async () => {
    await lab();
    const seed = await seedOf(MAC_A);
    for (const f of ["passwd", "", "meta-data/x", "../user-data"]) expect((await call(`${seed}${f}`)).status, f).toBe(404);
  });
});
