// Small builders for relay parts under test: quiet logger, fresh metrics, an event recorder.
import type { RelayEvent } from "../../../relay/events.ts";
import { createLogger, type Logger } from "../../../relay/log.ts";
import { MetricsRegistry, relayMetrics } from "../../../relay/metrics.ts";

export function parts(opts: { logLines?: string[] } = {}) {
  const registry = new MetricsRegistry();
  const events: RelayEvent[] = [];
  const lines = opts.logLines ?? [];
  const log: Logger = createLogger({ level: "debug", write: (l) => void lines.push(l) });
  return { registry, metrics: relayMetrics(registry), events, sink: { emit: (e: RelayEvent) => void events.push(e) }, log, lines };
}
