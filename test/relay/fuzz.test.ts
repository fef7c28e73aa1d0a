// Property/fuzz test of the UDP edge: random and mutated packets at both parsers and at what the servers do next with
// a parse (the proxy decision, the binding table, the relay-agent check, a TFTP transfer), then a burst of them at the
// real servers on loopback sockets, which must still answer a real client afterwards. The only throws allowed are
// the codecs' named errors; anything else escaping would crash a listener.
import { describe, expect, it } from "vitest";
import { inNetworks, parseNetwork, type Network } from "../../relay/dhcp/agents.ts";
import { claimFrom } from "../../relay/dhcp/claim.ts";
import { ClientTable } from "../../relay/dhcp/clients.ts";
import { decodeDhcp, DhcpDecodeError, DhcpEncodeError, encodeDhcp } from "../../relay/dhcp/packet.ts";
import { buildProxyReply, type ProxyContext } from "../../relay/dhcp/proxy.ts";
import { startDhcpServer } from "../../relay/dhcp/server.ts";
import { decodeTftp, encodeTftp, TftpDecodeError } from "../../relay/tftp/packet.ts";
import { ReadTransfer } from "../../relay/tftp/transfer.ts";
import { capture, captureNames, TFTP_FIXTURES } from "./support/captures.ts";
import { FUZZ_ITERATIONS as ITERATIONS, mutate, prng, randomBytes, report } from "./support/fuzz.ts";
import { rewrite } from "./support/dhcpClaim.ts";
import { readAnnotated } from "./support/golden.ts";
import { parts } from "./support/relayParts.ts";
import { tftpGet } from "./support/tftpClient.ts";
import { startTftpFixture } from "./support/tftpFixture.ts";
import { UdpPeer } from "./support/udp.ts";
import { proxyContext } from "./support/proxyContext.ts";

const SOCKET_PACKETS = Number(process.env.FUZZ_SOCKET_PACKETS ?? 3000);

const ctx: ProxyContext = proxyContext({ serverIp: "10.0.0.5", httpBase: "http://10.0.0.5:8067", offerModeOverrides: [{ prefix: "5254", mode: "pxe43" }] });
const agents = [parseNetwork("10.0.0.0/8") as Network];

const tftpSeeds = () => [
  readAnnotated(`${TFTP_FIXTURES}rrq-ipxe.hex`),
  readAnnotated(`${TFTP_FIXTURES}oack.hex`),
  encodeTftp({ op: "ACK", block: 1 }),
  encodeTftp({ op: "DATA", block: 2, data: new Uint8Array(40) }),
  encodeTftp({ op: "ERROR", code: 1, message: "File not found" }),
  encodeTftp({ op: "RRQ", filename: "undionly.kpxe", mode: "octet", options: [["windowsize", "8"], ["timeout", "3"]] }),
];

