// VM-free integration: a real relay process (`node relay/main.ts`) in front of a real Worker (`wrangler dev`, local
// D1/R2), seeded through the admin API; curl fetches /boot.ipxe from the relay. A fake upstream that tampers with
// the chain (keeping the API's signature) shows that the relay refuses a chain whose signature does not verify.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alive, descendants, freePort, startWranglerDev, type WranglerDev } from "../helpers/wrangler.ts";
import { decodeDhcp, encodeDhcp } from "../../relay/dhcp/packet.ts";
import { claimVia4011, rewrite } from "./support/dhcpClaim.ts";
import { UdpPeer } from "./support/udp.ts";

const run = promisify(execFile);
const MAIN = fileURLToPath(new URL("../../relay/main.ts", import.meta.url));
const MAC = "52:54:00:aa:bb:01";

let api: WranglerDev;
let credential: string;
const cleanups: Array<() => Promise<void> | void> = [];

async function admin(method: string, path: string, body?: unknown) {
  const res = await fetch(`${api.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${api.adminToken}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path} -> ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

type RelayProcess = { base: string; proxyPort: number; dhcpPort: number; logs(): string };

async function startRelay(apiUrl: string, cred: string, site = "lab"): Promise<RelayProcess> {
  const stateDir = mkdtempSync(join(tmpdir(), "edgeboot-relay-it-"));
  const httpPort = await freePort();
  const tftpPort = await freePort();
  const proxyPort = await freePort(); // a free TCP port number; UDP 4011 stand-in on loopback
  const dhcpPort = await freePort(); // likewise for 67
  const child: ChildProcess = spawn(
    process.execPath,
    [MAIN, "--api-url", apiUrl, "--site", site, "--listen", "127.0.0.1", "--advertise", "127.0.0.1", "--dhcp-port", String(dhcpPort), "--proxy-dhcp-port", String(proxyPort), "--tftp-port", String(tftpPort), "--http-port", String(httpPort), "--state-dir", stateDir, "--api-timeout-ms", "15000"],
    { env: { ...process.env, EDGEBOOT_RELAY_CREDENTIAL: cred }, stdio: ["ignore", "ignore", "pipe"] },
  );
  let logs = "";
  child.stderr!.on("data", (c: Buffer) => {
    logs = (logs + c.toString()).slice(-50_000);
  });
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      // A relay that does not stop within 5 s is a bug, but must not hang the suite.
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(stateDir, { recursive: true, force: true });
  });
  const base = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`relay exited with ${child.exitCode}:\n${logs}`);
    try {
      if ((await fetch(`${base}/healthz`)).status < 600) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`relay did not come up:\n${logs}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { base, proxyPort, dhcpPort, logs: () => logs };
}

const curl = async (url: string, from = "127.0.0.1") => {
  const { stdout } = await run("curl", ["-sS", "--max-time", "20", "--interface", from, "-w", "\n%{http_code}", url]);
  const cut = stdout.lastIndexOf("\n");
  return { body: stdout.slice(0, cut), status: Number(stdout.slice(cut + 1)) };
};

// A tiny "kernel" and "initrd" uploaded as artifacts, so the host's profile has an image to boot.
async function upload(bytes: string): Promise<string> {
  const sha = createHash("sha256").update(bytes).digest("hex");
  const res = await fetch(`${api.url}/v1/artifacts/${sha}`, { method: "PUT", headers: { authorization: `Bearer ${api.adminToken}` }, body: bytes });
  if (res.status >= 300) throw new Error(`upload -> ${res.status} ${await res.text()}`);
  return sha;
}

beforeAll(async () => {
  api = await startWranglerDev();
  const kernel = await upload("fake kernel for the relay integration test\n");
  const initrd = await upload("fake initrd for the relay integration test\n");
  await admin("POST", "/v1/images", { name: "it-image", arch: "x86_64", version: "1", artifacts: { kernel, initrd: [initrd] } });
  await admin("POST", "/v1/profiles", { name: "it-linux", image: "it-image", cmdline: "console=ttyS0 edgeboot-it" });
  await admin("POST", "/v1/sites", { slug: "lab", name: "Integration lab", bootAuth: "relay", unknownHostPolicy: "discover" });
  ({ credential } = await admin("POST", "/v1/sites/lab/relays", { name: "relay-it" }));
  await admin("POST", "/v1/sites/lab/hosts", { hostname: "node-1", mac: MAC, profile: "it-linux" });
}, 180_000);

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  if (!api) return;
  // The shared helper must leave nothing behind: wrangler and every workerd it started are gone after stop().
  const tree = [api.pid, ...descendants(api.pid)];
  expect(tree.length).toBeGreaterThan(1);
  await api.stop();
  expect(tree.filter(alive)).toEqual([]);
}, 60_000);

