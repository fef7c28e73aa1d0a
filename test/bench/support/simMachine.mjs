// A simulated network-booting machine (UEFI firmware, then iPXE, then a Linux that runs cloud-init's NoCloud), with
// real packets on a real interface: a load generator for storm benches and reliability tests.
//
//   const hub = await createDhcpHub();                      // one broadcast DHCP socket (port 68) for many machines
//   const r = await bootMachine(hub, { mac, uuid, serial });  // → { ok, ms, ip, steps, retries, errors, ... }
//
// The sequence follows EDK2's PxeBcDxe and iPXE (relay/PROTOCOLS.md §1): DISCOVER with a captured OVMF packet, take the
// site server's offer and the proxy's, REQUEST the lease, ask the proxy on 4011 for the boot file when its offer had
// none ("binl"), TFTP it (a tsize probe RRQ aborted after the OACK, then the transfer with blksize 1468 and
// windowsize 4, lock-step within a window), then iPXE's DHCP (captured iPXE packets: DISCOVER, REQUEST,
// ProxyDHCPREQUEST to 4011), then HTTP: the boot file URL with iPXE's settings expanded, the script it returns
// (kernel, initrd, chain, sleep, dhcp), the kernel and initrds, any /artifacts/ URL on the kernel line (the rootfs
// role), the NoCloud files from `ds=nocloud;s=`, and cloud-init's phone_home POST to the URL user-data names.
// Every socket is bound to the address the machine leased, so servers see one distinct client per machine; the
// caller must have those addresses on a local interface (the storm bench adds the whole DHCP range).
// Deviation from real firmware: the broadcast flag is set on every DHCP message (one socket receives for all).
// Retries are bounded: DHCP 4 tries (4/8/16/32 s like EDK2), TFTP 6 timeouts per transfer, HTTP 3 tries, whole
// firmware attempts `attempts` (a TFTP error or a missing proxy offer makes firmware start over).
//
// Firmware kinds (machine.kind): "uefi" (default, the sequence above), "arm64" (the same with captured AAVMF and
// arm64 iPXE packets, ${buildarch} arm64), or "bios": SeaBIOS with QEMU's iPXE option ROM,
// where the firmware is iPXE itself (captured SeaBIOS iPXE packets, no TFTP stage, ${buildarch} i386 and ${platform}
// pcbios). Its boot file follows iPXE's rule (PROTOCOLS.md §1.5): an offer with siaddr and a file is booted as is, a
// 43.9 menu leads to PXE boot-server discovery on 4011, anything else to a ProxyDHCPREQUEST on 4011.
// Expected outcome (machine.expect): "booted" (default) or "discovered", for a machine the site does not know: it
// follows the API's discover script (sleep, chain again) until it has seen it `discoverChains` times (default 3)
// or `discoverMs` (default 60 s) have passed since the first, and then counts as discovered.
import { createSocket } from "node:dgram";
import { Agent, request } from "node:http";
import { buildMessage, opt, parseReply, pxeSubOptions, TEMPLATES } from "./dhcpWire.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

// ---- DHCP hub: one socket on :68 shared by every machine of the process, replies routed by xid ------------------
export async function createDhcpHub({ port = 68, serverPort = 67, broadcastAddress = "255.255.255.255" } = {}) {
  const sock = createSocket({ type: "udp4", reuseAddr: true });
  await new Promise((resolve, reject) => {
    sock.once("error", reject);
    sock.bind(port, "0.0.0.0", resolve);
  });
  sock.setBroadcast(true);
  sock.setRecvBufferSize?.(8 << 20);
  const waiters = new Map(); // xid → (reply, rinfo) => void
  sock.on("message", (msg, rinfo) => {
    const reply = parseReply(msg);
    if (!reply) return;
    waiters.get(reply.xid)?.(reply, rinfo);
  });
  return {
    sock,
    send: (buf, to = broadcastAddress, toPort = serverPort) => new Promise((r) => sock.send(buf, toPort, to, () => r())),
    listen: (xid, fn) => waiters.set(xid, fn),
    unlisten: (xid) => waiters.delete(xid),
    close: () => sock.close(),
  };
}

