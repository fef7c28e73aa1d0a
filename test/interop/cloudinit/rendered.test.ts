// Adversarial hosts and values, rendered by edgeboot's own renderers (worker/render, the code the Worker runs) and
// read by Debian's real cloud-init 22.4.2 and 25.1.4 (cloudinit/oracle.py: its YAML loader, strict schema validator,
// kernel-argument decoder, ENI parser and `devel net-convert`), plus libyaml (what tiny-cloud's yx reads meta-data
// with). No Worker here: the end-to-end path with the chain's kernel line is test/interop/cloud-init.test.ts.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { templateContext, hostNameOf } from "../../../worker/boot/templateContext.ts";
import type { StaticNetwork } from "../../../worker/db/schema.ts";
import { renderDocument } from "../../../worker/render/documents.ts";
import { networkConfigArg, networkConfigV1 } from "../../../worker/render/netconfig.ts";
import { renderMetaData } from "../../../worker/render/nocloud.ts";
import { cloudInit, PYTHON, requirePython, runPython, type CloudInit } from "./peers.ts";
import { spawnSync } from "node:child_process";

const ORACLE = fileURLToPath(new URL("./oracle.py", import.meta.url));

// Values a site token can put in vars and labels: YAML, Jinja and iPXE syntax, YAML 1.1 line breaks (NEL, LS, PS)
// and characters PyYAML refuses, strings YAML 1.1 reads as other types, unicode, and a long one.
const VALUES: Record<string, string> = {
  secret: "p@ss: #word",
  quoteBreak: 'x"\nusers: [{name: evil}]',
  labelBreak: "r1\nbootcmd: [reboot]",
  nel: "r1\u0085bootcmd: [reboot]",
  lineSep: "r1\u2028bootcmd: [reboot]",
  paraSep: "r1\u2029bootcmd: [reboot]",
  c1: "a\u0086b",
  del: "a\u007fb",
  nonchar: "a\uffffb",
  jinja: "{{ v1.instance_id }}{% if true %}x{% endif %}{# c #}",
  ipxe: "${net0/mac} || shell ; #x",
  flow: "a], evil: [b",
  anchor: "*alias &anchor !!python/object/apply:os.system ['id']",
  equals: "=",
  merge: "<<",
  bool: "yes",
  octal: "0644",
  sexagesimal: "1:20:30",
  date: "2001-12-14",
  tilde: "~",
  empty: "",
  tab: "a\tb",
  unicode: "héllo wörld ☃ 😀 \u202e",
  long: "x".repeat(4000),
};

// A realistic user-data template with each value in many positions: plain, quoted, inside text, in lists, as a key
// (json node), and in a comment.
const USER_DATA = `#cloud-config
# rack {{ var.v }}
hostname: {{ host.hostname }}
users:
  - name: ops
    gecos: {{ var.v }}
    groups: [sudo]
    sudo: "ALL=(ALL) NOPASSWD:ALL"
    shell: /bin/bash
write_files:
  - path: /etc/edgeboot/value
    content: {{ var.v }}
    owner: "root:{{ var.v }}"
  - path: /etc/edgeboot/block
    content: |
      rack {{ var.v }}
runcmd:
  - echo {{ var.v }}
  - [sh, -c, 'echo "$1"', sh, {{ var.v }}]
bootcmd: {{ var.list | json }}
phone_home:
  url: {{ boot.eventsUrl }}?phase=booted
  post: [instance_id, hostname]
`;

const expectedUserData = (hostname: string, v: string, events: string) => ({
  hostname,
  users: [{ name: "ops", gecos: v, groups: ["sudo"], sudo: "ALL=(ALL) NOPASSWD:ALL", shell: "/bin/bash" }],
  write_files: [
    { path: "/etc/edgeboot/value", content: v, owner: `root:${v}` },
    { path: "/etc/edgeboot/block", content: `rack ${v}\n` },
  ],
  runcmd: [`echo ${v}`, ["sh", "-c", 'echo "$1"', "sh", v]],
  bootcmd: [v, [v]],
  phone_home: { url: `${events}?phase=booted`, post: ["instance_id", "hostname"] },
});

