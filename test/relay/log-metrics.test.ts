import { describe, expect, it } from "vitest";
import { createLogger } from "../../relay/log.ts";
import { MetricsRegistry } from "../../relay/metrics.ts";

describe("logger", () => {
  it("writes one JSON object per line with level filtering and child fields", () => {
    const lines: string[] = [];
    const log = createLogger({ level: "info", write: (l) => void lines.push(l), now: () => 0 });
    log.debug("hidden");
    log.child({ part: "tftp" }).info("hello", { n: 1 });
    expect(lines).toEqual([`${JSON.stringify({ time: "1970-01-01T00:00:00.000Z", level: "info", msg: "hello", part: "tftp", n: 1 })}\n`]);
  });

  it("never writes secrets, at any depth", () => {
    const lines: string[] = [];
    const log = createLogger({ write: (l) => void lines.push(l) });
    log.info("x", { credential: "c-123", nested: { authorization: "Bearer abc", token: "t", ok: "visible" }, list: [{ secret: "s" }], d: "jwk-private" });
    expect(lines[0]).not.toMatch(/c-123|Bearer abc|"t"|"s"|jwk-private/);
    expect(lines[0]).toContain("visible");
  });

  it("renders errors as name and message", () => {
    const lines: string[] = [];
    createLogger({ write: (l) => void lines.push(l) }).error("boom", { error: new TypeError("bad") });
    expect(JSON.parse(lines[0]!).error).toEqual({ name: "TypeError", message: "bad" });
  });
});

describe("metrics", () => {
  it("renders Prometheus text with escaped labels", () => {
    const reg = new MetricsRegistry();
    const c = reg.counter("x_total", "things");
    c.inc({ b: "2", a: 'q"\n\\' });
    c.inc({ a: 'q"\n\\', b: "2" }, 2);
    c.inc();
    c.inc({}, -5); // counters never go down
    reg.gauge("y", "level").set(3.5);
    expect(reg.render()).toBe(['# HELP x_total things', "# TYPE x_total counter", 'x_total{a="q\\"\\n\\\\",b="2"} 3', "x_total 1", "# HELP y level", "# TYPE y gauge", "y 3.5", ""].join("\n"));
  });

  it("counts through a series resolved once for fixed labels, into the same series as inc(labels)", () => {
    const reg = new MetricsRegistry();
    const c = reg.counter("x_total", "things");
    const fixed = c.labels({ port: "67", reason: "rate_limited" });
    expect(reg.render()).not.toContain("x_total{"); // nothing counted yet, no series
    fixed.inc();
    fixed.inc(2);
    fixed.inc(-1); // counters never go down
    c.inc({ reason: "rate_limited", port: "67" });
    expect(reg.render()).toContain('x_total{port="67",reason="rate_limited"} 4');
  });

  it("returns the same series for the same name and refuses a type clash or a bad name", () => {
    const reg = new MetricsRegistry();
    reg.counter("a_total", "a").inc();
    reg.counter("a_total", "a").inc();
    expect(reg.render()).toContain("a_total 2");
    expect(() => reg.gauge("a_total", "a")).toThrow();
    expect(() => reg.counter("bad-name", "x")).toThrow();
  });

  it("reads a function gauge at render time, so it always matches its source", () => {
    const reg = new MetricsRegistry();
    let bytes = 10;
    reg.gaugeFn("edgeboot_cache_bytes", "bytes", () => bytes);
    expect(reg.render()).toContain("edgeboot_cache_bytes 10\n");
    bytes = 4096;
    expect(reg.render()).toContain("edgeboot_cache_bytes 4096\n");
    reg.gaugeFn("edgeboot_broken", "throws", () => {
      throw new Error("x");
    });
    expect(reg.render()).toContain("edgeboot_broken 0\n");
  });
});