let xidSeq = (Math.random() * 0x7fffffff) >>> 0;
const nextXid = () => (xidSeq = (xidSeq + 1) >>> 0);

// DISCOVER until the site's offer and a proxy offer are both in (proxyWaitMs after the first offer, at most), then
// REQUEST the lease. Returns { ip, siteServer, proxy (offer or null), proxyMs }.
async function dhcpRound(hub, m, template, stats, { proxyWaitMs }) {
  const tries = [4000, 8000, 16000, 32000];
  for (const [attempt, timeout] of tries.entries()) {
    const xid = nextXid();
    let site = null;
    let proxy = null;
    let proxyMs = null;
    let firstAt = null;
    const sent = now();
    const offers = new Promise((resolve) => {
      const deadline = setTimeout(() => resolve(), timeout);
      let grace = null;
      hub.listen(xid, (r) => {
        if (r.type !== 2) return;
        if (r.yiaddr !== "0.0.0.0" && !site) site = r;
        else if (r.yiaddr === "0.0.0.0" && r.vendorClass.startsWith("PXEClient") && !proxy) {
          proxy = r;
          proxyMs = now() - sent;
        }
        firstAt ??= now();
        if (site && proxy) {
          clearTimeout(deadline);
          clearTimeout(grace);
          resolve();
        } else if (site && !grace) grace = setTimeout(() => (clearTimeout(deadline), resolve()), proxyWaitMs);
      });
    });
    await hub.send(buildMessage(template.discover, { type: 1, xid, mac: m.mac, uuid: m.uuid }));
    await offers;
    hub.unlisten(xid);
    if (!site || !proxy) {
      stats.errors.dhcp++;
      if (attempt > 0 || site) stats.retries.dhcp++;
      if (site && !proxy && template.giveUpWithoutProxy) return null; // iPXE boots without it: "Nothing to boot"
      continue;
    }
    // REQUEST the site's offer, broadcast as in SELECTING. Firmware sends it from 0.0.0.0, which a UDP socket on an
    // addressed interface cannot; it goes from the requested address instead, which servers accept as the same
    // client (a relay refuses a REQUEST from any third address).
    const from = await bindSocket(site.yiaddr, 68);
    let ack;
    try {
      ack = await exchange(hub, () => buildMessage(template.discover, { type: 3, xid, mac: m.mac, uuid: m.uuid, extra: [opt.serverId(site.serverId), opt.requestedIp(site.yiaddr)] }), xid, (r) => r.type === 5 || r.type === 6, 4000, 3, from);
    } finally {
      from.close();
    }
    if (!ack || ack.type !== 5) {
      stats.errors.dhcp++;
      stats.retries.dhcp++;
      continue;
    }
    return { ip: ack.yiaddr, siteServer: site.serverId, proxy, proxyMs, xid };
  }
  return null;
}

async function bindSocket(ip, port) {
  const sock = createSocket({ type: "udp4", reuseAddr: true });
  await new Promise((resolve, reject) => {
    sock.once("error", reject);
    sock.bind(port, ip, resolve);
  });
  sock.setBroadcast(true);
  return sock;
}

async function exchange(hub, build, xid, accept, timeoutMs, tries, via = null) {
  for (let t = 0; t < tries; t++) {
    const got = new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      hub.listen(xid, (r) => {
        if (!accept(r)) return;
        clearTimeout(timer);
        resolve(r);
      });
    });
    if (via) await new Promise((r) => via.send(build(), 67, "255.255.255.255", () => r()));
    else await hub.send(build());
    const r = await got;
    hub.unlisten(xid);
    if (r) return r;
  }
  return null;
}

