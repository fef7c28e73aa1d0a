// The IP↔MAC binding table behind /boot.ipxe, and which DHCP packets teach it (real firmware captures).
import { describe, expect, it } from "vitest";
import { claimFrom } from "../../relay/dhcp/claim.ts";
import { CLIENT_TTL_MS, ClientTable, REBIND_REPORT_MS } from "../../relay/dhcp/clients.ts";
import { decodeDhcp } from "../../relay/dhcp/packet.ts";
import { capture } from "./support/captures.ts";
import { rewrite } from "./support/dhcpClaim.ts";

const A = "52:54:00:00:00:0a";
const B = "52:54:00:00:00:0b";
const clock = () => {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
};

describe("which packets teach a binding", () => {
  it("a broadcast REQUEST on 67 (source 0.0.0.0) teaches option 50; from another source it teaches nothing", () => {
    const req = decodeDhcp(capture("ipxe-efi-request.bin"));
    const fromZero = claimFrom(req, "dhcp", { address: "0.0.0.0", port: 68 });
    expect(fromZero).toMatchObject({ ip: "10.213.0.110", ipxe: true, source: "dhcp-request" });
    expect(fromZero?.used).toBeUndefined(); // provisional: the server may still NAK it
    expect(claimFrom(decodeDhcp(rewrite("ipxe-efi-request.bin", { ciaddr: "10.213.0.110" })), "dhcp", { address: "10.213.0.110", port: 68 })).toMatchObject({ used: true });
    expect(claimFrom(req, "dhcp", { address: "10.213.0.99", port: 68 })).toBeNull();
    expect(claimFrom(decodeDhcp(capture("ovmf-x64-request.bin")), "dhcp", { address: "0.0.0.0", port: 68 })).toMatchObject({ ipxe: false });
  });

  it("a 4011 REQUEST teaches its source address only when ciaddr agrees", () => {
    const req = decodeDhcp(capture("ovmf-x64-request-4011.bin"));
    expect(claimFrom(req, "proxy", { address: req.ciaddr, port: 4011 })).toMatchObject({ ip: req.ciaddr, source: "pxe-request", ipxe: false });
    expect(claimFrom(req, "proxy", { address: "10.213.0.66", port: 4011 })).toBeNull(); // a spoofed ciaddr
  });

  it("DISCOVERs, non-PXE clients and a relayed REQUEST's agent source teach nothing / the right thing", () => {
    expect(claimFrom(decodeDhcp(capture("ipxe-efi-discover.bin")), "dhcp", { address: "0.0.0.0", port: 68 })).toBeNull();
    const laptop = decodeDhcp(capture("ipxe-efi-request.bin"));
    laptop.options.delete(60);
    laptop.options.delete(77);
    laptop.options.delete(175);
    // Any other client's REQUEST is an OS claim: never a chain binding, only what the /h/ proxy may vouch for.
    expect(claimFrom(laptop, "dhcp", { address: "0.0.0.0", port: 68 })).toMatchObject({ ip: "10.213.0.110", os: true });
    expect(claimFrom(laptop, "proxy", { address: "10.213.0.110", port: 68 })).toBeNull();
    const relayed = decodeDhcp(rewrite("ipxe-efi-request.bin", { giaddr: "10.9.0.1" }));
    expect(claimFrom(relayed, "dhcp", { address: "10.9.0.1", port: 67 })).toMatchObject({ ip: "10.213.0.110" });
  });
});

