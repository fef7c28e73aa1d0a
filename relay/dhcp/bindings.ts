// Where the DHCP edge sends what it learned about clients: each claim (claim.ts) and each answered client's HTTPS and
// arch (clients.ts). In-thread it is the ClientTable itself; with DHCP on a worker thread (thread.ts) the worker
// posts these to the main thread, which owns the table, and calls applyClaim there.
import type { EventSink } from "../events.ts";
import type { Logger } from "../log.ts";
import { conflictMessage, type Claim, type ClientTable } from "./clients.ts";

export type DhcpBindings = {
  claim(claim: Claim, sender: string): void;
  noteClient(mac: string, info: { https: boolean; arch: number | null }): void;
};

// Records a claim; a move or a reported conflict is a `mac-rebind` event and a log line (an alert, never a re-bind
// away from an address in use).
export function applyClaim(clients: ClientTable, claim: Claim, sender: string, out: { events: EventSink; log: Logger; now: () => number }): void {
  const outcome = clients.claim(claim);
  if (outcome.kind !== "moved" && !(outcome.kind === "conflict" && outcome.report)) return;
  const detail =
    outcome.kind === "moved"
      ? { ip: outcome.ip, from: outcome.from, decision: "moved", source: claim.source, sender }
      : { ip: outcome.ip, reason: outcome.reason, heldBy: outcome.other, decision: outcome.decision, source: claim.source, sender };
  out.events.emit({ phase: "mac-rebind", mac: claim.mac, detail, at: out.now() });
  if (outcome.kind === "moved") out.log.info("MAC moved from its firmware address to its iPXE address", { mac: claim.mac, ...detail });
  else out.log.warn(conflictMessage(outcome.decision), { mac: claim.mac, ...detail });
}

export function localBindings(clients: ClientTable, out: { events: EventSink; log: Logger; now: () => number }): DhcpBindings {
  return {
    claim: (claim, sender) => applyClaim(clients, claim, sender, out),
    noteClient: (mac, info) => clients.noteClient(mac, info),
  };
}
