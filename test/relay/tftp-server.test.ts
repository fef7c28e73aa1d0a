import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BinaryCatalog } from "../../relay/binaries.ts";
import { decodeTftp, encodeTftp } from "../../relay/tftp/packet.ts";
import { startTftpServer, WAIT_STALE_MS, type TftpServer } from "../../relay/tftp/server.ts";
import { startLossyProxy } from "./support/lossyProxy.ts";
import { parts } from "./support/relayParts.ts";
import { startTftpFixture, type TftpFixture } from "./support/tftpFixture.ts";
import { tftpGet, TftpClientError } from "./support/tftpClient.ts";
import { UdpPeer } from "./support/udp.ts";

const run = promisify(execFile);

let fx: TftpFixture;
let root: string;
let server: TftpServer;
let p: TftpFixture["parts"];
let files: Record<string, Buffer>;
let out: (name: string) => string;

beforeAll(async () => {
  fx = await startTftpFixture();
  ({ root, server, files, out } = fx);
  p = fx.parts;
});

afterAll(async () => {
  await fx?.close();
});

const url = (name: string) => `tftp://127.0.0.1:${server.port}/${name}`;

// A raw RRQ/WRQ from a fresh socket; returns the first reply.
async function rawRequest(op: "RRQ" | "WRQ", filename: string, options: Array<[string, string]> = [], mode = "octet") {
  const peer = await UdpPeer.bind();
  try {
    await peer.send(encodeTftp({ op, filename, mode, options }), server.port);
    const got = await peer.next(2000);
    return got ? { packet: decodeTftp(new Uint8Array(got.msg)), from: got.rinfo.port } : null;
  } finally {
    await peer.close();
  }
}

describe("real TFTP clients fetch files byte for byte", () => {
  it.each([512, 1468, 1024, 8])("curl with --tftp-blksize %i", async (blksize) => {
    const name = blksize === 8 ? "small.bin" : "big.bin";
    const dest = out(name);
    await run("curl", ["-sS", "--fail", "--max-time", "20", "--tftp-blksize", String(blksize), "-o", dest, url(name)]);
    expect(readFileSync(dest).equals(files[name]!)).toBe(true);
  });

  it.each(["exact.bin", "empty.bin", "sub/nested.bin", "alias.bin"])("curl fetches %s", async (name) => {
    const dest = out("x");
    await run("curl", ["-sS", "--fail", "--max-time", "20", "-o", dest, url(name)]);
    expect(readFileSync(dest).equals(name === "alias.bin" ? files["small.bin"]! : files[name]!)).toBe(true);
  });

  it("a windowsize client (RFC 7440) with windowsize 8 and 64", async () => {
    for (const w of ["8", "64"]) {
      const r = await tftpGet({ port: server.port, file: "big.bin", options: [["blksize", "1468"], ["windowsize", w], ["tsize", "0"]] });
      expect(r.data.equals(files["big.bin"]!)).toBe(true);
      expect(r.oack).toEqual([["blksize", "1468"], ["windowsize", w], ["tsize", String(1024 * 1024)]]);
      expect(r.acks).toBeLessThan(Math.ceil((1024 * 1024) / 1468 / Number(w)) + 3);
    }
  });

  it("twenty concurrent transfers", async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        i % 2 === 0
          ? tftpGet({ port: server.port, file: "big.bin", options: [["blksize", "1468"], ["windowsize", "8"]] }).then((r) => r.data)
          : run("curl", ["-sS", "--fail", "--max-time", "30", "--tftp-blksize", "1468", "-o", out(`c${i}`), url("big.bin")]).then(() => null),
      ),
    );
    for (const data of results) if (data) expect(data.equals(files["big.bin"]!)).toBe(true);
  });
});

