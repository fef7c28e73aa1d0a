// The dgram edge of TFTP: RRQs arrive on the well-known port; each transfer gets its own socket (its TID, RFC 1350
// §4) driving a ReadTransfer. Read-only: WRQ is refused. Files come only from the binaries catalog.
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import type { BinaryCatalog } from "../binaries.ts";
import type { ClientTable } from "../dhcp/clients.ts";
import type { EventSink } from "../events.ts";
import type { Logger } from "../log.ts";
import type { RelayMetrics } from "../metrics.ts";
import { decodeTftp, encodeTftp, ERR, OP, TftpDecodeError, type TftpRequest } from "./packet.ts";
import { openBlockSource, type BlockSource } from "./source.ts";
import { ReadTransfer, type TransferLimits, type TransferOutput } from "./transfer.ts";

export type TftpServer = { port: number; close(): Promise<void>; activeTransfers(): number };

// A waiting RRQ whose client has not retransmitted for this long is dropped when its turn comes.
export const WAIT_STALE_MS = 6000;

export type TftpServerOptions = {
  port: number;
  address: string;
  binaries: Pick<BinaryCatalog, "open">;
  limits: TransferLimits & { maxTransfers: number; maxPerClient?: number; maxWaiting?: number };
  log: Logger;
  metrics: RelayMetrics;
  events: EventSink;
  clients?: ClientTable;
  now?: () => number;
};

type Session = {
  key: string;
  peer: { address: string; port: number };
  signature: string;
  socket: Socket;
  foreign: Socket;
  transfer: ReadTransfer | null;
  source: BlockSource | null;
  timer: NodeJS.Timeout | null;
  timerAt: number;
  started: number;
  filename: string;
  closed: boolean;
};

// Peers are always IP literals (from rinfo). dgram's default lookup goes through dns.lookup and defers every send
// to process.nextTick; answering synchronously sends in place, which is measurable per lock-step packet.
const literalLookup = (address: string, _family: unknown, callback: (err: Error | null, address: string, family: number) => void) => callback(null, address, 4);

function bindSocket(address: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    // reuseAddr: the transfer's catcher socket shares the port (see openTransferSockets).
    const s = createSocket({ type: "udp4", lookup: literalLookup as never, reuseAddr: true });
    s.once("error", reject);
    s.bind(port, address, () => {
      s.off("error", reject);
      resolve(s);
    });
  });
}

// A transfer's TID is one port with two sockets. `data` is connected to the client: the kernel delivers the client's
// packets to it (an exact match wins over a wildcard one) and sends without a route lookup per packet, and dgram sends
// without an address. `foreign` gets every packet from anyone else, so those still get RFC 1350's ERROR 5 instead
// of an ICMP port unreachable. With SO_REUSEADDR the kernel may hand one port to two transfers; each connected socket
// still gets only its own client's packets, and a foreign packet gets the same ERROR 5 whichever catcher answers.
async function openTransferSockets(address: string, peer: { address: string; port: number }): Promise<{ data: Socket; foreign: Socket }> {
  const data = await bindSocket(address, 0);
  try {
    const foreign = await bindSocket(address, data.address().port);
    await new Promise<void>((resolve, reject) => {
      data.once("error", reject);
      data.connect(peer.port, peer.address, () => {
        data.off("error", reject);
        resolve();
      });
    });
    return { data, foreign };
  } catch (err) {
    data.close();
    throw err;
  }
}

