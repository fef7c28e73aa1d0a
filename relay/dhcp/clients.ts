// What the DHCP side saw, for /boot.ipxe and TFTP: which MAC holds which IP (bindings learned only from the client's
// own DHCP packets, never from an HTTP query) and whether that MAC's iPXE advertised HTTPS (option 175.20).
// Pure and clocked: no sockets. Bounded in size (oldest evicted first) and age (CLIENT_TTL_MS since the last packet:
// iPXE fetches its chain seconds after its DHCP; a client still retrying later is refused once, renews DHCP, and is
// learned again, and a contest clears sooner).
//
// Conflicts. A MAC claimed from two live IPs, or an IP claimed by two live MACs, is "contested": /boot.ipxe serves
// neither until the older claim ages out, and the claim that made the conflict is reported (`mac-rebind`). The new
// claim does not win because any LAN host can forge a DHCP packet with the victim's MAC and its own address; the old
// one does not win either, because the forger may have been first. Refusing both costs a delayed boot (which a LAN
// attacker can cause anyway), never a chain handed to the wrong machine. One exception: a MAC moving from a
// firmware-stage claim (PXE ROM, before iPXE) to an iPXE claim on another IP moves (reported too): DHCP servers
// that key leases on the client identifier give the ROM and iPXE different addresses, and the firmware stage never
// fetches a chain.
export type SeenClient = { mac: string; https: boolean; arch: number | null; at: number };

export type ClaimSource = "dhcp-request" | "pxe-request";
// `os`: not a PXE/iPXE client (an installed OS's DHCP): recorded apart, never a chain binding (see vouch()).
export type Claim = { ip: string; mac: string; ipxe: boolean; source: ClaimSource; os?: boolean };

// What a claim changed, for the caller to report. `conflict` carries the other party of the contest.
export type ClaimOutcome =
  | { kind: "new" | "refresh" }
  | { kind: "moved"; mac: string; ip: string; from: string }
  | { kind: "conflict"; mac: string; ip: string; reason: "mac-held" | "ip-held"; other: string; report: boolean };

export type Binding =
  | { kind: "bound"; mac: string }
  | { kind: "unknown" }
  | { kind: "contested"; reason: "mac-held" | "ip-held"; mac: string; others: string[] };

type Held = { key: string; at: number; ipxe: boolean };

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
      this.#hold(this.#osMacsOfIp, c.ip, c.mac, false, now);
      return { kind: "new" };
    }
    const ips = this.#live(this.#ipsOfMac, c.mac, now);
    const macs = this.#live(this.#macsOfIp, c.ip, now);
    const known = ips.some((h) => h.key === c.ip);
    let outcome: ClaimOutcome = { kind: known ? "refresh" : "new" };
    const otherIps = ips.filter((h) => h.key !== c.ip);
    if (otherIps.length) {
      // The ROM's address gives way to iPXE's: drop firmware-stage claims of this MAC on other IPs.
      if (c.ipxe && otherIps.every((h) => !h.ipxe)) {
        for (const h of otherIps) this.#forget(c.mac, h.key);
        outcome = { kind: "moved", mac: c.mac, ip: c.ip, from: otherIps.map((h) => h.key).join(",") };
      } else {
        const other = otherIps.map((h) => h.key).join(",");
        outcome = { kind: "conflict", mac: c.mac, ip: c.ip, reason: "mac-held", other, report: this.#report(`m ${c.mac} ${c.ip}`, now) };
      }
    }
    const otherMacs = macs.filter((h) => h.key !== c.mac);
    if (otherMacs.length && outcome.kind !== "conflict") {
      const other = otherMacs.map((h) => h.key).join(",");
      outcome = { kind: "conflict", mac: c.mac, ip: c.ip, reason: "ip-held", other, report: this.#report(`i ${c.ip} ${c.mac}`, now) };
    }
    this.#hold(this.#ipsOfMac, c.mac, c.ip, c.ipxe, now);
    this.#hold(this.#macsOfIp, c.ip, c.mac, c.ipxe, now);
    return outcome;
  }

  // Who may be served at this IP: the one MAC that holds it, if neither the IP nor that MAC is contested.
  lookup(ip: string): Binding {
    const now = this.#now();
    const macs = this.#live(this.#macsOfIp, ip, now);
    if (macs.length === 0) return { kind: "unknown" };
    const newest = macs.reduce((a, b) => (b.at > a.at ? b : a));
    if (macs.length > 1) return { kind: "contested", reason: "ip-held", mac: newest.key, others: macs.filter((h) => h !== newest).map((h) => h.key) };
    const mac = newest.key;
    const ips = this.#live(this.#ipsOfMac, mac, now);
    if (ips.length > 1) return { kind: "contested", reason: "mac-held", mac, others: ips.filter((h) => h.key !== ip).map((h) => h.key) };
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

  #hold(map: Map<string, Held[]>, key: string, value: string, ipxe: boolean, now: number): void {
    const list = (map.get(key) ?? []).filter((h) => h.key !== value);
    const prev = map.get(key)?.find((h) => h.key === value);
    // Once iPXE has claimed it, a later firmware packet (a reboot) does not make the claim movable again until it ages.
    list.push({ key: value, at: now, ipxe: ipxe || (prev?.ipxe ?? false) });
    if (list.length > MAX_CLAIMS_PER_KEY) list.shift();
    bounded(map, key, list);
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
