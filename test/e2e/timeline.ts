// A boot's timeline: the stages seen on the VM's serial console and the events the API recorded
// (/v1/sites/:site/events), both as seconds after QEMU started, printed as one table per scenario.
import { type AdminApi, type BootEvent, siteEvents } from "./api.ts";
import { sleep } from "./proc.ts";
import type { Vm } from "./qemu.ts";

export interface TimelineRow {
  t: number;
  from: "serial" | string;
  what: string;
}

export function timelineRows(vm: Vm, events: BootEvent[] = []): TimelineRow[] {
  const rows: TimelineRow[] = [...vm.marks].map(([what, ms]) => ({ t: ms / 1000, from: "serial", what }));
  for (const e of events) {
    const detail = e.detail && Object.keys(e.detail).length ? ` ${JSON.stringify(e.detail).slice(0, 100)}` : "";
    rows.push({ t: (Date.parse(e.at) - vm.startedAt) / 1000, from: `api:${e.source}`, what: `${e.phase}${detail}` });
  }
  return rows.sort((a, b) => a.t - b.t);
}

export function printTimeline(title: string, vm: Vm, events: BootEvent[] = []): void {
  const lines = timelineRows(vm, events).map((r) => `  ${r.t.toFixed(1).padStart(6)} s  ${r.from.padEnd(12)} ${r.what}`);
  console.log(`\n== ${title}: stage timings (s after VM start) ==\n${lines.join("\n")}`);
}

export interface Expected {
  label: string;
  match: (e: BootEvent) => boolean;
}

export const phase = (name: string, extra: (e: BootEvent) => boolean = () => true): Expected => ({ label: name, match: (e) => e.phase === name && extra(e) });

/** The expected events that do not occur in this order (others may come between); empty = all there. */
export function missingInOrder(events: BootEvent[], expected: Expected[]): string[] {
  let from = 0;
  const missing: string[] = [];
  for (const want of expected) {
    const at = events.findIndex((e, j) => j >= from && want.match(e));
    if (at < 0) missing.push(want.label);
    else from = at + 1;
  }
  return missing;
}

/** A machine's events: those naming its MAC, plus MAC-less ones (relay cache hits) from an IP it used. */
export function ofMachine(events: BootEvent[], mac: string): BootEvent[] {
  const mine = events.filter((e) => e.mac === mac);
  const ips = new Set(mine.map((e) => e.detail?.client).filter((ip): ip is string => typeof ip === "string"));
  return events.filter((e) => e.mac === mac || (!e.mac && typeof e.detail?.client === "string" && ips.has(e.detail.client)));
}

/**
 * The events of one VM's boot (since it started), polled until `expected` are all there in order: the relay
 * sends its events in batches, so they arrive a little after the boot. Returns what it has after `timeoutMs`.
 */
export async function bootEvents(api: AdminApi, site: string, vm: Vm, mac: string, expected: Expected[], timeoutMs = 30_000): Promise<BootEvent[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mine = ofMachine(await siteEvents(api, site, { since: vm.startedAt }), mac);
    if (missingInOrder(mine, expected).length === 0 || Date.now() > deadline) return mine;
    await sleep(1000);
  }
}

/** One benchmark row as test/bench/run.mjs reads it. */
export function benchRow(what: string, ours: number, peer: number, peerName: string, unit = "s"): string {
  return JSON.stringify({ what, ours: round(ours), peer: round(peer), peerName, unit, ratio: round(ours / peer, 3) });
}

const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;
