// A host's events → boots → stages (DHCP → TFTP → chain → artifacts → cloud-init → host report), with durations.
// Pure, so the grouping rules are unit-tested without a database.

export type TimelineEvent = {
  id: number;
  at: number;
  source: string;
  phase: string;
  mac: string | null;
  detail: Record<string, unknown>;
};

export const STAGES = ["wake", "dhcp", "tftp", "chain", "artifacts", "cloud-init", "host"] as const;
export type Stage = (typeof STAGES)[number];

export const STAGE_LABEL: Record<Stage, string> = {
  wake: "Wake-on-LAN",
  dhcp: "DHCP",
  tftp: "TFTP",
  chain: "iPXE chain",
  artifacts: "Artifacts",
  "cloud-init": "cloud-init",
  host: "Host report",
};

const FAILED = new Set(["tftp-failed", "chain-refused", "chain-failed", "render-failed", "failed", "boot-failed"]);
const FINISHED = new Set(["booted", "installed"]);

export function stageOf(e: Pick<TimelineEvent, "phase" | "detail">): Stage {
  const p = e.phase;
  if (p === "wake-sent") return "wake";
  if (p.startsWith("dhcp-")) return "dhcp";
  if (p.startsWith("tftp-")) return "tftp";
  if (p === "render-failed") return e.detail.what === "ipxe" ? "chain" : "cloud-init";
  if (p.startsWith("chain-") || p === "discovered" || p === "https-fallback") return "chain";
  if (p.startsWith("artifact-") || p.startsWith("cache-")) return "artifacts";
  if (p.startsWith("nocloud-")) return "cloud-init";
  return "host";
}

export type StageSpan = { stage: Stage; label: string; startAt: number; endAt: number; ms: number; events: number; failed: boolean };
export type BootStatus = "booted" | "failed" | "waiting" | "in-progress";
export type Boot = {
  startAt: number;
  endAt: number;
  status: BootStatus;
  lastPhase: string;
  stages: StageSpan[];
  events: (TimelineEvent & { stage: Stage; offsetMs: number })[];
};

// A boot with no event for this long is over; the next event starts another.
export const BOOT_GAP_MS = 15 * 60_000;

const rank = (s: Stage) => STAGES.indexOf(s);

// New boot when a wake or DHCP event follows events past the DHCP/TFTP stages (the machine started over), or after
// a long silence. Events must be in time order.
export function splitBoots(events: TimelineEvent[]): TimelineEvent[][] {
  const boots: TimelineEvent[][] = [];
  let current: TimelineEvent[] = [];
  let furthest = -1;
  for (const e of events) {
    const stage = stageOf(e);
    const prev = current.at(-1);
    const restarts = (stage === "dhcp" || stage === "wake") && furthest > rank("tftp");
    if (prev && (restarts || e.at - prev.at > BOOT_GAP_MS)) {
      boots.push(current);
      current = [];
      furthest = -1;
    }
    current.push(e);
    furthest = Math.max(furthest, rank(stage));
  }
  if (current.length) boots.push(current);
  return boots;
}

// Each stage runs from its first event to the first event of the next stage seen (or its own last event).
export function describeBoot(events: TimelineEvent[]): Boot {
  const first = events[0]!;
  const last = events.at(-1)!;
  const firstAt = new Map<Stage, number>();
  const lastAt = new Map<Stage, number>();
  const counts = new Map<Stage, number>();
  const failedStages = new Set<Stage>();
  for (const e of events) {
    const s = stageOf(e);
    if (!firstAt.has(s)) firstAt.set(s, e.at);
    lastAt.set(s, e.at);
    counts.set(s, (counts.get(s) ?? 0) + 1);
    if (FAILED.has(e.phase)) failedStages.add(s);
  }
  const seen = [...firstAt.entries()].sort((a, b) => a[1] - b[1] || rank(a[0]) - rank(b[0]));
  const stages = seen.map(([stage, startAt], i) => {
    const next = seen[i + 1];
    const endAt = Math.max(startAt, next ? next[1] : lastAt.get(stage)!);
    return { stage, label: STAGE_LABEL[stage], startAt, endAt, ms: endAt - startAt, events: counts.get(stage)!, failed: failedStages.has(stage) };
  });
  const finished = events.some((e) => FINISHED.has(e.phase));
  const failed = FAILED.has(last.phase) || events.some((e) => e.phase === "failed" || e.phase === "boot-failed");
  const status: BootStatus = failed ? "failed" : finished ? "booted" : last.phase === "discovered" ? "waiting" : "in-progress";
  return {
    startAt: first.at,
    endAt: last.at,
    status,
    lastPhase: last.phase,
    stages,
    events: events.map((e) => ({ ...e, stage: stageOf(e), offsetMs: e.at - first.at })),
  };
}

// MAC-less relay cache events belong to a host when they come from a client address its own events used.
export function withCacheEventsOf(hostEvents: TimelineEvent[], macless: TimelineEvent[]): TimelineEvent[] {
  const clients = new Set(hostEvents.map((e) => e.detail.client).filter((v): v is string => typeof v === "string"));
  const mine = macless.filter((e) => typeof e.detail.client === "string" && clients.has(e.detail.client));
  return [...hostEvents, ...mine].sort((a, b) => a.at - b.at || a.id - b.id);
}

// Newest boot first.
export function bootsOf(events: TimelineEvent[]): Boot[] {
  return splitBoots(events).map(describeBoot).reverse();
}
