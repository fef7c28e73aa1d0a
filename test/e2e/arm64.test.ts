// End to end on arm64: an arm64 UEFI VM (qemu-system-aarch64 `virt`, TCG, AAVMF with the NIC's ROM disabled) whose
// own PXE client asks with client architecture 11, gets ipxe-arm64.efi from the relay (proxyDHCP + TFTP), chains
// from the API through the relay, which picks the image's arm64 build from iPXE's ${buildarch}, boots Debian 13's
// arm64 kernel and the busybox initramfs from the relay cache, reads NoCloud and reports `booted`.
// Assets: test/e2e/arm64image.ts; the suite: test/e2e/README.md.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AdminApi, type BootEvent } from "./api.ts";
import { type Arm64Assets, ensureArm64Assets } from "./arm64image.ts";
import { addArm64Build, arm64RelayBinaries, waitForArm64Prefetch } from "./arm64lab.ts";
import { addHost, buildCatalogue, IMAGE, type Relay, SITE, startRelay } from "./edgeboot.ts";
import { expectCleanBoot, type Lab, openLab } from "./lab.ts";
import { arm64PrereqsMissing, e2eEnabled } from "./prereqs.ts";
import { bootEvents, type Expected, missingInOrder, phase, printTimeline } from "./timeline.ts";
import { startWorker, type WorkerDev } from "./worker.ts";

const enabled = e2eEnabled(arm64PrereqsMissing);
const PROFILE = "e2e-arm64";
// An image an operator built for x86_64 only, and a profile naming it.
const X86_ONLY = "e2e-x86-only";
const MAC = "52:54:00:eb:a6:01";
const HOSTNAME = "edge-arm64";
// PL011 is the `virt` machine's serial port. The script shows which kernel ran (uname -m) and this host's data.
const CMDLINE = "console=ttyAMA0";
const userData = '#!/bin/sh\necho "EDGEBOOT user-data ran on $(hostname) machine=$(uname -m) word={{ var.word }} profile={{ profile.name }}"\n';
// TCG arm64 on 2 shared cores: VM start to booted took 45 s here (AAVMF to PXE 10 s, Linux to init 9 s); bounded
// well above that for a loaded machine.
const VM_TIMEOUT_MS = 15 * 60_000;