describe("what the server refuses", () => {
  it("refuses path traversal, symlink escapes and odd names with TFTP errors", async () => {
    const cases: Array<[string, number]> = [
      ["../outside/secret", 2],
      ["sub/../../outside/secret", 2],
      ["..\\outside\\secret", 2],
      ["escape", 2], // symlink out of the root
      ["passwd", 2], // symlink to /etc/passwd
      ["%2e%2e/outside/secret", 2],
      ["caf\u00e9.bin", 2],
      [".hidden", 2],
      ["/etc/passwd", 1], // means <root>/etc/passwd, which does not exist
      ["missing.bin", 1],
    ];
    for (const [name, code] of cases) {
      const reply = await rawRequest("RRQ", name);
      expect(reply?.packet, name).toMatchObject({ op: "ERROR", code });
      expect(reply!.from, "errors come from a transfer port, not 69").not.toBe(server.port);
    }
    const empty = await rawRequest("RRQ", "");
    expect(empty?.packet).toMatchObject({ op: "ERROR", code: 2 });
  });

  it("curl gets the error too", async () => {
    // curl 7.88 prints a confused getpeername() message for a TFTP ERROR; its exit code carries the TFTP error:
    // 69 = access violation, 68 = file not found.
    const curl = await run("curl", ["-sS", "--max-time", "5", "-o", out("e"), url("escape")]).catch((e: { code: number }) => e);
    expect((curl as { code: number }).code).toBe(69);
    const missing = await run("curl", ["-sS", "--max-time", "5", "-o", out("e"), url("missing.bin")]).catch((e: { code: number }) => e);
    expect((missing as { code: number }).code).toBe(68);
  });

  it("refuses WRQ", async () => {
    const reply = await rawRequest("WRQ", "new.bin");
    expect(reply?.packet).toMatchObject({ op: "ERROR", code: 2, message: "This server is read-only" });
    expect(() => readFileSync(join(root, "new.bin"))).toThrow();
  });

  it("refuses netascii (it would rewrite the binary's bytes)", async () => {
    const reply = await rawRequest("RRQ", "small.bin", [], "netascii");
    expect(reply?.packet).toMatchObject({ op: "ERROR", code: 4 });
  });
});

