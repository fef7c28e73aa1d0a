// The Debian installer, booted for real: Debian's own netboot d-i (debian-installer-12-netboot-amd64, kernel and
// initrd.gz unmodified) uploaded as an image, a profile without NoCloud whose kernel line names the host's preseed
// file, and a host with a per-host preseed. The VM boots UEFI (OVMF PXE) through the relay; d-i fetches its preseed
// from edgeboot through the relay's /h/ proxy, applies it, reports `installing` through the commands edgeboot adds,
// and goes on to the mirror the preseed names. The lab has no Debian mirror: the stand-in answers 404, d-i stops at
// "Bad archive mirror", and the test stops the VM there. See test/e2e/README.md, "The Debian installer".
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AdminApi, type BootEvent } from "./api.ts";
import { buildCatalogue, type Relay, SITE, startRelay } from "./edgeboot.ts";
import { ensureInstaller, type Installer, type LanServices, startLanServices } from "./installer.ts";
import { type Lab, openLab } from "./lab.ts";
import { e2eEnabled, installerPrereqsMissing } from "./prereqs.ts";
import { DEBIAN_PRESEED, debian } from "../../worker/recipes/debian.ts";
import { waitFor } from "./proc.ts";
import { serialStages, tail } from "./qemu.ts";
import { bootEvents, type Expected, missingInOrder, phase, printTimeline } from "./timeline.ts";
import { startWorker, type WorkerDev } from "./worker.ts";

const enabled = e2eEnabled(installerPrereqsMissing);

const DI_IMAGE = "e2e-debian12-installer";
const DI_PROFILE = "e2e-debian12-preseed";
const DOMAIN = "e2e.example";
// d-i under TCG on 2 shared cores: the 40 MB initrd through iPXE, then unpacking it and starting up. Bounded well
// above what was seen (see the README).
const DI_VM_TIMEOUT_MS = 20 * 60_000;
const DI_MEMORY_MB = 1024;
// The recipe's profile (worker/recipes/debian.ts), plus what this lab needs on the kernel line: the lab's DHCP server
// hands out no DNS server, and netcfg then asks for one at critical priority (netcfg dhcp.c, state NAMESERVERS), so
// the LAN's DNS server is preseeded there (netcfg runs before the preseed file is read); DEBIAN_FRONTEND=text keeps
// the serial console plain text.
const CMDLINE = debian.profile.cmdline.replace(" --- ", " netcfg/get_nameservers={{ var.nameserver }} DEBIAN_FRONTEND=text --- ");
// The recipe's preseed plus an operator's own early command (edgeboot chains its report to it), which writes to the
// console: the serial log then shows that d-i ran the preseed's commands, rendered for this host. Its '\'' quoting is
// the form edgeboot uses to wrap an operator's late command: the console shows it reached the shell intact.
const PRESEED = `${DEBIAN_PRESEED}d-i preseed/early_command string echo 'EDGEBOOT-DI early_command ran on {{ host.hostname }} ('\\''quoted'\\'')' > /dev/console\n`;
// A crypt(3) SHA-512 hash as an operator would keep it: a secret, so the file follows the site's delivery policy.
const ROOT_HASH = `$6$e2e${randomBytes(4).toString("hex")}$${randomBytes(32).toString("base64").replace(/[+=]/g, "")}`;

