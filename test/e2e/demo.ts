// `npm run demo` (as root, with QEMU): the API under wrangler dev, a relay in its own network namespace and a VM that
// PXE-boots the demo host end to end, while this prints the status page URL and the boot timeline as it happens.
// Built from the e2e suite's helpers (network namespaces, site DHCP, boot image, relay, QEMU) without changing them.
// Ctrl-C (or the end with --once) tears everything down: VM, relay, wrangler, namespaces.
import { parseArgs } from "node:util";
import { describeBoot, STAGE_LABEL, stageOf, type TimelineEvent } from "../../worker/ui/timeline.ts";
import { AdminApi } from "./api.ts";
import { addHost, buildCatalogue, SITE, startRelay } from "./edgeboot.ts";
import { expectCleanBoot, openLab } from "./lab.ts";
import { missingPrereqs } from "./prereqs.ts";
import { startWorker } from "./worker.ts";

const HOST = "demo-node-1";
const MAC = "52:54:00:12:34:56";
const POLL_MS = 1000;

const { values: flags } = parseArgs({
  options: { once: { type: "boolean", default: false }, firmware: { type: "string", default: "uefi" }, help: { type: "boolean", short: "h", default: false } },
});
if (flags.help) {
  console.log(`npm run demo [-- --firmware uefi|bios] [-- --once]
  Boots ${HOST} (${MAC}) in a QEMU VM through a relay and the API, printing the status page URL and the timeline.
  Keeps the API, relay and status page up until Ctrl-C; --once stops after the boot.`);
  process.exit(0);
}
if (flags.firmware !== "uefi" && flags.firmware !== "bios") {
  console.error(`--firmware must be uefi or bios (got ${JSON.stringify(flags.firmware)})`);
  process.exit(2);
}
const firmware = flags.firmware;

const missing = missingPrereqs();
if (missing.length) {
  console.error(`npm run demo needs: ${missing.join(", ")}.
Debian packages: qemu-system-x86 ovmf ipxe ipxe-qemu dnsmasq-base busybox-static cpio iproute2 curl (and a
linux-image-*-cloud-amd64 .deb, fetched with apt-get download if apt can). Run it as root: sudo npm run demo.
Without root, npm start runs the API and the status page alone.`);
  process.exit(1);
}

const step = (text: string) => console.log(`\n▸ ${text}`);

step("building the test network (namespaces: router with the site's DHCP server, LAN, relay) and the boot image");
// openLab tears the namespaces and every daemon it tracks down on exit, SIGINT and SIGTERM.
const lab = await openLab();
let stopping = false;
const cleanup = async () => {
  if (stopping) return;
  stopping = true;
  await relay?.stop().catch(() => {});
  await worker?.stop().catch(() => {});
  await lab.close();
};
let relay: Awaited<ReturnType<typeof startRelay>> | undefined;
let worker: Awaited<ReturnType<typeof startWorker>> | undefined;

try {
  step("starting the API (wrangler dev, fresh local D1 and R2)");
  worker = await startWorker(lab.net.ip.api, lab.work);
  const api = new AdminApi(worker.url, worker.adminToken);

  step("building the catalogue through the admin API: kernel + initrd uploads, image, profiles, site, relay");
  const catalogue = await buildCatalogue(api, lab.image);
  await addHost(api, { hostname: HOST, mac: MAC });

  step(`starting the relay in namespace ${lab.net.ns.relay} (proxyDHCP, TFTP, chain hand-off, artifact cache)`);
  relay = await startRelay(lab.net, worker.url, catalogue, lab.work);

  const hostPage = `${worker.url}/ui/sites/${SITE}/hosts/${HOST}`;
  console.log(`
  Status page:  ${worker.url}/ui
  This host:    ${hostPage}
  Log in with the demo's admin token: ${worker.adminToken}
  (wrangler listens on ${lab.net.ip.api}, an address of this machine's test uplink; open it in a browser here.)`);

  step(`booting ${HOST} (${MAC}) in QEMU with ${firmware === "uefi" ? "OVMF (UEFI)" : "SeaBIOS + iPXE ROM"}; serial log ${lab.work}/${HOST}.serial.log`);
  const vm = lab.startVm({ name: HOST, firmware, mac: MAC, kernelName: lab.image.kernelSha256 });
  // Relay events arrive in batches (a second or two late), so a relay line may print just after a later Worker one.
  console.log("\n     t (s)  stage         event                  from    detail");

  // The timeline as the API records it: poll the events route (what the status page shows), print what is new.
  const seen = new Set<string>();
  const mine: TimelineEvent[] = [];
  const clients = new Set<string>();
  let polling = true;
  const poll = async () => {
    while (polling) {
      try {
        const res = await api.get<{ items: (TimelineEvent & { at: string; id: number | string })[] }>(`/v1/sites/${SITE}/events?since=${vm.startedAt}&limit=200`);
        for (const e of [...res.items].reverse()) {
          const key = String(e.id);
          if (seen.has(key)) continue;
          seen.add(key);
          const detail = e.detail ?? {};
          // A relay cache event names the client address, not the MAC: keep those from this VM's addresses.
          if (e.mac === MAC && typeof detail.client === "string") clients.add(detail.client);
          if (e.mac !== MAC && !(e.mac === null && typeof detail.client === "string" && clients.has(detail.client))) continue;
          const at = Date.parse(e.at);
          mine.push({ id: Number(e.id), at, source: e.source, phase: e.phase, mac: e.mac, detail });
          const shown = Object.entries(detail)
            .filter(([k]) => !["sid", "relay", "client", "why"].includes(k))
            .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
            .join(" ")
            .slice(0, 70);
          console.log(`  ${((at - vm.startedAt) / 1000).toFixed(1).padStart(8)}  ${STAGE_LABEL[stageOf({ phase: e.phase, detail })].padEnd(12)}  ${e.phase.padEnd(21)}  ${e.source.padEnd(6)}  ${shown}`);
        }
      } catch (err) {
        console.log(`  (events not readable yet: ${err instanceof Error ? err.message : String(err)})`);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  };
  const polled = poll();

  const boot = await expectCleanBoot(vm);
  // The relay sends its events in batches; give the last ones a moment to arrive.
  await new Promise((r) => setTimeout(r, 4000));
  polling = false;
  await polled;

  console.log(`\n${HOST} reported "${boot.phase}" ${(boot.bootedMs / 1000).toFixed(1)} s after QEMU started (hostname ${boot.hostname || "?"}).`);
  if (mine.length) {
    const summary = describeBoot(mine.sort((a, b) => a.at - b.at));
    console.log(`stages: ${summary.stages.map((s) => `${s.label} ${(s.ms / 1000).toFixed(1)} s`).join(" → ")}`);
  }
  console.log(`timeline on the status page: ${hostPage}`);
  if (!flags.once) {
    // openLab's SIGINT/SIGTERM handler kills every tracked daemon (QEMU, relay, wrangler) and deletes the namespaces.
    process.on("exit", () => console.log("\ncleaned up: VM, relay, wrangler and the network namespaces are gone."));
    console.log("\nThe API, the relay and the status page stay up; press Ctrl-C to stop and clean up.");
    setInterval(() => {}, 1 << 30);
    await new Promise(() => {});
  }
  await cleanup();
  console.log("cleaned up: VM, relay, wrangler and the network namespaces are gone.");
  process.exit(0);
} catch (err) {
  console.error(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}`);
  await cleanup();
  process.exit(1);
}
