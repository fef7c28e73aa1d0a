// A stand-in for relay/dhcp/worker.ts that binds nothing, says it is ready, answers one ping, and then throws: what a
// proxyDHCP worker with a crashing bug looks like to the main thread (dhcp-thread-restart.test.ts).
import { parentPort, workerData } from "node:worker_threads";

parentPort.postMessage({ t: "batch", ops: [{ t: "log", level: "info", msg: "stand-in worker up", fields: { n: workerData.roles.length } }] });
parentPort.postMessage({ t: "ready", ports: workerData.roles.map((r) => r.port) });
parentPort.on("message", (m) => {
  if (m.t === "ping") parentPort.postMessage({ t: "pong", id: m.id });
});
setTimeout(() => {
  throw new Error("stand-in worker crashed");
}, 200);
