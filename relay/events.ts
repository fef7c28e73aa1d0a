// Boot-timeline events the relay observes (DHCP offers, TFTP transfers, chains served). Producers emit through an
// injected sink; the sync part provides the queued sink that posts batches to the API's `/relay/v1/events`.
import type { Logger } from "./log.ts";

export type RelayEvent = { phase: string; mac?: string; detail?: Record<string, unknown>; at: number };

export interface EventSink {
  emit(event: RelayEvent): void;
}

export const nullSink: EventSink = { emit() {} };

// Writes each event as a debug log line; the default until a queued sink is wired in. Checks the level first: it
// sits on every DHCP offer, and the copy alone is garbage at the default level (info).
export function logSink(log: Logger): EventSink {
  return {
    emit: (event) => {
      if (log.enabled("debug")) log.debug("event", { ...event });
    },
  };
}

// Fans one event out to several sinks (read at emit time, so sinks may be added later); a throwing sink never
// stops the others or the caller.
export function teeSink(sinks: EventSink[]): EventSink {
  return {
    emit(event) {
      for (const sink of sinks) {
        try {
          sink.emit(event);
        } catch {
          // An event sink must never break packet handling.
        }
      }
    },
  };
}
