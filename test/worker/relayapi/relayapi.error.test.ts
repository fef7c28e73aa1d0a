import { describe, expect, it } from "vitest";
import { worker } from "../artifacts/seed.ts";
import { seedBootableSite } from "./seed.ts";
import { freshStoragePerTest } from "../boot/seed.ts";

freshStoragePerTest();

const api = (path: string, init: RequestInit = {}) => worker.fetch(`http://api.test${path}`, init);
const post = (auth: Record<string, string>, body: string) => ({ method: "POST", body, headers: { "content-type": "application/json", ...auth } });

describe("relay API input errors", () => {
  it("refuses malformed event batches with invalid_input", async () => {
    const { relay } = await seedBootableSite("err-ev", 110);
    const now = Date.now();
    const cases = [
      {},
      { events: [] },
      { events: [{ id: "x", phase: "Bad Phase", at: now }] },
      { events: [{ id: "has space", phase: "dhcp-offer", at: now }] },
      { events: [{ id: "x", phase: "dhcp-offer", at: now, mac: "zz:zz" }] },
      { events: [{ id: "x", phase: "dhcp-offer", at: 5 }] },
      { events: [{ id: "x", phase: "dhcp-offer", at: now, detail: { big: "y".repeat(5000) } }] },
      { events: Array.from({ length: 501 }, (_, i) => ({ id: `e${i}`, phase: "dhcp-offer", at: now })) },
    ];
    for (const body of cases) {
      const res = await api("/relay/v1/events", post(relay.auth, JSON.stringify(body)));
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("invalid_input");
    }
  });

  it("refuses event bodies over the size cap with 413 and broken JSON with 400", async () => {
    const { relay } = await seedBootableSite("err-size", 120);
    const huge = await api("/relay/v1/events", post(relay.auth, JSON.stringify({ events: [], pad: "x".repeat(600 * 1024) })));
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as { error: { code: string } }).error.code).toBe("too_large");
    const broken = await api("/relay/v1/events", post(relay.auth, "{not json"));
    expect(broken.status).toBe(400);
  });

  it("answers unknown commands and malformed acks clearly", async () => {
    const { relay } = await seedBootableSite("err-ack", 130);
    expect((await api("/relay/v1/commands/nope/ack", post(relay.auth, JSON.stringify({ ok: true })))).status).toBe(404);
    expect((await api("/relay/v1/commands/nope/ack", post(relay.auth, JSON.stringify({ ok: "yes" })))).status).toBe(400);
  });

  it("answers a malformed artifact hash with invalid_input", async () => {
    const { relay } = await seedBootableSite("err-art", 140);
    const res = await api("/relay/v1/artifacts/xyz", { headers: relay.auth });
    expect(res.status).toBe(400);
  });
});
