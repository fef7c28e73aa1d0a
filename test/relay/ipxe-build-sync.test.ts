// A host's ipxeBuild reaches a real relay process through its sync (an API stand-in serves the snapshot), changes the
// file its proxyDHCP hands that MAC, and still does after a restart with the API gone: the offer reads the snapshot
// the relay kept on disk, never the API.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeDhcp } from "../../relay/dhcp/packet.ts";
import { ApiStandIn } from "./support/apiStandIn.ts";
import { rewrite } from "./support/dhcpClaim.ts";
import { startRelayProcess, type RelayProcess } from "./support/relayProcess.ts";
import { UdpPeer } from "./support/udp.ts";

const MAC = "52:54:00:eb:88:01";
const OTHER = "52:54:00:eb:88:02";
const work = mkdtempSync(join(tmpdir(), "eb-ipxebuild-"));
const bin = `${work}-bin`;
let api: ApiStandIn;
let relay: RelayProcess | undefined;

// OVMF's BINL request (a real capture) for `mac`, to the relay's 4011: the boot file it answers, or null.
async function bootFileFor(port: number, mac: string): Promise<string | null> {
  const peer = await UdpPeer.bind(0, "127.0.0.1");
  try {
    await peer.send(rewrite("ovmf-x64-request-4011.bin", { mac, ciaddr: "127.0.0.1", serverId: "127.0.0.1" }), port, "127.0.0.1");
    const got = await peer.next(2000);
    return got ? decodeDhcp(new Uint8Array(got.msg)).file : null;
  } finally {
    await peer.close();
  }
}

async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  api = new ApiStandIn();
  await api.start();
  // A binaries dir of its own: the relay never serves files of its state dir (its key pair, event queue).
  mkdirSync(bin);
  for (const name of ["ipxe.efi", "snponly.efi"]) {
    try {
      copyFileSync(`/usr/lib/ipxe/${name}`, join(bin, name));
    } catch {
      writeFileSync(join(bin, name), Buffer.alloc(4096, 0x4d));
    }
  }
});
afterAll(async () => {
  await relay?.stop();
  await api?.stop().catch(() => {});
  rmSync(work, { recursive: true, force: true });
  rmSync(bin, { recursive: true, force: true });
});

describe("ipxeBuild through sync into a relay process", () => {
  it("switches one MAC to snponly.efi after a sync, and keeps it across a restart without the API", async () => {
    api.hosts = [{ mac: MAC, uuid: null, serial: null, hostname: "n1", arch: null, state: "ready", profile: null, ipxeBuild: null }];
    relay = await startRelayProcess({ apiUrl: api.url, credential: api.credential, stateDir: work, binariesDir: bin });
    expect(await bootFileFor(relay.proxyPort, MAC)).toBe("ipxe.efi");

    api.hosts = [
      { mac: MAC, uuid: null, serial: null, hostname: "n1", arch: null, state: "ready", profile: null, ipxeBuild: "snponly" },
      { mac: OTHER, uuid: null, serial: null, hostname: "n2", arch: null, state: "ready", profile: null, ipxeBuild: null },
    ];
    const r = relay;
    await until("the relay to answer snponly.efi after its next sync", async () => (await bootFileFor(r.proxyPort, MAC)) === "snponly.efi");
    expect(await bootFileFor(r.proxyPort, OTHER)).toBe("ipxe.efi");
    await until("the proxy ack's log line to name the build", async () => /"msg":"proxy ack"[^\n]*"ipxeBuild":"snponly"/.test(r.logs()), 5000);

    // The API goes away; the relay restarts from its state dir and answers from the snapshot it kept.
    const apiUrl = api.url;
    await relay.stop();
    await api.stop();
    relay = await startRelayProcess({ apiUrl, credential: api.credential, stateDir: work, binariesDir: bin, proxyPort: relay.proxyPort });
    const again = relay;
    await until("the restarted relay to answer from its saved snapshot", async () => (await bootFileFor(again.proxyPort, MAC)) === "snponly.efi");
    await until("the restarted relay to say it uses its saved snapshot", async () => again.logs().includes("using the last snapshot from disk"), 5000);
    expect(await bootFileFor(again.proxyPort, OTHER)).toBe("ipxe.efi");
  });
});
