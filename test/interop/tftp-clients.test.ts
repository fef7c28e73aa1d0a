// The relay's TFTP server against the Debian TFTP clients operators and firmware tools use: atftp and tftp-hpa.
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTftpFixture, type TftpFixture } from "../relay/support/tftpFixture.ts";
import { requirePeer } from "./support/peers.ts";

const run = promisify(execFile);
type Failed = { stdout: string; stderr: string };
const output = (e: Failed) => `${e.stdout}${e.stderr}`;

let fx: TftpFixture;
beforeAll(async () => {
  fx = await startTftpFixture();
});
afterAll(async () => {
  await fx?.close();
});

describe("atftp", () => {
  it("fetches byte for byte, lock-step and with blksize", async () => {
    const atftp = requirePeer("atftp", "atftp");
    for (const extra of [[], ["--option", "blksize 1428"]]) {
      const dest = fx.out("atftp");
      await run(atftp, [...extra, "-g", "-r", "big.bin", "-l", dest, "127.0.0.1", String(fx.server.port)], { timeout: 20_000 });
      expect(readFileSync(dest).equals(fx.files["big.bin"]!)).toBe(true);
    }
  });
});

describe("tftp-hpa", () => {
  it("fetches byte for byte in binary mode", async () => {
    const tftp = requirePeer("tftp", "tftp-hpa");
    const dest = fx.out("hpa");
    await run(tftp, ["-m", "binary", "127.0.0.1", String(fx.server.port), "-c", "get", "big.bin", dest], { timeout: 20_000 });
    expect(readFileSync(dest).equals(fx.files["big.bin"]!)).toBe(true);
  });

  it("gets TFTP error 2 for a path outside the root", async () => {
    const tftp = requirePeer("tftp", "tftp-hpa");
    const r = await run(tftp, ["-m", "binary", "127.0.0.1", String(fx.server.port), "-c", "get", "../outside/secret", fx.out("e")]).catch((e: Failed) => e);
    expect(output(r)).toMatch(/Error code 2/);
  });

  it("cannot put: the server is read-only", async () => {
    const tftp = requirePeer("tftp", "tftp-hpa");
    const src = fx.out("put");
    writeFileSync(src, "data");
    const r = await run(tftp, ["-m", "binary", "127.0.0.1", String(fx.server.port), "-c", "put", src, "new.bin"]).catch((e: Failed) => e);
    expect(output(r)).toMatch(/Error code 2/);
    expect(() => readFileSync(join(fx.root, "new.bin"))).toThrow();
  });
});