describe("fuzz", () => {
  it(`DHCP: ${ITERATIONS} random and mutated packets through decode, proxy decision, bindings and agent check`, () => {
    const seeds = captureNames().map(capture);
    expect(seeds.length).toBeGreaterThan(0);
    const rnd = prng(0xdc9);
    const clients = new ClientTable(() => 1_000_000);
    const counts = { inputs: 0, decoded: 0, rejected: 0, replies: 0, encodeRefused: 0, claims: 0, relayed: 0 };
    for (let i = 0; i < ITERATIONS; i++) {
      const bytes = i % 4 === 0 ? randomBytes(rnd, 700) : mutate(seeds[i % seeds.length]!, rnd);
      counts.inputs++;
      try {
        const req = decodeDhcp(bytes);
        counts.decoded++;
        if (req.giaddr !== "0.0.0.0") {
          counts.relayed++;
          inNetworks(req.giaddr, agents);
        }
        for (const on of ["dhcp", "proxy"] as const) {
          const from = { address: i % 3 ? "10.0.0.9" : "0.0.0.0", port: 68 };
          const claim = claimFrom(req, on, from);
          if (claim) {
            counts.claims++;
            clients.claim(claim);
            const b = clients.lookup(claim.ip);
            if (b.kind === "unknown" && !claim.os) throw new Error(`iteration ${i}: a boot claim just made is not visible`);
            if (claim.os && b.kind === "bound" && b.mac !== claim.mac) throw new Error(`iteration ${i}: an OS claim changed a boot binding`);
            clients.vouch(claim.ip);
          }
          const d = buildProxyReply(req, on, from, ctx);
          if (d.kind !== "reply") continue;
          counts.replies++;
          if (d.packet.yiaddr !== "0.0.0.0") throw new Error(`iteration ${i}: a proxy reply handed out an address`);
          try {
            decodeDhcp(encodeDhcp(d.packet)); // what we send must parse again
          } catch (err) {
            if (!(err instanceof DhcpEncodeError)) throw err;
            counts.encodeRefused++;
          }
        }
      } catch (err) {
        if (err instanceof DhcpDecodeError) counts.rejected++;
        else throw new Error(`seed 0xdc9 iteration ${i}: ${(err as Error).stack}`);
      }
    }
    report("dhcp", counts);
    expect(counts.decoded).toBeGreaterThan(ITERATIONS / 10);
    expect(counts.rejected).toBeGreaterThan(ITERATIONS / 10);
    expect(counts.replies).toBeGreaterThan(100);
    expect(counts.claims).toBeGreaterThan(100);
  });

  it(`TFTP: ${ITERATIONS} random and mutated packets, no unexpected throw, transfers stay consistent`, () => {
    const seeds = tftpSeeds();
    const rnd = prng(0x7f7);
    const counts = { inputs: 0, decoded: 0, rejected: 0, requests: 0, transfersEnded: 0 };
    const transfer = () => {
      const t = new ReadTransfer(1_000_000, [["blksize", "1024"], ["windowsize", "4"]], { maxBlksize: 1468, maxWindow: 16 });
      t.start(0);
      t.onPacket({ op: "ACK", block: 0 }, 1);
      return t;
    };
    let t = transfer();
    for (let i = 0; i < ITERATIONS; i++) {
      const bytes = i % 4 === 0 ? randomBytes(rnd, 600) : mutate(seeds[i % seeds.length]!, rnd);
      counts.inputs++;
      try {
        const p = decodeTftp(bytes);
        counts.decoded++;
        if (p.op === "RRQ" || p.op === "WRQ") {
          counts.requests++;
          new ReadTransfer(12345, p.options, { maxBlksize: 1468, maxWindow: 64 }).start(0);
        }
        const out = t.onPacket(p, i);
        t.onTimer(i + 10_000);
        for (const o of out) if (o.kind === "data" && o.offset + o.length > 1_000_000) throw new Error(`iteration ${i}: block past the end`);
        if (t.outcome) {
          counts.transfersEnded++;
          t = transfer();
        }
      } catch (err) {
        if (err instanceof TftpDecodeError) counts.rejected++;
        else throw new Error(`seed 0x7f7 iteration ${i}: ${(err as Error).stack}`);
      }
    }
    report("tftp", counts);
    expect(counts.decoded).toBeGreaterThan(ITERATIONS / 4);
    expect(counts.rejected).toBeGreaterThan(ITERATIONS / 20);
  });

  it(`DHCP servers (67 and 4011) on real sockets: ${SOCKET_PACKETS} fuzzed packets each, then a real DISCOVER and 4011 REQUEST are answered`, async () => {
    const p = parts({ logLines: [] });
    const client = await UdpPeer.bind();
    const servers = await Promise.all(
      (["dhcp", "proxy"] as const).map((role) =>
        startDhcpServer({
          role,
          port: 0,
          config: { listenAddress: "127.0.0.1", biosBinary: "undionly.kpxe", uefiBinary: "ipxe.efi", arm64Binary: "ipxe-arm64.efi", offerMode: "binl", offerModeOverrides: [], relayAgentNetworks: [parseNetwork("127.0.0.0/8") as Network] },
          advertise: "127.0.0.1",
          httpBase: "http://127.0.0.1:8067",
          binaries: { has: () => true },
          clients: new ClientTable(),
          log: p.log,
          metrics: p.metrics,
          events: p.sink,
          broadcastAddress: "127.0.0.1",
          clientPort: client.port,
          agentPort: client.port,
        }),
      ),
    );
    const seeds = captureNames().map(capture);
    const rnd = prng(0x50c);
    try {
      let sent = 0;
      for (let i = 0; i < SOCKET_PACKETS; i++) {
        const bytes = i % 4 === 0 ? randomBytes(rnd, 700) : mutate(seeds[i % seeds.length]!, rnd);
        for (const s of servers) {
          await client.send(bytes, s.port);
          sent++;
        }
        if (i % 200 === 0) while (await client.next(1)); // drain replies so the socket buffer stays small
      }
      while (await client.next(50));
      // A MAC the flood did not use: the per-MAC reply budget of the seeds' MACs is spent, by design.
      await client.send(rewrite("ovmf-x64-discover.bin", { mac: "52:54:00:fe:ed:01" }), servers[0]!.port);
      expect(await client.next(2000)).not.toBeNull();
      await client.send(rewrite("ovmf-x64-request-4011.bin", { mac: "52:54:00:fe:ed:01" }), servers[1]!.port);
      expect(await client.next(2000)).not.toBeNull();
      const ignored = [...p.registry.render().matchAll(/^edgeboot_dhcp_ignored_total\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
      report("dhcp-socket", { sent, ignored });
    } finally {
      await Promise.all(servers.map((s) => s.close()));
      await client.close();
    }
  });

  it(`TFTP server on a real socket: ${SOCKET_PACKETS} fuzzed packets, then a real transfer completes`, async () => {
    const fx = await startTftpFixture();
    const peer = await UdpPeer.bind();
    const seeds = tftpSeeds();
    const rnd = prng(0x7e5);
    try {
      for (let i = 0; i < SOCKET_PACKETS; i++) {
        await peer.send(i % 4 === 0 ? randomBytes(rnd, 600) : mutate(seeds[i % seeds.length]!, rnd), fx.server.port);
        if (i % 200 === 0) while (await peer.next(1));
      }
      const got = await tftpGet({ port: fx.server.port, file: "small.bin", options: [["blksize", "1024"]] });
      expect(got.data.equals(fx.files["small.bin"]!)).toBe(true);
      report("tftp-socket", { sent: SOCKET_PACKETS, activeAfter: fx.server.activeTransfers() });
    } finally {
      await peer.close();
      await fx.close();
    }
  });
});