// Hosts not seen elsewhere: odd but valid hostnames (what YAML 1.1 would read as numbers, booleans, null), none.
type Host = { id: string; hostname: string | null; mac: string | null };
const HOSTS: Record<string, Host> = {
  numeric: { id: "h-numeric", hostname: "1234", mac: "52:54:00:dd:00:01" },
  octal: { id: "h-octal", hostname: "0777", mac: "52:54:00:dd:00:02" },
  boolean: { id: "h-bool", hostname: "on", mac: "52:54:00:dd:00:03" },
  nullish: { id: "h-null", hostname: "null", mac: "52:54:00:dd:00:04" },
  float: { id: "h-float", hostname: "1.5", mac: "52:54:00:dd:00:05" },
  fqdn: { id: "h-fqdn", hostname: "node-07.rack-3.dc1.example.net", mac: "52:54:00:dd:00:06" },
  unnamed: { id: "h-unnamed", hostname: null, mac: "52:54:00:dd:00:07" },
  unnamedNoMac: { id: "hst_9F3kQ2xZ7", hostname: null, mac: null },
};

// Static networks not seen elsewhere (the schema's limits included).
const NETWORKS: Record<string, { net: StaticNetwork; mac: string | null }> = {
  v6only: { net: { addresses: ["2001:db8:10::5/64"], gateway6: "2001:db8:10::1", nameservers: ["2001:db8::53"] }, mac: "52:54:00:ee:00:01" },
  v6linkLocalGateway: { net: { addresses: ["2001:db8:11::5/64"], gateway6: "fe80::1", nameservers: ["2001:db8::53"], searchDomains: ["v6.example"] }, mac: "52:54:00:ee:00:02" },
  // The gateway's prefix is not the first address of its family: the default route must go with that address.
  gatewayOnSecond: { net: { interface: "eno1", addresses: ["10.9.1.5/24", "fd00:1::5/64", "10.9.0.5/24", "fd00:9::5/64"], gateway4: "10.9.0.1", gateway6: "fd00:9::1", mtu: 9000 }, mac: "52:54:00:ee:00:03" },
  namedBond: { net: { addresses: ["10.2.0.5/24", "fd02::5/64"], gateway4: "10.2.0.1", gateway6: "fd02::1", nameservers: ["10.2.0.53", "fd02::53"], bond: { name: "uplink", interfaces: ["52:54:00:ee:01:01", "52:54:00:ee:01:02"], mode: "active-backup" } }, mac: "52:54:00:ee:01:01" },
  vlanOnNic: { net: { addresses: ["10.3.0.5/24"], gateway4: "10.3.0.1", vlan: 42, nameservers: ["10.3.0.53"] }, mac: "52:54:00:ee:00:04" },
  bondVlanV6: { net: { addresses: ["fd04::5/64"], gateway6: "fd04::1", bond: { interfaces: ["52:54:00:ee:02:01", "52:54:00:ee:02:02", "52:54:00:ee:02:03"], mode: "balance-xor" }, vlan: 4094 }, mac: null },
  largest: {
    net: {
      addresses: Array.from({ length: 16 }, (_, i) => (i < 8 ? `10.${i}.200.250/24` : `fd00:${i}:abcd:ef01::${i}/64`)),
      gateway4: "10.3.200.1",
      gateway6: "fd00:12:abcd:ef01::1",
      nameservers: Array.from({ length: 8 }, (_, i) => `2001:db8:${i}::53`),
      searchDomains: Array.from({ length: 8 }, (_, i) => `${"d".repeat(60)}${i}.${"e".repeat(60)}.example`),
      bond: { name: "bondxxxxxxxx", interfaces: Array.from({ length: 8 }, (_, i) => `52:54:00:cc:00:0${i}`), mode: "802.3ad" },
      vlan: 4000,
      mtu: 9216,
    },
    mac: null,
  },
};

const SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOIiHcbg/7ytfLFHUNLRgEAubFz/13SwXBOM/05GNZe4";
const EVENTS = "http://10.0.0.2:8080/h/eyJhbGciOiJFZERTQSJ9.eyJzaWQiOiJ4In0.c2ln/events";
const site = { id: "site-1", slug: "lab", name: "Lab", vars: {} };
const profile = { id: "prf-1", name: "debian-live", vars: {} };

type Loaded = { loaded?: unknown; load_error?: string; schema_valid?: boolean; schema_error?: string; eni?: unknown; eni_error?: string };
type NetOut = { cmdline: unknown; eni?: Record<string, string>; networkd?: Record<string, string>; netplan?: Record<string, string>; eni_error?: string; networkd_error?: string; netplan_error?: string };
type OracleOut = { version: string; userdata: Record<string, Loaded>; metadata: Record<string, Loaded>; network: Record<string, NetOut> };

const userData: Record<string, string> = {};
const metaData: Record<string, string> = {};
const network: Record<string, { arg: string }> = {};
const results: OracleOut[] = [];
let work: string;