// A unicast request to the proxy's port 4011 from (ip, fromPort); the reply comes back to (ip, fromPort).
async function proxyRequest(m, ip, fromPort, proxyIp, template, stats, { extra = template === TEMPLATES.ipxeRequest4011 ? [opt.serverId(proxyIp)] : [], drop = [] } = {}) {
  const xid = nextXid();
  const build = () => buildMessage(template, { type: 3, xid, mac: m.mac, uuid: m.uuid, ciaddr: ip, broadcast: false, extra, drop });
  // From (ip, fromPort): EDK2 uses 4011, iPXE 68 (beside the hub's wildcard socket; the unicast reply to ip:68
  // reaches this more specific one).
  const sock = await bindSocket(ip, fromPort);
  try {
    for (let t = 0; t < 3; t++) {
      const got = new Promise((resolve) => {
        const timer = setTimeout(() => resolve(null), 4000);
        sock.on("message", (msg) => {
          const r = parseReply(msg);
          if (r?.xid !== xid) return;
          clearTimeout(timer);
          resolve(r);
        });
      });
      sock.send(build(), 4011, proxyIp);
      const r = await got;
      sock.removeAllListeners("message");
      if (r) return r;
      stats.retries.dhcp++;
    }
    stats.errors.dhcp++;
    return null;
  } finally {
    sock.close();
  }
}

// ---- TFTP (RFC 1350/2347/2348/2349/7440), as EDK2's Mtftp4 reads a boot file ------------------------------------
const RRQ = 1;
const DATA = 3;
const ACK = 4;
const ERROR = 5;
const OACK = 6;

function rrq(file, options) {
  const parts = [Buffer.from([0, RRQ]), Buffer.from(`${file}\0octet\0`)];
  for (const [k, v] of Object.entries(options)) parts.push(Buffer.from(`${k}\0${v}\0`));
  return Buffer.concat(parts);
}
const ackOf = (block) => Buffer.from([0, ACK, (block >> 8) & 255, block & 255]);
const parseOack = (msg) => {
  const fields = msg.subarray(2).toString("latin1").split("\0");
  const o = {};
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i]) o[fields[i].toLowerCase()] = fields[i + 1];
  return o;
};

// One transfer: resolves { bytes, oack } or throws (err.tftpError for an ERROR packet, else a timeout).
export function tftpGet({ ip, server, file, options, probeOnly = false, timeoutMs = 2000, maxTimeouts = 6, stats }) {
  return new Promise((resolve, reject) => {
    const sock = createSocket("udp4");
    let peerPort = null;
    let expected = 1; // next block number (16-bit wrap handled below)
    let received = 0; // whole blocks received in order
    let blksize = 512;
    let windowsize = 1;
    let inWindow = 0;
    let last = null; // last packet we sent, for retransmission
    let timeouts = 0;
    let timer = null;
    let oack = null;
    let done = false;
    let pending = 0; // sends not yet handed to the kernel: closing before they are would drop the final ACK
    const finish = (err, value) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const close = () => (pending === 0 ? sock.close() : setTimeout(close, 5));
      close();
      if (err) reject(err);
      else resolve(value);
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (done) return;
        if (++timeouts > maxTimeouts) return finish(Object.assign(new Error(`TFTP ${file}: no answer after ${maxTimeouts} timeouts`), { tftpTimeout: true }));
        stats.retries.tftp++;
        send(last, peerPort ?? 69);
        arm();
      }, timeoutMs);
    };
    const send = (buf, port) => {
      last = buf;
      pending++;
      sock.send(buf, port, server, () => pending--);
    };
    sock.on("message", (msg, rinfo) => {
      // After the transfer is over the socket may live a moment longer (a final send in flight): ignore it all.
      if (done || rinfo.address !== server) return;
      if (peerPort === null) peerPort = rinfo.port;
      else if (rinfo.port !== peerPort) return;
      const op = msg.readUInt16BE(0);
      if (op === ERROR) {
        const code = msg.readUInt16BE(2);
        const text = msg.subarray(4).toString("latin1").replace(/\0.*$/s, "");
        return finish(Object.assign(new Error(`TFTP ${file}: ERROR ${code} ${text}`), { tftpError: code }));
      }
      timeouts = 0;
      if (op === OACK) {
        oack = parseOack(msg);
        if (probeOnly) {
          // EDK2 asks for the size first and abandons that transfer once it has the OACK.
          send(Buffer.concat([Buffer.from([0, ERROR, 0, 8]), Buffer.from("size probe\0")]), peerPort);
          return finish(null, { bytes: 0, oack });
        }
        blksize = Number(oack.blksize ?? 512);
        windowsize = Number(oack.windowsize ?? 1);
        send(ackOf(0), peerPort);
        return arm();
      }
      if (op !== DATA) return;
      const block = msg.readUInt16BE(2);
      if (block !== (expected & 0xffff)) {
        // Out of order or a duplicate: acknowledge what we have, so the server goes back to it.
        send(ackOf((expected - 1) & 0xffff), peerPort);
        inWindow = 0;
        return arm();
      }
      const size = msg.length - 4;
      received++;
      expected++;
      inWindow++;
      const lastBlock = size < blksize;
      if (lastBlock || inWindow >= windowsize) {
        send(ackOf(block), peerPort);
        inWindow = 0;
      }
      if (lastBlock) return finish(null, { bytes: (received - 1) * blksize + size, oack });
      arm();
    });
    sock.bind(0, ip, () => {
      send(rrq(file, options), 69);
      arm();
    });
  });
}

