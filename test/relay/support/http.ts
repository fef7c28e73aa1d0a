// A relay HTTP server on a loopback port for tests, and a tiny GET helper.
import { request, type Server } from "node:http";
import { listenHttp } from "../../../relay/http/server.ts";

export async function listen(server: Server): Promise<{ base: string; close(): Promise<void> }> {
  const port = await listenHttp(server, 0, "127.0.0.1");
  return {
    base: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// A request from a chosen loopback source address (127.0.0.0/8 is all local on Linux): "another machine on the LAN".
export function getFrom(url: string, localAddress: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    // The path goes out as written (no URL normalisation of "%2e%2e" or ".."): tests send hostile paths.
    const m = /^http:\/\/([^/:]+):(\d+)(\/.*)$/.exec(url);
    if (!m) throw new Error(`getFrom needs http://host:port/path, got ${url}`);
    const req = request({ host: m[1], port: Number(m[2]), path: m[3], method: init.method ?? "GET", localAddress, headers: init.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(init.body);
  });
}
