import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BinaryCatalog, normalizeBinaryPath } from "../../relay/binaries.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "edgeboot-bin-"));
  mkdirSync(join(dir, "root", "sub"), { recursive: true });
  mkdirSync(join(dir, "boot"));
  mkdirSync(join(dir, "elsewhere"));
  writeFileSync(join(dir, "root", "undionly.kpxe"), "bios");
  writeFileSync(join(dir, "root", "sub", "x.efi"), "x");
  writeFileSync(join(dir, "boot", "ipxe.efi"), "efi");
  writeFileSync(join(dir, "elsewhere", "secret"), "no");
  // Debian's layout: /usr/lib/ipxe/ipxe.efi -> /boot/ipxe.efi
  symlinkSync(join(dir, "boot", "ipxe.efi"), join(dir, "root", "ipxe.efi"));
  symlinkSync(join(dir, "elsewhere", "secret"), join(dir, "root", "secret.efi"));
  symlinkSync(join(dir, "root", "nowhere"), join(dir, "root", "dangling.efi"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("binary path normalisation", () => {
  it("accepts plain names, leading slashes and backslashes", () => {
    expect(normalizeBinaryPath("ipxe.efi")).toBe("ipxe.efi");
    expect(normalizeBinaryPath("/ipxe.efi")).toBe("ipxe.efi");
    expect(normalizeBinaryPath("//sub\\x.efi")).toBe("sub/x.efi");
  });
  it.each(["", "..", "../x", "a/../b", "a/./b", ".hidden", "a//b", "caf\u00e9", "a b", "x\u0000y", "%2e%2e/x", "a".repeat(300)])("refuses %j", (name) => {
    expect(normalizeBinaryPath(name)).toBeNull();
  });
});

describe("BinaryCatalog", () => {
  it("serves files under the root and symlinks into an allowed symlink root only", async () => {
    const cat = new BinaryCatalog(join(dir, "root"), [join(dir, "boot")]);
    await cat.ready();
    expect(cat.names()).toEqual(["ipxe.efi", "undionly.kpxe"]);
    const efi = await cat.open("ipxe.efi");
    expect(efi.ok && efi.file.size).toBe(3);
    if (efi.ok) await efi.file.fh.close();
    expect(await cat.open("secret.efi")).toEqual({ ok: false, reason: "forbidden" });
    expect(await cat.open("dangling.efi")).toEqual({ ok: false, reason: "not_found" });
    expect(await cat.open("../elsewhere/secret")).toEqual({ ok: false, reason: "bad_path" });
    expect(await cat.open("sub")).toEqual({ ok: false, reason: "not_found" }); // a directory
    const nested = await cat.open("sub/x.efi");
    expect(nested.ok).toBe(true);
    if (nested.ok) await nested.file.fh.close();
  });

  it("never serves the relay's private dirs (state: its key pair, event queue) even inside the binaries dir", async () => {
    const root = join(dir, "root");
    const cat = new BinaryCatalog(root, [], [join(root, "sub")]);
    await cat.ready();
    expect(await cat.open("sub/x.efi")).toEqual({ ok: false, reason: "forbidden" });
    const self = new BinaryCatalog(root, [], [root]); // --binaries-dir and --state-dir the same directory
    await self.ready();
    expect(self.names()).toEqual([]);
    expect(await self.open("undionly.kpxe")).toEqual({ ok: false, reason: "forbidden" });
  });

  it("without symlink roots, the Debian-style symlink is refused too", async () => {
    const cat = new BinaryCatalog(join(dir, "root"), []);
    await cat.ready();
    expect(cat.has("ipxe.efi")).toBe(false);
    expect(await cat.open("ipxe.efi")).toEqual({ ok: false, reason: "forbidden" });
  });

  it("copes with a missing directory", async () => {
    const cat = new BinaryCatalog(join(dir, "missing"), []);
    await cat.ready();
    expect(cat.names()).toEqual([]);
    expect(await cat.open("ipxe.efi")).toEqual({ ok: false, reason: "not_found" });
  });
});