describe("ClientTable", () => {
  it("binds, refreshes and expires", () => {
    const c = clock();
    const t = new ClientTable(c.now);
    expect(t.lookup("10.0.0.1")).toEqual({ kind: "unknown" });
    expect(t.claim({ ip: "10.0.0.1", mac: A, ipxe: false, source: "dhcp-request" })).toEqual({ kind: "new" });
    expect(t.claim({ ip: "10.0.0.1", mac: A, ipxe: true, source: "dhcp-request" })).toEqual({ kind: "refresh" });
    expect(t.lookup("10.0.0.1")).toEqual({ kind: "bound", mac: A });
    c.advance(CLIENT_TTL_MS + 1);
    expect(t.lookup("10.0.0.1")).toEqual({ kind: "unknown" });
    expect(t.size).toEqual({ macs: 1, ips: 0, osIps: 0 }); // pruned on read; the MAC side goes when next read or evicted
  });

  it("a MAC claimed from a second live address contests both; the alert is rate-limited; it clears when the older claim expires", () => {
    const c = clock();
    const t = new ClientTable(c.now);
    t.claim({ ip: "10.0.0.1", mac: A, ipxe: true, source: "dhcp-request" });
    c.advance(1000);
    const forged = t.claim({ ip: "10.0.0.66", mac: A, ipxe: true, source: "pxe-request" });
    // A claim arriving in use at another address while A's REQUEST named 10.0.0.1: both refused.
    expect(forged).toEqual({ kind: "conflict", mac: A, ip: "10.0.0.66", reason: "mac-held", other: "10.0.0.1", report: true, decision: "contested" });
    expect(t.lookup("10.0.0.66")).toMatchObject({ kind: "contested", reason: "mac-held", others: ["10.0.0.1"] });
    expect(t.lookup("10.0.0.1")).toMatchObject({ kind: "contested", reason: "mac-held", others: ["10.0.0.66"] });
    expect(t.claim({ ip: "10.0.0.66", mac: A, ipxe: true, source: "pxe-request" })).toMatchObject({ kind: "conflict", report: false });
    c.advance(REBIND_REPORT_MS);
    expect(t.claim({ ip: "10.0.0.66", mac: A, ipxe: true, source: "pxe-request" })).toMatchObject({ kind: "conflict", report: true });
    // The forger keeps claiming; the original stops: once the original's claim ages out, the forger holds it alone.
    c.advance(CLIENT_TTL_MS - REBIND_REPORT_MS);
    t.claim({ ip: "10.0.0.66", mac: A, ipxe: true, source: "pxe-request" });
    expect(t.lookup("10.0.0.66")).toEqual({ kind: "bound", mac: A });
  });

  it("an address two MACs REQUESTed is served to neither, silently, until one uses it; two that use it are a contest", () => {
    const t = new ClientTable(clock().now);
    t.claim({ ip: "10.0.0.1", mac: A, ipxe: true, source: "dhcp-request" });
    expect(t.claim({ ip: "10.0.0.1", mac: B, ipxe: true, source: "dhcp-request" })).toEqual({ kind: "new" }); // no alert
    expect(t.lookup("10.0.0.1")).toMatchObject({ kind: "contested", reason: "ip-held" });
    expect(t.macForIp("10.0.0.1")).toBeNull();
    // B's /boot.ipxe from 10.0.0.1 names B: B uses the address, A's provisional claim on it goes.
    expect(t.use("10.0.0.1", B)).toEqual({ kind: "bound", mac: B });
    expect(t.claim({ ip: "10.0.0.1", mac: A, ipxe: true, source: "dhcp-request" })).toEqual({ kind: "new" }); // A's late REQUEST
    expect(t.lookup("10.0.0.1")).toEqual({ kind: "bound", mac: B }); // the confirmed claim outranks it
    expect(t.use("10.0.0.1", A)).toEqual({ kind: "bound", mac: B }); // and a chain request naming A cannot undo that
    // A's 4011 from 10.0.0.1 too: two MACs in use on one address.
    expect(t.claim({ ip: "10.0.0.1", mac: A, ipxe: true, source: "pxe-request" })).toMatchObject({ kind: "conflict", reason: "ip-held", other: B, decision: "contested", report: true });
    expect(t.lookup("10.0.0.1")).toMatchObject({ kind: "contested", reason: "ip-held" });
  });

  it("a NAKed client's new REQUEST replaces its provisional claim silently; a confirmed one is kept and the newcomer refused", () => {
    const t = new ClientTable(clock().now);
    t.claim({ ip: "10.0.0.1", mac: A, ipxe: true, source: "dhcp-request" });
    expect(t.claim({ ip: "10.0.0.2", mac: A, ipxe: true, source: "dhcp-request" })).toEqual({ kind: "new" });
    expect(t.lookup("10.0.0.1")).toEqual({ kind: "unknown" });
    expect(t.lookup("10.0.0.2")).toEqual({ kind: "bound", mac: A });
    expect(t.use("10.0.0.2", A)).toEqual({ kind: "bound", mac: A }); // iPXE fetched its chain from there
    expect(t.claim({ ip: "10.0.0.3", mac: A, ipxe: true, source: "dhcp-request" })).toEqual({
      kind: "conflict", mac: A, ip: "10.0.0.3", reason: "mac-held", other: "10.0.0.2", report: true, decision: "kept",
    });
    expect(t.lookup("10.0.0.2")).toEqual({ kind: "bound", mac: A });
    expect(t.lookup("10.0.0.3")).toMatchObject({ kind: "contested", reason: "mac-held", others: ["10.0.0.2"] });
    // A chain request from the newcomer's address naming A confirms nothing: the confirmed binding keeps serving.
    expect(t.use("10.0.0.3", A)).toMatchObject({ kind: "contested", reason: "mac-held" });
    expect(t.lookup("10.0.0.2")).toEqual({ kind: "bound", mac: A });
    // A 4011 REQUEST from there is a second address in use: both refused, reported.
    expect(t.claim({ ip: "10.0.0.3", mac: A, ipxe: true, source: "pxe-request" })).toMatchObject({ kind: "conflict", decision: "contested", report: true });
    expect(t.lookup("10.0.0.2")).toMatchObject({ kind: "contested", reason: "mac-held" });
  });

  it("a REQUEST sent from the address it names confirms it; a query without a MAC confirms the one bound there", () => {
    const t = new ClientTable(clock().now);
    t.claim({ ip: "10.0.0.1", mac: A, ipxe: true, source: "dhcp-request", used: true });
    expect(t.claim({ ip: "10.0.0.2", mac: A, ipxe: true, source: "dhcp-request" })).toMatchObject({ kind: "conflict", decision: "kept" });
    t.claim({ ip: "10.0.0.5", mac: B, ipxe: true, source: "dhcp-request" });
    expect(t.use("10.0.0.5", null)).toEqual({ kind: "bound", mac: B });
    expect(t.claim({ ip: "10.0.0.6", mac: B, ipxe: true, source: "dhcp-request" })).toMatchObject({ kind: "conflict", decision: "kept" });
    // A query naming a MAC that has no claim at that address confirms nothing.
    expect(t.use("10.0.0.6", A)).toMatchObject({ kind: "contested", mac: B });
  });

  it("moves a MAC from its firmware address to its iPXE address (reported), but never away from a confirmed iPXE claim", () => {
    const t = new ClientTable(clock().now);
    t.claim({ ip: "10.0.0.1", mac: A, ipxe: false, source: "pxe-request" });
    expect(t.claim({ ip: "10.0.0.2", mac: A, ipxe: true, source: "dhcp-request" })).toEqual({ kind: "moved", mac: A, ip: "10.0.0.2", from: "10.0.0.1" });
    expect(t.lookup("10.0.0.2")).toEqual({ kind: "bound", mac: A });
    expect(t.lookup("10.0.0.1")).toEqual({ kind: "unknown" });
    t.claim({ ip: "10.0.0.2", mac: A, ipxe: true, source: "pxe-request" }); // iPXE's 4011 from there
    expect(t.claim({ ip: "10.0.0.3", mac: A, ipxe: true, source: "dhcp-request" })).toMatchObject({ kind: "conflict", reason: "mac-held" });
    expect(t.claim({ ip: "10.0.0.4", mac: A, ipxe: false, source: "dhcp-request" })).toMatchObject({ kind: "conflict" });
    expect(t.claim({ ip: "10.0.0.5", mac: A, ipxe: true, source: "pxe-request" })).toMatchObject({ kind: "conflict", decision: "contested" });
  });

  it("OS claims are never chain bindings; the relay vouches for an address only when one MAC ever claimed it", () => {
    const t = new ClientTable(clock().now);
    t.claim({ ip: "10.0.0.1", mac: A, ipxe: true, source: "dhcp-request" }); // iPXE
    t.claim({ ip: "10.0.0.2", mac: A, ipxe: false, source: "dhcp-request", os: true }); // the installed OS, another lease
    expect(t.lookup("10.0.0.2")).toEqual({ kind: "unknown" });
    expect(t.lookup("10.0.0.1")).toEqual({ kind: "bound", mac: A }); // no contest: the OS claim is apart
    expect(t.vouch("10.0.0.2")).toBe(A);
    expect(t.vouch("10.0.0.1")).toBe(A);
    expect(t.vouch("10.0.0.3")).toBeNull();
    t.claim({ ip: "10.0.0.2", mac: B, ipxe: false, source: "dhcp-request", os: true }); // someone else claims it too
    expect(t.vouch("10.0.0.2")).toBeNull();
    t.claim({ ip: "10.0.0.1", mac: B, ipxe: false, source: "dhcp-request", os: true });
    expect(t.vouch("10.0.0.1")).toBeNull(); // boot binding A, OS claim B: ambiguous
  });

  it("stays bounded under a flood of forged claims", () => {
    const t = new ClientTable(clock().now);
    for (let i = 0; i < 10_000; i++) {
      const mac = `02:00:00:${((i >> 16) & 255).toString(16).padStart(2, "0")}:${((i >> 8) & 255).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`;
      t.claim({ ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, mac, ipxe: true, source: "dhcp-request" });
      t.claim({ ip: "10.255.255.1", mac, ipxe: true, source: "dhcp-request" }); // all on one IP: its list is capped
    }
    expect(t.size.macs).toBeLessThanOrEqual(8192);
    expect(t.size.ips).toBeLessThanOrEqual(8192);
    for (let i = 0; i < 10_000; i++) t.claim({ ip: `10.1.${(i >> 8) & 255}.${i & 255}`, mac: A, ipxe: false, source: "dhcp-request", os: true });
    expect(t.size.osIps).toBeLessThanOrEqual(8192);
  });
});