// ---- HTTP, from the machine's own address -------------------------------------------------------------------------
function httpDo(m, url, { method = "GET", body = null, timeoutMs = 30_000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: m.agent, localAddress: m.ip, timeout: timeoutMs, headers: body ? { "content-type": "application/json", "content-length": Buffer.byteLength(body) } : {} }, (res) => {
      const keep = res.headers["content-type"]?.startsWith("text") || res.headers["content-type"]?.includes("json") || res.headers["content-type"]?.includes("yaml");
      const chunks = [];
      let bytes = 0;
      res.on("data", (c) => {
        bytes += c.length;
        if (keep || bytes <= 65536) chunks.push(c);
      });
      res.on("end", () => resolve({ status: res.statusCode, bytes, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`HTTP timeout ${url}`)));
    req.on("error", reject);
    req.end(body ?? undefined);
  });
}

async function httpGetRetry(m, url, stats, opts = {}) {
  for (let t = 0; t < 3; t++) {
    try {
      const r = await httpDo(m, url, opts);
      if (r.status >= 200 && r.status < 300) return r;
      stats.errors.http++;
      stats.lastHttp = `${r.status} ${url}`;
    } catch (err) {
      stats.errors.http++;
      stats.lastHttp = `${err.message}`;
    }
    if (t < 2) {
      stats.retries.http++;
      await sleep(1000 * (t + 1));
    }
  }
  return null;
}

// iPXE's settings in a boot file name or script URL.
function expand(text, m) {
  return text
    .replaceAll("${netX/mac}", m.mac)
    .replaceAll("${net0/mac}", m.mac)
    .replaceAll("${mac:hexhyp}", m.mac.replaceAll(":", "-"))
    .replaceAll("${mac}", m.mac)
    .replaceAll("${uuid}", m.uuid ?? "")
    .replaceAll("${serial:uristring}", encodeURIComponent(m.serial ?? ""))
    .replaceAll("${serial}", m.serial ?? "")
    .replaceAll("${buildarch}", m.kind === "bios" ? "i386" : m.kind === "arm64" ? "arm64" : "x86_64")
    .replaceAll("${platform}", m.kind === "bios" ? "pcbios" : "efi");
}

