import { afterEach, describe, expect, it } from "vitest";
import { ClientTable } from "../../relay/dhcp/clients.ts";
import { messageType, OPT, vendorClass } from "../../relay/dhcp/options.ts";
import { decodeDhcp } from "../../relay/dhcp/packet.ts";
import { startDhcpServer, type DhcpServer, type DhcpServerOptions } from "../../relay/dhcp/server.ts";
import { capture } from "./support/captures.ts";
import { parts } from "./support/relayParts.ts";
import { UdpPeer } from "./support/udp.ts";

const config: DhcpServerOptions["config"] = {
  listenAddress: "127.0.0.1",
  biosBinary: "undionly.kpxe",
  uefiBinary: "ipxe.efi",
  arm64Binary: "ipxe-arm64.efi",
  offerMode: "binl",
  offerModeOverrides: [],
};
const binaries = { has: (n: string) => n === "ipxe.efi" || n === "undionly.kpxe" };

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function setup(role: "dhcp" | "proxy", client?: UdpPeer) {
  const p = parts();
  const clients = new ClientTable();
  const server: DhcpServer = await startDhcpServer({
    role,
    port: 0,
    config,
    advertise: "127.0.0.1",
    httpBase: "http://127.0.0.1:8067",
    binaries,
    clients,
    log: p.log,
    metrics: p.metrics,
    events: p.sink,
    // On loopback the "broadcast" goes to the test client's port instead of 255.255.255.255:68.
    broadcastAddress: "127.0.0.1",
    ...(client ? { clientPort: client.port } : {}),
  });
  cleanup.push(() => server.close());
  return { server, clients, ...p };
}

async function peer() {
  const c = await UdpPeer.bind();
  cleanup.push(() => c.close());
  return c;
}

describe("proxyDHCP server on real UDP sockets", () => {
  it("answers a real OVMF DISCOVER with a proxy offer within milliseconds", async () => {
    const client = await peer();
    const { server, events, registry } = await setup("dhcp", client);
    const started = performance.now();
    await client.send(capture("ovmf-x64-discover.bin"), server.port);
    const got = await client.next(2000);
    const ms = performance.now() - started;
    expect(got).not.toBeNull();
    expect(got!.rinfo.port).toBe(server.port);
    const offer = decodeDhcp(new Uint8Array(got!.msg));
    expect(messageType(offer.options)).toBe(2);
    expect(offer.file).toBe("ipxe.efi");
    expect(offer.siaddr).toBe("127.0.0.1");
    expect(vendorClass(offer.options)).toBe("PXEClient");
    expect(ms).toBeLessThan(200); // the proxy offer never waits on the network (iPXE gives up after 2 s)
    expect(events).toMatchObject([{ phase: "dhcp-offer", mac: "52:54:00:eb:00:01", detail: { platform: "uefi-x64", bootFile: "ipxe.efi" } }]);
    expect(registry.render()).toContain('edgeboot_dhcp_offers_total{arch="uefi-x64",client="firmware",port="67"} 1');
  });

  it("answers the 4011 request from the 4011 socket to the client's source port", async () => {
    const client = await peer();
    const { server } = await setup("proxy");
    await client.send(capture("ovmf-x64-request-4011.bin"), server.port);
    const got = await client.next(2000);
    expect(got?.rinfo.port).toBe(server.port);
    const ack = decodeDhcp(new Uint8Array(got!.msg));
    expect(messageType(ack.options)).toBe(5);
    expect(ack.file).toBe("ipxe.efi");
  });

  it("drops malformed packets and keeps serving", async () => {
    const client = await peer();
    const { server, registry, lines } = await setup("dhcp", client);
    const bad = capture("ovmf-x64-discover.bin").slice();
    bad[236] = 0; // magic cookie
    await client.send(bad, server.port);
    await client.send(new Uint8Array(10), server.port);
    expect(await client.next(300)).toBeNull();
    expect(registry.render()).toContain('edgeboot_dhcp_ignored_total{port="67",reason="bad_magic"} 1');
    expect(registry.render()).toContain('edgeboot_dhcp_ignored_total{port="67",reason="too_short"} 1');
    expect(lines.some((l) => l.includes("dropped malformed DHCP packet"))).toBe(true);
    await client.send(capture("seabios-ipxe-discover.bin"), server.port);
    const got = await client.next(2000);
    expect(got).not.toBeNull();
  });

  it("stays silent for the client's REQUEST to the site server but learns its address for /boot.ipxe", async () => {
    const client = await peer();
    const { server, clients } = await setup("dhcp", client);
    await client.send(capture("ovmf-x64-request.bin"), server.port);
    expect(await client.next(300)).toBeNull();
    expect(clients.macForIp("10.213.0.110")).toBe("52:54:00:eb:00:01");
  });

  it("rate-limits a flood from one MAC", async () => {
    const client = await peer();
    const { server, registry } = await setup("dhcp", client);
    const discover = capture("ovmf-x64-discover.bin");
    for (let i = 0; i < 40; i++) await client.send(discover, server.port);
    let replies = 0;
    while (await client.next(300)) replies++;
    expect(replies).toBeGreaterThanOrEqual(16);
    expect(replies).toBeLessThan(40);
    expect(registry.render()).toMatch(/edgeboot_dhcp_ignored_total\{port="67",reason="rate_limited"\} \d+/);
  });

  it("sends a relayed DISCOVER back to the agent address and port", async () => {
    const agent = await peer();
    const p = parts();
    const server = await startDhcpServer({
      role: "dhcp",
      port: 0,
      config,
      advertise: "127.0.0.1",
      httpBase: "http://127.0.0.1:8067",
      binaries,
      log: p.log,
      metrics: p.metrics,
      events: p.sink,
      agentPort: agent.port,
    });
    cleanup.push(() => server.close());
    const req = capture("ovmf-x64-discover.bin").slice();
    req.set([127, 0, 0, 1], 24); // giaddr
    await agent.send(req, server.port);
    const got = await agent.next(2000);
    expect(got).not.toBeNull();
    expect(decodeDhcp(new Uint8Array(got!.msg)).giaddr).toBe("127.0.0.1");
    expect(decodeDhcp(new Uint8Array(got!.msg)).options.has(OPT.VENDOR_CLASS)).toBe(true);
  });

  it("refuses to start on a port already taken by a non-reusable socket", async () => {
    // reuseAddr sharing is intended for 67 beside a DHCP server; an exclusive owner still wins.
    const { createSocket } = await import("node:dgram");
    const exclusive = createSocket({ type: "udp4" });
    await new Promise<void>((r) => exclusive.bind(0, "127.0.0.1", () => r()));
    cleanup.push(() => new Promise((r) => exclusive.close(() => r())));
    const p = parts();
    await expect(
      startDhcpServer({ role: "dhcp", port: exclusive.address().port, config, advertise: "127.0.0.1", httpBase: "http://x", binaries, log: p.log, metrics: p.metrics, events: p.sink }),
    ).rejects.toThrow(/EADDRINUSE/);
  });
});
