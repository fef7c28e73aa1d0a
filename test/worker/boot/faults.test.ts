// D1 failures on the boot path, injected into the real D1 binding: one request's failed bookkeeping batch never
// drops another request's writes (each request writes its own batch in its own waitUntil), a failed batch is retried
// once and then logged with the request's id, and a chain that cannot reach D1 answers 503 with a script that waits
// and chains again.
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, eventsOf, freshStoragePerTest, hostRow, seedHost, seedImage, seedProfile, seedSite } from "./seed.ts";

freshStoragePerTest();

const MAC_A = "52:54:00:fa:00:01";
const MAC_B = "52:54:00:fa:00:02";

type Bound = { sql: string; params: unknown[] };

// The real binding, with a switch that fails chosen batches or reads the way D1 reports errors (a thrown Error).
function faultyD1(opts: { failBatch?: (statements: Bound[], attempt: number) => boolean; failRead?: (sql: string) => boolean }) {
  const real = env.DB;
  const bound = new WeakMap<object, { real: D1PreparedStatement; sql: string; params: unknown[] }>();
  const log = { batches: [] as { statements: Bound[]; failed: boolean }[] };
  let attempts = 0;
  const wrap = (stmt: D1PreparedStatement, sql: string, params: unknown[]): D1PreparedStatement => {
    const proxy = new Proxy(stmt, {
      get(target, key) {
        const value = Reflect.get(target, key, target);
        if (key === "bind") return (...args: unknown[]) => wrap(value.apply(target, args), sql, args);
        if (["all", "first", "run", "raw"].includes(String(key))) {
          return (...args: unknown[]) => {
            if (opts.failRead?.(sql)) return Promise.reject(new Error("D1_ERROR: injected read failure"));
            return value.apply(target, args);
          };
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    bound.set(proxy, { real: stmt, sql, params });
    return proxy;
  };
  const binding = new Proxy(real, {
    get(target, key) {
      const value = Reflect.get(target, key, target);
      if (key === "prepare") return (query: string) => wrap(value.call(target, query), query, []);
      if (key === "batch")
        return async (stmts: D1PreparedStatement[]) => {
          const statements = stmts.map((s) => bound.get(s as object) ?? { sql: "?", params: [] });
          const failed = opts.failBatch?.(statements, attempts++) ?? false;
          log.batches.push({ statements, failed });
          if (failed) throw new Error("D1_ERROR: injected batch failure");
          return value.call(target, stmts.map((s) => bound.get(s as object)?.real ?? s));
        };
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { bindings: { ...(env as unknown as Record<string, unknown>), DB: binding }, log };
}

const mentions = (statements: Bound[], value: string) => statements.some((s) => s.params.includes(value));

afterEach(() => vi.restoreAllMocks());

describe("bookkeeping writes are per request", () => {
  it("a failed batch of one request loses only that request's writes; a concurrent request's events land", async () => {
    const site = await seedSite({ slug: "lab", unknownHostPolicy: "discover" });
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    // Every batch carrying MAC A fails (first attempt and retry).
    const { bindings, log } = faultyD1({ failBatch: (s) => mentions(s, MAC_A) });
    const [a, b] = await Promise.all([call(`/boot/lab/ipxe?mac=${MAC_A}`, {}, bindings), call(`/boot/lab/ipxe?mac=${MAC_B}`, {}, bindings)]);
    // The machines were answered either way (bookkeeping is after the response).
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    const events = await eventsOf(site.id);
    expect(events.map((e) => [e.phase, e.mac])).toEqual([["discovered", MAC_B]]);
    // A's batch was tried twice, never folded with B's.
    const withA = log.batches.filter((x) => mentions(x.statements, MAC_A));
    expect(withA).toHaveLength(2);
    expect(withA.every((x) => !mentions(x.statements, MAC_B))).toBe(true);
    // Logged once, after the retry, with the request's id.
    const lines = errors.mock.calls.map((c) => String(c[0]));
    expect(lines.filter((l) => /boot bookkeeping lost after a retry \(chain, request [0-9a-f-]{36}, \d+ statements\)/.test(l))).toHaveLength(1);
  });

  it("a batch that fails once is retried and lands", async () => {
    const site = await seedSite({ slug: "lab", unknownHostPolicy: "discover" });
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    let failedOnce = false;
    const { bindings } = faultyD1({ failBatch: () => (failedOnce ? false : (failedOnce = true)) });
    expect((await call(`/boot/lab/ipxe?mac=${MAC_A}`, { headers: { "cf-ray": "8f00aa11bb22cc33-AMS" } }, bindings)).status).toBe(200);
    expect((await eventsOf(site.id)).map((e) => e.phase)).toEqual(["discovered"]);
    expect(errors).not.toHaveBeenCalled();
  });

  it("a lost batch is logged with the request's cf-ray id", async () => {
    await seedSite({ slug: "lab", unknownHostPolicy: "discover" });
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const { bindings } = faultyD1({ failBatch: () => true });
    await call(`/boot/lab/ipxe?mac=${MAC_A}`, { headers: { "cf-ray": "8f00aa11bb22cc33-AMS" } }, bindings);
    expect(errors.mock.calls.map((c) => String(c[0])).some((l) => l.includes("request 8f00aa11bb22cc33-AMS"))).toBe(true);
  });
});

describe("D1 errors on the chain path", () => {
  async function lab() {
    const site = await seedSite({ slug: "lab" });
    await seedImage({ name: "os" });
    await seedProfile({ name: "p", image: "os" });
    await seedHost({ id: "host-a", siteId: site.id, hostname: "node-a", mac: MAC_A, profileId: "prf-p" });
    return site;
  }

  const expectRetryScript = (res: { status: number; headers: Headers; body: string }) => {
    expect(res.status).toBe(503);
    expect(res.headers.get("edgeboot-error")).toBe("unavailable");
    expect(res.headers.get("retry-after")).toBe("10");
    expect(res.body).toMatch(/^#!ipxe\n/);
    expect(res.body).toContain("sleep 10\n");
    // The same request again, relative to the script's own URL (works through the relay and directly).
    expect(res.body).toContain(`chain --replace --autofree ?mac=${encodeURIComponent(MAC_A)}&arch=x86_64 || goto wait`);
  };

  it("the chain read failing: 503 with a script that waits and chains again", async () => {
    await lab();
    vi.spyOn(console, "error").mockImplementation(() => {});
    const { bindings } = faultyD1({ failRead: (sql) => /from "sites"|from sites/i.test(sql) });
    expectRetryScript(await call(`/boot/lab/ipxe?mac=${MAC_A}&arch=x86_64`, {}, bindings));
  });

  it("the boot session write failing: 503 retry, and no token handed out that names a missing session", async () => {
    const site = await lab();
    vi.spyOn(console, "error").mockImplementation(() => {});
    const { bindings } = faultyD1({ failBatch: (s) => s.some((x) => /insert into boot_sessions/.test(x.sql)) });
    const res = await call(`/boot/lab/ipxe?mac=${MAC_A}&arch=x86_64`, {}, bindings);
    expectRetryScript(res);
    expect(res.body).not.toContain("/boot/h/");
    // Nothing half-written: no event, the host untouched.
    expect(await eventsOf(site.id)).toEqual([]);
    expect((await hostRow("host-a"))!.state).toBe("ready");
    // D1 back: the same request boots.
    expect((await call(`/boot/lab/ipxe?mac=${MAC_A}&arch=x86_64`)).status).toBe(200);
  });
});

describe("D1 errors behind a host token", () => {
  it("the session read failing is a 503 unavailable (clients retry), not a 500", async () => {
    const site = await seedSite({ slug: "lab", secretDelivery: "open" });
    await seedImage({ name: "os" });
    await seedProfile({ name: "p", image: "os" });
    await seedHost({ id: "host-a", siteId: site.id, hostname: "node-a", mac: MAC_A, profileId: "prf-p" });
    const token = (await call(`/boot/lab/ipxe?mac=${MAC_A}`)).body.match(/\/boot\/h\/([^/]+)\//)![1]!;
    vi.spyOn(console, "error").mockImplementation(() => {});
    const { bindings } = faultyD1({ failRead: (sql) => /from boot_sessions/.test(sql) });
    const res = await call(`/boot/h/${token}/nocloud/meta-data`, {}, bindings);
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body).error.code).toBe("unavailable");
    expect((await call(`/boot/h/${token}/nocloud/meta-data`)).status).toBe(200);
  });
});

describe("D1 errors on a secret-bearing file under once", () => {
  it("a failed claim is a 503 and leaves the file unserved, so the retry gets it", async () => {
    const site = await seedSite({ slug: "lab" });
    await seedImage({ name: "os" });
    await seedProfile({ name: "p", image: "os", userData: "#cloud-config\nruncmd: [true]\n" });
    await seedHost({ id: "host-a", siteId: site.id, hostname: "node-a", mac: MAC_A, profileId: "prf-p" });
    const token = (await call(`/boot/lab/ipxe?mac=${MAC_A}`)).body.match(/\/boot\/h\/([^/]+)\//)![1]!;
    vi.spyOn(console, "error").mockImplementation(() => {});
    const { bindings } = faultyD1({ failRead: (sql) => /update boot_sessions set served/.test(sql) });
    const failed = await call(`/boot/h/${token}/nocloud/user-data`, {}, bindings);
    expect(failed.status).toBe(503);
    expect(failed.body).not.toContain("runcmd");
    const retry = await call(`/boot/h/${token}/nocloud/user-data`);
    expect(retry.status).toBe(200);
    expect(retry.body).toContain("runcmd");
  });
});
