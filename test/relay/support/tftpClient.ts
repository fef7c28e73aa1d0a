// A small TFTP read client for tests and benchmarks: the only client at hand that sends windowsize (RFC 7440);
// curl sends none, and atftp's windowsize support varies by version. It ACKs at the end of each window, or the last
// in-order block when a gap shows (go-back-N), and re-ACKs on its own timeout. Bounded in time.
import { createSocket, type RemoteInfo } from "node:dgram";
import { decodeTftp, encodeTftp, type TftpOption } from "../../../relay/tftp/packet.ts";

export type FetchResult = { data: Buffer; oack: TftpOption[] | null; packets: number; acks: number };

export class TftpClientError extends Error {
  readonly code: number | null;
  constructor(message: string, code: number | null = null) {
    super(message);
    this.code = code;
  }
}

export function tftpGet(opts: {
  host?: string;
  port: number;
  file: string;
  options?: TftpOption[];
  mode?: string;
  timeoutMs?: number; // per wait before re-ACK
  totalMs?: number;
  // Test seam: drop an incoming DATA packet (simulated loss on the client side).
  dropIncoming?: (block: number, seen: number) => boolean;
}): Promise<FetchResult> {
  const host = opts.host ?? "127.0.0.1";
  const timeoutMs = opts.timeoutMs ?? 500;
  const options = opts.options ?? [];
  const asked = new Map(options.map(([k, v]) => [k.toLowerCase(), v]));
  let blksize = 512;
  let windowsize = 1;
  return new Promise((resolve, reject) => {
    const socket = createSocket("udp4");
    const chunks: Buffer[] = [];
    let peer: { address: string; port: number } | null = null;
    let expected = 1; // next block number (absolute)
    let inWindow = 0;
    let oack: TftpOption[] | null = null;
    let packets = 0;
    let acks = 0;
    let seen = 0;
    let timer: NodeJS.Timeout | null = null;
    const deadline = setTimeout(() => finish(new TftpClientError("transfer took too long")), opts.totalMs ?? 20_000);

    let done = false;
    const finish = (err: Error | null) => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      if (timer) clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve({ data: Buffer.concat(chunks), oack, packets, acks });
    };
    const sendAck = (block: number, then?: () => void) => {
      acks++;
      socket.send(encodeTftp({ op: "ACK", block: block & 0xffff }), peer!.port, peer!.address, () => then?.());
    };
    const rrq = Buffer.from(encodeTftp({ op: "RRQ", filename: opts.file, mode: opts.mode ?? "octet", options }));
    let rrqTries = 0;
    const arm = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        if (!peer) {
          if (++rrqTries > 5) return finish(new TftpClientError("no answer to RRQ"));
          socket.send(rrq, opts.port, host);
        } else {
          sendAck(expected - 1); // re-ACK the last in-order block: the server resends from there
          inWindow = 0;
        }
        arm();
      }, timeoutMs);
    };

    socket.on("message", (msg: Buffer, rinfo: RemoteInfo) => {
      if (done) return;
      if (peer && (rinfo.address !== peer.address || rinfo.port !== peer.port)) return;
      let p;
      try {
        p = decodeTftp(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength));
      } catch {
        return;
      }
      if (!peer) peer = { address: rinfo.address, port: rinfo.port };
      if (p.op === "ERROR") return finish(new TftpClientError(`ERROR ${p.code}: ${p.message}`, p.code));
      if (p.op === "OACK") {
        if (oack) return sendAck(0);
        oack = p.options;
        for (const [k, v] of p.options) {
          const key = k.toLowerCase();
          if (!asked.has(key)) return finish(new TftpClientError(`server sent unrequested option ${k}`));
          if (key === "blksize") blksize = Number(v);
          if (key === "windowsize") windowsize = Number(v);
        }
        sendAck(0);
        return arm();
      }
      if (p.op !== "DATA") return;
      packets++;
      if (opts.dropIncoming?.(p.block, seen++)) return;
      if (p.block !== (expected & 0xffff)) {
        // Out of order: acknowledge what we have so the server goes back (RFC 7440 §4).
        if (inWindow > 0 || windowsize === 1) sendAck(expected - 1);
        inWindow = 0;
        return arm();
      }
      chunks.push(Buffer.from(p.data));
      expected++;
      inWindow++;
      const last = p.data.length < blksize;
      // The final ACK goes out before the socket closes.
      if (last) return sendAck(expected - 1, () => finish(null));
      if (inWindow >= windowsize) {
        sendAck(expected - 1);
        inWindow = 0;
      }
      arm();
    });
    socket.bind(0, "127.0.0.1", () => {
      socket.send(rrq, opts.port, host);
      arm();
    });
  });
}
