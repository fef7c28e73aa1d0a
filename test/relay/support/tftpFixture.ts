// A TFTP server over a temporary root of known files (random bytes, edge sizes, symlinks that escape the root), shared
// by the relay suite (our own clients, curl) and the interop suite (atftp, tftp-hpa).
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BinaryCatalog } from "../../../relay/binaries.ts";
import { startTftpServer, type TftpServer } from "../../../relay/tftp/server.ts";
import { parts } from "./relayParts.ts";

export type TftpFixture = {
  dir: string;
  root: string;
  server: TftpServer;
  parts: ReturnType<typeof parts>;
  files: Record<string, Buffer>;
  // A fresh path under <dir>/out for a client to write to.
  out(name: string): string;
  close(): Promise<void>;
};

export async function startTftpFixture(): Promise<TftpFixture> {
  const dir = mkdtempSync(join(tmpdir(), "edgeboot-tftp-"));
  const root = join(dir, "root");
  mkdirSync(join(root, "sub"), { recursive: true });
  mkdirSync(join(dir, "outside"));
  mkdirSync(join(dir, "out"));
  const files: Record<string, Buffer> = {};
  const put = (name: string, data: Buffer) => {
    files[name] = data;
    writeFileSync(join(root, name), data);
  };
  put("big.bin", randomBytes(1024 * 1024));
  put("small.bin", randomBytes(1000));
  put("exact.bin", randomBytes(512 * 1468)); // a multiple of both block sizes: ends with an empty block
  put("empty.bin", Buffer.alloc(0));
  put("sub/nested.bin", randomBytes(3000));
  writeFileSync(join(dir, "outside", "secret"), "not for TFTP");
  symlinkSync(join(dir, "outside", "secret"), join(root, "escape"));
  symlinkSync("/etc/passwd", join(root, "passwd"));
  symlinkSync(join(root, "small.bin"), join(root, "alias.bin"));
  const p = parts();
  const server = await startTftpServer({
    port: 0,
    address: "127.0.0.1",
    binaries: new BinaryCatalog(root, []),
    limits: { maxBlksize: 1468, maxWindow: 64, maxTransfers: 64, minRtoMs: 100 },
    log: p.log,
    metrics: p.metrics,
    events: p.sink,
  });
  return {
    dir,
    root,
    server,
    parts: p,
    files,
    out: (name) => join(dir, "out", `${name}-${Math.random().toString(36).slice(2)}`),
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
