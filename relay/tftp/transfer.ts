// One TFTP read transfer as a pure state machine: packets and clock ticks in, packets to send out. It never touches
// a socket or the file: DATA outputs name a block (offset, length) and the server reads the bytes.
// Implements RFC 1350 (lock-step), RFC 2347 (OACK), RFC 2348 (blksize), RFC 2349 (tsize, timeout) and RFC 7440
// (windowsize, go-back-N), with the RFC 1123 §4.2.3.1 rule: "must never resend the current DATA packet on receipt
// of a duplicate ACK" (no Sorcerer's Apprentice). Retransmission is on the timer only, with exponential backoff.
import { ERR, MAX_BLKSIZE, encodeTftp, type TftpOption, type TftpPacket } from "./packet.ts";

export type TransferLimits = {
  maxBlksize: number; // path MTU - 32 (IP + UDP + TFTP headers); 1468 for a 1500-byte MTU
  maxWindow: number;
  initialRtoMs?: number; // before any RTT sample
  minRtoMs?: number;
  maxRtoMs?: number;
  maxRetries?: number;
};

// The window is capped well below 32768 so a 16-bit ACK number always maps to exactly one block in flight.
export const WINDOW_CAP = 1024;
const DEFAULTS = { initialRtoMs: 1000, minRtoMs: 200, maxRtoMs: 5000, maxRetries: 5 };

export type Negotiated = {
  blksize: number;
  windowsize: number;
  timeoutMs: number | null; // the client's RFC 2349 timeout: the first retransmission timeout and the ceiling
  oack: TftpOption[] | null; // null: no option accepted, so DATA 1 goes out first (RFC 2347)
};

const DIGITS = /^\d{1,10}$/;

// RFC 2347: option names are case-insensitive; the OACK lists only accepted options, echoing the client's spelling.
export function negotiate(options: TftpOption[], size: number, limits: Pick<TransferLimits, "maxBlksize" | "maxWindow">): Negotiated {
  const seen = new Set<string>();
  const oack: TftpOption[] = [];
  let blksize = 512;
  let windowsize = 1;
  let timeoutMs: number | null = null;
  for (const [name, value] of options) {
    const key = name.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    if (!DIGITS.test(value)) continue; // non-numeric values: ignore the option rather than refuse the file
    const n = Number(value);
    if (key === "tsize" && size === 0) continue; // curl 7.88 rejects "tsize 0" in an OACK; an empty file needs no size
    if (key === "blksize" && n >= 8 && n <= MAX_BLKSIZE) {
      // RFC 2348: the server may answer with a smaller size; never more than the path MTU allows.
      blksize = Math.min(n, Math.max(8, Math.min(limits.maxBlksize, MAX_BLKSIZE)));
      oack.push([name, String(blksize)]);
    } else if (key === "tsize") {
      oack.push([name, String(size)]); // RFC 2349: the RRQ carries 0, the OACK the size in bytes
    } else if (key === "timeout" && n >= 1 && n <= 255) {
      timeoutMs = n * 1000;
      oack.push([name, value]);
    } else if (key === "windowsize" && n >= 1 && n <= 65535) {
      windowsize = Math.min(n, Math.max(1, Math.min(limits.maxWindow, WINDOW_CAP)));
      oack.push([name, String(windowsize)]);
    }
  }
  return { blksize, windowsize, timeoutMs, oack: oack.length > 0 ? oack : null };
}

export type TransferOutput =
  | { kind: "data"; block: number; wireBlock: number; offset: number; length: number; retransmit: boolean }
  | { kind: "packet"; bytes: Uint8Array };

export type TransferOutcome =
  | { ok: true; bytes: number; retransmits: number }
  | { ok: false; reason: "timeout"; bytes: number; retransmits: number }
  | { ok: false; reason: "client_error"; code: number; message: string; afterOack: boolean; bytes: number; retransmits: number };

export class ReadTransfer {
  readonly size: number;
  readonly negotiated: Negotiated;
  readonly lastBlock: number; // the final block is shorter than blksize, possibly empty
  #phase: "new" | "oack" | "data" | "done" = "new";
  #base = 1; // lowest unacknowledged block
  #next = 1; // next block to send
  #retries = 0;
  #retransmits = 0;
  #rto: number;
  #srtt: number | null = null;
  #rttvar = 0;
  #timed: { block: number; at: number } | null = null; // Karn: only blocks sent once give RTT samples
  #deadline: number | null = null;
  #outcome: TransferOutcome | null = null;
  readonly #limits: Required<TransferLimits>;

  constructor(size: number, options: TftpOption[], limits: TransferLimits) {
    this.size = size;
    this.negotiated = negotiate(options, size, limits);
    // RFC 2349's timeout is honoured as the first retransmission timeout and never exceeded; below it the timer
    // adapts to the measured RTT, so one lost packet on a LAN costs milliseconds, not the client's 5 seconds.
    const ceiling = this.negotiated.timeoutMs;
    this.#limits = { ...DEFAULTS, ...limits, ...(ceiling ? { initialRtoMs: ceiling, maxRtoMs: ceiling, minRtoMs: Math.min(limits.minRtoMs ?? DEFAULTS.minRtoMs, ceiling) } : {}) };
    this.lastBlock = Math.floor(size / this.negotiated.blksize) + 1;
    this.#rto = this.#limits.initialRtoMs;
  }

