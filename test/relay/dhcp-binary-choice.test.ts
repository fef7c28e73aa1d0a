// Which iPXE binary each firmware gets: the per-architecture defaults, a host's ipxeBuild override from the synced
// snapshot, and the override reaching a real proxyDHCP socket through RelayState (no API call on the way).
import { describe, expect, it } from "vitest";
import { createSocket } from "node:dgram";
import { decodeDhcp } from "../../relay/dhcp/packet.ts";
import { BUILD_FILES, chooseBinary, ipxeBuildsFrom } from "../../relay/dhcp/binaryChoice.ts";
import { startDhcpServer } from "../../relay/dhcp/server.ts";
import { RelayState } from "../../relay/state.ts";
import { parts } from "./support/relayParts.ts";
import { rewrite } from "./support/dhcpClaim.ts";

const defaults = { biosBinary: "undionly.kpxe", uefiBinary: "ipxe.efi" as const, arm64Binary: "ipxe-arm64.efi" };

describe("chooseBinary", () => {
  it("gives each platform its default when the host names no build", () => {
    expect(chooseBinary("bios", null, defaults)).toEqual({ file: "undionly.kpxe", build: null });
    expect(chooseBinary("uefi-x64", null, defaults)).toEqual({ file: "ipxe.efi", build: null });
    expect(chooseBinary("http-x64", null, defaults)).toEqual({ file: "ipxe.efi", build: null });
    expect(chooseBinary("uefi-arm64", null, defaults)).toEqual({ file: "ipxe-arm64.efi", build: null });
    expect(chooseBinary("http-arm64", null, defaults)).toEqual({ file: "ipxe-arm64.efi", build: null });
    // The relay's flags choose the defaults (e.g. --uefi-binary snponly.efi for a whole site).
    expect(chooseBinary("uefi-x64", null, { ...defaults, uefiBinary: "snponly.efi" }).file).toBe("snponly.efi");
  });

  it("maps a host's build to the file for the architecture the firmware reports, PXE or HTTP Boot", () => {
    expect(chooseBinary("uefi-x64", "snponly", defaults)).toEqual({ file: "snponly.efi", build: "snponly" });
    expect(chooseBinary("http-x64", "snponly", defaults)).toEqual({ file: "snponly.efi", build: "snponly" });
    expect(chooseBinary("uefi-arm64", "snponly", defaults)).toEqual({ file: "snponly-arm64.efi", build: "snponly" });
    expect(chooseBinary("http-arm64", "snponly", defaults)).toEqual({ file: "snponly-arm64.efi", build: "snponly" });
    // "ipxe" undoes a site-wide snponly default for one host.
    expect(chooseBinary("uefi-x64", "ipxe", { ...defaults, uefiBinary: "snponly.efi" })).toEqual({ file: "ipxe.efi", build: "ipxe" });
    expect(chooseBinary("uefi-arm64", "ipxe", { ...defaults, arm64Binary: "snponly-arm64.efi" })).toEqual({ file: "ipxe-arm64.efi", build: "ipxe" });
    // BIOS keeps its binary: the override is for UEFI.
    expect(chooseBinary("bios", "snponly", defaults)).toEqual({ file: "undionly.kpxe", build: null });
    expect(BUILD_FILES.x64).toEqual({ ipxe: "ipxe.efi", snponly: "snponly.efi" });
  });

  it("reads overrides from snapshot hosts by MAC, skipping hosts without a MAC and values it does not know", () => {
    const map = ipxeBuildsFrom([
      { mac: "52:54:00:AA:00:01", ipxeBuild: "snponly" },
      { mac: "52:54:00:aa:00:02", ipxeBuild: "ipxe" },
      { mac: "52:54:00:aa:00:03", ipxeBuild: null },
      { mac: "52:54:00:aa:00:04" }, // an older API: no field at all
      { mac: "52:54:00:aa:00:05", ipxeBuild: "snp-from-a-newer-api" },
      { mac: "52:54:00:aa:00:06", ipxeBuild: "../../etc/passwd" },
      { mac: null, ipxeBuild: "snponly" },
    ]);
    expect([...map]).toEqual([
      ["52:54:00:aa:00:01", "snponly"],
      ["52:54:00:aa:00:02", "ipxe"],
    ]);
  });
});

// The OVMF BINL request (a real capture) re-addressed to a MAC, sent to a real 4011 socket.
async function ask(port: number, mac: string): Promise<{ file: string } | null> {
  const sock = createSocket("udp4");
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
  try {
    const reply = new Promise<{ file: string } | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), 1500);
      sock.once("message", (msg) => {
        clearTimeout(timer);
        resolve({ file: decodeDhcp(new Uint8Array(msg)).file });
      });
    });
    sock.send(rewrite("ovmf-x64-request-4011.bin", { mac, ciaddr: "127.0.0.1", serverId: "127.0.0.1" }), port, "127.0.0.1");
    return await reply;
  } finally {
    sock.close();
  }
}

describe("proxyDHCP on a socket follows the synced overrides", () => {
  it("answers snponly.efi for an overridden host as soon as the state changes, and the default for others", async () => {
    const { log, metrics, sink, events } = parts();
    const state = new RelayState({ relayId: null, allowDirect: false });
    const server = await startDhcpServer({
      role: "proxy",
      port: 0,
      config: { listenAddress: "127.0.0.1", offerMode: "binl", offerModeOverrides: [], ...defaults },
      advertise: "127.0.0.1",
      httpBase: "http://127.0.0.1:8067",
      binaries: { has: (n) => ["ipxe.efi", "snponly.efi"].includes(n) },
      ipxeBuildFor: (mac) => (mac ? (state.get().ipxeBuilds?.get(mac) ?? null) : null),
      log,
      metrics,
      events: sink,
    });
    try {
      const a = "52:54:00:eb:77:01";
      const b = "52:54:00:eb:77:02";
      expect(await ask(server.port, a)).toEqual({ file: "ipxe.efi" });
      state.update({ ipxeBuilds: ipxeBuildsFrom([{ mac: a, ipxeBuild: "snponly" }, { mac: b, ipxeBuild: null }]) });
      expect(await ask(server.port, a)).toEqual({ file: "snponly.efi" });
      expect(await ask(server.port, b)).toEqual({ file: "ipxe.efi" });
      await new Promise((r) => setTimeout(r, 20)); // events are written after the reply is on the wire
      // The timeline says when a host's own build chose the binary.
      expect(events.filter((e) => e.phase === "dhcp-ack-4011").map((e) => [e.mac, e.detail?.bootFile, e.detail?.ipxeBuild ?? null])).toEqual([
        [a, "ipxe.efi", null],
        [a, "snponly.efi", "snponly"],
        [b, "ipxe.efi", null],
      ]);
    } finally {
      await server.close();
    }
  });
});
