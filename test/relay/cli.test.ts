import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer, type AddressInfo } from "node:net";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { KEY_FILE, loadOrCreateRelayKeys } from "../../relay/keys.ts";

const run = promisify(execFile);
const BIN = fileURLToPath(new URL("../../relay/bin.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "edgeboot-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? "", ...env }, timeout: 15_000 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

describe("edgeboot-relay CLI (relay/bin.js)", () => {
  it("prints help and version", async () => {
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: edgeboot-relay --api-url URL --site SLUG");
    const version = await cli(["--version"]);
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version);
  });

  it("exits 2 with one line per bad value, and never prints the credential", async () => {
    const r = await cli(["--api-url", "https://api.example", "--site", "lab", "--tftp-port", "abc"], { EDGEBOOT_RELAY_CREDENTIAL: "sekrit value" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--tftp-port (EDGEBOOT_TFTP_PORT) must be a whole number (a port 0-65535); got "abc"');
    expect(r.stderr).toContain("--credential (EDGEBOOT_RELAY_CREDENTIAL) must be printable ASCII without spaces");
    expect(r.stderr).not.toContain("sekrit");
  });

  it("exits 1 with a log line when a listener cannot start (port taken)", async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", () => r()));
    try {
      const port = (taken.address() as AddressInfo).port;
      const r = await cli(
        ["--api-url", "http://127.0.0.1:9", "--site", "lab", "--listen", "127.0.0.1", "--dhcp-port", "0", "--proxy-dhcp-port", "0", "--tftp-port", "0", "--http-port", String(port), "--state-dir", dir],
        { EDGEBOOT_RELAY_CREDENTIAL: "c-123", EDGEBOOT_LOG_LEVEL: "error" },
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('"msg":"relay failed to start"');
      expect(r.stderr).toContain("EADDRINUSE");
      expect(r.stderr).not.toContain("c-123");
    } finally {
      taken.close();
    }
  }, 20_000);
});

describe("relay key pair", () => {
  it("is created once with mode 0600 and reused", async () => {
    const a = await loadOrCreateRelayKeys(join(dir, "state"));
    const b = await loadOrCreateRelayKeys(join(dir, "state"));
    expect(a.publicJwk).toEqual(b.publicJwk);
    expect(a.publicJwk).toEqual({ kty: "OKP", crv: "Ed25519", x: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    expect(statSync(join(dir, "state", KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(JSON.stringify(a.publicJwk)).not.toContain('"d"');
  });
});
