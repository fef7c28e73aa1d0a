import { describe, expect, it } from "vitest";
import { ApiBusyError, createApiGate } from "../../relay/apiGate.ts";

describe("API request gate", () => {
  it("lets `limit` requests through, queues the rest in arrival order and hands each freed slot to the oldest", async () => {
    const gate = createApiGate({ limit: 2, maxWaitMs: 5000 });
    const a = await gate.acquire();
    const b = await gate.acquire();
    const order: string[] = [];
    const c = gate.acquire().then((r) => (order.push("c"), r));
    const d = gate.acquire().then((r) => (order.push("d"), r));
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual([]);
    expect(gate.stats()).toEqual({ active: 2, waiting: 2 });
    a();
    a(); // a second release of the same slot frees nothing more
    const releaseC = await c;
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual(["c"]);
    expect(gate.stats()).toEqual({ active: 2, waiting: 1 });
    b();
    const releaseD = await d;
    expect(order).toEqual(["c", "d"]);
    releaseC();
    releaseD();
    expect(gate.stats()).toEqual({ active: 0, waiting: 0 });
  });

  it("refuses a request that waited longer than maxWaitMs, and forgets it", async () => {
    const gate = createApiGate({ limit: 1, maxWaitMs: 100 });
    const held = await gate.acquire();
    const started = Date.now();
    await expect(gate.acquire()).rejects.toBeInstanceOf(ApiBusyError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(gate.stats()).toEqual({ active: 1, waiting: 0 });
    held();
    const again = await gate.acquire();
    expect(gate.stats()).toEqual({ active: 1, waiting: 0 });
    again();
  });
});