function ctxFor(host: Host, v: string) {
  return templateContext({ site, profile, host: { ...host, uuid: null, serial: null, arch: null, ipv4: null, vars: { v, list: [v, [v]] } }, boot: { baseUrl: "http://10.0.0.2:8080", eventsUrl: EVENTS } });
}

beforeAll(async () => {
  requirePython();
  work = mkdtempSync(join(tmpdir(), "edgeboot-rendered-"));
  for (const [name, v] of Object.entries(VALUES)) {
    userData[`value:${name}`] = renderDocument("userData", USER_DATA, ctxFor(HOSTS.fqdn!, v));
    metaData[`value:${name}`] = renderMetaData({ hostId: "h-keys", hostname: "node-1", publicKeys: [`${SSH_KEY} ops@${v}`] });
  }
  for (const [name, host] of Object.entries(HOSTS)) {
    userData[`host:${name}`] = renderDocument("userData", USER_DATA, ctxFor(host, "r1"));
    metaData[`host:${name}`] = renderMetaData({ hostId: host.id, hostname: hostNameOf(host), publicKeys: [SSH_KEY] });
  }
  for (const [name, { net, mac }] of Object.entries(NETWORKS)) {
    network[name] = { arg: await networkConfigArg(net, mac) };
    metaData[`net:${name}`] = renderMetaData({ hostId: `h-${name}`, hostname: "node-1", network: net });
  }
  const cases = join(work, "cases.json");
  writeFileSync(cases, JSON.stringify({ userdata: userData, metadata: metaData, network }));
  for (const ci of [cloudInit("bookworm"), cloudInit("trixie")]) {
    const dir = mkdtempSync(join(work, `${ci.dist}-`));
    const run = runPython(ci, ORACLE, [cases, dir]);
    if (run.status !== 0) throw new Error(`oracle failed (${ci.version}):\n${run.stderr}`);
    results.push(JSON.parse(run.stdout.trim().split("\n").pop()!));
  }
}, 5 * 60_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

// libyaml, as tiny-cloud's yx reads meta-data (Debian's python3-yaml carries the C loader): all documents in one run.
function libyaml(docs: Record<string, string>): Record<string, unknown> {
  const script = "import json,sys,yaml; print(json.dumps({k: yaml.load(v, Loader=yaml.CSafeLoader) for k, v in json.load(sys.stdin).items()}))";
  const run = spawnSync(PYTHON, ["-c", script], { input: JSON.stringify(docs), encoding: "utf8" });
  if (run.status !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout);
}

describe.each([0, 1])("cloud-init %#", (index) => {
  const out = () => results[index]!;

  it("reads every adversarial value back as exactly that value, in every position, with the schema valid", () => {
    expect(out().version).toMatch(/^(22\.4|25\.1)\./);
    for (const [name, v] of Object.entries(VALUES)) {
      const r = out().userdata[`value:${name}`]!;
      expect(r.load_error, name).toBeUndefined();
      expect(r.loaded, name).toEqual(expectedUserData("node-07.rack-3.dc1.example.net", v, EVENTS));
      expect(r.schema_error, name).toBeUndefined();
      expect(r.schema_valid, name).toBe(true);
    }
  });

  it("meta-data: a key comment carrying any value stays that one key; hostnames stay strings", () => {
    for (const [name, v] of Object.entries(VALUES)) {
      const r = out().metadata[`value:${name}`]!;
      expect(r.load_error, name).toBeUndefined();
      expect(r.loaded, name).toEqual({ "instance-id": "iid-h-keys", "local-hostname": "node-1", hostname: "node-1", "public-keys": { "0": { "openssh-key": `${SSH_KEY} ops@${v}` } } });
    }
  });

  it("odd and missing hostnames: the same string in meta-data and user-data", () => {
    for (const [name, host] of Object.entries(HOSTS)) {
      const want = hostNameOf(host);
      expect(out().metadata[`host:${name}`]!.loaded, name).toMatchObject({ "instance-id": `iid-${host.id}`, "local-hostname": want, hostname: want });
      expect(out().userdata[`host:${name}`]!.loaded, name).toMatchObject({ hostname: want });
      expect(out().userdata[`host:${name}`]!.schema_valid, name).toBe(true);
    }
    expect(hostNameOf(HOSTS.unnamed!)).toBe("host-525400dd0007");
    expect(hostNameOf(HOSTS.unnamedNoMac!)).toBe("host-hst9f3kq2xz7");
  });

  it("network-config= decodes to the v1 config, and cloud-init's ENI parser reads meta-data network-interfaces", () => {
    for (const [name, { net, mac }] of Object.entries(NETWORKS)) {
      const r = out().network[name]!;
      expect(r.cmdline, name).toEqual(networkConfigV1(net, mac));
      expect(r.eni_error ?? r.networkd_error ?? r.netplan_error, name).toBeUndefined();
      const md = out().metadata[`net:${name}`]!;
      expect(md.load_error, name).toBeUndefined();
      expect(md.eni_error, name).toBeUndefined();
    }
  });

  it("net-convert: IPv6-only, link-local gateway, default routes on the address whose prefix holds the gateway", () => {
    const eni = (name: string) => Object.values(out().network[name]!.eni!).join("\n");
    const networkd = (name: string) => Object.values(out().network[name]!.networkd!).join("\n");
    const netplan = (name: string) => parse(Object.values(out().network[name]!.netplan!)[0]!).network;
    expect(eni("v6only")).toMatch(/iface eth0 inet6 static\n\s+address 2001:db8:10::5\/64\n\s+gateway 2001:db8:10::1/);
    expect(eni("v6only")).not.toMatch(/inet static|::\/64 |dns \{/);
    expect(networkd("v6only")).toMatch(/\[Route\]\nGateway=2001:db8:10::1/);
    expect(netplan("v6linkLocalGateway").ethernets.eth0).toMatchObject({ match: { macaddress: "52:54:00:ee:00:02" }, "set-name": "eth0", addresses: ["2001:db8:11::5/64"] });
    expect(JSON.stringify(netplan("v6linkLocalGateway").ethernets.eth0)).toContain("fe80::1");
    expect(networkd("v6linkLocalGateway")).toMatch(/Gateway=fe80::1/);
    // ifupdown adds a stanza's gateway when it brings up that stanza's address: it must be the one in its prefix.
    expect(eni("gatewayOnSecond")).toMatch(/iface eno1 inet static\n\s+address 10\.9\.0\.5\/24\n\s+gateway 10\.9\.0\.1/);
    expect(eni("gatewayOnSecond")).toMatch(/iface eno1 inet6 static\n\s+address fd00:9::5\/64\n\s+gateway fd00:9::1/);
    expect(eni("gatewayOnSecond")).toMatch(/iface eno1 inet static\n\s+address 10\.9\.1\.5\/24\n(?!\s+gateway)/);
    expect(networkd("gatewayOnSecond")).toContain("MTUBytes=9000");
  });

  it("net-convert: a named bond, a VLAN on a NIC, bond+VLAN over IPv6 and the largest network the schema allows", () => {
    const netplan = (name: string) => parse(Object.values(out().network[name]!.netplan!)[0]!).network;
    expect(netplan("namedBond").bonds.uplink).toMatchObject({ interfaces: ["uplinkp0", "uplinkp1"], parameters: { mode: "active-backup" }, addresses: ["10.2.0.5/24", "fd02::5/64"] });
    expect(netplan("namedBond").ethernets.uplinkp1).toMatchObject({ match: { macaddress: "52:54:00:ee:01:02" }, "set-name": "uplinkp1" });
    expect(netplan("vlanOnNic").vlans.vlan42).toMatchObject({ id: 42, link: "eth0", addresses: ["10.3.0.5/24"] });
    expect(netplan("vlanOnNic").ethernets.eth0).toMatchObject({ match: { macaddress: "52:54:00:ee:00:04" }, "set-name": "eth0" });
    expect(netplan("bondVlanV6").vlans.vlan4094).toMatchObject({ id: 4094, link: "bond0", addresses: ["fd04::5/64"] });
    const largest = netplan("largest");
    expect(Object.keys(largest.ethernets)).toHaveLength(8);
    expect(largest.vlans.vlan4000.addresses).toHaveLength(16);
    expect(JSON.stringify(largest.vlans.vlan4000)).toContain("10.3.200.1");
    expect(Object.values(out().network.largest!.eni!).join("\n")).not.toMatch(/::\/64 |dns \{/);
  });
});

describe("libyaml (tiny-cloud's yx)", () => {
  it("reads meta-data with every adversarial key comment and each static network as the same document", () => {
    const read = libyaml(metaData);
    for (const [name, v] of Object.entries(VALUES)) {
      expect((read[`value:${name}`] as Record<string, Record<string, Record<string, string>>>)["public-keys"]!["0"]!["openssh-key"], name).toBe(`${SSH_KEY} ops@${v}`);
    }
    for (const name of Object.keys(NETWORKS)) expect(read[`net:${name}`], name).toEqual(parse(metaData[`net:${name}`]!));
  });
});
