// Structured logs: one JSON object per line on stderr (stdout stays free for tools). Secrets never reach a line:
// fields whose name looks like a credential are replaced before serialising, at any depth.
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
  enabled(level: LogLevel): boolean;
}

export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_KEY = /credential|token|secret|password|authorization|private|^d$|^key$/i;

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== "object") return value;
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? "[redacted]" : redact(v, depth + 1);
  return out;
}

// A Logger over a sink: the level check, the four methods, child fields and enabled() in one place. The sink gets
// the line's own fields and the ones its children added, unmerged.
export function sinkLogger(level: LogLevel, sink: (level: LogLevel, msg: string, base: LogFields, fields?: LogFields) => void, base: LogFields = {}): Logger {
  const min = RANK[level];
  const emit = (at: LogLevel, msg: string, fields?: LogFields) => {
    if (RANK[at] >= min) sink(at, msg, base, fields);
  };
  return {
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
    child: (fields) => sinkLogger(level, sink, { ...base, ...fields }),
    enabled: (at) => RANK[at] >= min,
  };
}

export function createLogger(opts: {
  level?: LogLevel;
  write?: (line: string) => void;
  now?: () => number;
  base?: LogFields;
} = {}): Logger {
  const write = opts.write ?? ((line: string) => void process.stderr.write(line));
  const now = opts.now ?? Date.now;
  return sinkLogger(
    opts.level ?? "info",
    (level, msg, base, fields) => {
      // One object, filled in place (same keys and order as spreading base and fields after time/level/msg): the
      // DHCP server logs every offer at info, and each spread copy is garbage.
      const record: LogFields = { time: new Date(now()).toISOString(), level, msg };
      for (const k in base) record[k] = SECRET_KEY.test(k) ? "[redacted]" : redact(base[k], 1);
      if (fields) for (const k in fields) record[k] = SECRET_KEY.test(k) ? "[redacted]" : redact(fields[k], 1);
      write(`${JSON.stringify(record)}\n`);
    },
    opts.base ?? {},
  );
}

export const silentLogger: Logger = createLogger({ level: "error", write: () => {} });
