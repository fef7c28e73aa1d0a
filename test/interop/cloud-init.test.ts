// Real cloud-init against a real Worker: Debian 12's 22.4.2 and Debian 13's 25.1.4 (extracted, never installed;
// cloudinit/peers.ts) run their own NoCloud datasource classes with the exact kernel line edgeboot's chain renders
// (cloudinit/driver.py: local and network stage), `cloud-init schema` on the user-data and vendor-data they fetched,
// and `devel net-convert` (eni, networkd, netplan) on the network config from the kernel line. The Worker is
// `wrangler dev` seeded through the admin API as an operator would.
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { startWranglerDev, type WranglerDev } from "../helpers/wrangler.ts";
import { cloudInit, requirePython, runCloudInit, runPython, type CloudInit } from "./cloudinit/peers.ts";
import { adminClient, fetchRetry } from "./support/adminClient.ts";

const DRIVER = fileURLToPath(new URL("./cloudinit/driver.py", import.meta.url));
const SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOIiHcbg/7ytfLFHUNLRgEAubFz/13SwXBOM/05GNZe4 ops@example";
const HOSTS = {
  static: { hostname: "static-1", mac: "52:54:00:aa:00:01", network: { addresses: ["10.0.0.50/24", "fd00::50/64"], gateway4: "10.0.0.1", gateway6: "fd00::1", nameservers: ["10.0.0.53"], searchDomains: ["lab.example"] } },
  bond: { hostname: "bond-1", mac: "52:54:00:aa:00:02", network: { addresses: ["10.1.0.5/24"], gateway4: "10.1.0.1", bond: { interfaces: ["52:54:00:aa:01:01", "52:54:00:aa:01:02"], mode: "802.3ad" }, vlan: 100 } },
  unnamed: { mac: "52:54:00:aa:00:03" },
} as const;

const USER_DATA = `#cloud-config
hostname: {{ host.hostname }}
users:
  - name: ops
    groups: [sudo]
    sudo: "ALL=(ALL) NOPASSWD:ALL"
    shell: /bin/bash
    ssh_authorized_keys: {{ var.sshAuthorizedKeys | json }}
write_files:
  - path: /etc/edgeboot/join
    permissions: "0600"
    content: {{ secret.JOIN }}
runcmd:
  - [sh, -c, "echo {{ host.labels.rack }} > /etc/rack"]
  # A URL with "?" in a flow sequence: valid YAML 1.2, refused by PyYAML unless the renderer writes it in block style.
  - [curl, -fsS, -X, POST, {{ boot.eventsUrl }}?phase=app-ready]
phone_home:
  url: {{ boot.eventsUrl }}?phase=booted
  post: [instance_id, hostname]
`;
const VENDOR_DATA = "#cloud-config\nntp:\n  enabled: true\n  servers: [{{ var.ntp }}]\n";
const JOIN = 'p@ss: #word "and" {{ not jinja }}';

let wrangler: WranglerDev;
let versions: CloudInit[];
let work: string;
const { call: admin, artifact } = adminClient(() => wrangler);

// The kernel's arguments exactly as the chain writes them (what /proc/cmdline holds, minus iPXE's image name).
async function kernelArgs(mac: string): Promise<string> {
  const res = await fetchRetry(`${wrangler.url}/boot/lab/ipxe?mac=${mac}`);
  const script = await res.text();
  expect(res.status, script).toBe(200);
  const line = script.split("\n").find((l) => l.startsWith("kernel "))!;
  return line.replace(/^kernel --name kernel \S+ /, "").replace(/ \|\| goto retry$/, "");
}

type Stage = { claimed: boolean; dsmode?: string; error?: string; metadata?: Record<string, string>; userdata?: string; vendordata?: string; public_keys?: unknown; ds_network_config?: unknown; ds_network_config_error?: string; would_exit_local_mode?: boolean };
type DriverOut = { version: string; cmdline_network_config: unknown; local: Stage; net: Stage; local_network: { source: string; config: unknown }; net_network?: { source: string; config: unknown } };

// One run of the driver. wrangler dev restarts when another process edits the tree, which can drop cloud-init's
// fetches: a run whose network stage failed on the connection is repeated once, with a fresh chain.
async function driveHost(ci: CloudInit, mac: string): Promise<DriverOut> {
  for (let attempt = 1; ; attempt++) {
    const line = await kernelArgs(mac);
    const dir = mkdtempSync(join(work, `drive-${ci.dist}-`));
    const run = runPython(ci, DRIVER, [`kernel ${line}`, dir]);
    if (run.status !== 0) throw new Error(`driver failed (${ci.version}):\n${run.stderr}`);
    const out: DriverOut = JSON.parse(run.stdout.trim().split("\n").pop()!);
    if (out.net.claimed || attempt >= 2 || !/Connection|Url|closed|reset/i.test(out.net.error ?? "")) return out;
  }
}

function files(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else out[p.slice(dir.length)] = readFileSync(p, "utf8");
    }
  };
  walk(dir);
  return out;
}