// ---- the machine ---------------------------------------------------------------------------------------------------
const EDK2 = { discover: TEMPLATES.edk2Discover, giveUpWithoutProxy: false };
const IPXE = { discover: TEMPLATES.ipxeDiscover, giveUpWithoutProxy: true };
const BIOS_IPXE = { discover: TEMPLATES.biosDiscover, giveUpWithoutProxy: true };
// UEFI firmware and the iPXE it loads, per kind: DISCOVER template and the 4011 request's.
const UEFI = {
  uefi: { firmware: EDK2, binl: TEMPLATES.edk2Request4011, ipxe: IPXE, proxyRequest: TEMPLATES.ipxeRequest4011 },
  arm64: { firmware: { discover: TEMPLATES.aavmfDiscover, giveUpWithoutProxy: false }, binl: TEMPLATES.aavmfRequest4011, ipxe: { discover: TEMPLATES.ipxeArm64Discover, giveUpWithoutProxy: true }, proxyRequest: TEMPLATES.ipxeArm64Request4011 },
};

export function newStats() {
  return { errors: { dhcp: 0, tftp: 0, http: 0 }, retries: { dhcp: 0, tftp: 0, http: 0, boot: 0 }, steps: {}, proxyMs: [], lastHttp: null, lastError: null };
}

// m: { mac, uuid?, serial?, kind? = "uefi" | "bios", expect? = "booted" | "discovered", discoverChains?, discoverMs? }.
// opts: { attempts = 3, deadlineMs = 300_000 }. ok means the machine reached its expected outcome.
export async function bootMachine(hub, machine, { attempts = 3, deadlineMs = 300_000 } = {}) {
  const stats = newStats();
  const m = { ...machine, ip: null, agent: new Agent({ keepAlive: true, maxSockets: 2 }) };
  const t0 = now();
  const step = (name, since) => (stats.steps[name] = Math.round(now() - since));
  try {
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1) stats.retries.boot++;
      if (now() - t0 > deadlineMs) break;
      try {
        const outcome = await firmwareBoot(hub, m, stats, step);
        if (outcome === (m.expect ?? "booted")) return { ok: true, outcome, ms: now() - t0, ip: m.ip, ...stats };
        // The wrong outcome (an unknown machine that booted) is not something another attempt changes.
        return { ok: false, outcome, ms: now() - t0, ip: m.ip, ...stats, lastError: `${outcome}, expected ${m.expect ?? "booted"}` };
      } catch (err) {
        stats.lastError = err.message;
      }
      await sleep(1000);
    }
    return { ok: false, ms: now() - t0, ip: m.ip, ...stats };
  } finally {
    m.agent.destroy();
  }
}

async function firmwareBoot(hub, m, stats, step) {
  // The NIC's iPXE ROM is the firmware: straight to iPXE's DHCP, no TFTP stage.
  if (m.kind === "bios") return ipxeStage(hub, m, stats, step);
  // Firmware PXE.
  const fw = UEFI[m.kind ?? "uefi"];
  if (!fw) throw new Error(`unknown machine kind ${m.kind}`);
  let t = now();
  const lease = await dhcpRound(hub, m, fw.firmware, stats, { proxyWaitMs: 4000 });
  if (!lease) throw new Error("firmware DHCP: no lease with a proxy offer");
  m.ip = lease.ip;
  stats.proxyMs.push(lease.proxyMs);
  let bootFile = lease.proxy.file;
  let tftpServer = lease.proxy.tftpServer ?? (lease.proxy.siaddr !== "0.0.0.0" ? lease.proxy.siaddr : lease.proxy.serverId);
  if (!bootFile) {
    const ack = await proxyRequest(m, m.ip, 4011, lease.proxy.serverId, fw.binl, stats);
    if (!ack?.file) throw new Error("firmware: no boot file from the proxy on 4011");
    bootFile = ack.file;
    tftpServer = ack.tftpServer ?? (ack.siaddr !== "0.0.0.0" ? ack.siaddr : ack.serverId ?? lease.proxy.serverId);
  }
  step("dhcp", t);

  t = now();
  try {
    const probe = await tftpGet({ ip: m.ip, server: tftpServer, file: bootFile, options: { blksize: 1468, tsize: 0 }, probeOnly: true, stats });
    const got = await tftpGet({ ip: m.ip, server: tftpServer, file: bootFile, options: { blksize: 1468, windowsize: 4 }, stats });
    if (probe.oack?.tsize && Number(probe.oack.tsize) !== got.bytes) throw new Error(`TFTP ${bootFile}: ${got.bytes} bytes, tsize said ${probe.oack.tsize}`);
    stats.tftpBytes = got.bytes;
  } catch (err) {
    stats.errors.tftp++;
    throw err;
  }
  step("tftp", t);

  return ipxeStage(hub, m, stats, step);
}

