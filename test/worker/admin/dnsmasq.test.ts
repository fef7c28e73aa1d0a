import { describe, expect, it } from "vitest";
import { parseDnsmasqHosts } from "../../../worker/admin/dnsmasq.ts";

// Shaped like a real homelab/PXE dnsmasq.conf: other directives, comments, tags, lease times, client ids.
const CONF = `# /etc/dnsmasq.d/lab.conf
interface=br0
domain=lab.example
dhcp-range=10.0.0.100,10.0.0.199,12h
dhcp-boot=tag:!ipxe,undionly.kpxe
dhcp-option=option:router,10.0.0.1

# static leases
dhcp-host=52:54:00:12:34:56,10.0.0.21,node-01
dhcp-host=52:54:00:12:34:57,node-02,10.0.0.22,infinite
dhcp-host=52-54-00-12-34-58,set:workers,10.0.0.23,node-03.lab.example,12h
dhcp-host=01-52:54:00:12:34:59,id:*,tag:red,10.0.0.24,Node-04,45m   # trailing comment
dhcp-host=52:54:00:aa:00:01,52:54:00:aa:00:02,10.0.0.25,dual-nic
dhcp-host=printer,10.0.0.30
dhcp-host=52:54:00:12:34:5a,[2001:db8::5a],node-06
  dhcp-host = 52:54:00:12:34:5b , 10.0.0.27 , node-07
#dhcp-host=52:54:00:de:ad:00,10.0.0.99,commented-out
dhcp-host=52:54:00:12:34:5c,ignore
dhcp-host=id:01:52:54:00:12:34:5d,10.0.0.31,by-client-id
`;

describe("dnsmasq dhcp-host parser", () => {
  it("reads every common dhcp-host form out of a real-looking config", () => {
    const { hosts, errors, warnings, skipped } = parseDnsmasqHosts(CONF);
    expect(errors).toEqual([]);
    expect(hosts).toEqual([
      { line: 9, macs: ["52:54:00:12:34:56"], ipv4: "10.0.0.21", hostname: "node-01", tags: [] },
      { line: 10, macs: ["52:54:00:12:34:57"], ipv4: "10.0.0.22", hostname: "node-02", leaseTime: "infinite", tags: [] },
      { line: 11, macs: ["52:54:00:12:34:58"], ipv4: "10.0.0.23", hostname: "node-03.lab.example", leaseTime: "12h", tags: ["workers"] },
      { line: 12, macs: ["52:54:00:12:34:59"], ipv4: "10.0.0.24", hostname: "node-04", leaseTime: "45m", tags: ["red"] },
      { line: 13, macs: ["52:54:00:aa:00:01", "52:54:00:aa:00:02"], ipv4: "10.0.0.25", hostname: "dual-nic", tags: [] },
      { line: 14, macs: [], ipv4: "10.0.0.30", hostname: "printer", tags: [] },
      { line: 15, macs: ["52:54:00:12:34:5a"], hostname: "node-06", tags: [] },
      { line: 16, macs: ["52:54:00:12:34:5b"], ipv4: "10.0.0.27", hostname: "node-07", tags: [] },
    ]);
    expect(warnings).toEqual([
      { line: 13, message: expect.stringMatching(/several MACs.*52:54:00:aa:00:02 ignored/) },
      { line: 14, message: expect.stringMatching(/^no MAC address/) },
    ]);
    // Read but not imported, each with its reason: never a silent MAC-less host.
    expect(skipped).toEqual([
      { line: 18, message: expect.stringMatching(/ignore/) },
      { line: 19, message: expect.stringMatching(/DHCP client id \(id:01:52:54:00:12:34:5d\).*add the MAC/) },
    ]);
  });

  it("reports every bad line with its number", () => {
    const { hosts, errors } = parseDnsmasqHosts(
      ["dhcp-host=52:54:00:*:*:*,10.0.0.5", "dhcp-host=", "dhcp-host=52:54:00:12:34:56,10.0.0.1,10.0.0.2", "dhcp-host=a,b", "dhcp-host=52:54:00:12:34:56,,x", "dhcp-host=52:54:00:12:34:56,bad_name!", "dhcp-host=52:54:00:12:34:56,10.0.0.9,ok"].join("\n"),
    );
    expect(errors.map((e) => e.line)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(errors[0]!.message).toMatch(/wildcard/);
    expect(errors[2]!.message).toMatch(/two IPv4/);
    expect(errors[3]!.message).toMatch(/two host names/);
    expect(errors[5]!.message).toMatch(/unrecognised item "bad_name!"/);
    expect(hosts).toEqual([{ line: 7, macs: ["52:54:00:12:34:56"], ipv4: "10.0.0.9", hostname: "ok", tags: [] }]);
  });

  it("ignores everything that is not a dhcp-host line and handles CRLF", () => {
    expect(parseDnsmasqHosts("port=0\r\ndhcp-host=52:54:00:00:00:01,n1\r\n\r\n")).toEqual({
      hosts: [{ line: 2, macs: ["52:54:00:00:00:01"], hostname: "n1", tags: [] }],
      errors: [],
      warnings: [],
      skipped: [],
    });
    expect(parseDnsmasqHosts("")).toEqual({ hosts: [], errors: [], warnings: [], skipped: [] });
  });

  it("never throws on random input", () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const alphabet = "dhcp-host=,:.0123456789abcdef[]*#set:tag:id: \n-";
    for (let i = 0; i < 2000; i++) {
      const text = Array.from({ length: Math.floor(rnd() * 120) }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join("");
      expect(() => parseDnsmasqHosts(text)).not.toThrow();
    }
  });
});
