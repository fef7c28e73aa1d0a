// The messages between the main thread (thread.ts) and the proxyDHCP worker (worker.ts). Types only.
import type { RelayEvent } from "../events.ts";
import type { LogFields, LogLevel } from "../log.ts";
import type { IpxeBuild } from "../../worker/shared/ipxeBuild.ts";
import type { Claim } from "./clients.ts";
import type { DhcpServerOptions } from "./server.ts";
import type { ReceivedOn } from "./proxy.ts";

export type DhcpThreadInit = {
  roles: Array<{ role: ReceivedOn; port: number }>;
  config: DhcpServerOptions["config"];
  advertise: string;
  httpBase: string;
  ipxeTrust: Uint8Array | null;
  binaries: string[];
  ipxeBuilds: ReadonlyMap<string, IpxeBuild>;
  logLevel: LogLevel;
};

export type ToWorker =
  | { t: "binaries"; names: string[] }
  | { t: "ipxeBuilds"; map: ReadonlyMap<string, IpxeBuild> }
  | { t: "ping"; id: number }
  | { t: "close" };

// In the order the worker saw them: the main thread applies them in that order.
export type Op =
  | { t: "claim"; claim: Claim; sender: string }
  | { t: "note"; mac: string; info: { https: boolean; arch: number | null } }
  | { t: "event"; event: RelayEvent }
  | { t: "log"; level: LogLevel; msg: string; fields: LogFields }
  | { t: "metrics"; counts: Array<{ name: "dhcpIgnored" | "dhcpOffers"; labels: Record<string, string>; by: number }> };

export type BindError = { message: string; name: string; code?: string; errno?: number; syscall?: string; address?: string; port?: number };

export type FromWorker =
  | { t: "ready"; ports: number[] }
  | { t: "failed"; error: BindError }
  | { t: "batch"; ops: Op[] }
  | { t: "pong"; id: number }
  | { t: "closed" };
