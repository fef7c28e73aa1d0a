// Template safety on rendered text: the attacks against each document kind, parsed back with the `yaml`
// package; save-time document checks; network config and tiny-cloud meta-data shapes.
import { describe, expect, it } from "vitest";
import { parse, parseDocument } from "yaml";
import { checkDocument, renderDocument } from "../../../worker/render/documents.ts";
import { byteLength, edgebootArgs, MAX_KERNEL_ARGS } from "../../../worker/render/kernelArgs.ts";
import { checkCmdline, CmdlineError, kernelLine } from "../../../worker/render/ipxe.ts";
import { networkConfigArg, networkConfigV1, renderEni } from "../../../worker/render/netconfig.ts";
import { renderMetaData } from "../../../worker/render/nocloud.ts";
import { inPrefix } from "../../../worker/render/cidr.ts";
import type { TemplateContext } from "../../../worker/render/template.ts";

const ATTACKS = {
  secret: "p@ss: #word",
  quoteBreak: 'x"\nusers: [{name: evil}]',
  label: "r1\nbootcmd: [rm -rf /]",
  jinja: "{{ v1.instance_id }}{% if true %}x{% endif %}{# c #}",
  flow: "a], evil: [b",
  anchor: "*alias &anchor !!python/object:os.system",
  multi: "line1\n  - item\nkey: value",
};

const check = (field: "userData" | "vendorData" | "networkConfig", text: string) => checkDocument(field, text);

const ctx = (extra: Partial<TemplateContext> = {}): TemplateContext => ({
  host: { hostname: "node-1", labels: { rack: ATTACKS.label } },
  var: { evil: ATTACKS.quoteBreak, jinja: ATTACKS.jinja, flow: ATTACKS.flow, anchor: ATTACKS.anchor, multi: ATTACKS.multi, port: 8080, on: true, list: ["a", { b: 1 }] },
  secret: { PASS: ATTACKS.secret },
  boot: { eventsUrl: "http://api.test/boot/h/TOKEN/events" },
  ...extra,
});

const CLOUD_CONFIG = `#cloud-config
# rack {{ host.labels.rack }}
hostname: {{ host.hostname }}
users:
  - name: ops
    passwd: {{ secret.PASS }}
    gecos: "{{ var.evil }}"
    homedir: '/home/{{ var.flow }}'
    ssh_authorized_keys: [{{ var.flow }}, {{ var.anchor }}]
write_files:
  - path: /etc/motd
    content: |
      rack {{ host.labels.rack }}
      {{ var.multi }}
  - path: /etc/jinja
    content: {{ var.jinja }}
ntp: {enabled: {{ var.on }}, servers: [{{ var.port }}]}
packages: {{ var.list | json }}
`;

