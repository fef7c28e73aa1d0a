// What the DHCP side saw recently, for /boot.ipxe: which MAC holds an IP (from REQUESTs the relay overhears on 67
// and 4011) and whether that MAC's iPXE advertised HTTPS (option 175.20). Bounded in size and age.
export type SeenClient = { mac: string; https: boolean; arch: number | null; at: number };

const MAX_ENTRIES = 8192;
export const CLIENT_TTL_MS = 10 * 60_000;

export class ClientTable {
  #byMac = new Map<string, SeenClient>();
  #macByIp = new Map<string, { mac: string; at: number }>();
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

  noteAddress(ip: string, mac: string): void {
    if (ip === "0.0.0.0") return;
    bounded(this.#macByIp, ip, { mac, at: this.#now() });
  }

  byMac(mac: string): SeenClient | null {
    const e = this.#byMac.get(mac);
    return e && this.#now() - e.at <= CLIENT_TTL_MS ? e : null;
  }

  macForIp(ip: string): string | null {
    const e = this.#macByIp.get(ip);
    return e && this.#now() - e.at <= CLIENT_TTL_MS ? e.mac : null;
  }
}

// Insertion order doubles as age order: re-inserting moves a key to the end, the oldest is evicted first.
function bounded<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_ENTRIES) map.delete(map.keys().next().value!);
}
