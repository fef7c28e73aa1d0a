import { afterEach, describe, expect, it } from "vitest";
import { ClientTable } from "../../relay/dhcp/clients.ts";
import { messageType, OPT, vendorClass } from "../../relay/dhcp/options.ts";
import { decodeDhcp } from "../../relay/dhcp/packet.ts";
import { startDhcpServer, type DhcpServer, type DhcpServerOptions } from "../../relay/dhcp/server.ts";
import { parseNetwork, type Network } from "../../relay/dhcp/agents.ts";
import { capture } from "./support/captures.ts";
import { rewrite } from "./support/dhcpClaim.ts";
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
    // Sent from 127.0.0.1 for 10.213.0.110: a configured host speaking for another address teaches nothing.
    await client.send(capture("ovmf-x64-request.bin"), server.port);
    expect(await client.next(300)).toBeNull();
    expect(clients.lookup("10.213.0.110")).toEqual({ kind: "unknown" });
    await client.send(rewrite("ovmf-x64-request.bin", { requestedIp: "127.0.0.1" }), server.port);
    expect(await client.next(300)).toBeNull();
    expect(clients.macForIp("127.0.0.1")).toBe("52:54:00:eb:00:01");
  });

  it("reports a 4011 REQUEST that claims a MAC already held by another live address, and re-binds nothing", async () => {
    const { server, clients, events, lines } = await setup("proxy");
    const victim = "52:54:00:eb:00:01";
    clients.claim({ ip: "127.0.0.9", mac: victim, ipxe: true, source: "dhcp-request" });
    const attacker = await UdpPeer.bind(0, "127.0.0.66");
    cleanup.push(() => attacker.close());
    await attacker.send(rewrite("ipxe-efi-request-4011.bin", { mac: victim, ciaddr: "127.0.0.66", serverId: "127.0.0.1" }), server.port);
    expect(await attacker.next(2000)).not.toBeNull(); // the boot-file ACK is harmless: it names no host
    expect(clients.lookup("127.0.0.66")).toMatchObject({ kind: "contested", reason: "mac-held" });
    expect(clients.lookup("127.0.0.9")).toMatchObject({ kind: "contested" });
    expect(events.filter((e) => e.phase === "mac-rebind")).toMatchObject([
      { mac: victim, detail: { ip: "127.0.0.66", reason: "mac-held", heldBy: "127.0.0.9", decision: "contested", source: "pxe-request", sender: "127.0.0.66" } },
    ]);
    expect(lines.some((l) => l.includes("conflicting DHCP claim"))).toBe(true);
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

  it("sends a relayed DISCOVER back to the agent address and port, only for agents on configured networks", async () => {
    const agent = await peer();
    const p = parts();
    const server = await startDhcpServer({
      role: "dhcp",
      port: 0,
      config: { ...config, relayAgentNetworks: [parseNetwork("127.0.0.0/30") as Network] },
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
    // giaddr outside 127.0.0.0/30: dropped with a log line, no reply to anyone (the agent port would see it).
    const far = capture("ovmf-x64-discover.bin").slice();
    far.set([127, 0, 0, 77], 24);
    await agent.send(far, server.port);
    expect(await agent.next(400)).toBeNull();
    expect(p.registry.render()).toContain('edgeboot_dhcp_ignored_total{port="67",reason="relay_agent_not_allowed"} 1');
    expect(p.lines.filter((l) => l.includes("dropped a relayed DHCP request")).length).toBe(1);
    await agent.send(far, server.port); // the log line is once a minute per agent address; the count goes on
    expect(await agent.next(300)).toBeNull();
    expect(p.registry.render()).toContain('reason="relay_agent_not_allowed"} 2');
    expect(p.lines.filter((l) => l.includes("dropped a relayed DHCP request")).length).toBe(1);
  });

  it("drops every relayed request when no relay-agent network is configured", async () => {
    const agent = await peer();
    const p = parts();
    const server = await startDhcpServer({ role: "dhcp", port: 0, config, advertise: "127.0.0.1", httpBase: "http://x", binaries, log: p.log, metrics: p.metrics, events: p.sink, agentPort: agent.port });
    cleanup.push(() => server.close());
    const req = capture("ovmf-x64-discover.bin").slice();
    req.set([127, 0, 0, 1], 24);
    await agent.send(req, server.port);
    expect(await agent.next(400)).toBeNull();
    expect(p.lines.some((l) => l.includes("dropped a relayed DHCP request") && l.includes("127.0.0.1"))).toBe(true);
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