function netConvert(ci: CloudInit, config: unknown, kind: "eni" | "networkd" | "netplan"): Record<string, string> {
  const dir = mkdtempSync(join(work, `nc-${ci.dist}-${kind}-`));
  writeFileSync(join(dir, "in.json"), JSON.stringify(config));
  const run = runCloudInit(ci, ["devel", "net-convert", "-p", join(dir, "in.json"), "-k", "yaml", "-d", join(dir, "out"), "-D", "debian", "-O", kind]);
  if (run.status !== 0) throw new Error(`net-convert ${kind} (${ci.version}) failed:\n${run.stderr}`);
  return files(join(dir, "out"));
}

beforeAll(async () => {
  requirePython();
  versions = [cloudInit("bookworm"), cloudInit("trixie")];
  work = mkdtempSync(join(tmpdir(), "edgeboot-cloudinit-"));
  wrangler = await startWranglerDev();
  await admin("POST", "/v1/sites", { slug: "lab", name: "Lab", bootAuth: "open", vars: { ntp: "10.0.0.123", sshAuthorizedKeys: [SSH_KEY] } });
  await admin("PUT", "/v1/secrets/JOIN?site=lab", { value: JOIN });
  await admin("PATCH", "/v1/sites/lab", { vendorData: VENDOR_DATA });
  const kernel = await artifact(Buffer.from("kernel bytes"));
  const initrd = await artifact(Buffer.from("initrd bytes"));
  await admin("POST", "/v1/images", { name: "debian", arch: "x86_64", artifacts: { kernel, initrd: [initrd] } });
  await admin("POST", "/v1/profiles", { name: "debian-live", image: "debian", cmdline: "console=ttyS0 boot=live", userData: USER_DATA });
  for (const h of Object.values(HOSTS)) await admin("POST", "/v1/sites/lab/hosts", { ...h, profile: "debian-live", labels: { rack: "r1\nbootcmd: [reboot]" } });
}, 10 * 60_000);

