// A boot storm on a dynamic pool, against a real relay process: the site server offers one free address to two
// machines; the second one's REQUEST is NAKed and it REQUESTs another address. The relay sees both REQUESTs (not the
// NAK), so its claims are provisional until each machine uses its address. Both machines must get their chains at
// their final addresses with no alert; a MAC already in use elsewhere still may not be moved (issue 14).
// REQUESTs arrive relayed (giaddr, from a configured agent): on loopback a test cannot send from 0.0.0.0.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiStandIn } from "./support/apiStandIn.ts";
import { claimVia4011, rewrite } from "./support/dhcpClaim.ts";
import { getFrom } from "./support/http.ts";
import { startRelayProcess, type RelayProcess } from "./support/relayProcess.ts";
import { UdpPeer } from "./support/udp.ts";
import { freePort } from "../helpers/wrangler.ts";

const api = new ApiStandIn();
const work = mkdtempSync(join(tmpdir(), "edgeboot-storm-"));
let relay: RelayProcess;
let dhcpPort: number;
let agent: UdpPeer;

beforeAll(async () => {
  await api.start();
  dhcpPort = await freePort();
  relay = await startRelayProcess({ apiUrl: api.url, credential: api.credential, stateDir: work, extraArgs: ["--dhcp-port", String(dhcpPort), "--relay-agent-network", "127.0.0.0/30"] });
  agent = await UdpPeer.bind(0, "127.0.0.1");
}, 60_000);
afterAll(async () => {
  await agent?.close();
  await relay?.stop();
  await api.stop();
  rmSync(work, { recursive: true, force: true });
});

const ignoredRequests = () => relay.logs().split("\n").filter((l) => l.includes('"not answering"')).length;
// iPXE's captured REQUEST (option 50 = the address it takes), relayed by the agent; resolves once the relay has read
// it (every REQUEST on 67 is logged as not answered: it is for the site server).
async function request(mac: string, ip: string): Promise<void> {
  const before = ignoredRequests();
  await agent.send(rewrite("ipxe-efi-request.bin", { mac, requestedIp: ip, giaddr: "127.0.0.1" }), dhcpPort);
  for (let i = 0; i < 50 && ignoredRequests() === before; i++) await new Promise((r) => setTimeout(r, 20));
  expect(ignoredRequests(), `the relay read the REQUEST of ${mac}`).toBeGreaterThan(before);
}
const chain = (mac: string, from: string) => getFrom(`${relay.base}/boot.ipxe?mac=${mac}`, from).then((r) => r.body);
const about = (macs: string[]) => relay.events().filter((e) => (e.phase === "mac-rebind" || e.phase === "chain-refused") && macs.includes(e.mac ?? ""));

describe("boot storm on a dynamic pool (real relay process)", () => {
  it("two machines offered one address: the NAKed one REQUESTs another; both get their chains, no alert", async () => {
    const [a, b] = ["52:54:00:57:00:0a", "52:54:00:57:00:0b"];
    await request(a, "127.0.0.20");
    await request(b, "127.0.0.20"); // the server NAKs it: 127.0.0.20 is a's
    await request(b, "127.0.0.21");
    expect(await chain(a, "127.0.0.20")).toBe(`#!ipxe\necho chain for ${a}\nboot\n`);
    expect(await chain(b, "127.0.0.21")).toBe(`#!ipxe\necho chain for ${b}\nboot\n`);
    expect(api.chainRequests.slice(-2)).toEqual([{ mac: a, clientAddress: "127.0.0.20" }, { mac: b, clientAddress: "127.0.0.21" }]);
    expect(about([a, b])).toEqual([]);
  });

  it("the NAKed REQUEST arrives after the winner used the address (its 4011 REQUEST): no alert either", async () => {
    const [c, d] = ["52:54:00:57:00:0c", "52:54:00:57:00:0d"];
    await request(c, "127.0.0.22");
    await claimVia4011(relay.proxyPort, c, "127.0.0.22");
    await request(d, "127.0.0.22");
    expect(await chain(c, "127.0.0.22")).toContain(`chain for ${c}`); // the confirmed claim outranks d's
    await request(d, "127.0.0.23");
    expect(await chain(d, "127.0.0.23")).toContain(`chain for ${d}`);
    expect(about([c, d])).toEqual([]);
  });

  it("until one of them uses it, an address two MACs REQUESTed is served to neither", async () => {
    const [e, f] = ["52:54:00:57:00:0e", "52:54:00:57:00:0f"];
    await request(e, "127.0.0.24");
    await request(f, "127.0.0.24");
    const asked = api.chainRequests.length;
    // A query without a MAC cannot say which: refused. One naming e is e using the address: e is served.
    expect((await getFrom(`${relay.base}/boot.ipxe`, "127.0.0.24")).body).toContain("chain refused (ip-contested)");
    expect(api.chainRequests.length).toBe(asked);
    expect(await chain(e, "127.0.0.24")).toContain(`chain for ${e}`);
    expect(await chain(f, "127.0.0.24")).toContain("chain refused (mac-mismatch)");
    expect(relay.events().filter((ev) => ev.phase === "mac-rebind" && [e, f].includes(ev.mac ?? ""))).toEqual([]);
  });

  it("a REQUEST naming a MAC in use at another address raises mac-rebind: the owner keeps its chain, the newcomer gets none", async () => {
    const victim = "52:54:00:57:00:10";
    await request(victim, "127.0.0.25");
    expect(await chain(victim, "127.0.0.25")).toContain(`chain for ${victim}`); // the victim uses its address
    await request(victim, "127.0.0.26"); // forged (or a reboot onto another lease)
    expect(await chain(victim, "127.0.0.26")).toContain("chain refused (mac-contested)");
    expect(await chain(victim, "127.0.0.25")).toContain(`chain for ${victim}`);
    expect(relay.events().filter((ev) => ev.phase === "mac-rebind" && ev.mac === victim)).toMatchObject([
      { detail: { ip: "127.0.0.26", reason: "mac-held", heldBy: "127.0.0.25", decision: "kept", source: "dhcp-request" } },
    ]);
  });
});
