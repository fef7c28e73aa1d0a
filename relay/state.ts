import type { IpxeBuild } from "../worker/shared/ipxeBuild.ts";

// What the relay knows about its site beyond the static config: its relay id (learned at register), whether
// the site allows direct HTTPS mode, and the hosts' iPXE build overrides by MAC. The sync part updates it; DHCP and
// /boot.ipxe read it per request.
export type SiteState = { relayId: string | null; allowDirect: boolean; ipxeBuilds?: ReadonlyMap<string, IpxeBuild> };

export class RelayState {
  #value: SiteState;
  #listeners: Array<(value: Readonly<SiteState>) => void> = [];

  constructor(initial: SiteState) {
    this.#value = { ...initial };
  }

  get(): Readonly<SiteState> {
    return this.#value;
  }

  update(patch: Partial<SiteState>): void {
    this.#value = { ...this.#value, ...patch };
    for (const listener of this.#listeners) listener(this.#value);
  }

  // Called after each update (the proxyDHCP worker thread keeps a copy of what it reads).
  onUpdate(listener: (value: Readonly<SiteState>) => void): void {
    this.#listeners.push(listener);
  }
}
