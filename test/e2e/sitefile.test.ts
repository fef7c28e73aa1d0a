// An operator's path end to end: the site is described by a site file, applied with the `edgeboot` CLI (which also
// uploads the kernel and initrd named by local paths), diffed clean, and a VM then PXE-boots the host the file
// describes through a relay whose credential came from the CLI.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AdminApi } from "./api.ts";
import { type Relay, SITE, startRelay } from "./edgeboot.ts";
import { expectCleanBoot, type Lab, openLab } from "./lab.ts";
import { e2eEnabled } from "./prereqs.ts";
import { phase, printTimeline, bootEvents, missingInOrder } from "./timeline.ts";
import { startWorker, type WorkerDev } from "./worker.ts";

const CLI = fileURLToPath(new URL("../../worker/cli/bin.js", import.meta.url));
const enabled = e2eEnabled();
const MAC = "52:54:00:eb:50:01";

function edgeboot(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, NO_COLOR: "1", HOME: env.HOME, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe.skipIf(!enabled)("a site file drives a network boot", () => {
  let lab: Lab;
  let worker: WorkerDev;
  let relay: Relay | undefined;

  beforeAll(async () => {
    lab = await openLab();
    worker = await startWorker(lab.net.ip.api, lab.work);
  });
  afterAll(async () => {
    await relay?.stop();
    await worker?.stop();
    await lab?.close();
  });

  test("apply -f, diff shows nothing, the relay comes up, and the described host boots its profile", async () => {
    const file = join(lab.work, "e2e.site.yaml");
    writeFileSync(
      file,
      [
        "apiVersion: edgeboot/v1",
        "site:",
        `  slug: ${SITE}`,
        "  name: site-file lab",
        "  bootAuth: relay",
        "  vars: { word: from-the-site-file }",
        "images:",
        "  - name: sf-linux",
        "    arch: x86_64",
        "    artifacts:",
        `      kernel: ${lab.image.kernel}`,
        `      initrd: [${lab.image.initrd}]`,
        "profiles:",
        "  - name: sf-normal",
        "    image: sf-linux",
        "    cmdline: console=ttyS0",
        "    userData: |",
        "      #!/bin/sh",
        '      echo "EDGEBOOT user-data ran on $(hostname) word={{ var.word }} profile={{ profile.name }}"',
        "hosts:",
        "  - hostname: sf-node-1",
        `    mac: ${MAC}`,
        "    profile: sf-normal",
        "",
      ].join("\n"),
    );
    const env = { HOME: lab.work, XDG_CONFIG_HOME: join(lab.work, "xdg"), XDG_CACHE_HOME: join(lab.work, "xdg-cache"), EDGEBOOT_API: worker.url, EDGEBOOT_TOKEN: worker.adminToken };
    const applied = await edgeboot(["apply", "-f", file], env);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stderr).toContain("✓ created host sf-node-1");
    const diff = await edgeboot(["diff", "-f", file, "--exit-code"], env);
    expect(diff.code, diff.stdout + diff.stderr).toBe(0);
    const credential = await edgeboot(["relays", "create", "lan-relay", "--site", SITE], env);
    expect(credential.code, credential.stderr).toBe(0);

    relay = await startRelay(lab.net, worker.url, { relayCredential: credential.stdout.trim(), relayName: "lan-relay" }, lab.work);
    const vm = lab.startVm({ name: "site-file", firmware: "bios", mac: MAC, kernelName: lab.image.kernelSha256 });
    const boot = await expectCleanBoot(vm);
    expect(boot.hostname).toBe("sf-node-1");
    expect(vm.serial()).toContain("EDGEBOOT user-data ran on sf-node-1 word=from-the-site-file profile=sf-normal");
    const api = new AdminApi(worker.url, worker.adminToken);
    const expected = [phase("chain-served", (e) => e.source === "worker"), phase("nocloud-user-data"), phase("booted", (e) => e.source === "host")];
    const events = await bootEvents(api, SITE, vm, MAC, expected);
    printTimeline("site file: sf-node-1", vm, events);
    expect(missingInOrder(events, expected)).toEqual([]);
  });
});
