import { appendFile, mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ApiError, type QueuedEvent } from "../../relay/sync/api.ts";
import { EventQueue } from "../../relay/sync/queue.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgeboot-queue-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function openQueue(opts: { maxBytes?: number; segmentMaxBytes?: number; flushDelayMs?: number; log?: { info(): void; warn(msg: string): void } } = {}) {
  const q = new EventQueue({ dir, ...opts });
  await q.open();
  return q;
}

const collect = () => {
  const batches: QueuedEvent[][] = [];
  return { batches, send: async (b: QueuedEvent[]) => void batches.push(b), all: () => batches.flat() };
};

describe("relay event queue", () => {
  it("keeps events on disk until delivered, then removes them", async () => {
    const q = await openQueue();
    q.emit({ phase: "dhcp-offer", mac: "52-54-00-00-00-01", detail: { arch: 7 } });
    q.emit({ phase: "tftp-sent", at: 1_800_000_000_000 });
    await q.flush();
    expect(await q.backlog()).toBe(2);
    const sink = collect();
    expect(await q.deliver(sink.send)).toBe(2);
    expect(sink.all()).toEqual([
      { id: expect.any(String), phase: "dhcp-offer", at: expect.any(Number), mac: "52:54:00:00:00:01", detail: { arch: 7 } },
      { id: expect.any(String), phase: "tftp-sent", at: 1_800_000_000_000 },
    ]);
    expect(new Set(sink.all().map((e) => e.id)).size).toBe(2);
    expect(await q.backlog()).toBe(0);
    expect(await readdir(dir)).toEqual([]);
    await q.close();
  });

  it("survives a restart, ignoring a line torn by a crash", async () => {
    const q1 = await openQueue();
    for (let i = 0; i < 3; i++) q1.emit({ phase: "dhcp-offer", detail: { i } });
    await q1.flush();
    // The process dies: no close(). A half-written line is left at the end of the segment.
    const [segment] = await readdir(dir);
    await appendFile(join(dir, segment!), '{"id":"torn","pha');
    const q2 = await openQueue();
    q2.emit({ phase: "after-restart" });
    const sink = collect();
    await q2.deliver(sink.send);
    expect(sink.all().map((e) => e.detail?.i ?? e.phase)).toEqual([0, 1, 2, "after-restart"]);
    await q2.close();
    await q1.close(); // only to release the "crashed" queue's file handle
  });

  it("keeps everything when the API is unavailable, and delivers the same events later", async () => {
    const q = await openQueue();
    for (let i = 0; i < 5; i++) q.emit({ phase: "cache-hit", detail: { i } });
    let calls = 0;
    await expect(
      q.deliver(async () => {
        calls++;
        throw new ApiError("unavailable", null, "connection refused");
      }),
    ).rejects.toThrow(/connection refused/);
    expect(calls).toBe(1);
    expect(await q.backlog()).toBe(5);
    const sink = collect();
    await q.deliver(sink.send);
    expect(sink.all().map((e) => e.detail?.i)).toEqual([0, 1, 2, 3, 4]);
    await q.close();
  });

  it("drops a batch the API rejects as malformed instead of blocking the queue", async () => {
    const q = await openQueue({ segmentMaxBytes: 1 });
    q.emit({ phase: "first" });
    await q.flush();
    q.emit({ phase: "second" });
    await q.flush();
    const sent: string[] = [];
    await q.deliver(async (batch) => {
      if (batch[0]!.phase === "first") throw new ApiError("rejected", 400, "invalid_input");
      sent.push(...batch.map((e) => e.phase));
    });
    expect(sent).toEqual(["second"]);
    expect(q.droppedEvents).toBe(1);
    expect(await q.backlog()).toBe(0);
    await q.close();
  });

  it("sends batches within the API's limits and shapes odd events to what it accepts", async () => {
    const q = await openQueue();
    for (let i = 0; i < 1201; i++) q.emit({ phase: "DHCP Offer!", mac: "not-a-mac", detail: { blob: "x".repeat(i === 0 ? 10_000 : 10) } });
    const sink = collect();
    await q.deliver(sink.send);
    expect(sink.batches.map((b) => b.length)).toEqual([500, 500, 201]);
    const first = sink.batches[0]![0]!;
    expect(first.phase).toBe("dhcp-offer-");
    expect(first.mac).toBeUndefined();
    expect(first.detail).toMatchObject({ truncated: true });
    expect(JSON.stringify(first.detail).length).toBeLessThanOrEqual(4096);
    await q.close();
  });

  it("stays within its byte cap by dropping the oldest segments", async () => {
    const q = await openQueue({ maxBytes: 4096, segmentMaxBytes: 1024 });
    for (let i = 0; i < 200; i++) {
      q.emit({ phase: "cache-hit", detail: { i, pad: "y".repeat(40) } });
      if (i % 10 === 9) await q.flush();
    }
    await q.flush();
    expect(q.droppedEvents).toBeGreaterThan(0);
    const sink = collect();
    await q.deliver(sink.send);
    const kept = sink.all().map((e) => e.detail!.i as number);
    expect(kept.at(-1)).toBe(199);
    expect(kept.length + q.droppedEvents).toBe(200);
    await q.close();
  });

  it("writes events in one group commit per window, without being asked", async () => {
    const q = await openQueue({ flushDelayMs: 20 });
    for (let i = 0; i < 3; i++) q.emit({ phase: "dhcp-offer", detail: { i } });
    expect(await readdir(dir)).toEqual([]); // nothing written per event
    await new Promise((r) => setTimeout(r, 150));
    const files = await readdir(dir);
    expect(files).toHaveLength(1);
    const lines = (await readFile(join(dir, files[0]!), "utf8")).trim().split("\n");
    expect(lines.map((l) => JSON.parse(l).detail.i)).toEqual([0, 1, 2]);
    await q.close();
  });

  it("keeps events in memory when the disk refuses them, and writes them once it can", async () => {
    const warnings: string[] = [];
    const q = await openQueue({ flushDelayMs: 10, log: { info() {}, warn: (msg: string) => void warnings.push(msg) } });
    await rm(dir, { recursive: true, force: true }); // every write now fails (ENOENT)
    q.emit({ phase: "first" });
    await new Promise((r) => setTimeout(r, 60)); // the timer's commit fails: a warning, never an unhandled rejection
    expect(warnings.some((w) => w.includes("cannot write relay events"))).toBe(true);
    q.emit({ phase: "second" });
    await expect(q.flush()).rejects.toThrow();
    await mkdir(dir, { recursive: true });
    await q.flush();
    const sink = collect();
    await q.deliver(sink.send);
    expect(sink.all().map((e) => e.phase)).toEqual(["first", "second"]);
    await q.close();
  });
});
