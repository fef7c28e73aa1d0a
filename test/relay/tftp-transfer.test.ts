import { describe, expect, it } from "vitest";
import { decodeTftp, type TftpPacket } from "../../relay/tftp/packet.ts";
import { negotiate, ReadTransfer, type TransferOutput } from "../../relay/tftp/transfer.ts";

const limits = { maxBlksize: 1468, maxWindow: 64 };
const ack = (block: number): TftpPacket => ({ op: "ACK", block });
const blocks = (out: TransferOutput[]) => out.filter((o) => o.kind === "data").map((o) => (o.kind === "data" ? o.block : -1));
const packets = (out: TransferOutput[]) => out.filter((o) => o.kind === "packet").map((o) => (o.kind === "packet" ? decodeTftp(o.bytes) : null));

describe("option negotiation (RFC 2347/2348/2349/7440)", () => {
  it("accepts, clamps or ignores each option and echoes the client's spelling", () => {
    expect(negotiate([["BLKSIZE", "1432"], ["TSize", "0"]], 1000, limits)).toEqual({ blksize: 1432, windowsize: 1, timeoutMs: null, oack: [["BLKSIZE", "1432"], ["TSize", "1000"]] });
    expect(negotiate([["blksize", "65464"]], 1, limits).blksize).toBe(1468); // clamped to the MTU limit
    expect(negotiate([["blksize", "8"]], 1, limits).blksize).toBe(8);
    for (const bad of ["7", "65465", "abc", "", "-1", "1e3"]) expect(negotiate([["blksize", bad]], 1, limits)).toMatchObject({ blksize: 512, oack: null });
    expect(negotiate([["timeout", "0"]], 1, limits).oack).toBeNull();
    expect(negotiate([["timeout", "256"]], 1, limits).oack).toBeNull();
    expect(negotiate([["timeout", "3"]], 1, limits)).toMatchObject({ timeoutMs: 3000, oack: [["timeout", "3"]] });
    expect(negotiate([["windowsize", "100"]], 1, limits)).toMatchObject({ windowsize: 64, oack: [["windowsize", "64"]] });
    expect(negotiate([["windowsize", "0"]], 1, limits).oack).toBeNull();
    expect(negotiate([["multicast", ""], ["foo", "1"]], 1, limits).oack).toBeNull(); // unknown: not in the OACK
    expect(negotiate([["blksize", "1024"], ["BlkSize", "600"]], 1, limits).blksize).toBe(1024); // first wins
  });
});

