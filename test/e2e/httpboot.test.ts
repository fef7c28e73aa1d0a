// End to end: OVMF boots through UEFI HTTP Boot only. The firmware's PXE client is switched off (QEMU fw_cfg, see
// qemu.ts `netBoot: "http"`), so the NIC's only boot entries are "UEFI HTTPv4/HTTPv6": the relay answers its
// HTTPClient DISCOVER with an http:// URL of ipxe.efi (option 67), the firmware downloads it from the relay's HTTP
// server, iPXE DHCPs as iPXE and chains as in boot.test.ts. No TFTP anywhere on the path. See test/e2e/README.md.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AdminApi } from "./api.ts";
import { addHost, buildCatalogue, type Relay, RELAY_HTTP_PORT, SITE, startRelay } from "./edgeboot.ts";
import { expectCleanBoot, type Lab, openLab } from "./lab.ts";
import { e2eEnabled } from "./prereqs.ts";
import { waitFor } from "./proc.ts";
import { serialStages, type Stage } from "./qemu.ts";
import { bootEvents, type Expected, missingInOrder, phase, printTimeline } from "./timeline.ts";
import { startWorker, type WorkerDev } from "./worker.ts";

const enabled = e2eEnabled();
const MAC = "52:54:00:eb:60:01";
const HOSTNAME = "edge-httpboot";
const SNP_MAC = "52:54:00:eb:60:02";
const SNP_HOSTNAME = "edge-httpboot-snp";

// The firmware's own stages differ from PXE's: EDK2 HttpBootDxe prints these on the console.
const httpStages = (kernelName: string): Stage[] => [
  ["firmware HTTP Boot", /Start HTTP Boot over IPv4/],
  ["NBP downloaded", /Downloading\.\.\.100%/],
  ...serialStages(kernelName).slice(2),
];

type LogRecord = { msg?: string; part?: string; [k: string]: unknown };
const relayLog = (relay: Relay): LogRecord[] =>
  readFileSync(relay.log, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as LogRecord);

