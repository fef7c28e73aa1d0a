import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

describe("worker entry", () => {
  it("answers health checks", async () => {
    const res = await (exports as any).default.fetch("http://api.test/healthz");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("ok\n");
  });
  it("answers unknown routes with the JSON error shape", async () => {
    const res = await (exports as any).default.fetch("http://api.test/nope");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: "not_found", message: "no such route", details: null } });
  });
});
