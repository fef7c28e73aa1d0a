// Property/fuzz test: random and mutated packets at both parsers and at what the servers do next with a parse.
// The only throws allowed are the codecs' named errors; anything else escaping would crash a listener.
import { describe, expect, it } from "vitest";
import { concatBytes } from "../../relay/bytes.ts";
import { decodeDhcp, DhcpDecodeError, DhcpEncodeError, encodeDhcp } from "../../relay/dhcp/packet.ts";
import { buildProxyReply, type ProxyContext } from "../../relay/dhcp/proxy.ts";
import { decodeTftp, encodeTftp, TftpDecodeError } from "../../relay/tftp/packet.ts";
import { ReadTransfer } from "../../relay/tftp/transfer.ts";
import { capture, captureNames, TFTP_FIXTURES } from "./support/captures.ts";
import { readAnnotated } from "./support/golden.ts";

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 60_000); // per parser: 120,000 packets in all by default

// Seeded PRNG (mulberry32): a failure prints its seed and iteration so it can be replayed.
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(seedBytes: Uint8Array, rnd: () => number): Uint8Array {
  let b: Uint8Array = seedBytes.slice();
  const edits = 1 + Math.floor(rnd() * 8);
  for (let e = 0; e < edits; e++) {
    const kind = rnd();
    const at = Math.floor(rnd() * Math.max(1, b.length));
    if (kind < 0.45) b[at] = Math.floor(rnd() * 256); // flip a byte
    else if (kind < 0.6) b[at] = [0, 1, 0xff, 0x7f, 0x80][Math.floor(rnd() * 5)]!; // interesting values
    else if (kind < 0.75) b = b.subarray(0, at); // truncate
    else if (kind < 0.85) {
      const extra = new Uint8Array(Math.floor(rnd() * 64)).map(() => Math.floor(rnd() * 256));
      b = concatBytes([b.subarray(0, at), extra, b.subarray(at)]); // insert
    } else b = concatBytes([b, b.subarray(at, at + Math.floor(rnd() * 300))]); // duplicate a run
  }
  return b;
}

const randomBytes = (rnd: () => number, max: number) => new Uint8Array(Math.floor(rnd() * max)).map(() => Math.floor(rnd() * 256));

const ctx: ProxyContext = {
  serverIp: "10.0.0.5",
  httpBase: "http://10.0.0.5:8067",
  biosBinary: "undionly.kpxe",
  uefiBinary: "ipxe.efi",
  arm64Binary: "ipxe-arm64.efi",
  offerMode: "binl",
  offerModeOverrides: [{ prefix: "5254", mode: "pxe43" }],
  hasBinary: () => true,
};

describe("fuzz", () => {
  it(`DHCP: ${ITERATIONS} random and mutated packets, no unexpected throw`, () => {
    const seeds = captureNames().map(capture);
    expect(seeds.length).toBeGreaterThan(0);
    const rnd = prng(0xdc9);
    const counts = { decoded: 0, rejected: 0, replies: 0, encodeRefused: 0 };
    for (let i = 0; i < ITERATIONS; i++) {
      const bytes = i % 4 === 0 ? randomBytes(rnd, 700) : mutate(seeds[i % seeds.length]!, rnd);
      try {
        const req = decodeDhcp(bytes);
        counts.decoded++;
        for (const on of ["dhcp", "proxy"] as const) {
          const d = buildProxyReply(req, on, { address: "10.0.0.9", port: 68 }, ctx);
          if (d.kind !== "reply") continue;
          counts.replies++;
          try {
            decodeDhcp(encodeDhcp(d.packet)); // what we send must parse again
          } catch (err) {
            if (!(err instanceof DhcpEncodeError)) throw err;
            counts.encodeRefused++;
          }
        }
      } catch (err) {
        if (err instanceof DhcpDecodeError) counts.rejected++;
        else throw new Error(`iteration ${i}: ${(err as Error).stack}`);
      }
    }
    expect(counts.decoded).toBeGreaterThan(ITERATIONS / 10);
    expect(counts.rejected).toBeGreaterThan(ITERATIONS / 10);
    expect(counts.replies).toBeGreaterThan(100);
  });

  it(`TFTP: ${ITERATIONS} random and mutated packets, no unexpected throw, transfers stay consistent`, () => {
    const seeds = [
      readAnnotated(`${TFTP_FIXTURES}rrq-ipxe.hex`),
      readAnnotated(`${TFTP_FIXTURES}oack.hex`),
      encodeTftp({ op: "ACK", block: 1 }),
      encodeTftp({ op: "DATA", block: 2, data: new Uint8Array(40) }),
      encodeTftp({ op: "ERROR", code: 1, message: "File not found" }),
      encodeTftp({ op: "RRQ", filename: "undionly.kpxe", mode: "octet", options: [["windowsize", "8"], ["timeout", "3"]] }),
    ];
    const rnd = prng(0x7f7);
    let decoded = 0;
    let rejected = 0;
    const transfer = () => {
      const t = new ReadTransfer(1_000_000, [["blksize", "1024"], ["windowsize", "4"]], { maxBlksize: 1468, maxWindow: 16 });
      t.start(0);
      t.onPacket({ op: "ACK", block: 0 }, 1);
      return t;
    };
    let t = transfer();
    for (let i = 0; i < ITERATIONS; i++) {
      const bytes = i % 4 === 0 ? randomBytes(rnd, 600) : mutate(seeds[i % seeds.length]!, rnd);
      try {
        const p = decodeTftp(bytes);
        decoded++;
        if (p.op === "RRQ" || p.op === "WRQ") new ReadTransfer(12345, p.options, { maxBlksize: 1468, maxWindow: 64 }).start(0);
        const out = t.onPacket(p, i);
        t.onTimer(i + 10_000);
        for (const o of out) if (o.kind === "data" && o.offset + o.length > 1_000_000) throw new Error(`iteration ${i}: block past the end`);
        if (t.outcome) t = transfer();
      } catch (err) {
        if (err instanceof TftpDecodeError) rejected++;
        else throw new Error(`iteration ${i}: ${(err as Error).stack}`);
      }
    }
    expect(decoded).toBeGreaterThan(ITERATIONS / 4);
    expect(rejected).toBeGreaterThan(ITERATIONS / 20);
  });
});
