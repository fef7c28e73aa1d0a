// End to end: real firmware (OVMF, SeaBIOS + iPXE ROM), real iPXE, a real Linux kernel and initramfs, booted over
// a private network the test builds. First the do-it-yourself baseline (the performance peer), then edgeboot:
// the relay (proxyDHCP, TFTP, chain, cache) and the Worker under wrangler dev. See test/e2e/README.md.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AdminApi, type BootEvent } from "./api.ts";
import { type Diy, startDiy } from "./diy.ts";
import { addHost, buildCatalogue, CMDLINE, INSTALLER, PROFILE, type Relay, SITE, startRelay } from "./edgeboot.ts";
import { expectCleanBoot, type Lab, openLab } from "./lab.ts";
import { e2eEnabled } from "./prereqs.ts";
import { waitFor } from "./proc.ts";
import type { Firmware, Vm } from "./qemu.ts";
import { benchRow, bootEvents, type Expected, missingInOrder, phase, printTimeline } from "./timeline.ts";
import { startWorker, type WorkerDev } from "./worker.ts";

const enabled = e2eEnabled();
const firmwares: Firmware[] = ["uefi", "bios"];
const mac = (group: number, n: number) => `52:54:00:eb:${group.toString(16).padStart(2, "0")}:${n.toString(16).padStart(2, "0")}`;
const diyUserData = '#!/bin/sh\necho "EDGEBOOT user-data ran on $(hostname)"\n';

const ROUNDS = Math.max(1, Number(process.env.E2E_PERF_ROUNDS ?? 3));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

