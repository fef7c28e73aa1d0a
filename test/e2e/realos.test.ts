// End to end with a real operating system: a diskless Debian 12 (systemd, Debian's own unmodified cloud-init,
// live-boot) network-boots through the relay, fetches its squashfs root from the relay cache into RAM, and
// configures itself from edgeboot's NoCloud data. What the OS applied is read from inside (os/report.sh on the
// serial console) and from the events API. The same image booted by the DIY baseline is the timing peer.
// See test/e2e/README.md.
import { createHash } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AdminApi, type BootEvent } from "./api.ts";
import { type Diy, startDiy } from "./diy.ts";
import { buildCatalogue, CMDLINE, type Relay, SITE, startRelay } from "./edgeboot.ts";
import { type Lab, openLab } from "./lab.ts";
import { addOsCatalogue, networkConfigV2, OS_PROFILE, OS_USER, osCmdline, type OsNetwork, osUserData, SECRET_NAME, sshPublicKey } from "./os.ts";
import { ensureOsImage, type OsImage } from "./osimage.ts";
import { expectOsReport, hasDefaultVia, type IpAddr, type IpRoute, osStages, type OsReport } from "./osreport.ts";
import { e2eEnabled } from "./prereqs.ts";
import { waitFor } from "./proc.ts";
import type { Firmware, Vm } from "./qemu.ts";
import { benchRow, bootEvents, type Expected, missingInOrder, phase, printTimeline } from "./timeline.ts";
import { startWorker, type WorkerDev } from "./worker.ts";

const enabled = e2eEnabled();

// The OS boot under TCG on 2 shared cores: 2-4 minutes. Bounded well above that.
const OS_VM_TIMEOUT_MS = 12 * 60_000;
const OS_VM_MEMORY_MB = 1024; // the squashfs (~100 MB) lives in RAM, plus systemd and cloud-init
// Timing pairs (edgeboot, DIY) for the VM start -> booted row; the first pair is the checked boots. Each extra
// pair costs about 6 minutes of TCG on 2 cores, so the default is one.
const ROUNDS = Math.max(1, Number(process.env.E2E_OS_ROUNDS ?? 1));
// A site secret with characters that mean something in YAML: substituted values must never restructure user-data.
const SECRET = "join-7f3a: #not-a-comment {x: 1} 'q' \"qq\"";

