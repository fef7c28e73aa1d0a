// The dgram edge of proxyDHCP: bytes in, decodeDhcp, buildProxyReply, encodeDhcp, bytes out. One instance per port
// (67 for DISCOVERs, 4011 for PXE REQUESTs). A bad packet is logged at debug and dropped; a failed bind rejects.
import { createSocket, type Socket } from "node:dgram";
import type { BinaryCatalog } from "../binaries.ts";
import type { RelayConfig } from "../config.ts";
import type { EventSink } from "../events.ts";
import type { Logger } from "../log.ts";
import type { IpxeBuild } from "../../worker/shared/ipxeBuild.ts";
import type { RelayMetrics } from "../metrics.ts";
import { inNetworks } from "./agents.ts";
import { claimFrom } from "./claim.ts";
import { localBindings, type DhcpBindings } from "./bindings.ts";
import type { ClientTable } from "./clients.ts";
import { decodeDhcp, DhcpDecodeError, encodeDhcp, type DhcpPacket } from "./packet.ts";
import { buildProxyReply, type ProxyContext, type ProxyReply, type ReceivedOn, type Source } from "./proxy.ts";

export type DhcpServer = { port: number; close(): Promise<void> };

export type DhcpServerOptions = {
  role: ReceivedOn;
  port: number;
  config: Pick<RelayConfig, "listenAddress" | "biosBinary" | "uefiBinary" | "arm64Binary" | "offerMode" | "offerModeOverrides"> & Partial<Pick<RelayConfig, "relayAgentNetworks">>;
  advertise: string;
  httpBase: string;
  binaries: Pick<BinaryCatalog, "has">;
  // A host's iPXE build override (relay/dhcp/binaryChoice.ts), read from synced state per request.
  ipxeBuildFor?: (mac: string | null) => IpxeBuild | null;
  ipxeTrust?: Uint8Array | null; // option 175.90 for UEFI firmware (relay/boot/trust.ts)
  clients?: ClientTable;
  // Instead of `clients`: where claims go when the table lives elsewhere (DHCP on a worker thread: thread.ts).
  bindings?: DhcpBindings;
  log: Logger;
  metrics: Pick<RelayMetrics, "dhcpIgnored" | "dhcpOffers">;
  events: EventSink;
  // Test seams: where "broadcast" and relay-agent replies go (a real LAN uses 255.255.255.255:68 and giaddr:67).
  broadcastAddress?: string;
  clientPort?: number;
  agentPort?: number;
  now?: () => number;
};

// Per-MAC reply budget: PROTOCOLS.md §7.12 (retransmits are fine, floods are not). Token bucket, bounded table.
const BURST = 16;
const REFILL_PER_SECOND = 8;
const MAX_TRACKED = 4096;

function rateLimiter(now: () => number) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return (key: string): boolean => {
    const t = now();
    const b = buckets.get(key) ?? { tokens: BURST, at: t };
    b.tokens = Math.min(BURST, b.tokens + ((t - b.at) / 1000) * REFILL_PER_SECOND);
    b.at = t;
    buckets.delete(key);
    buckets.set(key, b);
    if (buckets.size > MAX_TRACKED) buckets.delete(buckets.keys().next().value!);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  };
}

function bind(socket: Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    socket.bind({ port, address }, () => {
      socket.off("error", reject);
      resolve();
    });
  });
}

