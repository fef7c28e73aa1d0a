import { describe, expect, it } from "vitest";
import { helpText, parseConfig, pickAdvertiseAddress } from "../../relay/config.ts";

const required = ["--api-url", "https://boot.example.com/", "--site", "lab"];
const env = { EDGEBOOT_RELAY_CREDENTIAL: "relay-credential-0123456789" };
const ok = (argv: string[], e: Record<string, string> = env) => {
  const r = parseConfig(argv, e);
  if (r.kind !== "ok") throw new Error(`expected ok, got ${JSON.stringify(r)}`);
  return r;
};
const errors = (argv: string[], e: Record<string, string> = env) => {
  const r = parseConfig(argv, e);
  if (r.kind !== "error") throw new Error(`expected errors, got ${r.kind}`);
  return r.errors;
};

describe("relay config", () => {
  it("has documented defaults", () => {
    const { config, warnings } = ok(required);
    expect(config).toMatchObject({
      apiUrl: "https://boot.example.com",
      site: "lab",
      credential: env.EDGEBOOT_RELAY_CREDENTIAL,
      listenAddress: "0.0.0.0",
      dhcpPort: 67,
      proxyDhcpPort: 4011,
      tftpPort: 69,
      httpPort: 8067,
      binariesDir: "/usr/lib/ipxe",
      cacheMaxBytes: 20 * 1024 ** 3,
      syncIntervalSeconds: 15,
      logLevel: "info",
      uefiBinary: "ipxe.efi",
      biosBinary: "undionly.kpxe",
      offerMode: "binl",
      allowDirect: false,
    });
    expect(config.cacheDir).toBe(`${config.stateDir}/cache`);
    expect(warnings).toEqual([]);
  });

  it("reads every setting from EDGEBOOT_* variables, and a flag wins over its variable", () => {
    const { config } = ok([], {
      ...env,
      EDGEBOOT_API_URL: "https://api.example",
      EDGEBOOT_SITE: "site-2",
      EDGEBOOT_TFTP_PORT: "6969",
      EDGEBOOT_ALLOW_DIRECT: "true",
      EDGEBOOT_OFFER_MODE_MACS: "52:54:00=pxe43, 00-1b=binl",
      EDGEBOOT_CACHE_MAX_BYTES: "512M",
    });
    expect(config).toMatchObject({ site: "site-2", tftpPort: 6969, allowDirect: true, cacheMaxBytes: 512 * 1024 ** 2 });
    expect(config.offerModeOverrides).toEqual([{ prefix: "525400", mode: "pxe43" }, { prefix: "001b", mode: "binl" }]);
    expect(ok(["--tftp-port", "7070"], { ...env, EDGEBOOT_API_URL: "https://a.example", EDGEBOOT_SITE: "x", EDGEBOOT_TFTP_PORT: "6969" }).config.tftpPort).toBe(7070);
  });

  it("names the flag and variable for each bad value", () => {
    expect(errors([...required, "--tftp-port", "abc"])).toEqual(['--tftp-port (EDGEBOOT_TFTP_PORT) must be a whole number (a port 0-65535); got "abc"']);
    expect(errors([...required, "--http-port", "70000"])[0]).toMatch(/^--http-port \(EDGEBOOT_HTTP_PORT\) must be at most 65535/);
    expect(errors([...required, "--uefi-binary", "x.efi"])[0]).toMatch(/^--uefi-binary .* must be one of ipxe.efi, snp.efi, snponly.efi/);
    expect(errors([...required, "--advertise", "10.0.0"])[0]).toMatch(/^--advertise .* IPv4/);
    expect(errors([...required, "--cache-max-bytes", "lots"])[0]).toMatch(/^--cache-max-bytes .* size/);
    expect(errors([...required, "--log-level", "loud"])[0]).toMatch(/^--log-level/);
    expect(errors(["--api-url", "ftp://x", "--site", "Lab"])).toEqual([
      expect.stringMatching(/^--api-url .* http\(s\) URL/),
      expect.stringMatching(/^--site .* site slug/),
    ]);
    expect(errors(["--bogus"])).toEqual([expect.stringMatching(/Unknown option '--bogus'/)]);
    expect(errors([...required, "--tftp-port", "67"])).toEqual([expect.stringMatching(/must differ/)]);
    expect(errors([...required, "--arm64-binary", "../x.efi"])[0]).toMatch(/^--arm64-binary/);
    expect(errors([...required, "--api-max-requests", "0"])[0]).toMatch(/^--api-max-requests \(EDGEBOOT_API_MAX_REQUESTS\) must be at least 1/);
    expect(errors([...required, "--api-max-requests", "many"])[0]).toMatch(/^--api-max-requests .* whole number/);
    expect(errors([...required, "--tftp-max-transfers", "lots"])[0]).toMatch(/^--tftp-max-transfers .* whole number/);
  });

  it("reads --dhcp-thread on|off (EDGEBOOT_DHCP_THREAD; default on) and refuses anything else naming the flag", () => {
    expect(ok(required).config.dhcpThread).toBe("on");
    expect(ok([...required, "--dhcp-thread", "off"]).config.dhcpThread).toBe("off");
    expect(ok(required, { ...env, EDGEBOOT_DHCP_THREAD: "off" }).config.dhcpThread).toBe("off");
    expect(ok([...required, "--dhcp-thread", "on"], { ...env, EDGEBOOT_DHCP_THREAD: "off" }).config.dhcpThread).toBe("on");
    expect(errors([...required, "--dhcp-thread", "yes"])).toEqual(['--dhcp-thread (EDGEBOOT_DHCP_THREAD) must be one of on, off; got "yes"']);
    expect(errors(required, { ...env, EDGEBOOT_DHCP_THREAD: "1" })).toEqual(['--dhcp-thread (EDGEBOOT_DHCP_THREAD) must be one of on, off; got "1"']);
  });

  it("reads relay-agent networks as CIDRs (none by default: relayed DHCP is dropped)", () => {
    expect(ok(required).config.relayAgentNetworks).toEqual([]);
    const { config } = ok([...required, "--relay-agent-network", "10.20.0.0/16", "--relay-agent-network", "192.168.7.1"]);
    expect(config.relayAgentNetworks.map((n) => n.text)).toEqual(["10.20.0.0/16", "192.168.7.1/32"]);
    expect(ok([], { ...env, EDGEBOOT_API_URL: "https://a.example", EDGEBOOT_SITE: "x", EDGEBOOT_RELAY_AGENT_NETWORKS: "10.0.0.0/8, 172.16.0.0/12" }).config.relayAgentNetworks).toHaveLength(2);
    expect(errors([...required, "--relay-agent-network", "10.20.0.1/16"])).toEqual([
      '--relay-agent-network (EDGEBOOT_RELAY_AGENT_NETWORKS) has host bits set (did you mean 10.20.0.0/16?); got "10.20.0.1/16"',
    ]);
    expect(errors([...required, "--relay-agent-network", "10.20.0.0/33"])[0]).toMatch(/prefix length must be 0-32/);
    expect(errors([...required, "--relay-agent-network", "lan"])[0]).toMatch(/must be an IPv4 network like 10.1.0.0\/16/);
  });

  it("requires the API URL, site and credential, and never echoes the credential", () => {
    expect(errors([], {})).toEqual([
      "--api-url (EDGEBOOT_API_URL) is required",
      "--site (EDGEBOOT_SITE) is required",
      "--credential (EDGEBOOT_RELAY_CREDENTIAL) is required",
    ]);
    const bad = errors(required, { EDGEBOOT_RELAY_CREDENTIAL: "has space secret-value" });
    expect(bad[0]).toMatch(/^--credential/);
    expect(bad.join("\n")).not.toContain("secret-value");
  });

  it("reads the credential from a file and warns about a credential on the command line", () => {
    const read = (p: string) => {
      if (p === "/run/secrets/relay") return "file-credential\n";
      throw new Error("ENOENT: no such file");
    };
    const r = parseConfig([...required, "--credential-file", "/run/secrets/relay"], {}, read);
    expect(r.kind === "ok" && r.config.credential).toBe("file-credential");
    const missing = parseConfig([...required, "--credential-file", "/nope"], {}, read);
    expect(missing.kind === "error" && missing.errors[0]).toMatch(/^--credential-file .* cannot read \/nope/);
    const both = parseConfig([...required, "--credential-file", "/run/secrets/relay"], env, read);
    expect(both.kind === "error" && both.errors[0]).toMatch(/not both/);
    expect(ok([...required, "--credential", "c1234"], {}).warnings[0]).toMatch(/process list/);
  });

  it("prints help that lists every flag with its variable", () => {
    const r = parseConfig(["--help"], {});
    expect(r.kind).toBe("help");
    const text = helpText();
    for (const flag of ["--api-url", "--site", "--credential", "--tftp-port", "--http-port", "--binaries-dir", "--state-dir", "--cache-dir", "--offer-mode", "--allow-direct", "--log-level"]) {
      expect(text).toContain(flag);
    }
    expect(text).toContain("EDGEBOOT_RELAY_CREDENTIAL");
  });

  it("picks the advertised address: explicit, then the interface's, then the first non-internal IPv4", () => {
    const ifs = {
      lo: [{ family: "IPv4", address: "127.0.0.1", internal: true }],
      eth0: [{ family: "IPv6", address: "fe80::1", internal: false }, { family: "IPv4", address: "10.0.0.5", internal: false }],
      eth1: [{ family: "IPv4", address: "192.168.7.2", internal: false }],
    };
    const base = { listenAddress: "0.0.0.0" } as const;
    expect(pickAdvertiseAddress({ ...base, advertiseAddress: "10.9.9.9" }, ifs)).toEqual({ ok: true, address: "10.9.9.9" });
    expect(pickAdvertiseAddress({ ...base, interface: "eth1" }, ifs)).toEqual({ ok: true, address: "192.168.7.2" });
    expect(pickAdvertiseAddress(base, ifs)).toEqual({ ok: true, address: "10.0.0.5" });
    expect(pickAdvertiseAddress({ ...base, interface: "wlan0" }, ifs)).toMatchObject({ ok: false });
    expect(pickAdvertiseAddress(base, { lo: ifs.lo })).toMatchObject({ ok: false });
  });
});