describe("protocol behaviour on real sockets", () => {
  it("answers a packet from a foreign TID with ERROR 5 and finishes the transfer", async () => {
    const client = await UdpPeer.bind();
    const intruder = await UdpPeer.bind();
    try {
      await client.send(encodeTftp({ op: "RRQ", filename: "small.bin", mode: "octet", options: [] }), server.port);
      const first = await client.next(2000);
      expect(decodeTftp(new Uint8Array(first!.msg))).toMatchObject({ op: "DATA", block: 1 });
      const tid = first!.rinfo.port;
      await intruder.send(encodeTftp({ op: "ACK", block: 1 }), tid);
      expect(decodeTftp(new Uint8Array((await intruder.next(2000))!.msg))).toMatchObject({ op: "ERROR", code: 5 });
      await client.send(encodeTftp({ op: "ACK", block: 1 }), tid);
      const second = await client.next(2000);
      expect(decodeTftp(new Uint8Array(second!.msg))).toMatchObject({ op: "DATA", block: 2 });
      expect((decodeTftp(new Uint8Array(second!.msg)) as { data: Uint8Array }).data.length).toBe(1000 - 512);
      await client.send(encodeTftp({ op: "ACK", block: 2 }), tid);
    } finally {
      await client.close();
      await intruder.close();
    }
  });

  it("answers a repeated RRQ from the same port from the same TID, once per RRQ", async () => {
    const client = await UdpPeer.bind();
    try {
      const rrq = encodeTftp({ op: "RRQ", filename: "small.bin", mode: "octet", options: [["blksize", "1024"]] });
      await client.send(rrq, server.port);
      const a = await client.next(2000);
      await client.send(rrq, server.port);
      const b = await client.next(2000);
      expect(decodeTftp(new Uint8Array(a!.msg))).toMatchObject({ op: "OACK" });
      expect(decodeTftp(new Uint8Array(b!.msg))).toMatchObject({ op: "OACK" });
      expect(b!.rinfo.port).toBe(a!.rinfo.port);
      await client.send(encodeTftp({ op: "ERROR", code: 0, message: "done" }), a!.rinfo.port);
    } finally {
      await client.close();
    }
  });

  it("a lock-step transfer survives dropped DATA and ACK packets (curl through a lossy proxy)", async () => {
    const proxy = await startLossyProxy({ serverPort: server.port, dropRate: 0.05, maxDrops: 12, seed: 7 });
    try {
      const dest = out("lossy");
      await run("curl", ["-sS", "--fail", "--max-time", "25", "--tftp-blksize", "1468", "-o", dest, `tftp://127.0.0.1:${proxy.port}/big.bin`]);
      expect(readFileSync(dest).equals(files["big.bin"]!)).toBe(true);
      expect(proxy.dropped.toServer + proxy.dropped.toClient).toBeGreaterThan(4);
    } finally {
      await proxy.close();
    }
  });

  it("a windowed transfer survives a lost block in the middle of a window", async () => {
    const dropped = new Set<number>();
    const r = await tftpGet({
      port: server.port,
      file: "big.bin",
      options: [["blksize", "1468"], ["windowsize", "8"]],
      // Lose blocks 5, 300 and 500 the first time each arrives.
      dropIncoming: (block) => [5, 300, 500].includes(block) && !dropped.has(block) && dropped.add(block) !== undefined,
    });
    expect(dropped.size).toBe(3);
    expect(r.data.equals(files["big.bin"]!)).toBe(true);
  });

  it("keeps RRQs beyond the limit waiting silently and answers the oldest one as soon as a slot frees", async () => {
    const q = parts();
    const limited = await startTftpServer({
      port: 0,
      address: "127.0.0.1",
      binaries: new BinaryCatalog(root, []),
      limits: { maxBlksize: 1468, maxWindow: 8, maxTransfers: 2 },
      log: q.log,
      metrics: q.metrics,
      events: q.sink,
    });
    const peers = await Promise.all([UdpPeer.bind(), UdpPeer.bind(), UdpPeer.bind()]);
    try {
      const firstData = [];
      for (const peer of peers.slice(0, 2)) {
        await peer.send(encodeTftp({ op: "RRQ", filename: "big.bin", mode: "octet", options: [] }), limited.port);
        const d = await peer.next(2000);
        expect(d).not.toBeNull();
        firstData.push(d!);
      }
      const rrq = encodeTftp({ op: "RRQ", filename: "big.bin", mode: "octet", options: [] });
      await peers[2]!.send(rrq, limited.port);
      // No ERROR (firmware would count it as a failed boot): nothing at all while both slots are taken.
      expect(await peers[2]!.next(1000)).toBeNull();
      expect(q.registry.render()).toMatch(/edgeboot_tftp_transfers_total\{result="busy"\} 1/);
      // The first client gives up on its transfer; the waiting client gets data without having to ask again.
      await peers[0]!.send(encodeTftp({ op: "ERROR", code: 0, message: "abort" }), firstData[0]!.rinfo.port);
      const served = await peers[2]!.next(2000);
      expect(decodeTftp(new Uint8Array(served!.msg))).toMatchObject({ op: "DATA", block: 1 });
    } finally {
      await Promise.all(peers.map((x) => x.close()));
      await limited.close();
    }
  });

  it("serves waiting RRQs in arrival order and skips a client that stopped retransmitting", async () => {
    const q = parts();
    let clock = Date.now();
    const limited = await startTftpServer({
      port: 0,
      address: "127.0.0.1",
      binaries: new BinaryCatalog(root, []),
      limits: { maxBlksize: 1468, maxWindow: 8, maxTransfers: 1 },
      log: q.log,
      metrics: q.metrics,
      events: q.sink,
      now: () => clock,
    });
    const [holder, gone, alive, late] = await Promise.all([UdpPeer.bind(), UdpPeer.bind(), UdpPeer.bind(), UdpPeer.bind()]);
    const rrq = encodeTftp({ op: "RRQ", filename: "big.bin", mode: "octet", options: [] });
    try {
      await holder.send(rrq, limited.port);
      const first = await holder.next(2000);
      expect(first).not.toBeNull();
      await gone.send(rrq, limited.port); // waits, then falls silent
      await alive.send(rrq, limited.port); // waits, and retransmits
      await late.send(rrq, limited.port); // waits behind both
      await new Promise((r) => setTimeout(r, 100));
      clock += WAIT_STALE_MS + 1000;
      await alive.send(rrq, limited.port);
      await new Promise((r) => setTimeout(r, 100));
      await holder.send(encodeTftp({ op: "ERROR", code: 0, message: "abort" }), first!.rinfo.port);
      const got = await alive.next(2000);
      expect(decodeTftp(new Uint8Array(got!.msg))).toMatchObject({ op: "DATA", block: 1 });
      expect(await gone.next(300)).toBeNull();
      expect(await late.next(300)).toBeNull(); // the one slot is taken again
      expect(q.registry.render()).toMatch(/edgeboot_tftp_transfers_total\{result="gave_up_waiting"\} 1/);
    } finally {
      await Promise.all([holder, gone, alive, late].map((x) => x.close()));
      await limited.close();
    }
  });

  it("counts transfers, bytes and errors in the metrics and emits tftp-sent events", () => {
    const text = p.registry.render();
    expect(text).toMatch(/edgeboot_tftp_transfers_total\{result="ok"\} \d+/);
    expect(text).toMatch(/edgeboot_tftp_bytes_total \d{7,}/);
    expect(text).toMatch(/edgeboot_tftp_errors_total\{code="2"\} \d+/);
    expect(p.events.some((e) => e.phase === "tftp-sent" && e.detail?.file === "big.bin")).toBe(true);
  });
});

describe("client errors", () => {
  it("surfaces a TFTP ERROR to the caller of the test client", async () => {
    await expect(tftpGet({ port: server.port, file: "missing.bin" })).rejects.toBeInstanceOf(TftpClientError);
  });
});
