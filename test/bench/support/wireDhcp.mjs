// proxyDHCP latency as the wire sees it: tcpdump in the server's namespace stamps each DHCP request when it reaches
// the server's interface and each of the server's replies when it leaves, so request → reply is the server's own
// time (queueing in its event loop included) without the simulated clients' delay, which the client-side figure
// carries (dnsmasq itself reads tens to hundreds of ms p99 there). Needs tcpdump (Debian package tcpdump).
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

export const hasTcpdump = () => spawnSync("which", ["tcpdump"]).status === 0;

/** Starts a capture of DHCP/proxyDHCP (ports 67, 4011) on `ifname` inside `ns`; stop() ends it and waits. */
export function startWireCapture(ns, ifname, file) {
  const child = spawn("ip", ["netns", "exec", ns, "tcpdump", "-i", ifname, "-n", "-U", "-s", "600", "-w", file, "udp and (port 67 or port 4011)"], { stdio: "ignore" });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return {
    async stop() {
      await new Promise((r) => setTimeout(r, 300)); // the last replies reach the file (-U writes per packet)
      child.kill("SIGINT");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}

// libpcap files (tcpdump -w): microsecond or nanosecond magic, either byte order, Ethernet link type.
function* packets(buf) {
  const magic = buf.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && buf.readUInt32BE(0) !== 0xa1b2c3d4 && buf.readUInt32BE(0) !== 0xa1b23c4d) throw new Error("not a pcap file");
  const u32 = (o) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const nano = (le ? magic : buf.readUInt32BE(0)) === 0xa1b23c4d;
  if (u32(20) !== 1) throw new Error(`pcap link type ${u32(20)} is not Ethernet`);
  for (let o = 24; o + 16 <= buf.length; ) {
    const ms = u32(o) * 1000 + u32(o + 4) / (nano ? 1e6 : 1e3);
    const caplen = u32(o + 8);
    if (o + 16 + caplen > buf.length) break; // a record cut short when the capture stopped
    yield { ms, frame: buf.subarray(o + 16, o + 16 + caplen) };
    o += 16 + caplen;
  }
}

// Option 53 of the DHCP message at `dhcp` (after the 236-byte header and the magic cookie), or null.
function messageType(b, dhcp) {
  for (let o = dhcp + 240; o < b.length; ) {
    const code = b[o];
    if (code === 0) {
      o++;
      continue;
    }
    if (code === 255 || o + 1 >= b.length) return null;
    if (code === 53) return b[o + 2] ?? null;
    o += 2 + b[o + 1];
  }
  return null;
}

const ip4 = (b, o) => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;

/** Per reply the server sent: ms since the last matching request (same xid, same port family) reached it. */
export function serverReplyLatencies(file, serverIp) {
  const pending = new Map();
  const out = [];
  for (const { ms, frame } of packets(readFileSync(file))) {
    if (frame.length < 14 + 20 + 8 + 8 || frame.readUInt16BE(12) !== 0x0800) continue;
    const ihl = (frame[14] & 0x0f) * 4;
    if (frame[14 + 9] !== 17) continue;
    const udp = 14 + ihl;
    const src = ip4(frame, 14 + 12);
    const sport = frame.readUInt16BE(udp);
    const dport = frame.readUInt16BE(udp + 2);
    const dhcp = udp + 8;
    if (frame.length < dhcp + 8) continue;
    const op = frame[dhcp];
    const xid = frame.readUInt32BE(dhcp + 4);
    // Only what a proxy answers: DISCOVER on 67 (a REQUEST there is for the site's server), REQUEST/INFORM on 4011.
    const type = op === 1 ? messageType(frame, dhcp) : null;
    if (op === 1 && ((dport === 67 && type === 1) || (dport === 4011 && (type === 3 || type === 8)))) {
      pending.set(`${xid}/${dport}`, ms); // a retransmission restarts the clock: the server answers the one it read
    } else if (op === 2 && src === serverIp) {
      const key = `${xid}/${sport === 4011 ? 4011 : 67}`;
      const asked = pending.get(key);
      if (asked !== undefined) {
        out.push(ms - asked);
        pending.delete(key);
      }
    }
  }
  return out;
}

export function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
