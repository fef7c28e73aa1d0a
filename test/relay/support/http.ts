// A relay HTTP server on a loopback port for tests, and a tiny GET helper.
import type { Server } from "node:http";
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