describe.skipIf(!enabled)("network boot end to end", () => {
  let lab: Lab;
  let worker: WorkerDev;
  let api: AdminApi;
  let relay: Relay;
  let diy: Diy;
  // Seconds from QEMU start to the phase being reported, per firmware: ours (edgeboot) and the DIY peer.
  const bootSeconds: Record<Firmware, { ours: number[]; peer: number[] }> = { uefi: { ours: [], peer: [] }, bios: { ours: [], peer: [] } };
  const known = { uefi: mac(0x20, 1), bios: mac(0x20, 2) };
  const diyMac = { uefi: mac(0x10, 1), bios: mac(0x10, 2) };

  beforeAll(async () => {
    lab = await openLab();
    console.log(`e2e work dir: ${lab.work}; LANs ${Object.values(lab.net.cidr).join(", ")}; image ${lab.image.kernelPackage}`);
    worker = await startWorker(lab.net.ip.api, lab.work);
    api = new AdminApi(worker.url, worker.adminToken);
    const catalogue = await buildCatalogue(api, lab.image);
    for (const fw of firmwares) await addHost(api, { hostname: `edge-${fw}`, mac: known[fw] });
    relay = await startRelay(lab.net, worker.url, catalogue, lab.work);
    const diyHosts = firmwares.map((fw) => ({ hostname: `diy-${fw}`, mac: diyMac[fw], userData: diyUserData }));
    diy = await startDiy(lab.net, lab.image, diyHosts, CMDLINE, lab.work);
    // A site in steady state has its artifacts cached (the relay prefetches them on sync); measure that.
    await waitForCached(relay, [lab.image.kernelSha256, lab.image.initrdSha256]);
  });
  afterAll(async () => {
    await relay?.stop();
    await worker?.stop();
    await diy?.stop();
    await lab?.close();
    for (const fw of firmwares) {
      const { ours, peer } = bootSeconds[fw];
      if (ours.length && peer.length) console.log(benchRow(`${fw} VM start to booted (median of ${Math.min(ours.length, peer.length)})`, median(ours), median(peer), "dnsmasq proxy + TFTP + nginx (DIY)"));
    }
  });

  const bootVm = (name: string, firmware: Firmware, vmMac: string) => lab.startVm({ name, firmware, mac: vmMac, kernelName: lab.image.kernelSha256 });

  /** The full boot timeline, as the API recorded it, for a known host booting its profile. */
  const fullTimeline = (fw: Firmware, finalPhase = "booted"): Expected[] => [
    ...(fw === "uefi"
      ? [phase("dhcp-offer", (e) => e.detail?.ipxe === false), phase("dhcp-ack-4011"), phase("tftp-sent", (e) => e.detail?.file === "ipxe.efi")]
      : []),
    phase("dhcp-offer", (e) => e.detail?.ipxe === true),
    phase("chain-served", (e) => e.source === "worker" && e.detail?.via === "relay-cache"),
    { label: "kernel from relay cache", match: (e) => /^cache[.-](hit|miss)$/.test(e.phase) && e.detail?.sha256 === lab.image.kernelSha256 && e.detail?.status === 200 },
    { label: "initrd from relay cache", match: (e) => /^cache[.-](hit|miss)$/.test(e.phase) && e.detail?.sha256 === lab.image.initrdSha256 && e.detail?.status === 200 },
    phase("nocloud-meta-data"),
    phase("nocloud-user-data"),
    phase(finalPhase, (e) => e.source === "host"),
  ];

  async function expectTimeline(title: string, vm: Vm, vmMac: string, expected: Expected[]): Promise<BootEvent[]> {
    const events = await bootEvents(api, SITE, vm, vmMac, expected);
    printTimeline(title, vm, events);
    expect(missingInOrder(events, expected), `missing from the timeline of ${vm.name}`).toEqual([]);
    return events;
  }

  async function diyBoot(fw: Firmware, round: number): Promise<number> {
    const vm = lab.startVm({ name: `diy-${fw}-${round}`, firmware: fw, mac: diyMac[fw], segment: "diy" });
    const boot = await expectCleanBoot(vm);
    printTimeline(`DIY ${fw} (round ${round})`, vm);
    expect(boot.hostname).toBe(`diy-${fw}`);
    expect(boot.phase).toBe("booted");
    expect(vm.serial()).toContain(`EDGEBOOT user-data ran on diy-${fw}`);
    return boot.bootedMs / 1000;
  }

  async function edgebootBoot(fw: Firmware, round: number): Promise<number> {
    const vm = bootVm(`edge-${fw}-${round}`, fw, known[fw]);
    const boot = await expectCleanBoot(vm);
    expect(boot.hostname).toBe(`edge-${fw}`);
    expect(boot.phase).toBe("booted");
    expect(vm.serial()).toContain(`EDGEBOOT user-data ran on edge-${fw} word=word-of-edge-${fw} profile=${PROFILE}`);
    await expectTimeline(`edgeboot ${fw} (round ${round})`, vm, known[fw], fullTimeline(fw));
    return boot.bootedMs / 1000;
  }

  // Rounds alternate which goes first, so a change in the machine's load hits both sides alike.
  test.each(firmwares)("%s: proxyDHCP, TFTP, signed chain, cached artifacts, NoCloud, booted; timed against DIY", async (fw) => {
    for (let round = 1; round <= ROUNDS; round++) {
      if (round % 2 === 1) bootSeconds[fw].peer.push(await diyBoot(fw, round));
      bootSeconds[fw].ours.push(await edgebootBoot(fw, round));
      if (round % 2 === 0) bootSeconds[fw].peer.push(await diyBoot(fw, round));
    }
    const { ours, peer } = bootSeconds[fw];
    const ratio = median(ours) / median(peer);
    console.log(`${fw}: edgeboot ${ours.map((v) => v.toFixed(1)).join(", ")} s; DIY ${peer.map((v) => v.toFixed(1)).join(", ")} s; median ratio ${ratio.toFixed(2)}`);
    if (ratio > 1.1) console.warn(`${fw}: edgeboot is over the 1.1x target against DIY (${ratio.toFixed(2)}x)`);
    // The target is 1.1x; the hard limit is looser because 2 shared cores without KVM make single boots noisy.
    expect(ratio).toBeLessThan(1.5);
  });

  test("an unknown MAC under the discover policy is recorded, waits, and boots once a profile is assigned", async () => {
    const vmMac = mac(0x30, 1);
    const vm = bootVm("discover", "bios", vmMac);
    await vm.waitForSerial(/not assigned to a profile yet/, 120_000);
    const host = await waitFor("the discovered host in the API", 60_000, async () => {
      const h = await api.get<{ state: string; profile: string | null }>(`/v1/sites/${SITE}/hosts/${vmMac}`).catch(() => undefined);
      return h?.state === "discovered" ? h : undefined;
    });
    expect(host.profile).toBeNull();
    await api.patch(`/v1/sites/${SITE}/hosts/${vmMac}`, { hostname: "found-1", profile: PROFILE });
    const boot = await expectCleanBoot(vm);
    expect(boot.hostname).toBe("found-1");
    expect(vm.serial()).toContain("EDGEBOOT user-data ran on found-1");
    // The VM never re-DHCPs: the discover script re-chains through the relay until the answer changes.
    const [offer, ...afterOffer] = fullTimeline("bios");
    await expectTimeline("edgeboot discover", vm, vmMac, [offer!, phase("discovered"), ...afterOffer]);
  });

  test("a one-shot reinstall intent runs the installer once, then the normal profile", async () => {
    const vmMac = mac(0x40, 1);
    await addHost(api, { hostname: "reinstall-1", mac: vmMac, intent: { target: INSTALLER, mode: "once", revertOnPhase: "installed" } });
    const first = bootVm("reinstall-first", "bios", vmMac);
    const install = await expectCleanBoot(first);
    expect(install.phase).toBe("installed");
    expect(first.serial()).toContain("EDGEBOOT installer ran on reinstall-1");
    await expectTimeline("edgeboot reinstall (installer)", first, vmMac, fullTimeline("bios", "installed"));
    const host = await api.get<{ intent: unknown; state: string }>(`/v1/sites/${SITE}/hosts/${vmMac}`);
    expect(host.intent).toBeNull();

    const second = bootVm("reinstall-second", "bios", vmMac);
    const boot = await expectCleanBoot(second);
    expect(boot.phase).toBe("booted");
    expect(second.serial()).toContain(`EDGEBOOT user-data ran on reinstall-1 word=word-of-reinstall-1 profile=${PROFILE}`);
    expect(second.serial()).not.toContain("installer ran");
    await expectTimeline("edgeboot reinstall (next boot)", second, vmMac, fullTimeline("bios"));
  });

  test("two VMs booting at once each get their own hostname and data", async () => {
    const twins = [
      { hostname: "twin-a", mac: mac(0x50, 1), word: `apple-${Date.now()}`, firmware: "uefi" as const },
      { hostname: "twin-b", mac: mac(0x50, 2), word: `banana-${Date.now()}`, firmware: "bios" as const },
    ];
    for (const t of twins) await addHost(api, t);
    const vms = twins.map((t) => bootVm(t.hostname, t.firmware, t.mac));
    const boots = await Promise.all(vms.map((vm) => expectCleanBoot(vm)));
    for (const [i, t] of twins.entries()) {
      const other = twins[1 - i]!;
      const serial = vms[i]!.serial();
      expect(boots[i]!.hostname).toBe(t.hostname);
      expect(serial).toContain(`EDGEBOOT user-data ran on ${t.hostname} word=${t.word}`);
      expect(serial).not.toContain(other.word);
      expect(serial).not.toContain(other.hostname);
      const events = await expectTimeline(`edgeboot ${t.hostname} (concurrent)`, vms[i]!, t.mac, fullTimeline(t.firmware));
      // Every NoCloud read and callback in this machine's timeline is its own boot session.
      const sessions = new Set(events.filter((e) => e.source === "host" || e.phase.startsWith("nocloud-")).map((e) => e.bootSession));
      expect(sessions.size).toBe(1);
    }
  });

  // Last: it stops the API.
  test("with the API stopped, TFTP and cached artifacts still serve and the relay tells the console why", async () => {
    await worker.stop();
    for (const sha of [lab.image.kernelSha256, lab.image.initrdSha256]) {
      const res = await fetch(`${relay.url}/artifacts/${sha}`);
      expect(res.status).toBe(200);
      expect(createHash("sha256").update(Buffer.from(await res.arrayBuffer())).digest("hex")).toBe(sha);
    }
    const vm = bootVm("api-down", "uefi", known.uefi);
    await vm.waitForSerial(/NBP file downloaded successfully/, 120_000); // ipxe.efi over TFTP from the relay
    await vm.waitForSerial(new RegExp(`edgeboot: cannot boot ${known.uefi} yet: [^\\n]+`), 120_000);
    const why = new RegExp(`edgeboot: cannot boot ${known.uefi} yet: ([^\\r\\n]+)`).exec(vm.serial())?.[1] ?? "";
    console.log(`relay on the console with the API down: "${why}"`);
    expect(why).toMatch(/api|unreachable|connect|timed out|refused/i);
    expect(vm.serial()).toMatch(/edgeboot: attempt \d+, retrying in \d+ s/);
    printTimeline("edgeboot with the API stopped", vm);
    await vm.stop();
  });

  /** Waits until the relay's cache holds these artifacts (prefetched on sync); warms it like a first machine if not. */
  async function waitForCached(r: Relay, shas: string[]): Promise<void> {
    try {
      await waitFor("the relay to prefetch the image's artifacts", 60_000, () => (shas.every((sha) => existsSync(join(r.cacheDir, sha))) ? true : undefined), 500);
    } catch {
      console.warn("the relay did not prefetch the artifacts within 60 s; warming its cache with one GET each");
      for (const sha of shas) await fetch(`${r.url}/artifacts/${sha}`).then((res) => res.arrayBuffer());
    }
  }
});