describe.skipIf(!enabled)("arm64 UEFI VM boots end to end through the relay and the API", () => {
  let lab: Lab;
  let worker: WorkerDev;
  let api: AdminApi;
  let relay: Relay;
  let assets: Arm64Assets;

  beforeAll(async () => {
    const t0 = Date.now();
    assets = ensureArm64Assets();
    console.log(`arm64 assets (${((Date.now() - t0) / 1000).toFixed(1)} s): ${assets.packages.join(", ")}`);
    lab = await openLab();
    worker = await startWorker(lab.net.ip.api, lab.work);
    api = new AdminApi(worker.url, worker.adminToken);
    // The x86_64 build of the image, the site and the relay as every scenario has them; then the arm64 build of the
    // same image, uploaded as an operator would, so the chain has to choose by arch.
    const catalogue = await buildCatalogue(api, lab.image);
    await addArm64Build(api, IMAGE, assets);
    await api.post("/v1/profiles", { name: PROFILE, image: IMAGE, cmdline: CMDLINE, userData, vars: { word: "profile-default" } });
    await addHost(api, { hostname: HOSTNAME, mac: MAC, profile: PROFILE });
    await api.post("/v1/images", { name: X86_ONLY, arch: "x86_64", artifacts: { kernel: lab.image.kernelSha256, initrd: [lab.image.initrdSha256] } });
    await api.post("/v1/profiles", { name: X86_ONLY, image: X86_ONLY, cmdline: CMDLINE, userData });
    // The relay's binaries: Debian's x86 ones as usual, plus ipxe-arm64.efi under the name --arm64-binary defaults to.
    relay = await startRelay(lab.net, worker.url, catalogue, lab.work, ["--binaries-dir", arm64RelayBinaries(lab.work, assets)]);
    await waitForArm64Prefetch(relay, assets);
  });
  afterAll(async () => {
    await relay?.stop();
    await worker?.stop();
    await lab?.close();
  });

  const arm64 = (e: BootEvent) => e.detail?.arch === 11 && e.detail?.platform === "uefi-arm64";
  const timeline: Expected[] = [
    phase("dhcp-offer", (e) => arm64(e) && e.detail?.ipxe === false && e.detail?.bootFile === "ipxe-arm64.efi"),
    phase("dhcp-ack-4011", (e) => arm64(e) && e.detail?.bootFile === "ipxe-arm64.efi"),
    phase("tftp-sent", (e) => e.detail?.file === "ipxe-arm64.efi"),
    phase("dhcp-offer", (e) => arm64(e) && e.detail?.ipxe === true),
    {
      label: "chain-served (arm64 build, via the relay cache)",
      match: (e) => e.phase === "chain-served" && e.source === "worker" && e.detail?.via === "relay-cache" && (e.detail?.image as { arch?: string } | undefined)?.arch === "arm64",
    },
    { label: "arm64 kernel from relay cache", match: (e) => /^cache[.-](hit|miss)$/.test(e.phase) && e.detail?.sha256 === assets.kernelSha256 && e.detail?.status === 200 },
    { label: "arm64 initrd from relay cache", match: (e) => /^cache[.-](hit|miss)$/.test(e.phase) && e.detail?.sha256 === assets.initrdSha256 && e.detail?.status === 200 },
    phase("nocloud-meta-data"),
    phase("nocloud-user-data"),
    phase("booted", (e) => e.source === "host"),
  ];

  test("AAVMF PXE (arch 11) → proxyDHCP → TFTP ipxe-arm64.efi → iPXE → chain → arm64 kernel + initrd → NoCloud → booted", async () => {
    const vm = lab.startVm({ name: "arm64", firmware: "uefi", arch: "arm64", mac: MAC, kernelName: assets.kernelSha256, timeoutMs: VM_TIMEOUT_MS });
    const boot = await expectCleanBoot(vm);
    expect(boot.hostname).toBe(HOSTNAME);
    expect(boot.phase).toBe("booted");
    const serial = vm.serial();
    expect(serial).toContain(`EDGEBOOT user-data ran on ${HOSTNAME} machine=aarch64 word=word-of-${HOSTNAME} profile=${PROFILE}`);
    // The firmware ran the arm64 iPXE from the relay, and iPXE reported arm64 to the API.
    expect(serial).toMatch(/NBP file downloaded successfully/);
    expect(serial).toMatch(/boot\.ipxe\?[^\s]*arch=arm64/);
    for (const stage of ["firmware PXE", "NBP downloaded", "iPXE running", "script fetched", "kernel fetched", "Linux started", "init", "phase reported"]) {
      expect(vm.marks.has(stage), `serial stage "${stage}"`).toBe(true);
    }

    const events = await bootEvents(api, SITE, vm, MAC, timeline);
    printTimeline("edgeboot arm64 UEFI", vm, events);
    expect(missingInOrder(events, timeline), "missing from the arm64 timeline").toEqual([]);
    // Nothing of the x86_64 build was served to this machine.
    const chain = events.find((e) => e.phase === "chain-served");
    expect(chain?.detail?.image).toMatchObject({ name: IMAGE, arch: "arm64", version: assets.kernelPackage });
    const host = await api.get<{ state: string }>(`/v1/sites/${SITE}/hosts/${MAC}`);
    expect(host.state).toBe("booted");
    console.log(`arm64: VM start to booted ${(boot.bootedMs / 1000).toFixed(1)} s (TCG, -smp 1)`);
  });

  test("an arm64 machine whose image has no arm64 build is refused on its console, and the API records why", async () => {
    const mac = "52:54:00:eb:a6:02";
    await addHost(api, { hostname: "arm64-no-build", mac, profile: X86_ONLY });
    const vm = lab.startVm({ name: "arm64-no-build", firmware: "uefi", arch: "arm64", mac, timeoutMs: VM_TIMEOUT_MS });
    try {
      // The relay's failure script says that the API refused (409 not_bootable) and why ("no build for arm64"), then
      // retries with backoff; the API's render-failed event says it too. Never an x86 kernel.
      await vm.waitForSerial(/edgeboot: cannot boot \S+ yet: [^\r\n]*not_bootable[^\r\n]*has no build for arm64/, 5 * 60_000);
      const said = /edgeboot: cannot boot \S+ yet: ([^\r\n]+)/.exec(vm.serial())?.[1];
      console.log(`arm64 machine, x86_64-only image, on its console: "${said}"`);
      const expected = [
        phase("tftp-sent", (e) => e.detail?.file === "ipxe-arm64.efi"),
        phase("render-failed", (e) => e.source === "worker" && /has no build for arm64/.test(String(e.detail?.message))),
        phase("chain-refused", (e) => e.source === "relay" && e.detail?.status === 409),
      ];
      const events = await bootEvents(api, SITE, vm, mac, expected);
      printTimeline("edgeboot arm64, no arm64 build", vm, events);
      expect(missingInOrder(events, expected), "missing from the timeline").toEqual([]);
      expect(events.some((e) => e.phase === "chain-served")).toBe(false);
      expect(vm.serial()).not.toMatch(/Linux version/);
    } finally {
      await vm.stop();
    }
  });
});