describe("relay + Worker", () => {
  it("bound delivery: user-data only through the issuing relay, for the address it learned in DHCP", async () => {
    await admin("POST", "/v1/profiles", { name: "it-bound", image: "it-image", cmdline: "console=ttyS0", userData: "#cloud-config\nhostname: bound-1\n" });
    await admin("POST", "/v1/sites", { slug: "bound-lab", name: "Bound lab", bootAuth: "relay", unknownHostPolicy: "discover", secretDelivery: "bound" });
    const { credential: boundCred } = await admin("POST", "/v1/sites/bound-lab/relays", { name: "relay-bound" });
    const hostMac = "52:54:00:aa:bb:02";
    await admin("POST", "/v1/sites/bound-lab/hosts", { hostname: "bound-1", mac: hostMac, profile: "it-bound" });
    const relay = await startRelay(api.url, boundCred, "bound-lab");
    // The chain points NoCloud at the relay's LAN base once the relay has registered (its cache URL).
    let chain = "";
    for (let i = 0; i < 50 && !chain.includes(`${relay.base}/h/`); i++) {
      await claimVia4011(relay.proxyPort, hostMac, "127.0.0.1");
      chain = (await curl(`${relay.base}/boot.ipxe?mac=${hostMac}&arch=x86_64&platform=efi`)).body;
      if (!chain.includes(`${relay.base}/h/`)) await new Promise((r) => setTimeout(r, 300));
    }
    const token = new RegExp(`${relay.base.replace(/[.:/]/g, "\\$&")}/h/([A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+)/`).exec(chain)?.[1];
    expect(token, `${chain}\n${relay.logs()}`).toBeTruthy();
    // Straight at the API (no relay credential): refused.
    const direct = await fetch(`${api.url}/boot/h/${token}/nocloud/user-data`);
    expect(direct.status).toBe(403);
    // Through the relay from an address that never sent DHCP (no vouch, not the chain's address): refused.
    const stranger = await curl(`${relay.base}/h/${token}/nocloud/user-data`, "127.0.0.9");
    expect(stranger.status, stranger.body).toBe(403);
    // Through the relay from the address that booted: served.
    const mine = await curl(`${relay.base}/h/${token}/nocloud/user-data`);
    expect(mine.status, mine.body).toBe(200);
    expect(mine.body).toContain("hostname: bound-1");
    // The installed OS leases another address (its own DHCP client, not PXE): the relay saw that REQUEST and vouches
    // for the MAC there (Edgeboot-Client-Mac), which the API accepts for this session's MAC.
    const os = await UdpPeer.bind(68, "127.0.0.11").catch(() => UdpPeer.bind(0, "127.0.0.11"));
    const osRequest = decodeDhcp(rewrite("ovmf-x64-request.bin", { mac: hostMac, requestedIp: "127.0.0.11" }));
    for (const code of [60, 77, 93, 94, 97, 175]) osRequest.options.delete(code);
    await os.send(encodeDhcp(osRequest), relay.dhcpPort);
    await os.close();
    await new Promise((r) => setTimeout(r, 200));
    const fromOs = await curl(`${relay.base}/h/${token}/nocloud/vendor-data`, "127.0.0.11");
    expect(fromOs.status, fromOs.body).toBe(200);
    // A vouch rests on a DHCP packet anyone can forge: it admits a file only while nobody has read it yet.
    const again = await curl(`${relay.base}/h/${token}/nocloud/user-data`, "127.0.0.11");
    expect(again.status, again.body).toBe(410);
  });


  it("curl /boot.ipxe on the relay returns the host's chain, fetched and verified through the API", async () => {
    const relay = await startRelay(api.url, credential);
    await claimVia4011(relay.proxyPort, MAC, "127.0.0.1"); // what the machine's iPXE tells the relay before the chain
    const res = await curl(`${relay.base}/boot.ipxe?mac=${MAC}&uuid=&serial=&arch=x86_64&platform=efi`);
    expect(res.status, relay.logs()).toBe(200);
    expect(res.body.startsWith("#!ipxe")).toBe(true);
    expect(res.body).not.toContain("edgeboot relay: no verified boot script");
    expect(res.body).toContain("edgeboot-it"); // the profile's kernel command line: this host's chain
    // (Before the direct fetch below, which starts a new boot session.) The host-token paths through the relay's /h/ proxy reach the real API with the relay credential.
    const token = /\/h\/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)\//.exec(res.body)?.[1];
    expect(token, res.body).toBeTruthy();
    const meta = await curl(`${relay.base}/h/${token}/nocloud/meta-data`);
    expect(meta.status, meta.body).toBe(200);
    expect(meta.body).toContain("instance-id");
    expect((await curl(`${relay.base}/h/${token}x/nocloud/meta-data`)).status).toBe(400); // malformed: never forwarded
    // The same request made to the API directly (with the relay's credential) renders the same host.
    const direct = await fetch(`${api.url}/boot/lab/ipxe?mac=${MAC}&arch=x86_64&platform=efi`, { headers: { authorization: `Bearer ${credential}` } });
    expect(direct.status).toBe(200);
    expect(direct.headers.get("edgeboot-chain-signature")).toBeTruthy();
    const firstLine = (s: string) => s.split("\n").slice(0, 2).join("\n");
    expect(firstLine(res.body)).toBe(firstLine(await direct.text()));
    expect(relay.logs()).toContain('"msg":"chain served"');
  });

  it("an address the relay never saw in DHCP gets the refusal script, never the host's chain", async () => {
    const relay = await startRelay(api.url, credential);
    await claimVia4011(relay.proxyPort, MAC, "127.0.0.1"); // the real machine booted from 127.0.0.1
    const res = await curl(`${relay.base}/boot.ipxe?mac=${MAC}&arch=x86_64&platform=efi`, "127.0.0.7");
    expect(res.status).toBe(200);
    expect(res.body).toContain("# edgeboot relay: chain refused (unknown-client)");
    expect(res.body).not.toContain("edgeboot-it");
    expect(relay.logs()).toContain('"msg":"chain refused"');
  });

  it("an unknown MAC gets the site's policy script, still signed and verified", async () => {
    const relay = await startRelay(api.url, credential);
    await claimVia4011(relay.proxyPort, "52:54:00:99:99:99", "127.0.0.1");
    const res = await curl(`${relay.base}/boot.ipxe?mac=52:54:00:99:99:99&arch=x86_64&platform=efi`);
    expect(res.status).toBe(200);
    expect(res.body.startsWith("#!ipxe")).toBe(true);
    expect(res.body).not.toContain("no verified boot script");
  });

  it("a wrong relay credential yields the failure script, not a hang", async () => {
    const relay = await startRelay(api.url, "ebr_not-a-real-credential-000000000000");
    await claimVia4011(relay.proxyPort, MAC, "127.0.0.1");
    const res = await curl(`${relay.base}/boot.ipxe?mac=${MAC}&arch=x86_64`);
    expect(res.status).toBe(200);
    expect(res.body).toContain("# edgeboot relay: no verified boot script (api_status)");
    expect(res.body).toMatch(/API answered 40[13]/);
    expect(res.body).toContain("attempt=2");
  });

  it("refuses a chain whose body was changed after the API signed it", async () => {
    // The fake upstream relays everything to the real API (JWKS included) but appends a line to the chain body.
    const fake: Server = createServer(async (req, res) => {
      const upstream = await fetch(`${api.url}${req.url}`, { headers: { authorization: req.headers.authorization ?? "" } });
      let body = await upstream.text();
      if (req.url?.startsWith("/boot/")) body += "shell\n";
      const headers: Record<string, string> = { "content-type": upstream.headers.get("content-type") ?? "text/plain" };
      const sig = upstream.headers.get("edgeboot-chain-signature");
      if (sig) headers["edgeboot-chain-signature"] = sig;
      res.writeHead(upstream.status, headers).end(body);
    });
    const fakePort = await freePort();
    await new Promise<void>((r) => fake.listen(fakePort, "127.0.0.1", () => r()));
    cleanups.push(() => new Promise<void>((r) => fake.close(() => r())));
    const relay = await startRelay(`http://127.0.0.1:${fakePort}`, credential);
    await claimVia4011(relay.proxyPort, MAC, "127.0.0.1");
    const res = await curl(`${relay.base}/boot.ipxe?mac=${MAC}&arch=x86_64&platform=efi`);
    expect(res.status).toBe(200);
    expect(res.body).toContain("# edgeboot relay: no verified boot script (bad_signature)");
    expect(res.body).not.toContain("shell\n#");
    expect(res.body.split("\n")).not.toContain("shell");
    expect(relay.logs()).toContain('"msg":"chain refused"');
  });
});
