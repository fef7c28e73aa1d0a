// Grouping a host's events into boots and stages (worker/ui/timeline.ts), on event sequences the relay and the
// Worker actually record (phase names from relay/ and worker/boot/).
import { describe, expect, it } from "vitest";
import { hostLive, LISTED_HEAD, LISTED_MAX, listedEvents, timelineFragment } from "../../../worker/ui/pages/host.ts";
import type { HostItem } from "../../../worker/ui/pages/site.ts";
import { bootsOf, splitBoots, stageOf, type TimelineEvent, withCacheEventsOf } from "../../../worker/ui/timeline.ts";

let id = 0;
const ev = (at: number, phase: string, detail: Record<string, unknown> = {}, mac: string | null = "52:54:00:00:00:01", source = "relay"): TimelineEvent => ({ id: ++id, at, phase, detail, mac, source });

const T = 1_800_000_000_000;
const uefiBoot = (t: number) => [
  ev(t, "dhcp-offer", { client: "10.0.0.50" }),
  ev(t + 300, "dhcp-ack-4011"),
  ev(t + 900, "tftp-sent", { file: "ipxe.efi", client: "10.0.0.50" }),
  ev(t + 4000, "dhcp-offer"),
  ev(t + 4500, "chain-served", { client: "10.0.0.50" }),
  ev(t + 4600, "chain-served", {}, "52:54:00:00:00:01", "worker"),
  ev(t + 5000, "artifact-fetched", {}, "52:54:00:00:00:01", "worker"),
  ev(t + 9000, "nocloud-meta-data", {}, "52:54:00:00:00:01", "worker"),
  ev(t + 9100, "nocloud-user-data", {}, "52:54:00:00:00:01", "worker"),
  ev(t + 12_000, "booted", {}, "52:54:00:00:00:01", "host"),
];

describe("boot timeline", () => {
  it("maps every recorded phase to its stage", () => {
    const stages = ["wake-sent", "dhcp-offer", "dhcp-ack-4011", "tftp-sent", "tftp-failed", "chain-served", "chain-direct", "https-fallback", "discovered", "cache-hit", "cache-miss", "artifact-fetched", "nocloud-user-data", "booted", "installed"].map((phase) => stageOf({ phase, detail: {} }));
    expect(stages).toEqual(["wake", "dhcp", "dhcp", "tftp", "tftp", "chain", "chain", "chain", "chain", "artifacts", "artifacts", "artifacts", "cloud-init", "host", "host"]);
    expect(stageOf({ phase: "render-failed", detail: { what: "ipxe" } })).toBe("chain");
    expect(stageOf({ phase: "render-failed", detail: { what: "user-data" } })).toBe("cloud-init");
  });

  it("gives each stage the time until the next stage began, and the boot its status", () => {
    const [boot] = bootsOf(uefiBoot(T));
    expect(boot!.status).toBe("booted");
    expect(boot!.stages.map((s) => [s.stage, s.ms])).toEqual([
      ["dhcp", 900],
      // iPXE's second DHCP belongs to its own stage's span: TFTP runs until the chain starts.
      ["tftp", 3600],
      ["chain", 500],
      ["artifacts", 4000],
      ["cloud-init", 3000],
      ["host", 0],
    ]);
    expect(boot!.events.at(-1)!.offsetMs).toBe(12_000);
  });

  it("starts a new boot when DHCP comes again after the chain, or after a long silence", () => {
    const events = [...uefiBoot(T), ...uefiBoot(T + 60_000)];
    expect(splitBoots(events).map((b) => b.length)).toEqual([10, 10]);
    const quiet = [ev(T, "chain-served", {}, null, "worker"), ev(T + 16 * 60_000, "chain-served", {}, null, "worker")];
    expect(splitBoots(quiet)).toHaveLength(2);
    const boots = bootsOf(events);
    expect(boots[0]!.startAt).toBe(T + 60_000);
  });

  it("marks failures and machines waiting in discovery", () => {
    expect(bootsOf([ev(T, "dhcp-offer"), ev(T + 10, "tftp-failed", { reason: "timeout" })])[0]!.status).toBe("failed");
    expect(bootsOf([ev(T, "dhcp-offer"), ev(T + 10, "discovered", {}, null, "worker")])[0]!.status).toBe("waiting");
    expect(bootsOf([ev(T, "dhcp-offer")])[0]!.status).toBe("in-progress");
  });

  it("adds MAC-less cache events from the host's own client address only", () => {
    const mine = uefiBoot(T);
    const cache = [ev(T + 5500, "cache-hit", { client: "10.0.0.50", bytes: 10 }, null), ev(T + 5600, "cache-miss", { client: "10.0.0.99" }, null)];
    const merged = withCacheEventsOf(mine, cache);
    expect(merged.filter((e) => e.phase.startsWith("cache-")).map((e) => e.detail.client)).toEqual(["10.0.0.50"]);
    expect(merged.map((e) => e.at)).toEqual([...merged.map((e) => e.at)].sort((a, b) => a - b));
  });

  it("a host without a profile of its own shows the profile and rule of its latest rule-decided chain", async () => {
    const host = { hostname: "w1", mac: "52:54:00:00:00:01", state: "booted", profile: null, labels: {}, lastSeenAt: null, arch: null } as unknown as HostItem;
    const served = (t: number, rule: string, profile: string) => ev(t, "chain-served", { source: "rule", rule, profile: `${profile}<b>` }, "52:54:00:00:00:01", "worker");
    const shown = String(await hostLive(host, bootsOf([served(T, "old-rule", "old"), served(T + 60 * 60_000, "rack1", "k3s-agent")])));
    expect(shown).toContain("k3s-agent&lt;b&gt; <span class=\"muted\">(none of its own; by rule rack1)</span>");
    expect(shown).not.toContain("old-rule");
    // Its own profile, or no rule-decided chain: as before.
    expect(String(await hostLive({ ...host, profile: "own" } as HostItem, bootsOf([served(T, "rack1", "k3s-agent")])))).toMatch(/<dt>Profile<\/dt><dd>own<\/dd>/);
    expect(String(await hostLive(host, bootsOf(uefiBoot(T))))).toMatch(/<dt>Profile<\/dt><dd><span class="muted">none<\/span><\/dd>/);
  });

  it("lists a long boot's first and newest events and counts the rest", async () => {
    const loop = [ev(T, "dhcp-offer"), ...Array.from({ length: 300 }, (_, i) => ev(T + 10 + i, "tftp-failed", { file: `f${i}` })), ev(T + 400, "chain-served", {}, null, "worker")];
    const listed = listedEvents(loop);
    expect([listed.head.length, listed.hidden, listed.tail.length]).toEqual([LISTED_HEAD, loop.length - LISTED_MAX, LISTED_MAX - LISTED_HEAD]);
    expect(listed.head[0]!.phase).toBe("dhcp-offer");
    expect(listed.tail.at(-1)!.phase).toBe("chain-served");
    expect(listedEvents(loop.slice(0, LISTED_MAX))).toEqual({ head: loop.slice(0, LISTED_MAX), hidden: 0, tail: [] });
    const html = String(await timelineFragment(bootsOf(loop)));
    expect(html.match(/<tr data-phase=/g)).toHaveLength(LISTED_MAX);
    expect(html).toContain(`… ${loop.length - LISTED_MAX} more events of this boot not listed here`);
  });
});