export async function startDhcpServer(opts: DhcpServerOptions): Promise<DhcpServer> {
  const { log, metrics, events } = opts;
  const now = opts.now ?? Date.now;
  const allow = rateLimiter(now);
  const ctx: ProxyContext = {
    serverIp: opts.advertise,
    httpBase: opts.httpBase,
    biosBinary: opts.config.biosBinary,
    uefiBinary: opts.config.uefiBinary,
    arm64Binary: opts.config.arm64Binary,
    offerMode: opts.config.offerMode,
    offerModeOverrides: opts.config.offerModeOverrides,
    hasBinary: (name) => opts.binaries.has(name),
    ipxeBuildFor: opts.ipxeBuildFor,
    ipxeTrust: opts.ipxeTrust ?? null,
  };
  const portLabel = String(opts.role === "dhcp" ? 67 : 4011);

  // reuseAddr lets the relay share 67 with a DHCP server on the same host (PROTOCOLS.md §7.17: broadcasts reach both).
  const main = createSocket({ type: "udp4", reuseAddr: true });
  try {
    await bind(main, opts.port, opts.config.listenAddress);
  } catch (err) {
    main.close(); // an unbound socket still holds the event loop open, and the relay must exit
    throw err;
  }
  main.setBroadcast(true);
  const port = main.address().port;
  // A second socket bound to the advertised address sends the replies: Linux routes a limited broadcast out of the
  // interface that owns the bound source address, which Node cannot otherwise choose (no SO_BINDTODEVICE).
  let sender = main;
  let extra: Socket | null = null;
  if (opts.config.listenAddress === "0.0.0.0" && opts.advertise !== "0.0.0.0") {
    const s = createSocket({ type: "udp4", reuseAddr: true });
    try {
      await bind(s, port, opts.advertise);
      s.setBroadcast(true);
      sender = extra = s;
    } catch (err) {
      s.close();
      log.warn("cannot bind a reply socket to the advertised address; replies use the wildcard socket", { advertise: opts.advertise, error: err });
    }
  }

  // IP↔MAC bindings for /boot.ipxe, from the client's own REQUESTs (claim.ts), and each answered client's HTTPS/arch.
  const bindings = opts.bindings ?? (opts.clients ? localBindings(opts.clients, { events, log, now }) : null);
  const rememberAddress = (req: DhcpPacket, from: Source) => {
    if (!bindings) return;
    const claim = claimFrom(req, opts.role, from);
    if (claim) bindings.claim(claim, from.address);
  };

  // Relayed requests only from agents on configured networks; otherwise giaddr would aim replies anywhere.
  const agentNetworks = opts.config.relayAgentNetworks ?? [];
  const agentLogged = new Map<string, number>();
  const agentAllowed = (giaddr: string, sender: string): boolean => {
    if (giaddr === "0.0.0.0" || inNetworks(giaddr, agentNetworks)) return true;
    countIgnored("relay_agent_not_allowed");
    const t = now();
    if ((agentLogged.get(giaddr) ?? -Infinity) + 60_000 <= t) {
      agentLogged.delete(giaddr);
      agentLogged.set(giaddr, t);
      if (agentLogged.size > 256) agentLogged.delete(agentLogged.keys().next().value!);
      log.warn("dropped a relayed DHCP request: its relay agent is not on a configured network (--relay-agent-network)", { giaddr, from: sender });
    }
    return false;
  };

  // Few label sets (ignore reasons; platform x client kind), so each series is resolved once, not per packet.
  const ignoredSeries = new Map<string, { inc(): void }>();
  const countIgnored = (reason: string) => {
    let c = ignoredSeries.get(reason);
    if (!c) ignoredSeries.set(reason, (c = metrics.dhcpIgnored.labels({ port: portLabel, reason })));
    c.inc();
  };
  const offerSeries = new Map<string, { inc(): void }>();
  const countOffer = (arch: string, client: string) => {
    const key = `${arch} ${client}`;
    let c = offerSeries.get(key);
    if (!c) offerSeries.set(key, (c = metrics.dhcpOffers.labels({ arch, port: portLabel, client })));
    c.inc();
  };

  // The event, metric and log line of a reply are written after it is on the wire: dgram sends to an address on the
  // next tick, once this handler has returned, so whatever the handler does after send() still delays the offer.
  let replied: Array<{ decision: ProxyReply; to: Source; mac: string }> = [];
  const record = () => {
    const batch = replied;
    replied = [];
    for (const { decision, to, mac } of batch) {
      const c = decision.client;
      countOffer(c.platform, c.ipxe ? "ipxe" : c.httpBoot ? "httpboot" : "firmware");
      events.emit({
        phase: opts.role === "dhcp" ? "dhcp-offer" : "dhcp-ack-4011",
        ...(c.mac ? { mac: c.mac } : {}),
        detail: { arch: c.arch, platform: c.platform, ipxe: c.ipxe, https: c.https, bootFile: decision.bootFile, ...(decision.ipxeBuild ? { ipxeBuild: decision.ipxeBuild } : {}), to: to.address },
        at: now(),
      });
      log.info(opts.role === "dhcp" ? "proxy offer" : "proxy ack", { mac, platform: c.platform, ipxe: c.ipxe, bootFile: decision.bootFile, ...(decision.ipxeBuild ? { ipxeBuild: decision.ipxeBuild } : {}), to });
    }
  };

  const onMessage = (socket: Socket) => (msg: Buffer, rinfo: { address: string; port: number }) => {
    let req: DhcpPacket;
    try {
      req = decodeDhcp(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength));
    } catch (err) {
      const reason = err instanceof DhcpDecodeError ? err.reason : "decode_failed";
      countIgnored(reason);
      if (log.enabled("debug")) log.debug("dropped malformed DHCP packet", { from: rinfo.address, bytes: msg.length, reason, error: err });
      return;
    }
    if (!agentAllowed(req.giaddr, rinfo.address)) return;
    const from: Source = { address: rinfo.address, port: rinfo.port };
    rememberAddress(req, from);
    const decision = buildProxyReply(req, opts.role, from, ctx);
    if (decision.kind === "ignore") {
      countIgnored(decision.reason);
      // A missing binary is an operator problem worth seeing; everything else is normal LAN chatter.
      const level = decision.reason === "binary_missing" ? "warn" : "debug";
      if (log.enabled(level)) log[level]("not answering", { mac: decision.mac, from: rinfo.address, reason: decision.reason, detail: decision.detail });
      return;
    }
    const mac = decision.client.mac ?? "unknown";
    if (decision.client.mac) bindings?.noteClient(decision.client.mac, { https: decision.client.https, arch: decision.client.arch });
    if (!allow(mac)) {
      countIgnored("rate_limited");
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = encodeDhcp(decision.packet);
    } catch (err) {
      log.error("cannot encode reply", { mac, error: err });
      return;
    }
    let to = decision.to;
    if (decision.broadcast) to = { address: opts.broadcastAddress ?? to.address, port: opts.role === "dhcp" ? (opts.clientPort ?? to.port) : to.port };
    else if (opts.role === "dhcp") to = { address: to.address, port: opts.agentPort ?? to.port };
    // 4011 replies must come from the 4011 socket the request reached (iPXE checks the source port).
    const out = opts.role === "proxy" ? socket : sender;
    out.send(bytes, to.port, to.address, (err) => {
      if (err) log.warn("sending DHCP reply failed", { mac, to, error: err });
    });
    if (replied.push({ decision, to, mac }) === 1) setImmediate(record);
  };

  for (const s of extra ? [main, extra] : [main]) {
    s.on("message", onMessage(s));
    s.on("error", (err) => log.error("DHCP socket error", { port, error: err }));
  }
  log.info("listening", { proto: "dhcp", role: opts.role, port, address: opts.config.listenAddress, replyFrom: extra ? opts.advertise : opts.config.listenAddress });
  return {
    port,
    close: async () => {
      await Promise.all([main, ...(extra ? [extra] : [])].map((s) => new Promise<void>((res) => s.close(() => res()))));
    },
  };
}