export async function startTftpServer(opts: TftpServerOptions): Promise<TftpServer> {
  const { log, metrics, events } = opts;
  const now = opts.now ?? Date.now;
  const maxPerClient = opts.limits.maxPerClient ?? 32;
  const sessions = new Map<string, Session>();
  const perIp = new Map<string, number>();
  // Transfer sockets being opened count against the limit too (sessions.set happens after an await).
  let opening = 0;
  // RRQs over the limit, oldest first (Map order), answered as slots free. Dropping them instead (the client
  // retransmits) let slots go to whichever retransmission arrived first: in a 1,000-machine storm with 128 slots
  // some machines lost that race for their whole retry budget and failed (issue 17).
  const maxWaiting = opts.limits.maxWaiting ?? 4096;
  const waiting = new Map<string, { req: TftpRequest; rinfo: RemoteInfo; signature: string; lastSeen: number }>();
  const admitWaiting = () => {
    for (const [key, w] of waiting) {
      if (sessions.size + opening >= opts.limits.maxTransfers) return;
      // A client silent this long has given up on this port (firmware starts over from a new one).
      if (now() - w.lastSeen > WAIT_STALE_MS) {
        waiting.delete(key);
        metrics.tftpTransfers.inc({ result: "gave_up_waiting" });
        continue;
      }
      if ((perIp.get(w.rinfo.address) ?? 0) >= maxPerClient) continue;
      waiting.delete(key);
      begin(w.req, w.rinfo, key, w.signature);
    }
  };

  const main = createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    main.once("error", reject);
    main.bind(opts.port, opts.address, () => {
      main.off("error", reject);
      resolve();
    });
  });
  const port = main.address().port;

  // A malformed packet is dropped with a debug line, never a crash.
  const decodeOrDrop = (msg: Buffer, rinfo: RemoteInfo) => {
    try {
      return decodeTftp(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength));
    } catch (err) {
      if (log.enabled("debug")) log.debug("dropped malformed TFTP packet", { from: rinfo.address, reason: err instanceof TftpDecodeError ? err.reason : "decode_failed" });
      return null;
    }
  };

  // `to` null: the transfer's connected socket, which sends only to its client.
  const sendError = (socket: Socket, to: { address: string; port: number } | null, code: number, message: string) => {
    metrics.tftpErrors.inc({ code: String(code) });
    const packet = encodeTftp({ op: "ERROR", code, message });
    if (to) socket.send(packet, to.port, to.address, () => {});
    else socket.send(packet, () => {});
  };

  // No per-send callback (it costs a completion round through the loop per packet, measurable in lock-step); a
  // failed send surfaces as a socket "error" event and the transfer's timer resends.
  const emitOutputs = (s: Session, outputs: TransferOutput[]) => {
    for (const o of outputs) {
      if (o.kind === "packet") s.socket.send(o.bytes);
      else {
        const header = Buffer.allocUnsafe(4);
        header[0] = 0;
        header[1] = OP.DATA;
        header.writeUInt16BE(o.wireBlock, 2);
        s.socket.send([header, s.source!.read(o.offset, o.length)]);
      }
    }
  };

  // One lazy timer per session: a deadline that moves later (every ACK) costs nothing; the timer, when it fires
  // early, just re-arms for the remainder. Per-packet setTimeout/clearTimeout was measurable in lock-step.
  const schedule = (s: Session) => {
    const deadline = s.transfer?.deadline;
    if (deadline == null || s.closed) return;
    if (s.timer && s.timerAt <= deadline) return;
    if (s.timer) clearTimeout(s.timer);
    s.timerAt = deadline;
    s.timer = setTimeout(() => onTimer(s), Math.max(0, deadline - now()));
  };
  const onTimer = (s: Session) => {
    s.timer = null;
    if (s.closed || !s.transfer) return;
    const deadline = s.transfer.deadline;
    if (deadline == null) return;
    if (now() < deadline) return schedule(s);
    emitOutputs(s, s.transfer.onTimer(now()));
    afterStep(s);
  };

  const closeSession = (s: Session) => {
    if (s.closed) return;
    s.closed = true;
    setImmediate(admitWaiting);
    if (s.timer) clearTimeout(s.timer);
    sessions.delete(s.key);
    const n = (perIp.get(s.peer.address) ?? 1) - 1;
    if (n <= 0) perIp.delete(s.peer.address);
    else perIp.set(s.peer.address, n);
    s.source?.close();
    // Close after queued sends are flushed (a final ERROR, for instance).
    setImmediate(() => {
      s.socket.close();
      s.foreign.close();
    });
  };

  const afterStep = (s: Session) => {
    const outcome = s.transfer?.outcome;
    if (!outcome) return schedule(s);
    const ms = now() - s.started;
    const mac = opts.clients?.macForIp(s.peer.address) ?? undefined;
    const detail = { file: s.filename, client: s.peer.address, bytes: outcome.bytes, ms, retransmits: outcome.retransmits, blksize: s.transfer!.negotiated.blksize, windowsize: s.transfer!.negotiated.windowsize };
    metrics.tftpBytes.inc({}, outcome.bytes);
    if (outcome.ok) {
      metrics.tftpTransfers.inc({ result: "ok" });
      events.emit({ phase: "tftp-sent", ...(mac ? { mac } : {}), detail, at: now() });
      log.info("tftp transfer done", detail);
    } else if (outcome.reason === "client_error" && outcome.afterOack) {
      // EDK2 asks for tsize, then aborts and asks again from a new port: normal, not a failure.
      metrics.tftpTransfers.inc({ result: "probe" });
      log.debug("tftp client stopped after OACK", { ...detail, code: outcome.code, message: outcome.message });
    } else {
      metrics.tftpTransfers.inc({ result: outcome.reason });
      events.emit({ phase: "tftp-failed", ...(mac ? { mac } : {}), detail: { ...detail, reason: outcome.reason }, at: now() });
      log.warn("tftp transfer failed", { ...detail, reason: outcome.reason, ...(outcome.reason === "client_error" ? { code: outcome.code, message: outcome.message } : {}) });
    }
    closeSession(s);
  };

  // RFC 1350 §4: a packet from a foreign TID gets ERROR 5 and the transfer goes on.
  const onForeignMessage = (s: Session) => (_msg: Buffer, rinfo: RemoteInfo) => {
    if (!s.closed) sendError(s.foreign, rinfo, ERR.UNKNOWN_TID, "Unknown transfer ID");
  };

  // Only the client's packets reach the connected socket.
  const onTransferMessage = (s: Session) => (msg: Buffer, rinfo: RemoteInfo) => {
    if (s.closed || !s.transfer) return;
    // Nearly every packet of a transfer is a 4-byte ACK: read it in place, not through the generic decoder.
    const packet = msg.length === 4 && msg[0] === 0 && msg[1] === OP.ACK ? { op: "ACK" as const, block: (msg[2]! << 8) | msg[3]! } : decodeOrDrop(msg, rinfo);
    if (!packet) return;
    emitOutputs(s, s.transfer.onPacket(packet, now()));
    afterStep(s);
  };

  const begin = (req: TftpRequest, rinfo: RemoteInfo, key: string, signature: string) => {
    opening++;
    void startSession(req, rinfo, key, signature);
  };

  const startSession = async (req: TftpRequest, rinfo: RemoteInfo, key: string, signature: string) => {
    let sockets: { data: Socket; foreign: Socket };
    try {
      sockets = await openTransferSockets(opts.address, rinfo);
    } catch (err) {
      opening--;
      log.error("cannot open a TFTP transfer socket", { error: err });
      setImmediate(admitWaiting);
      return;
    }
    opening--;
    const socket = sockets.data;
    const s: Session = {
      key,
      peer: { address: rinfo.address, port: rinfo.port },
      signature,
      socket,
      foreign: sockets.foreign,
      transfer: null,
      source: null,
      timer: null,
      timerAt: 0,
      started: now(),
      filename: req.filename.slice(0, 255),
      closed: false,
    };
    sessions.set(key, s);
    perIp.set(s.peer.address, (perIp.get(s.peer.address) ?? 0) + 1);
    socket.on("message", onTransferMessage(s));
    s.foreign.on("message", onForeignMessage(s));
    // A failed send (ENOBUFS, a vanished route, the client's port closed) is retried by the transfer's own timer,
    // which gives up in the end.
    const onError = (err: Error) => log.debug("tftp transfer socket error", { client: rinfo.address, error: err });
    socket.on("error", onError);
    s.foreign.on("error", onError);
    const refuse = (code: number, message: string, result: string) => {
      metrics.tftpTransfers.inc({ result });
      log.info("tftp request refused", { client: rinfo.address, file: s.filename, code, message });
      sendError(socket, null, code, message);
      closeSession(s);
    };
    // Only binary transfers: iPXE, EDK2 and every PXE ROM use octet; netascii would rewrite the file's bytes.
    if (req.mode.toLowerCase() !== "octet") return refuse(ERR.ILLEGAL_OPERATION, "only octet (binary) mode is supported", "bad_mode");
    const opened = await opts.binaries.open(req.filename);
    if (s.closed) {
      if (opened.ok) await opened.file.fh.close();
      return;
    }
    if (!opened.ok) {
      if (opened.reason === "not_found") return refuse(ERR.NOT_FOUND, "File not found", "not_found");
      return refuse(ERR.ACCESS_VIOLATION, "Access violation", "access_violation");
    }
    try {
      s.source = await openBlockSource(opened.file.fh, opened.file.size);
    } catch (err) {
      log.error("cannot read boot file", { file: s.filename, error: err });
      return refuse(ERR.UNDEFINED, "read error", "read_error");
    }
    if (s.closed) return s.source.close();
    s.transfer = new ReadTransfer(s.source.size, req.options, opts.limits);
    log.debug("tftp transfer start", { client: rinfo.address, file: s.filename, size: s.source.size, ...s.transfer.negotiated });
    emitOutputs(s, s.transfer.start(now()));
    afterStep(s);
  };

  main.on("message", (msg, rinfo) => {
    const packet = decodeOrDrop(msg, rinfo);
    if (!packet) return;
    if (packet.op === "WRQ") {
      log.info("tftp write refused", { client: rinfo.address, file: packet.filename.slice(0, 255) });
      metrics.tftpTransfers.inc({ result: "write_refused" });
      return sendError(main, rinfo, ERR.ACCESS_VIOLATION, "This server is read-only");
    }
    if (packet.op !== "RRQ") return; // stray DATA/ACK/ERROR on the well-known port: not a transfer of ours
    const key = `${rinfo.address}:${rinfo.port}`;
    const signature = JSON.stringify([packet.filename, packet.mode.toLowerCase(), packet.options]);
    const existing = sessions.get(key);
    if (existing && existing.signature === signature) {
      // A retransmitted RRQ from the same port: answer again from the same TID, unless data is already flowing.
      if (existing.transfer) {
        emitOutputs(existing, existing.transfer.restart(now()));
        schedule(existing);
      }
      return;
    }
    if (existing) closeSession(existing); // same port, new request: the old transfer is over
    const queued = waiting.get(key);
    if (queued && queued.signature === signature) {
      queued.lastSeen = now(); // a retransmission while it waits: the client is still there
      return;
    }
    if (queued) waiting.delete(key);
    // Over the limit the RRQ waits for a slot, unanswered (never an ERROR: firmware takes a TFTP error as a failed
    // boot attempt; issue 17: ERROR 0 lost 1,830 of 500 storm boots); the client keeps retransmitting meanwhile.
    if (sessions.size + opening >= opts.limits.maxTransfers || (perIp.get(rinfo.address) ?? 0) >= maxPerClient || waiting.size > 0) {
      metrics.tftpTransfers.inc({ result: "busy" });
      if (waiting.size >= maxWaiting) {
        log.debug("tftp busy and the wait queue is full, request dropped", { client: rinfo.address, active: sessions.size });
        return;
      }
      waiting.set(key, { req: packet, rinfo, signature, lastSeen: now() });
      if (log.enabled("debug")) log.debug("tftp busy, request waits for a slot", { client: rinfo.address, active: sessions.size, waiting: waiting.size });
      // Slots may be free (only the per-client limit or older waiters held this one back).
      admitWaiting();
      return;
    }
    begin(packet, rinfo, key, signature);
  });
  main.on("error", (err) => log.error("tftp socket error", { error: err }));
  log.info("listening", { proto: "tftp", port, address: opts.address });

  return {
    port,
    activeTransfers: () => sessions.size,
    close: async () => {
      waiting.clear();
      for (const s of [...sessions.values()]) closeSession(s);
      await new Promise<void>((res) => main.close(() => res()));
    },
  };
}