describe.skipIf(!enabled)("the Debian installer netboots through edgeboot and applies its per-host preseed", () => {
  let lab: Lab;
  let worker: WorkerDev;
  let api: AdminApi;
  let relay: Relay;
  let di: Installer;
  let lan: LanServices;
  const host = { hostname: "di-node-1", mac: "52:54:00:eb:70:01" };
  const timings: string[] = [];

  beforeAll(async () => {
    const t0 = Date.now();
    lab = await openLab();
    const t1 = Date.now();
    di = ensureInstaller();
    timings.push(`installer package ${di.version} ready (download + extract when not cached): ${secs(t1)} s`);
    lan = await startLanServices(lab.net, lab.work, DOMAIN);
    worker = await startWorker(lab.net.ip.api, lab.work);
    api = new AdminApi(worker.url, worker.adminToken);
    const catalogue = await buildCatalogue(api, lab.image);
    api.uploadArtifact(di.kernel, di.kernelSha256);
    api.uploadArtifact(di.initrd, di.initrdSha256);
    await api.post("/v1/images", { name: DI_IMAGE, arch: "x86_64", version: `d-i ${di.version}`, artifacts: { kernel: di.kernelSha256, initrd: [di.initrdSha256] } });
    await api.post("/v1/profiles", { ...debian.profile, name: DI_PROFILE, image: DI_IMAGE, cmdline: CMDLINE, files: { preseed: { kind: "preseed", template: PRESEED } } });
    // bound: the preseed (it names a secret) is served only through the relay that issued the chain, for the
    // machine it saw; the kernel line's file URL and the events URL point at that relay's /h/ proxy.
    await api.patch(`/v1/sites/${SITE}`, { secretDelivery: "bound" });
    // The recipe's order: host without profile, its secret, then the profile (host vars win over the profile's).
    const vars = { domain: DOMAIN, nameserver: lan.dns, mirrorHost: lan.mirrorHost, mirrorDirectory: `/${host.hostname}/debian`, installDisk: "/dev/vda" };
    await api.post(`/v1/sites/${SITE}/hosts`, { hostname: host.hostname, mac: host.mac, vars });
    await api.put(`/v1/secrets/rootPasswordHash?site=${SITE}&host=${host.hostname}`, { value: ROOT_HASH });
    await api.patch(`/v1/sites/${SITE}/hosts/${host.hostname}`, { profile: DI_PROFILE });
    relay = await startRelay(lab.net, worker.url, catalogue, lab.work);
    timings.push(`setup (lab, installer, DNS + mirror stand-in, Worker, catalogue, relay): ${secs(t0)} s`);
  });

  afterAll(async () => {
    await relay?.stop();
    await worker?.stop();
    await lan?.stop();
    await lab?.close();
    console.log(`\n== installer scenario timings ==\n${timings.map((t) => `  ${t}`).join("\n")}`);
  });

  const isCacheServe = (e: BootEvent, sha: string) => /^cache[.-](hit|miss)$/.test(e.phase) && e.detail?.sha256 === sha && e.detail?.status === 200;
  const timeline = (): Expected[] => [
    phase("dhcp-offer", (e) => e.detail?.ipxe === false),
    phase("tftp-sent", (e) => e.detail?.file === "ipxe.efi"),
    phase("dhcp-offer", (e) => e.detail?.ipxe === true),
    phase("chain-served", (e) => e.source === "worker" && e.detail?.via === "relay-cache"),
    { label: "d-i kernel from relay cache", match: (e) => isCacheServe(e, di.kernelSha256) },
    { label: "d-i initrd from relay cache", match: (e) => isCacheServe(e, di.initrdSha256) },
    phase("file-preseed", (e) => e.source === "worker" && e.detail?.kind === "preseed"),
    phase("installing", (e) => e.source === "host"),
  ];

  test("UEFI through the relay: d-i fetches its preseed from edgeboot, reports installing, and asks the preseeded mirror", async () => {
    const t0 = Date.now();
    const stages = [
      ...serialStages(di.kernelSha256).slice(0, 6), // firmware PXE … kernel fetched
      ["initrd fetched", new RegExp(`${di.initrdSha256.slice(-12)}\\.\\.\\.[^\\n]*\\bok`)],
      ["Linux started", /Linux version/],
      ["d-i early_command", /EDGEBOOT-DI early_command ran on/],
      ["mirror error", /Bad archive mirror/],
    ] as [string, RegExp][];
    const vm = lab.startVm({ name: "d-i-uefi", firmware: "uefi", mac: host.mac, kernelName: di.kernelSha256, timeoutMs: DI_VM_TIMEOUT_MS, memoryMb: DI_MEMORY_MB, stages });
    const mirrorPath = `/${host.hostname}/debian/`;
    try {
      // The installer asks the mirror the preseed names, on the path it names for this host: the preseed applied.
      const asked = await waitFor("d-i to ask the preseeded mirror", DI_VM_TIMEOUT_MS, async () => {
        const exited = await Promise.race([vm.exited, new Promise<undefined>((r) => setTimeout(r, 0, undefined))]);
        if (exited) throw new Error(`QEMU ${exited.timedOut ? "timed out" : "exited"} before d-i asked the mirror (serial log ${vm.serialLog})\n${tail(vm.serial(), 40)}`);
        return lan.mirrorRequests().find((r) => r.url.startsWith(mirrorPath));
      }, 1000);
      vm.marks.set("mirror asked (stand-in log)", asked.at - vm.startedAt);
      // d-i then says the mirror is bad (critical priority: it waits for an answer nobody gives).
      await vm.waitForSerial(/Bad archive mirror/, 180_000).catch((err) => console.warn(`no "Bad archive mirror" on the console: ${(err as Error).message.split("\n")[0]}`));
    } finally {
      await vm.stop();
    }
    const serial = vm.serial();
    printTimeline("d-i, edgeboot uefi", vm);

    // What the mirror stand-in and the DNS server saw: the preseeded host name, resolved by the LAN's DNS server.
    const requests = lan.mirrorRequests().filter((r) => r.url.startsWith(mirrorPath));
    console.log(`mirror requests: ${JSON.stringify(requests.map(({ method, url, host: h, userAgent }) => ({ method, url, host: h, userAgent })))}`);
    expect(requests[0]!.host).toBe(lan.mirrorHost);
    expect(requests[0]!.url).toMatch(new RegExp(`^${mirrorPath}dists/\\S+/Release$`));
    expect(lan.dnsQueries().some((q) => q.name === lan.mirrorHost && q.type === "A"), "an A query for the mirror at the LAN's DNS server").toBe(true);

    // The console: the kernel line as the chain wrote it (no NoCloud seed; edgeboot's URL before `---`), and the
    // preseed's own early command, run for this host.
    const cmdline = /Kernel command line: ([^\r\n]*)/.exec(serial)?.[1] ?? "";
    expect(cmdline, "the d-i kernel's command line on the console").toContain("auto=true priority=critical url=http://");
    expect(cmdline).not.toContain("ds=nocloud");
    const [before = "", after = ""] = cmdline.split(" --- ");
    expect(before).toMatch(new RegExp(`url=http://${lab.net.ip.relay.replaceAll(".", "\\.")}:\\d+/h/[A-Za-z0-9_.-]+/files/preseed`));
    expect(after).not.toContain("/h/");
    expect(serial).toContain(`EDGEBOOT-DI early_command ran on ${host.hostname} ('quoted')`);

    // The API's timeline: chain, kernel and initrd from the relay cache, the preseed served, d-i's own `installing`.
    const events = await bootEvents(api, SITE, vm, host.mac, timeline(), 60_000);
    printTimeline("d-i, edgeboot uefi, with API events", vm, events);
    expect(missingInOrder(events, timeline()), "missing from the timeline").toEqual([]);
    const session = events.find((e) => e.phase === "chain-served")!.bootSession;
    expect(events.filter((e) => e.phase === "file-preseed" || e.phase === "installing").every((e) => e.bootSession === session), "one boot session").toBe(true);
    expect(events.filter((e) => e.phase === "installed"), "no install finished here").toEqual([]);
    const h = await api.get<{ state: string }>(`/v1/sites/${SITE}/hosts/${host.mac}`);
    expect(h.state).toBe("installing");

    const at = (stage: string) => ((vm.marks.get(stage) ?? NaN) / 1000).toFixed(1);
    const ev = (p: string) => {
      const e = events.find((x) => x.phase === p);
      return e ? ((Date.parse(e.at) - vm.startedAt) / 1000).toFixed(1) : "n/a";
    };
    timings.push(`d-i boot: ${secs(t0)} s; after VM start: kernel ${at("kernel fetched")} s, initrd ${at("initrd fetched")} s, Linux ${at("Linux started")} s, preseed served ${ev("file-preseed")} s, installing ${ev("installing")} s, mirror asked ${at("mirror asked (stand-in log)")} s, "Bad archive mirror" ${at("mirror error")} s`);
  });
});

const secs = (t0: number) => ((Date.now() - t0) / 1000).toFixed(0);
