// A stand-in for a Debian mirror in the installer scenario (test/e2e/installer.ts): it has no archive, answers
// every request 404 and prints one JSON line per request (time, method, URL, Host, User-Agent, client), so the test
// can see what the installer asked for. Usage: node mirrorstub.mjs <address> <port>
import { createServer } from "node:http";

const [address, port] = process.argv.slice(2);
const server = createServer((req, res) => {
  const line = { at: Date.now(), method: req.method, url: req.url, host: req.headers.host ?? "", userAgent: req.headers["user-agent"] ?? "", from: req.socket.remoteAddress };
  process.stdout.write(`${JSON.stringify(line)}\n`);
  res.writeHead(404, { "content-type": "text/plain" });
  res.end("no archive here\n");
});
server.listen(Number(port), address, () => process.stdout.write(`listening on ${address}:${port}\n`));
