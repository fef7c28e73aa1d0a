// The main-thread side of proxyDHCP on a worker thread (relay/dhcp/thread.ts) when the worker crashes: each crash is
// logged and the worker restarted on the same ports, and past the restart budget the relay is told to stop (onFatal)
// instead of staying up without DHCP. The worker here is a stand-in that crashes 200 ms after it starts.
import { describe, expect, it } from "vitest";
import { ClientTable } from "../../relay/dhcp/clients.ts";
import { startDhcpThread } from "../../relay/dhcp/thread.ts";
import { createLogger } from "../../relay/log.ts";
import { MetricsRegistry, relayMetrics } from "../../relay/metrics.ts";

describe("proxyDHCP worker crashes", () => {
  it("restarts a crashed worker on the same ports, then stops the relay after 5 restarts", async () => {
    const lines: Array<{ msg: string; level: string }> = [];
    const log = createLogger({ level: "info", write: (l) => void lines.push(JSON.parse(l)) });
    let fatal: Error | null = null;
    const thread = await startDhcpThread({
      roles: [{ role: "proxy", port: 40111 }],
      config: { listenAddress: "127.0.0.1", biosBinary: "undionly.kpxe", uefiBinary: "ipxe.efi", arm64Binary: "ipxe-arm64.efi", offerMode: "binl", offerModeOverrides: [] },
      advertise: "127.0.0.1",
      httpBase: "http://127.0.0.1:8067",
      ipxeTrust: null,
      binaries: [],
      ipxeBuilds: new Map(),
      clients: new ClientTable(),
      log,
      metrics: relayMetrics(new MetricsRegistry()),
      events: { emit() {} },
      onFatal: (err) => (fatal = err),
      entry: new URL("./support/crashingDhcpWorker.mjs", import.meta.url),
    });
    try {
      expect(thread.ports).toEqual({ proxy: 40111 });
      // The barrier works against a live worker (a pong), and does not hang on a dead one (released at its exit).
      await thread.settle();
      for (let i = 0; i < 200 && !fatal; i++) await new Promise((r) => setTimeout(r, 50));
      expect(fatal, JSON.stringify(lines)).toBeInstanceOf(Error);
      expect(String(fatal)).toContain("exited (code 1) 6 times within 10 minutes");
      expect(lines.filter((l) => l.msg === "proxyDHCP worker crashed")).toHaveLength(6);
      expect(lines.filter((l) => l.msg === "restarting the proxyDHCP worker")).toHaveLength(5);
      expect(lines.filter((l) => l.msg === "stand-in worker up")).toHaveLength(6);
      expect(lines.filter((l) => l.msg === "proxyDHCP worker keeps failing; stopping the relay" && l.level === "error")).toHaveLength(1);
    } finally {
      await thread.close();
    }
  }, 30_000);
});