describe.skipIf(!enabled)("a real diskless Debian boots through edgeboot and configures itself with cloud-init", () => {
  let lab: Lab;
  let worker: WorkerDev;
  let api: AdminApi;
  let relay: Relay;
  let diy: Diy;
  let os: OsImage;
  let k: number; // the run's subnet index: 10.213.K.0/24 (edgeboot LAN), 10.215.K.0/24 (DIY LAN)
  const sshKey = sshPublicKey("e2e@edgeboot");
  const host = { hostname: "deb-static", mac: "52:54:00:eb:60:01" };
  const diyHost = { hostname: "diy-deb", mac: "52:54:00:eb:61:01" };
  let network: OsNetwork;
  const timings: string[] = [];
  const booted: { ours: number[]; peer: number[] } = { ours: [], peer: [] };
  const fetchMBps: { ours: number[]; peer: number[] } = { ours: [], peer: [] };
  let first: OsReport | undefined;

  beforeAll(async () => {
    const t0 = Date.now();
    lab = await openLab();
    os = ensureOsImage("bookworm");
    console.log(`real OS: Debian ${os.suite}, cloud-init ${os.packages["cloud-init"]}, ${os.packages["linux-image-cloud-amd64"]}; squashfs ${mb(os.rootfs)} MB (build ${os.buildSeconds} s when it ran)`);
    k = Number(lab.net.ip.router.split(".")[2]);
    network = {
      addresses: [`10.213.${k}.50/24`, `fdeb:${k}::50/64`],
      gateway4: lab.net.ip.router,
      gateway6: `fdeb:${k}::2`,
      nameservers: [lab.net.ip.router, `fdeb:${k}::2`],
      searchDomains: ["e2e.example"],
    };
    worker = await startWorker(lab.net.ip.api, lab.work);
    api = new AdminApi(worker.url, worker.adminToken);
    const catalogue = await buildCatalogue(api, lab.image);
    await addOsCatalogue(api, os);
    await api.put(`/v1/secrets/${SECRET_NAME}?site=${SITE}`, { value: SECRET });
    await api.post(`/v1/sites/${SITE}/hosts`, { hostname: host.hostname, mac: host.mac, profile: OS_PROFILE, vars: { sshKey }, network });
    relay = await startRelay(lab.net, worker.url, catalogue, lab.work);

    const diyNet: OsNetwork = { ...network, addresses: [`10.215.${k}.50/24`, `fdeb:${k}:1::50/64`], gateway4: lab.net.ip.routerDiy, gateway6: `fdeb:${k}:1::2`, nameservers: [lab.net.ip.routerDiy, `fdeb:${k}:1::2`] };
    const diyBase = `http://${lab.net.ip.diy}`;
    const netcfg = Buffer.from(networkConfigV2(diyHost.mac, diyNet)).toString("base64");
    diy = await startDiy(
      lab.net,
      lab.image,
      [
        {
          ...diyHost,
          userData: osUserData({ eventsUrl: `${diyBase}/h/${diyHost.hostname}/events`, secret: JSON.stringify(SECRET), sshKey }),
          os: { cmdline: (seed) => `${osCmdline(`${diyBase}/os/root.squashfs`)} ds=nocloud;s=${seed};dsmode=net network-config=${netcfg}` },
        },
      ],
      CMDLINE,
      lab.work,
      os,
    );
    await waitForCached(relay, [os.kernelSha256, os.initrdSha256, os.rootfsSha256]);
    timings.push(`setup (lab, image, Worker, catalogue, relay prefetch, DIY): ${secs(t0)} s`);
  });

  afterAll(async () => {
    await relay?.stop();
    await worker?.stop();
    await diy?.stop();
    await lab?.close();
    console.log(`\n== real-OS scenario timings ==\n${timings.map((t) => `  ${t}`).join("\n")}`);
    console.log(`real OS VM start -> booted: edgeboot ${booted.ours.map((v) => v.toFixed(1)).join(", ")} s; DIY ${booted.peer.map((v) => v.toFixed(1)).join(", ")} s`);
    if (booted.ours.length && booted.peer.length) {
      console.log(benchRow(`debian12 cloud-init uefi VM start to booted (phone_home, median of ${Math.min(booted.ours.length, booted.peer.length)})`, median(booted.ours), median(booted.peer), "dnsmasq proxy + TFTP + nginx (DIY)"));
    }
    if (fetchMBps.ours.length && fetchMBps.peer.length) {
      console.log(benchRow(`debian12 squashfs fetch into the VM (${mb(os.rootfs)} MB, TCG guest)`, median(fetchMBps.ours), median(fetchMBps.peer), "nginx (DIY)", "MB/s"));
    }
  });

  const bootOs = (name: string, firmware: Firmware, mac: string, segment: "edgeboot" | "diy" = "edgeboot") =>
    lab.startVm({ name, firmware, mac, segment, kernelName: segment === "edgeboot" ? os.kernelSha256 : "os/vmlinuz", timeoutMs: OS_VM_TIMEOUT_MS, memoryMb: OS_VM_MEMORY_MB, stages: osStages(segment === "edgeboot" ? os.kernelSha256 : "os/vmlinuz") });

  const timeline = (fw: Firmware): Expected[] => [
    ...(fw === "uefi" ? [phase("dhcp-offer", (e) => e.detail?.ipxe === false), phase("tftp-sent", (e) => e.detail?.file === "ipxe.efi")] : []),
    phase("dhcp-offer", (e) => e.detail?.ipxe === true),
    phase("chain-served", (e) => e.source === "worker" && e.detail?.via === "relay-cache"),
    { label: "kernel from relay cache", match: (e) => isCacheServe(e, os.kernelSha256) },
    { label: "initrd from relay cache", match: (e) => isCacheServe(e, os.initrdSha256) },
    { label: "squashfs from relay cache", match: (e) => isCacheServe(e, os.rootfsSha256) },
    phase("nocloud-meta-data"),
    phase("nocloud-user-data"),
    phase("booted", (e) => e.source === "host"),
    phase("app-ready", (e) => e.source === "host"),
  ];
  const isCacheServe = (e: BootEvent, sha: string) => /^cache[.-](hit|miss)$/.test(e.phase) && e.detail?.sha256 === sha && e.detail?.status === 200;

  /** Everything the OS applied, checked from inside; returns what must be identical on the next boot. */
  function checkInside(report: OsReport, mac: string, expected: { hostname: string; net: OsNetwork }): Record<string, unknown> {
    // cloud-init itself: done, from the NoCloud network seed, no errors, no warnings.
    const status = report.get("status");
    expect(status).toMatch(/^status: done$/m);
    expect(status).toMatch(/DataSourceNoCloudNet/);
    expect(status).not.toMatch(/DataSourceNone|fallback/i);
    const result = report.json<{ v1: { datasource: string; errors: unknown[] } }>("result");
    expect(result.v1.errors).toEqual([]);
    expect(result.v1.datasource).toMatch(/NoCloud/);
    expect(report.get("warnings"), "WARNING/ERROR lines in /var/log/cloud-init.log").toBe("");
    expect(report.get("units"), "failed systemd units").toBe("");

    // Hostname from meta-data.
    expect(report.get("hostname")).toBe(expected.hostname);
    expect(report.get("hostnamectl")).toMatch(new RegExp(`Static hostname: ${expected.hostname}$`, "m"));

    // The user, its key and its sudo rule; the secret file (compared by hash: secrets never reach a log); runcmd.
    expect(report.get("passwd")).toMatch(new RegExp(`^${OS_USER}:x:\\d+:\\d+:[^:]*:/home/${OS_USER}:/bin/bash$`, "m"));
    expect(report.get("authorized-keys")).toContain(sshKey);
    expect(report.get("sudoers")).toContain(`${OS_USER} ALL=(ALL) NOPASSWD:ALL`);
    expect(report.get(`sudo-l ${OS_USER}`)).toMatch(/\(ALL\) NOPASSWD: ALL/);
    const secretSha = createHash("sha256").update(SECRET).digest("hex");
    expect(report.get("files")).toContain(`/etc/edgeboot/site-join-token 600:root ${secretSha}`);
    expect(report.get("runcmd")).toBe(`runcmd ran on ${expected.hostname}`);
    expect(report.get("ready-phase").split("\n")[0], "runcmd's later-phase curl exit code").toBe("0");

    // Static networking the OS really applied, on the NIC with this MAC: addresses, default routes, DNS.
    const addrs = report.json<IpAddr[]>("addr");
    const nic = addrs.find((a) => a.address === mac);
    expect(nic, `an interface with MAC ${mac}`).toBeDefined();
    const have = nic!.addr_info.map((a) => `${a.local}/${a.prefixlen}`);
    for (const a of expected.net.addresses) expect(have, `addresses on ${nic!.ifname}`).toContain(a);
    const dhcp = nic!.addr_info.filter((a) => a.family === "inet" && !expected.net.addresses.includes(`${a.local}/${a.prefixlen}`));
    if (dhcp.length) console.warn(`${nic!.ifname} also has ${dhcp.map((a) => a.local).join(", ")} (the initramfs's DHCP lease)`);
    const r4 = report.json<IpRoute[]>("route4");
    expect(hasDefaultVia(r4, expected.net.gateway4, nic!.ifname), `IPv4 default via ${expected.net.gateway4}`).toBe(true);
    // The LAN's router also advertises itself (RA), so the kernel may merge both into one multipath default.
    const r6 = report.json<IpRoute[]>("route6");
    expect(hasDefaultVia(r6, expected.net.gateway6, nic!.ifname), `IPv6 default via ${expected.net.gateway6}`).toBe(true);
    const dns = report.get("dns");
    for (const ns of expected.net.nameservers) expect(dns).toContain(ns);
    expect(report.get("resolv.conf")).toMatch(/^search .*\be2e\.example\b/m);

    return {
      instanceId: report.get("instance-id"),
      hostname: report.get("hostname"),
      addresses: have.filter((a) => expected.net.addresses.includes(a)).sort(),
      user: report.get("passwd"),
      keys: report.get("authorized-keys"),
      sudoers: report.get("sudoers").split("\n").filter((l) => l && !l.startsWith("#")), // the header is dated
      files: report.get("files"),
      runcmd: report.get("runcmd"),
      dns,
    };
  }

  test("UEFI through the relay: live-boot fetches the squashfs from the relay cache, cloud-init applies everything, phone_home reports booted", async () => {
    const t0 = Date.now();
    const vm = bootOs("deb-uefi-1", "uefi", host.mac);
    const report = await expectOsReport(vm);
    printTimeline("real OS, edgeboot uefi (boot 1)", vm);
    first = report;
    const same = checkInside(report, host.mac, { hostname: host.hostname, net: network });

    const events = await bootEvents(api, SITE, vm, host.mac, timeline("uefi"), 60_000);
    printTimeline("real OS, edgeboot uefi (boot 1) with API events", vm, events);
    expect(missingInOrder(events, timeline("uefi")), "missing from the timeline").toEqual([]);
    // phone_home's own form fields arrive as the event's detail; they name the instance the OS reports.
    const bootedEvent = events.find((e) => e.phase === "booted" && e.source === "host")!;
    expect(bootedEvent.detail?.instance_id).toBe(same.instanceId);
    expect(bootedEvent.detail?.hostname).toBe(host.hostname);
    const sessions = new Set(events.filter((e) => e.source === "host" || e.phase.startsWith("nocloud-")).map((e) => e.bootSession));
    expect(sessions.size, "one boot session for the NoCloud reads and callbacks").toBe(1);
    const h = await api.get<{ state: string }>(`/v1/sites/${SITE}/hosts/${host.mac}`);
    expect(h.state).toBe("booted");

    booted.ours.push((Date.parse(bootedEvent.at) - vm.startedAt) / 1000);
    const squash = events.find((e) => isCacheServe(e, os.rootfsSha256));
    if (squash && typeof squash.detail?.ms === "number" && typeof squash.detail?.bytes === "number") fetchMBps.ours.push(squash.detail.bytes / 1e6 / (squash.detail.ms / 1000));
    timings.push(`edgeboot uefi boot 1: ${secs(t0)} s (booted at ${booted.ours.at(-1)!.toFixed(1)} s after VM start)`);
  });

  test("DIY baseline: the same image from dnsmasq proxy + TFTP + nginx with static NoCloud files", async () => {
    const t0 = Date.now();
    const vm = bootOs("diy-deb-uefi", "uefi", diyHost.mac, "diy");
    const report = await expectOsReport(vm);
    printTimeline("real OS, DIY uefi", vm);
    expect(report.get("hostname")).toBe(diyHost.hostname);
    expect(report.get("status")).toMatch(/^status: done$/m);
    const post = diy.requests(`POST /h/${diyHost.hostname}/events?phase=booted`).filter((r) => r.status === 200);
    expect(post.length, "phone_home POSTs nginx answered").toBeGreaterThan(0);
    booted.peer.push((post[0]!.at - vm.startedAt) / 1000);
    const get = diy.requests("GET /os/root.squashfs").filter((r) => r.status === 200);
    expect(get.length).toBeGreaterThan(0);
    fetchMBps.peer.push(get[0]!.bytes / 1e6 / Math.max(get[0]!.seconds, 0.001));
    timings.push(`DIY uefi boot: ${secs(t0)} s (booted at ${booted.peer.at(-1)!.toFixed(1)} s after VM start)`);
  });

  test.skipIf(ROUNDS < 2)("more timing rounds (E2E_OS_ROUNDS), alternating which side boots first", async () => {
    for (let round = 2; round <= ROUNDS; round++) {
      const t0 = Date.now();
      const sides = [edgebootRound, diyRound];
      if (round % 2 === 0) sides.reverse();
      for (const side of sides) await side(round);
      timings.push(`timing round ${round}: ${secs(t0)} s`);
    }
  });

  async function edgebootRound(round: number): Promise<void> {
    const vm = bootOs(`deb-uefi-r${round}`, "uefi", host.mac);
    const report = await expectOsReport(vm);
    expect(report.get("status")).toMatch(/^status: done$/m);
    const events = await bootEvents(api, SITE, vm, host.mac, timeline("uefi"), 60_000);
    const b = events.find((e) => e.phase === "booted" && e.source === "host");
    expect(b, "booted from phone_home").toBeDefined();
    booted.ours.push((Date.parse(b!.at) - vm.startedAt) / 1000);
    const squash = events.find((e) => isCacheServe(e, os.rootfsSha256));
    if (squash && typeof squash.detail?.ms === "number" && typeof squash.detail?.bytes === "number") fetchMBps.ours.push(squash.detail.bytes / 1e6 / (squash.detail.ms / 1000));
  }

  async function diyRound(round: number): Promise<void> {
    const vm = bootOs(`diy-deb-uefi-r${round}`, "uefi", diyHost.mac, "diy");
    const report = await expectOsReport(vm);
    expect(report.get("status")).toMatch(/^status: done$/m);
    const post = diy.requests(`POST /h/${diyHost.hostname}/events?phase=booted`).filter((r) => r.status === 200 && r.at >= vm.startedAt);
    expect(post.length).toBeGreaterThan(0);
    booted.peer.push((post[0]!.at - vm.startedAt) / 1000);
    const get = diy.requests("GET /os/root.squashfs").filter((r) => r.status === 200 && r.at >= vm.startedAt);
    if (get[0]) fetchMBps.peer.push(get[0].bytes / 1e6 / Math.max(get[0].seconds, 0.001));
  }

  test("the same host booted again (BIOS) reports the same instance-id and comes up configured identically", async () => {
    const t0 = Date.now();
    const vm = bootOs("deb-bios-2", "bios", host.mac);
    const report = await expectOsReport(vm);
    printTimeline("real OS, edgeboot bios (boot 2)", vm);
    const again = checkInside(report, host.mac, { hostname: host.hostname, net: network });
    expect(first, "boot 1 ran").toBeDefined();
    const before = checkInside(first!, host.mac, { hostname: host.hostname, net: network });
    expect(again).toEqual(before);
    const events = await bootEvents(api, SITE, vm, host.mac, timeline("bios"), 60_000);
    printTimeline("real OS, edgeboot bios (boot 2) with API events", vm, events);
    expect(missingInOrder(events, timeline("bios"))).toEqual([]);
    timings.push(`edgeboot bios boot 2: ${secs(t0)} s`);
  });

  /** Waits until the relay's cache holds these artifacts (prefetched on sync); warms it like a first machine if not. */
  async function waitForCached(r: Relay, shas: string[]): Promise<void> {
    try {
      await waitFor("the relay to prefetch the OS image's artifacts", 180_000, () => (shas.every((sha) => existsSync(join(r.cacheDir, sha))) ? true : undefined), 500);
    } catch {
      console.warn("the relay did not prefetch the OS artifacts within 180 s; warming its cache with one GET each");
      for (const sha of shas) await fetch(`${r.url}/artifacts/${sha}`).then((res) => res.arrayBuffer());
    }
  }
});

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const secs = (t0: number) => ((Date.now() - t0) / 1000).toFixed(0);
const mb = (file: string) => (statSync(file).size / 1e6).toFixed(0);
