// End to end: an arm64 UEFI VM (AAVMF) boots through UEFI HTTP Boot only (client architecture 19). As in
// httpboot.test.ts the firmware's PXE client is switched off through fw_cfg (qemu.ts `netBoot: "http"`); the relay
// answers the HTTPClient DISCOVER with the URL of ipxe-arm64.efi (Debian 13's, test/e2e/arm64image.ts), the firmware
// downloads it over HTTP, and iPXE chains the image's arm64 build. No TFTP on the path. See test/e2e/README.md.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AdminApi } from "./api.ts";
import { type Arm64Assets, ensureArm64Assets } from "./arm64image.ts";
import { addArm64Build, arm64RelayBinaries, waitForArm64Prefetch } from "./arm64lab.ts";
import { addHost, buildCatalogue, IMAGE, type Relay, RELAY_HTTP_PORT, SITE, startRelay } from "./edgeboot.ts";
import { expectCleanBoot, type Lab, openLab } from "./lab.ts";
import { arm64PrereqsMissing, e2eEnabled } from "./prereqs.ts";
import { serialStages, type Stage } from "./qemu.ts";
import { bootEvents, type Expected, missingInOrder, phase, printTimeline } from "./timeline.ts";
import { startWorker, type WorkerDev } from "./worker.ts";

const enabled = e2eEnabled(arm64PrereqsMissing);
const PROFILE = "e2e-arm64-http";
const MAC = "52:54:00:eb:a7:01";
const HOSTNAME = "edge-arm64-http";
const userData = '#!/bin/sh\necho "EDGEBOOT user-data ran on $(hostname) machine=$(uname -m)"\n';
// TCG arm64 on 2 shared cores (arm64.test.ts saw 45 s to booted over PXE); bounded well above that.
const VM_TIMEOUT_MS = 15 * 60_000;

describe.skipIf(!enabled)("arm64 UEFI HTTP Boot end to end", () => {
  let lab: Lab;
  let worker: WorkerDev;
  let api: AdminApi;
  let relay: Relay;
  let assets: Arm64Assets;

  beforeAll(async () => {
    assets = ensureArm64Assets();
    lab = await openLab();
    worker = await startWorker(lab.net.ip.api, lab.work);
    api = new AdminApi(worker.url, worker.adminToken);
    const catalogue = await buildCatalogue(api, lab.image);
    await addArm64Build(api, IMAGE, assets);
    await api.post("/v1/profiles", { name: PROFILE, image: IMAGE, cmdline: "console=ttyAMA0", userData });
    await addHost(api, { hostname: HOSTNAME, mac: MAC, profile: PROFILE });
    relay = await startRelay(lab.net, worker.url, catalogue, lab.work, ["--binaries-dir", arm64RelayBinaries(lab.work, assets)]);
    await waitForArm64Prefetch(relay, assets);
  });
  afterAll(async () => {
    await relay?.stop();
    await worker?.stop();
    await lab?.close();
  });

  test("AAVMF with PXE off (arch 19): HTTPClient offer, ipxe-arm64.efi over HTTP, chain, arm64 kernel, booted; no TFTP", async () => {
    const stages: Stage[] = [["firmware HTTP Boot", /Start HTTP Boot over IPv4/], ["NBP downloaded", /Downloading\.\.\.100%/], ...serialStages(assets.kernelSha256).slice(2)];
    const vm = lab.startVm({ name: "httpboot-arm64", firmware: "uefi", arch: "arm64", netBoot: "http", mac: MAC, kernelName: assets.kernelSha256, timeoutMs: VM_TIMEOUT_MS, stages });
    const boot = await expectCleanBoot(vm);
    expect(boot.hostname).toBe(HOSTNAME);
    expect(boot.phase).toBe("booted");
    const serial = vm.serial();
    expect(serial).toContain(`EDGEBOOT user-data ran on ${HOSTNAME} machine=aarch64`);
    expect(serial).toMatch(/Start HTTP Boot over IPv4/);
    expect(serial).not.toMatch(/Start PXE over IPv/);
    expect(serial).toMatch(/boot\.ipxe\?[^\s]*arch=arm64/);

    const binaryUrl = `http://${lab.net.ip.relay}:${RELAY_HTTP_PORT}/ipxe-arm64.efi`;
    const expected: Expected[] = [
      phase("dhcp-offer", (e) => e.detail?.arch === 19 && e.detail?.platform === "http-arm64" && e.detail?.bootFile === binaryUrl),
      phase("http-binary-sent", (e) => e.detail?.file === "ipxe-arm64.efi"),
      phase("dhcp-offer", (e) => e.detail?.arch === 11 && e.detail?.ipxe === true),
      { label: "chain-served (arm64 build)", match: (e) => e.phase === "chain-served" && e.source === "worker" && (e.detail?.image as { arch?: string } | undefined)?.arch === "arm64" },
      phase("nocloud-meta-data"),
      phase("booted", (e) => e.source === "host"),
    ];
    const events = await bootEvents(api, SITE, vm, MAC, expected);
    printTimeline("edgeboot arm64 UEFI HTTP Boot", vm, events);
    expect(missingInOrder(events, expected), "missing from the timeline").toEqual([]);
    expect(events.filter((e) => e.phase.startsWith("tftp") || e.phase === "dhcp-ack-4011").map((e) => e.phase)).toEqual([]);
    const tftpLines = readFileSync(relay.log, "utf8")
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { part?: string; msg?: string })
      .filter((r) => r.part === "tftp" && r.msg !== "listening");
    expect(tftpLines).toEqual([]);
    console.log(`arm64 HTTP Boot: VM start to booted ${(boot.bootedMs / 1000).toFixed(1)} s (TCG, -smp 1)`);
  });
});