describe.skipIf(!enabled)("UEFI HTTP Boot end to end", () => {
  let lab: Lab;
  let worker: WorkerDev;
  let api: AdminApi;
  let relay: Relay;

  beforeAll(async () => {
    lab = await openLab();
    console.log(`e2e work dir: ${lab.work}; LANs ${Object.values(lab.net.cidr).join(", ")}; image ${lab.image.kernelPackage}`);
    worker = await startWorker(lab.net.ip.api, lab.work);
    api = new AdminApi(worker.url, worker.adminToken);
    const catalogue = await buildCatalogue(api, lab.image);
    await addHost(api, { hostname: HOSTNAME, mac: MAC });
    relay = await startRelay(lab.net, worker.url, catalogue, lab.work);
    const shas = [lab.image.kernelSha256, lab.image.initrdSha256];
    await waitFor("the relay to prefetch the image's artifacts", 90_000, () => (shas.every((sha) => existsSync(join(relay.cacheDir, sha))) ? true : undefined), 500);
  });
  afterAll(async () => {
    await relay?.stop();
    await worker?.stop();
    await lab?.close();
  });

  test("OVMF with PXE off: HTTPClient offer, ipxe.efi over HTTP from the relay, iPXE chain, booted; no TFTP", async () => {
    const vm = lab.startVm({ name: "httpboot-x64", firmware: "uefi", netBoot: "http", mac: MAC, kernelName: lab.image.kernelSha256, stages: httpStages(lab.image.kernelSha256) });
    const boot = await expectCleanBoot(vm);
    expect(boot.hostname).toBe(HOSTNAME);
    expect(boot.phase).toBe("booted");
    const serial = vm.serial();
    // The firmware took its HTTP Boot entry, and no PXE client ever ran.
    expect(serial).toMatch(/Start HTTP Boot over IPv4/);
    expect(serial).toMatch(/BdsDxe: starting Boot\d+ "UEFI HTTPv4 \(MAC:525400EB6001\)"/);
    expect(serial).not.toMatch(/Start PXE over IPv/);
    expect(serial).toMatch(/iPXE initialising devices/);
    expect(serial).toContain(`EDGEBOOT user-data ran on ${HOSTNAME}`);

    const binaryUrl = `http://${lab.net.ip.relay}:${RELAY_HTTP_PORT}/ipxe.efi`;
    const expected: Expected[] = [
      phase("dhcp-offer", (e) => e.detail?.platform === "http-x64" && e.detail?.ipxe === false && e.detail?.bootFile === binaryUrl),
      phase("http-binary-sent", (e) => e.detail?.file === "ipxe.efi" && typeof e.detail?.bytes === "number" && e.detail.bytes > 100_000),
      phase("dhcp-offer", (e) => e.detail?.ipxe === true),
      phase("chain-served", (e) => e.source === "worker" && e.detail?.via === "relay-cache"),
      { label: "kernel from relay cache", match: (e) => /^cache[.-](hit|miss)$/.test(e.phase) && e.detail?.sha256 === lab.image.kernelSha256 },
      { label: "initrd from relay cache", match: (e) => /^cache[.-](hit|miss)$/.test(e.phase) && e.detail?.sha256 === lab.image.initrdSha256 },
      phase("nocloud-meta-data"),
      phase("nocloud-user-data"),
      phase("booted", (e) => e.source === "host"),
    ];
    const events = await bootEvents(api, SITE, vm, MAC, expected);
    printTimeline("edgeboot UEFI HTTP Boot (x64)", vm, events);
    expect(missingInOrder(events, expected), `missing from the timeline of ${vm.name}`).toEqual([]);
    // No TFTP on the path: no tftp event for this machine, no port-4011 step (HTTP Boot has none)...
    expect(events.filter((e) => e.phase.startsWith("tftp") || e.phase === "dhcp-ack-4011").map((e) => e.phase)).toEqual([]);
    // ...and the relay's TFTP server saw nothing at all (this lab's only VM): no transfer, refusal or stray packet.
    const tftpLines = relayLog(relay).filter((r) => r.part === "tftp" && r.msg !== "listening");
    expect(tftpLines).toEqual([]);
    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    expect(metrics.split("\n").filter((l) => /^edgeboot_tftp_transfers_total\{/.test(l) && !/ 0$/.test(l))).toEqual([]);
    // The firmware asked for the size first (HEAD), then downloaded it: both from this machine's address.
    const offered = events.find((e) => e.phase === "http-binary-sent");
    const probes = relayLog(relay).filter((r) => r.msg === "http boot binary probed" && r.file === "ipxe.efi");
    expect(probes.map((r) => r.client)).toContain(offered?.detail?.client);
    expect(offered?.mac).toBe(MAC);
  });

  // The host's ipxeBuild, set through the API, reaches the relay with a sync and changes what its firmware is handed.
  test("a host's ipxeBuild: snponly makes the relay hand its HTTP Boot firmware snponly.efi, which boots too", async () => {
    await addHost(api, { hostname: SNP_HOSTNAME, mac: SNP_MAC });
    await api.patch(`/v1/sites/${SITE}/hosts/${SNP_HOSTNAME}`, { ipxeBuild: "snponly" });
    const snapshotFile = join(dirname(relay.cacheDir), "snapshot.json");
    await waitFor("the relay's synced snapshot to carry the override", 60_000, () => {
      const snap = existsSync(snapshotFile) ? (JSON.parse(readFileSync(snapshotFile, "utf8")) as { snapshot: { hosts: Array<{ mac: string; ipxeBuild?: string }> } }) : null;
      return snap?.snapshot.hosts.find((h) => h.mac === SNP_MAC)?.ipxeBuild === "snponly" ? true : undefined;
    }, 500);
    const vm = lab.startVm({ name: "httpboot-x64-snponly", firmware: "uefi", netBoot: "http", mac: SNP_MAC, kernelName: lab.image.kernelSha256, stages: httpStages(lab.image.kernelSha256) });
    const boot = await expectCleanBoot(vm);
    expect(boot.phase).toBe("booted");
    expect(boot.hostname).toBe(SNP_HOSTNAME);
    const binaryUrl = `http://${lab.net.ip.relay}:${RELAY_HTTP_PORT}/snponly.efi`;
    const expected: Expected[] = [
      phase("dhcp-offer", (e) => e.detail?.platform === "http-x64" && e.detail?.bootFile === binaryUrl && e.detail?.ipxeBuild === "snponly"),
      phase("http-binary-sent", (e) => e.detail?.file === "snponly.efi"),
      phase("dhcp-offer", (e) => e.detail?.ipxe === true),
      phase("chain-served", (e) => e.source === "worker"),
      phase("booted", (e) => e.source === "host"),
    ];
    const events = await bootEvents(api, SITE, vm, SNP_MAC, expected);
    printTimeline("edgeboot UEFI HTTP Boot (x64), ipxeBuild snponly", vm, events);
    expect(missingInOrder(events, expected), `missing from the timeline of ${vm.name}`).toEqual([]);
    expect(vm.serial()).toMatch(/URI: http:\/\/\S+\/snponly\.efi/);
    expect(events.filter((e) => e.phase === "http-binary-sent").map((e) => e.detail?.file)).toEqual(["snponly.efi"]);
  });
});