  get deadline(): number | null {
    return this.#deadline;
  }
  get outcome(): TransferOutcome | null {
    return this.#outcome;
  }
  // True once the client acknowledged anything: a repeated RRQ after that is a stale duplicate.
  get progressed(): boolean {
    return this.#phase === "data" && this.#base > 1;
  }

  start(now: number): TransferOutput[] {
    if (this.#phase !== "new") return [];
    if (this.negotiated.oack) {
      this.#phase = "oack";
      this.#timed = { block: 0, at: now };
      this.#deadline = now + this.#rto;
      return [{ kind: "packet", bytes: encodeTftp({ op: "OACK", options: this.negotiated.oack }) }];
    }
    this.#phase = "data";
    return this.#sendWindow(now, false);
  }

  // The first packet again, for a retransmitted RRQ from the same client port before it acknowledged anything.
  restart(now: number): TransferOutput[] {
    if (this.progressed || this.#phase === "done") return [];
    this.#phase = "new";
    this.#base = this.#next = 1;
    this.#timed = null;
    return this.start(now);
  }

  onPacket(packet: TftpPacket, now: number): TransferOutput[] {
    if (this.#phase === "done" || this.#phase === "new") return [];
    if (packet.op === "ERROR") {
      // A client ERROR ends the transfer quietly. After an OACK it is usually a refusal or EDK2's tsize probe.
      this.#finish({
        ok: false,
        reason: "client_error",
        code: packet.code,
        message: packet.message.slice(0, 200),
        afterOack: this.#phase === "oack",
        bytes: this.#delivered(),
        retransmits: this.#retransmits,
      });
      return [];
    }
    if (packet.op !== "ACK") return [];
    if (this.#phase === "oack") {
      if (packet.block !== 0) return [];
      this.#sample(0, now);
      this.#phase = "data";
      this.#retries = 0;
      return this.#sendWindow(now, false);
    }
    // Map the 16-bit number onto the blocks that can be acknowledged: base-1 .. next-1 (wraps past 65535).
    const k = this.#base - 1 + ((packet.block - ((this.#base - 1) & 0xffff)) & 0xffff);
    if (k > this.#next - 1) return []; // an ACK for a block not yet sent
    if (k === this.#base - 1) return []; // duplicate ACK: never resend on it (RFC 1123 §4.2.3.1)
    this.#sample(k, now);
    this.#base = k + 1;
    this.#retries = 0;
    if (k === this.lastBlock) {
      this.#finish({ ok: true, bytes: this.size, retransmits: this.#retransmits });
      return [];
    }
    // RFC 7440 go-back-N: an ACK short of the last block sent means the rest of the window was lost.
    const lost = k < this.#next - 1;
    if (lost) this.#next = k + 1;
    return this.#sendWindow(now, lost);
  }

  onTimer(now: number): TransferOutput[] {
    if (this.#deadline === null || now < this.#deadline || this.#phase === "done") return [];
    this.#retries += 1;
    if (this.#retries > this.#limits.maxRetries) {
      this.#finish({ ok: false, reason: "timeout", bytes: this.#delivered(), retransmits: this.#retransmits });
      return [{ kind: "packet", bytes: encodeTftp({ op: "ERROR", code: ERR.UNDEFINED, message: "transfer timed out" }) }];
    }
    this.#rto = Math.min(this.#rto * 2, this.#limits.maxRtoMs); // exponential backoff
    this.#timed = null;
    this.#retransmits += 1;
    if (this.#phase === "oack") {
      this.#deadline = now + this.#rto;
      return [{ kind: "packet", bytes: encodeTftp({ op: "OACK", options: this.negotiated.oack! }) }];
    }
    this.#next = this.#base;
    return this.#sendWindow(now, true);
  }

  #sendWindow(now: number, retransmit: boolean): TransferOutput[] {
    const out: TransferOutput[] = [];
    const { blksize, windowsize } = this.negotiated;
    const end = Math.min(this.#base + windowsize - 1, this.lastBlock);
    for (; this.#next <= end; this.#next++) {
      const offset = (this.#next - 1) * blksize;
      out.push({ kind: "data", block: this.#next, wireBlock: this.#next & 0xffff, offset, length: Math.max(0, Math.min(blksize, this.size - offset)), retransmit });
    }
    if (out.length > 0 && this.#timed === null && !retransmit) this.#timed = { block: this.#next - 1, at: now };
    this.#deadline = now + this.#rto;
    return out;
  }

  // RFC 6298 smoothing of the round-trip time, clamped to [minRto, maxRto].
  #sample(block: number, now: number): void {
    if (!this.#timed || block < this.#timed.block) return;
    const r = Math.max(0, now - this.#timed.at);
    this.#timed = null;
    if (this.#srtt === null) {
      this.#srtt = r;
      this.#rttvar = r / 2;
    } else {
      this.#rttvar = 0.75 * this.#rttvar + 0.25 * Math.abs(this.#srtt - r);
      this.#srtt = 0.875 * this.#srtt + 0.125 * r;
    }
    this.#rto = Math.min(this.#limits.maxRtoMs, Math.max(this.#limits.minRtoMs, this.#srtt + 4 * this.#rttvar));
  }

  #delivered(): number {
    return Math.min(this.size, Math.max(0, (this.#base - 1) * this.negotiated.blksize));
  }

  #finish(outcome: TransferOutcome): void {
    this.#phase = "done";
    this.#deadline = null;
    this.#outcome = outcome;
  }
}
