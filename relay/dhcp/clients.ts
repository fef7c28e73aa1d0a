// What the DHCP side saw, for /boot.ipxe and TFTP: which MAC holds which IP (bindings learned only from the client's
// own DHCP packets, never from an HTTP query) and whether that MAC's iPXE advertised HTTPS (option 175.20).
// Pure and clocked: no sockets. Bounded in size (oldest evicted first) and age (CLIENT_TTL_MS since the last packet:
// iPXE fetches its chain seconds after its DHCP; a client still retrying later is refused once, renews DHCP, and is
// learned again, and a contest clears sooner).
//
// Provisional and confirmed claims. A REQUEST on 67 names the address a client is *taking*; the site server may NAK
// it (under a boot storm a dynamic pool offers one free address to two machines), and the relay never sees the
// answer. So a REQUEST makes a *provisional* claim; it is *confirmed* when the client uses the address: a packet sent
// from it (a 4011 REQUEST/INFORM, a REBINDING REQUEST) or a /boot.ipxe request from it whose MAC agrees (use(),
// which never overrides a confirmed claim).
//  - A MAC's new REQUEST replaces its own provisional claim silently (a NAKed client asks for another address).
//  - A MAC confirmed at a live address is not moved by a REQUEST for another: `mac-rebind`, the confirmed binding
//    keeps serving and the newcomer is refused. A claim that arrives in use at another address (a 4011 packet) while
//    the MAC holds a live claim elsewhere contests both, as does a second confirmed address: any LAN host can forge a
//    packet with the victim's MAC from its own address, and the forger may have been first.
//  - Two MACs on one address: while both are provisional neither is served (no alert); the first to use it wins and
//    the other's provisional claim is dropped; two confirmed MACs are a contest (`mac-rebind`, both refused).
// Refusing costs a delayed boot (which a LAN attacker can cause anyway), never a chain handed to the wrong machine.
// One exception: a MAC moving from a firmware-stage claim (PXE ROM, before iPXE) to an iPXE claim on another IP
// moves (reported): DHCP servers that key leases on the client identifier give the ROM and iPXE different addresses,
// and the firmware stage never fetches a chain.
export type SeenClient = { mac: string; https: boolean; arch: number | null; at: number };

export type ClaimSource = "dhcp-request" | "pxe-request";
// `os`: not a PXE/iPXE client (an installed OS's DHCP): recorded apart, never a chain binding (see vouch()).
// `used`: sent from the claimed address itself (a pxe-request always is), so the claim is confirmed at once.
export type Claim = { ip: string; mac: string; ipxe: boolean; source: ClaimSource; os?: boolean; used?: boolean };

// What a claim changed, for the caller to report. `conflict` carries the other party of the contest.
export type ClaimOutcome =
  | { kind: "new" | "refresh" }
  | { kind: "moved"; mac: string; ip: string; from: string }
  | { kind: "conflict"; mac: string; ip: string; reason: "mac-held" | "ip-held"; other: string; report: boolean; decision: Decision };

// `contested`: neither side is served; `kept`: the confirmed binding keeps serving, the newcomer is refused.
export type Decision = "contested" | "kept";
export const conflictMessage = (d: Decision) =>
  d === "kept"
    ? "conflicting DHCP claim: the MAC's confirmed address keeps its chain; the new address gets none until that claim expires"
    : "conflicting DHCP claim: neither side gets a chain until the older claim expires";

export type Binding =
  | { kind: "bound"; mac: string }
  | { kind: "unknown" }
  | { kind: "contested"; reason: "mac-held" | "ip-held"; mac: string; others: string[] };

type Held = { key: string; at: number; ipxe: boolean; confirmed: boolean };

const MAX_ENTRIES = 8192;
const MAX_CLAIMS_PER_KEY = 4; // a few live claims per MAC or IP are enough to see a contest
export const CLIENT_TTL_MS = 5 * 60_000;
// A continuing contest is reported at most this often per MAC/IP pair (a flood of forged packets is one alert).
export const REBIND_REPORT_MS = 60_000;

