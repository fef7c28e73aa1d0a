// Real UDP sockets on loopback for tests: bind, send, and wait for the next datagram with a deadline.
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";

export type Datagram = { msg: Buffer; rinfo: RemoteInfo };

export class UdpPeer {
  readonly socket: Socket;
  #queue: Datagram[] = [];
  #waiters: Array<(d: Datagram) => void> = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("message", (msg, rinfo) => {
      const w = this.#waiters.shift();
      if (w) w({ msg, rinfo });
      else this.#queue.push({ msg, rinfo });
    });
  }

  static async bind(port = 0, address = "127.0.0.1"): Promise<UdpPeer> {
    const s = createSocket({ type: "udp4", reuseAddr: true });
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.bind(port, address, () => resolve());
    });
    return new UdpPeer(s);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(bytes: Uint8Array, port: number, address = "127.0.0.1"): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(bytes, port, address, (err) => (err ? reject(err) : resolve())));
  }

  // The next datagram, or null after `ms` (never throws: tests assert on null for "no reply").
  next(ms = 1000): Promise<Datagram | null> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => {
      const waiter = (d: Datagram) => {
        clearTimeout(timer);
        resolve(d);
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve(null);
      }, ms);
      this.#waiters.push(waiter);
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
