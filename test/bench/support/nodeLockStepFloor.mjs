// The floor of Node itself for lock-step TFTP: the least a Node server can do per packet (RRQ, OACK for blksize,
// then one DATA per ACK from a file in memory; no timers, retransmission, limits, logs or metrics). Not a server to
// use: the TFTP bench runs it (BENCH_TFTP_FLOOR=1) to show how much of the relay's per-packet cost is the runtime's.
// Usage: node nodeLockStepFloor.mjs <port> <file>
import { createSocket } from "node:dgram";
import { readFileSync } from "node:fs";

const [port, path] = process.argv.slice(2);
const file = readFileSync(path);
const main = createSocket("udp4");

main.on("message", (rrq, peer) => {
  const fields = rrq.subarray(2).toString("latin1").split("\0");
  const at = fields.findIndex((f, i) => i >= 2 && i % 2 === 0 && f.toLowerCase() === "blksize");
  const blksize = at > 0 ? Math.min(Number(fields[at + 1]), 1468) : 512;
  const last = Math.floor(file.length / blksize) + 1;
  const transfer = createSocket("udp4");
  const send = (block) => {
    const header = Buffer.from([0, 3, (block >> 8) & 255, block & 255]);
    transfer.send([header, file.subarray((block - 1) * blksize, Math.min(file.length, block * blksize))]);
  };
  transfer.on("message", (ack) => {
    const block = (ack[2] << 8) | ack[3];
    if (block === last) return transfer.close();
    send(block + 1);
  });
  // Connected, like the relay's transfer sockets: sends skip the address and the kernel's route lookup.
  transfer.bind(0, "127.0.0.1", () =>
    transfer.connect(peer.port, peer.address, () => {
      if (at > 0) transfer.send(Buffer.from(`\0\x06blksize\0${blksize}\0`, "latin1"));
      else send(1);
    }),
  );
});
main.bind(Number(port), "127.0.0.1");