afterAll(async () => {
  await wrangler?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.each([0, 1])("cloud-init %#", (index) => {
  const ci = () => versions[index]!;

  it("the chain's kernel line makes the network stage claim the seed (dsmode net) and apply edgeboot's data", async () => {
    const line = await kernelArgs(HOSTS.static.mac);
    expect(line).toMatch(/^initrd=initrd0 console=ttyS0 boot=live ds=nocloud;dsmode=net;s=http:\/\/127\.0\.0\.1:\d+\/boot\/h\/[\w.-]+\/nocloud\/ network-config=[A-Za-z0-9+/=]+$/);
    const out = await driveHost(ci(), HOSTS.static.mac);
    expect(out.version).toBe(ci().version.split("-")[0]);
    // Local stage: an http seed is not for it (it leaves it to the network stage), and nothing fails.
    expect(out.local.error).toBeUndefined();
    expect(out.local.claimed).toBe(false);
    // Network stage: claimed in net mode, so cloud-init does not exit "in local mode".
    expect(out.net, out.net.error).toMatchObject({ claimed: true, dsmode: "net", would_exit_local_mode: false });
    expect(out.net.metadata!["local-hostname"]).toBe("static-1");
    expect(out.net.metadata!["instance-id"]).toMatch(/^iid-/);
    const ud = parse(out.net.userdata!);
    expect(Object.keys(ud)).toEqual(["hostname", "users", "write_files", "runcmd", "phone_home"]);
    expect(ud.users[0].ssh_authorized_keys).toEqual([SSH_KEY]);
    expect(ud.write_files[0].content).toBe(JOIN);
    expect(ud.runcmd).toEqual([
      ["sh", "-c", "echo r1\nbootcmd: [reboot] > /etc/rack"],
      ["curl", "-fsS", "-X", "POST", expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/boot\/h\/[\w.-]+\/events\?phase=app-ready$/)],
    ]);
    expect(ud.phone_home.url).toMatch(/\/boot\/h\/[\w.-]+\/events\?phase=booted$/);
    expect(parse(out.net.vendordata!)).toEqual({ ntp: { enabled: true, servers: ["10.0.0.123"] } });
    // tiny-cloud's meta-data keys do not trouble cloud-init: no keys from the map form, and its ENI parses.
    expect(out.net.public_keys).toEqual([]);
    expect(out.net.ds_network_config_error).toBeUndefined();
  });

  it("network-config= from the kernel line is what both stages apply, above the datasource", async () => {
    const out = await driveHost(ci(), HOSTS.static.mac);
    const expected = {
      version: 1,
      config: [
        {
          type: "physical",
          name: "eth0",
          mac_address: HOSTS.static.mac,
          subnets: [
            { type: "static", address: "10.0.0.50/24", gateway: "10.0.0.1" },
            { type: "static6", address: "fd00::50/64", gateway: "fd00::1" },
          ],
        },
        { type: "nameserver", address: ["10.0.0.53"], search: ["lab.example"] },
      ],
    };
    expect(out.cmdline_network_config).toEqual(expected);
    expect(out.local_network).toEqual({ source: "cmdline", config: expected });
    expect(out.net_network).toEqual({ source: "cmdline", config: expected });
  });

  it("user-data and vendor-data pass cloud-init's own schema", async () => {
    const out = await driveHost(ci(), HOSTS.static.mac);
    expect(out.net.claimed, out.net.error).toBe(true);
    for (const [name, doc] of [["user-data", out.net.userdata!], ["vendor-data", out.net.vendordata!]] as const) {
      const file = join(work, `${ci().dist}-${name}`);
      writeFileSync(file, doc);
      const run = runCloudInit(ci(), ["schema", "--config-file", file]);
      expect(run.status, `${name}: ${run.stdout}${run.stderr}`).toBe(0);
      expect(run.stdout).toMatch(/^Valid (cloud-config|schema)/m);
    }
  });

  it("a host without a hostname: meta-data and user-data use the same generated name", async () => {
    const out = await driveHost(ci(), HOSTS.unnamed.mac);
    expect(out.net.claimed, out.net.error).toBe(true);
    expect(out.net.metadata!["local-hostname"]).toBe("host-525400aa0003");
    expect(parse(out.net.userdata!).hostname).toBe("host-525400aa0003");
    // No static network: no kernel argument, DHCP fallback.
    expect(out.cmdline_network_config).toBeNull();
  });

  it("net-convert: v4+v6 static, MAC-matched and renamed, default routes that stay default", async () => {
    const out = await driveHost(ci(), HOSTS.static.mac);
    const eni = Object.values(netConvert(ci(), out.cmdline_network_config, "eni")).join("\n");
    expect(eni).toMatch(/iface eth0 inet static\n\s+address 10\.0\.0\.50\/24\n\s+gateway 10\.0\.0\.1/);
    expect(eni).toMatch(/iface eth0 inet6 static\n\s+address fd00::50\/64\n\s+gateway fd00::1/);
    expect(eni).toContain(`ATTR{address}=="${HOSTS.static.mac}", NAME="eth0"`);
    expect(eni).not.toMatch(/::\/64 |dns \{/);
    const networkd = Object.values(netConvert(ci(), out.cmdline_network_config, "networkd")).join("\n");
    expect(networkd).toContain(`MACAddress=${HOSTS.static.mac}`);
    expect(networkd).toContain("Name=eth0");
    expect(networkd).toMatch(/\[Route\]\nGateway=10\.0\.0\.1/);
    expect(networkd).toMatch(/\[Route\]\nGateway=fd00::1/);
    expect(networkd).toContain("DNS=10.0.0.53");
    const netplan = parse(Object.values(netConvert(ci(), out.cmdline_network_config, "netplan"))[0]!).network;
    expect(netplan.ethernets.eth0).toMatchObject({ match: { macaddress: HOSTS.static.mac }, "set-name": "eth0", addresses: ["10.0.0.50/24", "fd00::50/64"] });
    const routes = JSON.stringify(netplan.ethernets.eth0.routes ?? [netplan.ethernets.eth0.gateway4, netplan.ethernets.eth0.gateway6]);
    expect(routes).toContain("10.0.0.1");
    expect(routes).toContain("fd00::1");
    expect(routes).not.toContain("::/64");
  });

  it("net-convert: bond of two MACs with a VLAN on top", async () => {
    const out = await driveHost(ci(), HOSTS.bond.mac);
    const eni = Object.values(netConvert(ci(), out.cmdline_network_config, "eni")).join("\n");
    expect(eni).toMatch(/iface bond0p0 inet manual\n\s+bond-master bond0/);
    expect(eni).toMatch(/iface bond0 inet manual\n(\s+.*\n)*\s+bond-mode 802\.3ad/);
    expect(eni).toMatch(/iface vlan100 inet static\n\s+address 10\.1\.0\.5\/24\n\s+gateway 10\.1\.0\.1\n\s+vlan-raw-device bond0/);
    expect(eni).toContain('ATTR{address}=="52:54:00:aa:01:02", NAME="bond0p1"');
    const netplan = parse(Object.values(netConvert(ci(), out.cmdline_network_config, "netplan"))[0]!).network;
    expect(netplan.bonds.bond0).toMatchObject({ interfaces: ["bond0p0", "bond0p1"], parameters: { mode: "802.3ad" } });
    expect(netplan.vlans.vlan100).toMatchObject({ id: 100, link: "bond0", addresses: ["10.1.0.5/24"] });
    expect(netplan.ethernets.bond0p1).toMatchObject({ match: { macaddress: "52:54:00:aa:01:02" }, "set-name": "bond0p1" });
    // cloud-init's networkd renderer writes no .netdev for bonds or VLANs (both versions): documented in the boot
    // README; such hosts need an image whose cloud-init renders eni or netplan.
    const networkd = netConvert(ci(), out.cmdline_network_config, "networkd");
    expect(Object.keys(networkd).some((f) => f.endsWith(".netdev"))).toBe(false);
  });
});