// iPXE: its DHCP, then the chain and what it boots.
async function ipxeStage(hub, m, stats, step) {
  let t = now();
  const url = await ipxeDhcp(hub, m, stats);
  step("ipxeDhcp", t);
  t = now();
  const outcome = await runScriptUrl(hub, m, expand(url, m), stats, step, 0);
  step("http", t);
  return outcome;
}

// iPXE's DHCP: DISCOVER/REQUEST with the site, then ProxyDHCPREQUEST to the proxy's 4011; returns the boot URL.
async function ipxeDhcp(hub, m, stats) {
  const bios = m.kind === "bios";
  const uefi = UEFI[m.kind ?? "uefi"];
  const lease = await dhcpRound(hub, m, bios ? BIOS_IPXE : uefi.ipxe, stats, { proxyWaitMs: 2000 });
  if (!lease) throw new Error("iPXE DHCP: no proxy offer (Nothing to boot)");
  m.ip = lease.ip;
  stats.proxyMs.push(lease.proxyMs);
  let file;
  if (bios) file = await biosBootFile(m, lease.proxy, stats);
  else {
    const ack = await proxyRequest(m, m.ip, 68, lease.proxy.serverId, uefi.proxyRequest, stats, { extra: [opt.serverId(lease.proxy.serverId)] });
    file = ack?.file || lease.proxy.file;
  }
  if (!file || !/^https?:\/\//.test(file)) throw new Error(`iPXE: boot file is not a URL: ${JSON.stringify(file)}`);
  return file;
}

// BIOS iPXE's boot file from a proxy offer (dhcp_has_pxeopts, PROTOCOLS.md §1.5).
async function biosBootFile(m, offer, stats) {
  if (offer.siaddr !== "0.0.0.0" && offer.file) return offer.file;
  const menu = pxeSubOptions(offer)?.get(9);
  if (menu && menu.length >= 3) {
    // A menu (dnsmasq's pxe-service): boot-server discovery for its first item, from port 68 to the proxy's 4011.
    const ack = await proxyRequest(m, m.ip, 68, offer.serverId, TEMPLATES.biosPxebs, stats, { extra: [opt.bootItem(menu.readUInt16BE(0))] });
    return ack?.file;
  }
  // No capture of BIOS iPXE's ProxyDHCPREQUEST: its REQUEST with the proxy's id and no requested address.
  const ack = await proxyRequest(m, m.ip, 68, offer.serverId, TEMPLATES.biosRequest, stats, { extra: [opt.serverId(offer.serverId)], drop: [50] });
  return ack?.file || offer.file;
}

// The API's discover script for a machine no profile is assigned to (worker/boot/renderChain.ts).
const DISCOVER_TEXT = "is not assigned to a profile yet";

// A small iPXE: runs the commands that matter for a boot in order (labels, conditions and gotos are not evaluated:
// a script that fails takes its `|| goto` branch, which the retry loops here stand in for).
async function runScriptUrl(hub, m, url, stats, step, depth) {
  const discovering = m.expect === "discovered";
  if (depth > (discovering ? 20 : 8)) throw new Error(`chain depth > ${discovering ? 20 : 8}`);
  const res = await httpGetRetry(m, url, stats);
  if (!res) throw new Error(`chain ${url}: ${stats.lastHttp}`);
  if (!res.text.startsWith("#!ipxe")) throw new Error(`chain ${url}: not an iPXE script`);
  if (discovering && res.text.includes(DISCOVER_TEXT)) {
    stats.discoverScripts = (stats.discoverScripts ?? 0) + 1;
    stats.firstDiscoverAt ??= now();
    if (stats.discoverScripts >= (m.discoverChains ?? 3) || now() - stats.firstDiscoverAt >= (m.discoverMs ?? 60_000)) return "discovered";
  }
  const kernel = { url: null, args: "" };
  const initrds = [];
  for (const raw of res.text.split("\n")) {
    const line = raw.replace(/\s*\|\|.*$/, "").trim();
    const [cmd, ...rest] = line.split(/\s+/);
    // iPXE's image options: --name/-n and --timeout/-t take a value, the others (--autofree, --replace) do not.
    const words = [];
    for (let k = 0; k < rest.length; k++) {
      if (/^(--name|-n|--timeout|-t)$/.test(rest[k])) k++;
      else if (!rest[k].startsWith("-")) words.push(rest[k]);
    }
    if (cmd === "sleep") {
      stats.retries.http++;
      await sleep(Number(words[0]) * 1000);
    } else if (cmd === "dhcp") {
      await ipxeDhcp(hub, m, stats);
    } else if (cmd === "chain") {
      return runScriptUrl(hub, m, new URL(expand(words[0], m), url).href, stats, step, depth + 1);
    } else if (cmd === "kernel") {
      kernel.url = new URL(words[0], url).href;
      kernel.args = words.slice(1).join(" ");
    } else if (cmd === "initrd") {
      initrds.push(new URL(words[0], url).href);
    } else if (cmd === "boot") {
      if (!kernel.url) throw new Error("boot without a kernel");
      return linuxBoot(m, kernel, initrds, stats, step);
    } else if (cmd === "exit" || cmd === "sanboot") {
      throw new Error(`script exits to disk: ${url}`);
    }
  }
  throw new Error(`script ended without booting: ${url}`);
}

async function linuxBoot(m, kernel, initrds, stats, step) {
  let t = now();
  for (const u of [kernel.url, ...initrds]) if (!(await httpGetRetry(m, u, stats))) throw new Error(`fetch ${u}: ${stats.lastHttp}`);
  // Other artifacts named on the kernel line (live-boot's fetch=, a rootfs role): the booted OS fetches them.
  for (const u of kernel.args.match(/https?:\/\/\S+\/artifacts\/\S+/g) ?? []) if (!(await httpGetRetry(m, u, stats))) throw new Error(`fetch ${u}: ${stats.lastHttp}`);
  step("artifacts", t);
  t = now();
  const seed = /ds=nocloud;(?:[a-z]+=[^;\s]*;)*s=(\S+)/.exec(kernel.args)?.[1];
  if (!seed) throw new Error(`no NoCloud seed on the kernel line: ${kernel.args}`);
  const base = seed.endsWith("/") ? seed : `${seed}/`;
  const meta = await httpGetRetry(m, `${base}meta-data`, stats);
  const user = meta && (await httpGetRetry(m, `${base}user-data`, stats));
  if (!meta || !user) throw new Error(`NoCloud: ${stats.lastHttp}`);
  step("nocloud", t);
  // cloud-init phone_home: url from user-data, retried like cloud-init (tries) until acknowledged.
  t = now();
  const home = /phone_home:\s*\n\s+url:\s*(\S+)/.exec(user.text)?.[1];
  if (!home) throw new Error("user-data has no phone_home url");
  for (let tries = 0; tries < 40; tries++) {
    try {
      const r = await httpDo(m, home, { method: "POST", body: JSON.stringify({ hostname: m.hostname ?? m.mac }), timeoutMs: 10_000 });
      if (r.status >= 200 && r.status < 300) {
        step("booted", t);
        m.bootedAt = Date.now();
        stats.bootedUrl = home;
        return "booted";
      }
      stats.lastHttp = `${r.status} ${home}`;
    } catch (err) {
      stats.lastHttp = err.message;
    }
    stats.errors.http++;
    stats.retries.http++;
    await sleep(2000);
  }
  throw new Error(`booted never acknowledged: ${stats.lastHttp}`);
}