export class ClientTable {
  #byMac = new Map<string, SeenClient>();
  #ipsOfMac = new Map<string, Held[]>();
  #macsOfIp = new Map<string, Held[]>();
  #reported = new Map<string, number>();
  #osMacsOfIp = new Map<string, Held[]>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  noteClient(mac: string, info: { https: boolean; arch: number | null }): void {
    const prev = this.#byMac.get(mac);
    // An iPXE DISCOVER says more than a firmware one: keep https once seen until the entry ages out.
    const entry = { mac, https: info.https || (prev?.https ?? false), arch: info.arch ?? prev?.arch ?? null, at: this.#now() };
    bounded(this.#byMac, mac, entry);
  }

  byMac(mac: string): SeenClient | null {
    const e = this.#byMac.get(mac);
    return e && this.#now() - e.at <= CLIENT_TTL_MS ? e : null;
  }

  // A DHCP packet from a client says "MAC holds IP". Records it and says whether it conflicts with a live claim.
  claim(c: Claim): ClaimOutcome {
    if (c.ip === "0.0.0.0" || c.ip === "255.255.255.255") return { kind: "refresh" };
    const now = this.#now();
    if (c.os) {
      this.#hold(this.#osMacsOfIp, c.ip, c.mac, false, false, now);
      return { kind: "new" };
    }
    const used = c.used === true || c.source === "pxe-request";
    const ips = this.#live(this.#ipsOfMac, c.mac, now);
    let outcome: ClaimOutcome = { kind: ips.some((h) => h.key === c.ip) ? "refresh" : "new" };
    let elsewhere = ips.filter((h) => h.key !== c.ip);
    if (!used) {
      // A client restarting DHCP (after a NAK, say): its own provisional claims give way silently.
      for (const h of elsewhere.filter((h) => !h.confirmed)) this.#forget(c.mac, h.key);
      elsewhere = elsewhere.filter((h) => h.confirmed);
    }
    if (elsewhere.length) {
      // The ROM's address gives way to iPXE's: drop firmware-stage claims of this MAC on other IPs.
      if (c.ipxe && elsewhere.every((h) => !h.ipxe)) {
        for (const h of elsewhere) this.#forget(c.mac, h.key);
        outcome = { kind: "moved", mac: c.mac, ip: c.ip, from: elsewhere.map((h) => h.key).join(",") };
      } else {
        // In use elsewhere and here: a contest. A provisional claim there now counts as held, so both are refused.
        if (used) for (const h of elsewhere) this.#mark(c.mac, h.key);
        const decision = used ? "contested" : "kept"; // kept → contested is a new alert, not a repeat
        const other = elsewhere.map((h) => h.key).join(",");
        outcome = { kind: "conflict", mac: c.mac, ip: c.ip, reason: "mac-held", other, report: this.#report(`m ${c.mac} ${c.ip} ${decision}`, now), decision };
      }
    }
    this.#hold(this.#ipsOfMac, c.mac, c.ip, c.ipxe, used, now);
    this.#hold(this.#macsOfIp, c.ip, c.mac, c.ipxe, used, now);
    if (!used) return outcome;
    const ipConflict = this.#settleIp(c.ip, c.mac, now);
    return ipConflict && outcome.kind !== "conflict" ? ipConflict : outcome;
  }

  // A /boot.ipxe request from `ip`: the client uses its address. Confirms the provisional claim of the query's MAC
  // (or, without one, of the MAC bound there) at that address, unless a confirmed claim outranks it (the MAC in use
  // elsewhere, another MAC in use here): an HTTP request never makes a contest. Never creates a claim, never
  // refreshes its age (only DHCP packets do). Says who may be served.
  use(ip: string, mac: string | null): Binding {
    const now = this.#now();
    const seen = this.lookup(ip);
    const target = mac ?? (seen.kind === "bound" ? seen.mac : null);
    if (!target) return seen;
    const ips = this.#live(this.#ipsOfMac, target, now);
    const mine = ips.find((h) => h.key === ip);
    if (!mine || mine.confirmed || ips.some((h) => h.confirmed)) return seen;
    if (this.#live(this.#macsOfIp, ip, now).some((h) => h.confirmed)) return seen;
    this.#mark(target, ip);
    this.#settleIp(ip, target, now);
    return this.lookup(ip);
  }

  // Who may be served at this IP: the one MAC that holds it, if neither the IP nor that MAC is contested. A confirmed
  // claim outranks provisional ones on the same address; a provisional one yields to any other claim of its MAC.
  lookup(ip: string): Binding {
    const now = this.#now();
    const macs = this.#live(this.#macsOfIp, ip, now);
    if (macs.length === 0) return { kind: "unknown" };
    const confirmed = macs.filter((h) => h.confirmed);
    const candidates = confirmed.length ? confirmed : macs;
    const newest = candidates.reduce((a, b) => (b.at > a.at ? b : a));
    if (candidates.length > 1) return { kind: "contested", reason: "ip-held", mac: newest.key, others: macs.filter((h) => h !== newest).map((h) => h.key) };
    const mac = newest.key;
    const elsewhere = this.#live(this.#ipsOfMac, mac, now).filter((h) => h.key !== ip && (h.confirmed || !newest.confirmed));
    if (elsewhere.length) return { kind: "contested", reason: "mac-held", mac, others: elsewhere.map((h) => h.key) };
    return { kind: "bound", mac };
  }

  // The MAC this relay can vouch for at an address (the /h/ proxy's Edgeboot-Client-Mac): the one MAC that claimed it
  // in DHCP, at any stage, with no other MAC claiming it at any stage and no contest over its boot binding. An
  // installed OS often leases another address than iPXE did (another client id); the API accepts the vouch only for
  // the boot session's own MAC and only from the relay that issued the chain.
  vouch(ip: string): string | null {
    const now = this.#now();
    const os = this.#live(this.#osMacsOfIp, ip, now);
    const boot = this.lookup(ip);
    if (boot.kind === "contested") return null;
    const macs = new Set(os.map((h) => h.key));
    if (boot.kind === "bound") macs.add(boot.mac);
    return macs.size === 1 ? [...macs][0]! : null;
  }

  // The MAC for an IP when it is unambiguous (TFTP uses it to label events); null otherwise.
  macForIp(ip: string): string | null {
    const b = this.lookup(ip);
    return b.kind === "bound" ? b.mac : null;
  }

  get size(): { macs: number; ips: number; osIps: number } {
    return { macs: this.#ipsOfMac.size, ips: this.#macsOfIp.size, osIps: this.#osMacsOfIp.size };
  }

  #live(map: Map<string, Held[]>, key: string, now: number): Held[] {
    const list = map.get(key);
    if (!list) return [];
    const live = list.filter((h) => now - h.at <= CLIENT_TTL_MS);
    if (live.length !== list.length) {
      if (live.length) map.set(key, live);
      else map.delete(key);
    }
    return live;
  }

  // `mac` now uses `ip` (confirmed there): other MACs' provisional claims on it are dropped; another confirmed MAC
  // there is a contest.
  #settleIp(ip: string, mac: string, now: number): Extract<ClaimOutcome, { kind: "conflict" }> | null {
    const others = this.#live(this.#macsOfIp, ip, now).filter((h) => h.key !== mac);
    for (const h of others.filter((h) => !h.confirmed)) this.#forget(h.key, ip);
    const held = others.filter((h) => h.confirmed);
    if (!held.length) return null;
    return { kind: "conflict", mac, ip, reason: "ip-held", other: held.map((h) => h.key).join(","), report: this.#report(`i ${ip} ${mac}`, now), decision: "contested" };
  }

  #hold(map: Map<string, Held[]>, key: string, value: string, ipxe: boolean, confirmed: boolean, now: number): void {
    const list = (map.get(key) ?? []).filter((h) => h.key !== value);
    const prev = map.get(key)?.find((h) => h.key === value);
    // Once iPXE has claimed it, a later firmware packet (a reboot) does not make the claim movable again until it
    // ages; once confirmed, a later REQUEST for the same address does not make it provisional again.
    list.push({ key: value, at: now, ipxe: ipxe || (prev?.ipxe ?? false), confirmed: confirmed || (prev?.confirmed ?? false) });
    if (list.length > MAX_CLAIMS_PER_KEY) {
      // A flood of provisional claims must not push out a confirmed one.
      const i = list.findIndex((h) => !h.confirmed);
      list.splice(i >= 0 && i < list.length - 1 ? i : 0, 1);
    }
    bounded(map, key, list);
  }

  // Marks the claim (mac, ip) confirmed in both indexes, keeping its age.
  #mark(mac: string, ip: string): void {
    for (const h of this.#ipsOfMac.get(mac) ?? []) if (h.key === ip) h.confirmed = true;
    for (const h of this.#macsOfIp.get(ip) ?? []) if (h.key === mac) h.confirmed = true;
  }

  #forget(mac: string, ip: string): void {
    const drop = (map: Map<string, Held[]>, key: string, value: string) => {
      const list = map.get(key)?.filter((h) => h.key !== value);
      if (list?.length) map.set(key, list);
      else map.delete(key);
    };
    drop(this.#ipsOfMac, mac, ip);
    drop(this.#macsOfIp, ip, mac);
  }

  #report(key: string, now: number): boolean {
    const last = this.#reported.get(key);
    if (last !== undefined && now - last < REBIND_REPORT_MS) return false;
    bounded(this.#reported, key, now);
    return true;
  }
}

// Insertion order doubles as age order: re-inserting moves a key to the end, the oldest is evicted first.
function bounded<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_ENTRIES) map.delete(map.keys().next().value!);
}
