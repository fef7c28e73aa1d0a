// The composition root in-process: DHCP, the client table and /boot.ipxe are wired together (a REQUEST the relay
// overhears decides which MAC /boot.ipxe may ask the API for), and close() releases every port.
import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../relay/config.ts";
import { silentLogger } from "../../relay/log.ts";
import { startRelay } from "../../relay/main.ts";
import { capture } from "./support/captures.ts";
import { freePort } from "../helpers/wrangler.ts";
import { UdpPeer } from "./support/udp.ts";

const dir = mkdtempSync(join(tmpdir(), "edgeboot-wiring-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const freeUdpPort = () =>
  new Promise<number>((resolve) => {
    const s = createSocket("udp4");
    s.bind(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

describe("startRelay", () => {
  it("feeds what DHCP saw into /boot.ipxe and closes cleanly", async () => {
    const [dhcpPort, tftpPort] = [await freeUdpPort(), await freeUdpPort()];
    const parsed = parseConfig(
      ["--api-url", "http://127.0.0.1:9", "--site", "lab", "--listen", "127.0.0.1", "--dhcp-port", String(dhcpPort), "--proxy-dhcp-port", "0", "--tftp-port", String(tftpPort), "--http-port", String(await freePort()), "--state-dir", join(dir, "state"), "--api-timeout-ms", "300"],
      { EDGEBOOT_RELAY_CREDENTIAL: "c-wiring" },
    );
    if (parsed.kind !== "ok") throw new Error(JSON.stringify(parsed));
    const relay = await startRelay(parsed.config, silentLogger);
    const client = await UdpPeer.bind();
    try {
      // OVMF's REQUEST to the site server, taking 127.0.0.1 (option 50) for MAC 52:54:00:eb:00:01.
      const request = capture("ovmf-x64-request.bin").slice();
      const at = request.indexOf(50, 240);
      request.set([127, 0, 0, 1], at + 2);
      await client.send(request, relay.ports.dhcp);
      await new Promise((r) => setTimeout(r, 100));
      // Another MAC in the query than the one this address used in DHCP: refused, never fetched for either.
      const other = await (await fetch(`http://127.0.0.1:${relay.ports.http}/boot.ipxe?mac=02:00:00:00:00:99`)).text();
      expect(other).toContain("# edgeboot relay: chain refused (mac-mismatch)");
      const body = await (await fetch(`http://127.0.0.1:${relay.ports.http}/boot.ipxe?mac=52-54-00-eb-00-01`)).text();
      // The API is unreachable: the failure script names the MAC the relay saw in DHCP.
      expect(body).toContain("echo edgeboot: cannot boot 52:54:00:eb:00:01 yet");
      expect(body).toContain(`http://127.0.0.1:${relay.ports.http}/boot.ipxe?mac=52%3A54%3A00%3Aeb%3A00%3A01&attempt=2`);
    } finally {
      await client.close();
      await relay.close();
    }
    // Every port is free again.
    const again = createSocket("udp4");
    await new Promise<void>((resolve, reject) => {
      again.once("error", reject);
      again.bind(relay.ports.tftp, "127.0.0.1", () => resolve());
    });
    again.close();
  });
});