describe("lock-step transfer", () => {
  it("without options sends DATA 1 first and ends with a short block", () => {
    const t = new ReadTransfer(1000, [], limits);
    expect(blocks(t.start(0))).toEqual([1]);
    expect(blocks(t.onPacket(ack(1), 1))).toEqual([2]);
    expect(t.outcome).toBeNull();
    expect(t.onPacket(ack(2), 2)).toEqual([]);
    expect(t.outcome).toEqual({ ok: true, bytes: 1000, retransmits: 0 });
  });

  it("with options sends the OACK, waits for ACK 0, then DATA 1", () => {
    const t = new ReadTransfer(100, [["tsize", "0"]], limits);
    expect(packets(t.start(0))).toEqual([{ op: "OACK", options: [["tsize", "100"]] }]);
    expect(t.onPacket(ack(1), 1)).toEqual([]); // not the ACK for the OACK
    expect(blocks(t.onPacket(ack(0), 2))).toEqual([1]);
  });

  it("never resends on a duplicate ACK (no Sorcerer's Apprentice), only on its timer", () => {
    const t = new ReadTransfer(5000, [], limits);
    t.start(0);
    expect(blocks(t.onPacket(ack(1), 10))).toEqual([2]);
    expect(t.onPacket(ack(1), 11)).toEqual([]); // duplicate
    expect(t.onPacket(ack(1), 12)).toEqual([]);
    expect(t.onPacket(ack(9), 13)).toEqual([]); // not sent yet
    const deadline = t.deadline!;
    expect(t.onTimer(deadline - 1)).toEqual([]);
    const again = t.onTimer(deadline);
    expect(blocks(again)).toEqual([2]);
    expect(again[0]).toMatchObject({ retransmit: true });
  });

  it("backs off exponentially and gives up with an ERROR after the last retry", () => {
    const t = new ReadTransfer(5000, [], { ...limits, initialRtoMs: 100, maxRtoMs: 1000, maxRetries: 3 });
    t.start(0);
    const gaps: number[] = [];
    let now = 0;
    for (let i = 0; i < 3; i++) {
      const d = t.deadline!;
      gaps.push(d - now);
      now = d;
      expect(blocks(t.onTimer(now))).toEqual([1]);
    }
    expect(gaps).toEqual([100, 200, 400]);
    const last = t.onTimer(t.deadline!);
    expect(packets(last)).toEqual([{ op: "ERROR", code: 0, message: "transfer timed out" }]);
    expect(t.outcome).toMatchObject({ ok: false, reason: "timeout", bytes: 0 });
  });

  it("uses the client's timeout option as the first retransmission timeout and the ceiling, adapting below it", () => {
    const t = new ReadTransfer(50_000, [["timeout", "2"]], limits);
    t.start(0);
    expect(t.deadline).toBe(2000); // before any RTT sample
    t.onPacket(ack(0), 1); // RTT 1 ms: the timer drops to the 200 ms floor
    expect(t.deadline).toBe(201);
    let now = 201;
    const gaps: number[] = [];
    for (let i = 0; i < 5; i++) {
      t.onTimer(now);
      gaps.push(t.deadline! - now);
      now = t.deadline!;
    }
    expect(gaps).toEqual([400, 800, 1600, 2000, 2000]);
  });

  it("leaves tsize out of the OACK for an empty file (curl rejects tsize 0)", () => {
    expect(negotiate([["tsize", "0"], ["blksize", "1024"]], 0, limits).oack).toEqual([["blksize", "1024"]]);
  });

  it("ends a file that is an exact multiple of blksize with an empty block", () => {
    const t = new ReadTransfer(1024, [], limits);
    const first = t.start(0);
    expect(first).toMatchObject([{ block: 1, offset: 0, length: 512 }]);
    expect(t.onPacket(ack(1), 1)).toMatchObject([{ block: 2, offset: 512, length: 512 }]);
    expect(t.onPacket(ack(2), 2)).toMatchObject([{ block: 3, offset: 1024, length: 0 }]);
    t.onPacket(ack(3), 3);
    expect(t.outcome).toMatchObject({ ok: true, bytes: 1024 });
  });

  it("sends a zero-byte file as one empty block", () => {
    const t = new ReadTransfer(0, [], limits);
    expect(t.start(0)).toMatchObject([{ block: 1, length: 0 }]);
    t.onPacket(ack(1), 1);
    expect(t.outcome).toMatchObject({ ok: true, bytes: 0 });
  });

  it("wraps block numbers past 65535", () => {
    const size = 70_000 * 8;
    const t = new ReadTransfer(size, [["blksize", "8"]], limits);
    t.start(0);
    let out = t.onPacket(ack(0), 0);
    let n = 0;
    while (!t.outcome && n < 80_000) {
      const last = out.at(-1);
      if (!last || last.kind !== "data") throw new Error("expected data");
      out = t.onPacket(ack(last.wireBlock), n++);
      if (last.block === 65536) expect(last.wireBlock).toBe(0);
    }
    expect(t.outcome).toMatchObject({ ok: true, bytes: size });
    expect(t.lastBlock).toBe(70_001);
  });

  it("treats a client ERROR after the OACK as a stop (EDK2's tsize probe), not a timeout", () => {
    const t = new ReadTransfer(100, [["tsize", "0"]], limits);
    t.start(0);
    expect(t.onPacket({ op: "ERROR", code: 8, message: "User aborted" }, 1)).toEqual([]);
    expect(t.outcome).toMatchObject({ ok: false, reason: "client_error", afterOack: true, code: 8 });
    expect(t.deadline).toBeNull();
  });

  it("resends the first packet for a repeated RRQ until the client acknowledges something", () => {
    const t = new ReadTransfer(5000, [["blksize", "1024"]], limits);
    t.start(0);
    expect(packets(t.restart(1))).toMatchObject([{ op: "OACK" }]);
    t.onPacket(ack(0), 2);
    t.onPacket(ack(1), 3);
    expect(t.restart(4)).toEqual([]);
  });
});

describe("windowed transfer (RFC 7440)", () => {
  it("sends a window, slides on the window's last ACK, and goes back N after a mid-window ACK", () => {
    const t = new ReadTransfer(512 * 20, [["windowsize", "4"]], limits);
    t.start(0);
    expect(blocks(t.onPacket(ack(0), 1))).toEqual([1, 2, 3, 4]);
    expect(blocks(t.onPacket(ack(4), 2))).toEqual([5, 6, 7, 8]);
    // Block 6 was lost: the client acknowledges 5, so 6.. are sent again.
    const back = t.onPacket(ack(5), 3);
    expect(blocks(back)).toEqual([6, 7, 8, 9]);
    expect(back[0]).toMatchObject({ retransmit: true });
    expect(t.onPacket(ack(5), 4)).toEqual([]); // a duplicate of that ACK changes nothing
    // On a timeout the window from the oldest unacknowledged block goes again.
    expect(blocks(t.onTimer(t.deadline!))).toEqual([6, 7, 8, 9]);
    expect(blocks(t.onPacket(ack(9), 5))).toEqual([10, 11, 12, 13]);
  });

  it("finishes when the final (short) block of a window is acknowledged", () => {
    const t = new ReadTransfer(512 * 3 + 10, [["windowsize", "8"]], limits);
    t.start(0);
    expect(blocks(t.onPacket(ack(0), 1))).toEqual([1, 2, 3, 4]);
    t.onPacket(ack(4), 2);
    expect(t.outcome).toMatchObject({ ok: true, bytes: 512 * 3 + 10 });
  });
});