describe("YAML documents: a value never changes the structure", () => {
  it("every attack stays a scalar with its exact value", () => {
    const out = renderDocument("userData", CLOUD_CONFIG, ctx());
    expect(out.startsWith("#cloud-config\n")).toBe(true);
    const doc = parse(out);
    expect(Object.keys(doc)).toEqual(["hostname", "users", "write_files", "ntp", "packages"]);
    expect(doc.users).toHaveLength(1);
    expect(doc.users[0]).toEqual({
      name: "ops",
      passwd: ATTACKS.secret,
      gecos: ATTACKS.quoteBreak,
      homedir: `/home/${ATTACKS.flow}`,
      ssh_authorized_keys: [ATTACKS.flow, ATTACKS.anchor],
    });
    expect(doc.write_files[0].content).toBe(`rack ${ATTACKS.label}\n${ATTACKS.multi}\n`);
    expect(doc.write_files[1].content).toBe(ATTACKS.jinja);
    // Typed plain scalars keep their type; `| json` places a node.
    expect(doc.ntp).toEqual({ enabled: true, servers: [8080] });
    expect(doc.packages).toEqual(["a", { b: 1 }]);
    // The comment line carries the label without its line break.
    expect(out.split("\n")[1]).toBe(`# rack ${ATTACKS.label.replace("\n", " ")}`);
    expect(out).not.toMatch(/^bootcmd:/m);
  });

  it("a value cannot inject a top-level key in any position", () => {
    for (const [name, value] of Object.entries(ATTACKS)) {
      const tpl = `#cloud-config\nhostname: {{ var.x }}\nruncmd:\n  - echo {{ var.x }}\n  - [sh, -c, "{{ var.x }}"]\n  - '{{ var.x }}'\n`;
      const doc = parseDocument(renderDocument("userData", tpl, ctx({ var: { x: value } })));
      expect(doc.errors, name).toEqual([]);
      const js = doc.toJS();
      expect(Object.keys(js), name).toEqual(["hostname", "runcmd"]);
      expect(js.runcmd, name).toEqual([`echo ${value}`, ["sh", "-c", value], value]);
    }
  });

  it("strings that YAML 1.1 (PyYAML, cloud-init) would read as booleans or octal stay strings", () => {
    const out = renderDocument("userData", "#cloud-config\na: {{ var.a }}\nb: {{ var.b }}\nc: [{{ var.c }}]\n", ctx({ var: { a: "yes", b: "0644", c: "on" } }));
    expect(parse(out, { version: "1.1" })).toEqual({ a: "yes", b: "0644", c: ["on"] });
  });

  it("YAML 1.1 readers (PyYAML, libyaml): their line breaks, refused characters and implicit types stay inert", () => {
    // NEL, LS and PS end a line for PyYAML; C1 controls, DEL and U+FFFF make it refuse the whole document; `=` and
    // `<<` are types it cannot construct in a value; a tab cannot stand in a plain scalar.
    const values = ["a\u0085bootcmd: [reboot]", "a\u2028b", "a\u2029b", "a\u0086b", "a\u007fb", "a\uffffb", "=", "<<", "a\tb", "é 😀"];
    const tpl = "#cloud-config\n# c {{ var.x }}\nhostname: {{ var.x }}\nruncmd:\n  - echo {{ var.x }}\n  - [sh, -c, '{{ var.x }}']\nbootcmd: {{ var.l | json }}\n";
    for (const x of values) {
      const out = renderDocument("userData", tpl, ctx({ var: { x, l: [x, { [x]: x }] } }));
      // Nothing PyYAML reads differently is left raw: each such character is an escape inside double quotes.
      expect(out, JSON.stringify(x)).not.toMatch(/[\x7f-\x9f\u2028\u2029\uffff]|: [^\n"']*\t/);
      expect(out.split("\n")[1], JSON.stringify(x)).toMatch(/^# c [^\n]*$/);
      expect(parse(out), JSON.stringify(x)).toEqual({ hostname: x, runcmd: [`echo ${x}`, ["sh", "-c", x]], bootcmd: [x, { [x]: x }] });
    }
    expect(renderDocument("userData", "#cloud-config\nhostname: {{ var.x }}\n", ctx({ var: { x: "a\u0085b" } }))).toBe('#cloud-config\nhostname: "a\\Nb"\n');
    expect(renderDocument("userData", "#cloud-config\nhostname: {{ var.x }}\n", ctx({ var: { x: "=" } }))).toBe('#cloud-config\nhostname: "="\n');
    // The template's own `<<` merge key is left for PyYAML to merge.
    expect(renderDocument("userData", "#cloud-config\nx: &b {a: 1}\nntp:\n  <<: *b\n  c: {{ var.x }}\n", ctx({ var: { x: "<<" } }))).toBe("#cloud-config\nx: &b\n  a: 1\nntp:\n  <<: *b\n  c: !!str \"<<\"\n");
  });

  it("a template holding a raw YAML 1.1 line break or refused character is refused, naming it", () => {
    expect(check("userData", "#cloud-config\nhostname: a\u0085b\n")[0]).toMatch(/character U\+0085/);
    expect(check("networkConfig", "version: 2\nethernets: {}\n# \u2028\n")[0]).toMatch(/character U\+2028/);
    // Escapes are the way to write them; a rendered document keeps them escaped.
    expect(check("userData", '#cloud-config\nhostname: "a\\x85b"\n')).toEqual([]);
    expect(renderDocument("userData", '#cloud-config\nfqdn: "a\\x85b"\nhostname: {{ var.x }}\n', ctx({ var: { x: "h" } }))).toBe('#cloud-config\nfqdn: "a\\Nb"\nhostname: h\n');
  });

  it("collections come out in block style, where PyYAML reads every plain scalar the yaml package writes", () => {
    // In a flow sequence PyYAML (YAML 1.1) stops at the "?" of a plain URL; in block style it is an ordinary scalar.
    const out = renderDocument("userData", "#cloud-config\nruncmd:\n  - [curl, -X, POST, {{ var.url }}?phase=x]\n", ctx({ var: { url: "http://10.0.0.1/h/t/events" } }));
    expect(out).toBe("#cloud-config\nruncmd:\n  - - curl\n    - -X\n    - POST\n    - http://10.0.0.1/h/t/events?phase=x\n");
  });

  it("a json-filtered value is a node, never more keys", () => {
    const out = renderDocument("userData", "#cloud-config\nbootcmd: {{ var.x | json }}\n", ctx({ var: { x: { "a: b": "c\nusers: []" } } }));
    expect(parse(out)).toEqual({ bootcmd: { "a: b": "c\nusers: []" } });
  });

  it("references are refused in anchors, tags and the header line", () => {
    expect(() => renderDocument("userData", "#cloud-config\na: &{{ var.port }} b\n", ctx())).toThrow(/value, a key or a comment/);
    expect(() => renderDocument("userData", "#cloud-config {{ var.port }}\n", ctx())).toThrow(/first line/);
  });

  it("network-config templates render the same way", () => {
    const tpl = "network:\n  version: 2\n  ethernets:\n    eth0:\n      addresses: [{{ var.evil }}]\n";
    const out = parse(renderDocument("networkConfig", tpl, ctx()));
    expect(out.network.ethernets.eth0.addresses).toEqual([ATTACKS.quoteBreak]);
  });
});

describe("Jinja templates and scripts: inert values only", () => {
  it("refuses values with Jinja, shell or YAML syntax; passes inert ones", () => {
    const jinja = "## template: jinja\n#cloud-config\nhostname: {{ host.hostname }}\nfqdn: {{ '{{' }} v1.local_hostname }}.{{ var.domain }}\n";
    expect(renderDocument("userData", jinja, ctx({ var: { domain: "lab.example" } }))).toBe("## template: jinja\n#cloud-config\nhostname: node-1\nfqdn: {{ v1.local_hostname }}.lab.example\n");
    for (const bad of [ATTACKS.jinja, ATTACKS.secret, ATTACKS.quoteBreak, "a b", "x:", "$(id)", "a,b"]) {
      expect(() => renderDocument("userData", jinja, ctx({ var: { domain: bad } })), bad).toThrow(/cannot go into a "## template: jinja" document/);
    }
    // An inert value still cannot complete a Jinja delimiter with the template's text around it.
    const edge = "## template: jinja\n#cloud-config\nbootcmd:\n  - echo {{ '{' }}{{ var.a }}x\n  - echo x{{ var.b }}{{ '}' }}\n";
    expect(renderDocument("userData", edge, ctx({ var: { a: "a%", b: "%b" } }))).toBe("## template: jinja\n#cloud-config\nbootcmd:\n  - echo {a%x\n  - echo x%b}\n");
    for (const [a, b] of [["%x", "b"], ["a", "x%"], ["", "b"]]) {
      const tpl = a === "" ? "## template: jinja\n#cloud-config\nx: {{ '{' }}{{ var.a }}{{ '%' }} y\n" : edge;
      expect(() => renderDocument("userData", tpl, ctx({ var: { a, b } })), `${a} ${b}`).toThrow(/would make the Jinja delimiter/);
    }
    const script = "#!/bin/sh\ncurl -fsS {{ boot.eventsUrl }}?phase=booted\necho {{ var.x }}\n";
    expect(renderDocument("userData", script, ctx({ var: { x: "node-1.lab" } }))).toContain("curl -fsS http://api.test/boot/h/TOKEN/events?phase=booted\necho node-1.lab\n");
    for (const bad of ["a;reboot", "`id`", "$(id)", "a b", "a\nb", "'"]) {
      expect(() => renderDocument("userData", script, ctx({ var: { x: bad } })), bad).toThrow(/cannot go into a #! script/);
    }
  });
});

describe("save-time document checks", () => {

  it("accepts the supported kinds", () => {
    expect(check("userData", CLOUD_CONFIG)).toEqual([]);
    expect(check("userData", "#alpine-config\npackages: [curl]\n")).toEqual([]);
    expect(check("userData", "#!/bin/sh\necho hi\n")).toEqual([]);
    expect(check("userData", "## template: jinja\n#cloud-config\nhostname: {{ '{{' }} v1.local_hostname }}\n")).toEqual([]);
    expect(check("vendorData", "#cloud-config\n")).toEqual([]);
    expect(check("networkConfig", "version: 1\nconfig:\n  - type: physical\n    name: eth0\n")).toEqual([]);
    expect(check("networkConfig", "network:\n  version: 2\n  ethernets: {eth0: {dhcp4: true}}\n")).toEqual([]);
  });

  it("refuses a common key whose value has the wrong shape for cloud-init's schema; a whole reference is left to render", () => {
    expect(check("userData", "#cloud-config\nruncmd: {a: b}\n")).toEqual(['"runcmd" must be a list (cloud-init\'s schema), not a mapping']);
    expect(check("userData", "#cloud-config\nwrite_files: /etc/x\n")).toEqual(['"write_files" must be a list (cloud-init\'s schema), not a single value']);
    expect(check("userData", "#cloud-config\nwrite_files:\n  - content: x\n  - /etc/y\n")).toEqual(['"write_files[0]" must be a mapping with a path', '"write_files[1]" must be a mapping with a path']);
    expect(check("userData", "#cloud-config\nphone_home: http://x\n")).toEqual(['"phone_home" must be a mapping (cloud-init\'s schema), not a single value']);
    expect(check("userData", "#cloud-config\nhostname: [a]\n")).toEqual(['"hostname" must be a single value (cloud-init\'s schema), not a list']);
    expect(check("userData", "#cloud-config\nntp:\nusers: default\nruncmd: {{ var.cmds | json }}\nwrite_files: [{{ var.file | json }}]\n")).toEqual([]);
    expect(check("userData", "#cloud-config\nusers: [default, {name: a}]\ngroups: {admins: [a]}\nruncmd: [[ls, -l], echo {{ host.hostname }}]\n")).toEqual([]);
    expect(check("userData", "#alpine-config\nruncmd: echo\n")).toEqual(['"runcmd" must be a list (cloud-init\'s schema), not a single value']);
  });

  it("refuses bad YAML, unknown keys, other kinds, version 3 and ENI text, naming the problem", () => {
    expect(check("userData", "#cloud-config\nusers: [\n")[0]).toMatch(/not valid YAML/);
    expect(check("userData", "#cloud-config\nuser_data: x\n")).toEqual(['unknown #cloud-config key "user_data"']);
    expect(check("userData", "#cloud-config\n- a\n")).toEqual(["#cloud-config must be a YAML mapping of keys"]);
    expect(check("userData", "#cloud-config\n{{ var.k }}: x\n")).toEqual(["top-level keys cannot be {{ references }}"]);
    expect(check("userData", "hostname: x\n")[0]).toMatch(/starts with #cloud-config/);
    expect(check("userData", "#include\nhttp://x\n")[0]).toMatch(/"#include" documents are not supported/);
    expect(check("userData", 'Content-Type: multipart/mixed; boundary="x"\n')[0]).toMatch(/MIME multipart/);
    expect(check("userData", "## template: jinja\nhostname: x\n")[0]).toMatch(/second line/);
    expect(check("networkConfig", "network:\n  version: 3\n")[0]).toMatch(/version must be 1 or 2 \(got 3\)/);
    expect(check("networkConfig", "auto eth0\niface eth0 inet dhcp\n")[0]).toMatch(/ENI text is not accepted/);
    expect(check("networkConfig", "version: 1\nconfig:\n  - type: ethernet\n")[0]).toMatch(/config\[0\]\.type/);
    expect(check("networkConfig", "version: 2\nethernet: {}\n")).toEqual(['unknown network-config version 2 key "ethernet"']);
  });
});

describe("static network: cloud-init v1, kernel argument, tiny-cloud", () => {
  const dual = { addresses: ["10.0.0.50/24", "fd00::50/64"], gateway4: "10.0.0.1", gateway6: "fd00::1", nameservers: ["10.0.0.53"] };

  it("v1: MAC-matched NIC renamed, default routes as subnet gateways, global nameservers", () => {
    expect(networkConfigV1(dual, "52:54:00:00:00:5a")).toEqual({
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
        { type: "nameserver", address: ["10.0.0.53"] },
      ],
    });
  });

  it("v1: each default route goes on the address whose prefix holds the gateway (ifupdown adds it with that stanza)", () => {
    const v1 = networkConfigV1({ addresses: ["10.9.1.5/24", "fd00:1::5/64", "10.9.0.5/24", "fd00:9::5/64", "10.9.0.6/24"], gateway4: "10.9.0.1", gateway6: "fd00:9::1" }, null);
    expect(v1.config[0]!.subnets).toEqual([
      { type: "static", address: "10.9.1.5/24" },
      { type: "static6", address: "fd00:1::5/64" },
      { type: "static", address: "10.9.0.5/24", gateway: "10.9.0.1" },
      { type: "static6", address: "fd00:9::5/64", gateway: "fd00:9::1" },
      { type: "static", address: "10.9.0.6/24" },
    ]);
    // A gateway in no prefix (link-local, or beside a /32) stays with the family's first address.
    expect(networkConfigV1({ addresses: ["192.0.2.10/32", "2001:db8::5/64"], gateway4: "192.0.2.1", gateway6: "fe80::1" }, null).config[0]!.subnets).toEqual([
      { type: "static", address: "192.0.2.10/32", gateway: "192.0.2.1" },
      { type: "static6", address: "2001:db8::5/64", gateway: "fe80::1" },
    ]);
  });

  it("inPrefix: IPv4, IPv6 with :: and a dotted tail, prefix lengths 0 to full", () => {
    const cases: [string, string, boolean][] = [
      ["10.0.0.1", "10.0.0.50/24", true], ["10.0.1.1", "10.0.0.50/24", false], ["10.0.0.1", "10.0.0.50/32", false], ["10.0.0.1", "0.0.0.0/0", true],
      ["fd00::1", "fd00::50/64", true], ["fd00:0:0:1::1", "fd00::50/64", false], ["fe80::1", "fd00::50/64", false], ["2001:db9::1", "2001:db8::/32", false],
      ["::ffff:10.0.0.1", "::ffff:10.0.0.0/120", true], ["1::", "1::/128", true], ["10.0.0.1", "fd00::/64", false], ["10.0.0.1", "10.0.0.0/33", false],
    ];
    for (const [ip, cidr, want] of cases) expect(inPrefix(ip, cidr), `${ip} in ${cidr}`).toBe(want);
  });

  it("v1: bond of MACs with a VLAN on top carries the addresses", () => {
    const v1 = networkConfigV1({ addresses: ["10.1.0.5/24"], gateway4: "10.1.0.1", bond: { interfaces: ["52:54:00:00:01:01", "52:54:00:00:01:02"], mode: "802.3ad" }, vlan: 100 }, null);
    expect(v1.config.map((e) => [e.type, e.name])).toEqual([
      ["physical", "bond0p0"],
      ["physical", "bond0p1"],
      ["bond", "bond0"],
      ["vlan", "vlan100"],
    ]);
    expect(v1.config[3]).toMatchObject({ vlan_link: "bond0", vlan_id: 100, subnets: [{ type: "static", address: "10.1.0.5/24", gateway: "10.1.0.1" }] });
  });

  it("the kernel argument is base64 of gzip of the same JSON, a few hundred bytes", async () => {
    const arg = await networkConfigArg(dual, "52:54:00:00:00:5a");
    expect(arg).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(arg.length).toBeLessThan(320);
    const gz = Uint8Array.from(atob(arg), (ch) => ch.charCodeAt(0));
    const text = await new Response(new Blob([gz]).stream().pipeThrough(new DecompressionStream("gzip"))).text();
    expect(JSON.parse(text)).toEqual(networkConfigV1(dual, "52:54:00:00:00:5a"));
  });

  it("ENI for tiny-cloud: one inet stanza per interface, in the syntax cloud-init's ENI parser also reads", () => {
    expect(renderEni(dual)).toBe("auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet static\n\taddress 10.0.0.50/24\n\taddress fd00::50/64\n\tgateway 10.0.0.1\n\tgateway fd00::1\n");
    expect(renderEni({ interface: "eno1", addresses: ["10.0.0.9/24"], vlan: 7 })).toBe(
      "auto lo\niface lo inet loopback\n\nauto eno1\niface eno1 inet manual\n\nauto vlan7\niface vlan7 inet static\n\tvlan-raw-device eno1\n\tvlan-id 7\n\taddress 10.0.0.9/24\n",
    );
  });

  it("meta-data: a key comment with YAML 1.1 line breaks or refused characters stays one escaped scalar", () => {
    const key = "ssh-ed25519 AAAAC3Nza op\u0085local-hostname: evil\u0086\u2028\uffff";
    const md = renderMetaData({ hostId: "h1", hostname: "node-1", publicKeys: [key] });
    expect(md).not.toMatch(/[\x7f-\x9f\u2028\u2029\uffff]/);
    expect(md).toContain('openssh-key: "ssh-ed25519 AAAAC3Nza op\\Nlocal-hostname: evil\\x86\\L\\uffff"\n');
    expect(parse(md)["public-keys"]["0"]["openssh-key"]).toBe(key);
  });

  it("meta-data: tiny-cloud's public-keys/<n>/openssh-key, network-interfaces and resolv_conf", () => {
    const md = renderMetaData({ hostId: "h1", hostname: "node-1", publicKeys: ["ssh-ed25519 AAAAC3Nza op@x", 'ssh-rsa AAAAB3 "q"'], network: dual });
    expect(parse(md)).toEqual({
      "instance-id": "iid-h1",
      "local-hostname": "node-1",
      hostname: "node-1",
      "public-keys": { "0": { "openssh-key": "ssh-ed25519 AAAAC3Nza op@x" }, "1": { "openssh-key": 'ssh-rsa AAAAB3 "q"' } },
      "network-interfaces": renderEni(dual),
      resolv_conf: { nameservers: ["10.0.0.53"] },
    });
  });
});

describe("kernel line", () => {
  const entry = (cmdline: string, networkConfig: string | null = null) => ({ initrdUrls: ["u"], cmdline, seedUrl: "http://api.test/boot/h/T/nocloud/", networkConfig });

  it("edgeboot's arguments: the seed with dsmode=net last-keyed, then network-config", () => {
    expect(edgebootArgs({ seedUrl: "http://a/s/", networkConfig: "H4sI" })).toEqual(["ds=nocloud;dsmode=net;s=http://a/s/", "network-config=H4sI"]);
    expect(kernelLine(entry("console=ttyS0"))).toBe("initrd=initrd0 console=ttyS0 ds=nocloud;dsmode=net;s=http://api.test/boot/h/T/nocloud/");
  });

  it("an operator's own ds= or network-config= is refused when edgeboot adds its NoCloud arguments", () => {
    for (const t of ["ds=nocloud;s=http://x/", "ds=nocloud-net", "ds=ec2", "network-config=disabled", "network-config=H4sI"]) {
      expect(() => checkCmdline(`console=ttyS0 ${t} quiet`, { nocloud: true }), t).toThrow(/conflicts with the NoCloud arguments edgeboot adds/);
      expect(checkCmdline(`console=ttyS0 ${t}`, { nocloud: false }), t).toBe(`console=ttyS0 ${t}`);
    }
    expect(checkCmdline("console=ttyS0 cds=x network-config-x=y", { nocloud: true })).toBe("console=ttyS0 cds=x network-config-x=y");
  });

  it("non-ASCII is refused: Linux also splits arguments at byte 0xA0, inside the UTF-8 of \"à\"", () => {
    for (const t of ["voilà", "x\u00a0init=/bin/sh", "†", "é", "😀", "\u0085"]) {
      expect(() => checkCmdline(`console=ttyS0 rack=${t}`), t).toThrow(/kernel arguments are ASCII only/);
    }
    expect(checkCmdline("console=ttyS0,115200n8 rack=r1~x")).toBe("console=ttyS0,115200n8 rack=r1~x");
  });

  it("is refused one byte over the budget, naming each part's share", () => {
    const base = byteLength(kernelLine(entry("")));
    const fits = "x".repeat(MAX_KERNEL_ARGS - base - 1);
    expect(byteLength(kernelLine(entry(fits)))).toBe(MAX_KERNEL_ARGS);
    expect(() => kernelLine(entry(`${fits}y`))).toThrow(CmdlineError);
    expect(() => kernelLine(entry(`${fits}y`, "H4sI"))).toThrow(/kernel command line is \d+ bytes \(cmdline \d+, seed \d+, network-config 19, initrd names 14\)/);
  });
});
