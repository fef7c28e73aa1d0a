import type { BootIntent, IpxeMenu } from "../db/schema.ts";

// Which images a site can boot: profiles reached from its hosts (assigned profile, boot intent), its assignment
// rules, its default profile and the menus of those profiles, each restricted to the architectures of the hosts that
// reach it (a rule: its arch constraint, else any, since it may match machines not yet seen).
export type PlanHost = { profileId: string | null; arch: string | null; intent: BootIntent | null };
export type PlanProfile = { id: string; name: string; image: string | null; menu: IpxeMenu | null };
export type PlanImage = { name: string; arch: string };
export type PlanRule = { profileId: string; selector: { arch?: string } };

const ALL = "*";

export function siteImages<I extends PlanImage>(input: {
  defaultProfileId: string | null;
  hosts: PlanHost[];
  rules?: PlanRule[];
  profiles: PlanProfile[];
  images: I[];
  // The artifact route checks access with every architecture, since a host's arch may be learned at boot.
  allArches?: boolean;
}): I[] {
  const byId = new Map(input.profiles.map((p) => [p.id, p]));
  const byName = new Map(input.profiles.map((p) => [p.name, p]));
  const arches = new Map<string, Set<string>>();
  const add = (profileName: string | undefined, archSet: Iterable<string>) => {
    if (!profileName || !byName.has(profileName)) return false;
    const set = arches.get(profileName) ?? new Set<string>();
    const before = set.size;
    for (const a of archSet) set.add(input.allArches ? ALL : a);
    arches.set(profileName, set);
    return set.size !== before;
  };

  for (const host of input.hosts) {
    const arch = [host.arch ?? ALL];
    add(host.profileId ? byId.get(host.profileId)?.name : undefined, arch);
    if (host.intent && host.intent.target !== "local") add(host.intent.target, arch);
  }
  for (const rule of input.rules ?? []) add(byId.get(rule.profileId)?.name, [rule.selector.arch ?? ALL]);
  if (input.defaultProfileId) add(byId.get(input.defaultProfileId)?.name, [ALL]);

  // Menus can point at further profiles; propagate until nothing changes (bounded by the profile count).
  for (let round = 0, changed = true; changed && round <= input.profiles.length; round++) {
    changed = false;
    for (const [name, set] of [...arches]) {
      for (const item of byName.get(name)?.menu?.items ?? []) if (item.target !== "local" && add(item.target, set)) changed = true;
    }
  }

  const wanted = new Map<string, Set<string>>();
  for (const [name, set] of arches) {
    const image = byName.get(name)?.image;
    if (!image) continue;
    const w = wanted.get(image) ?? new Set<string>();
    for (const a of set) w.add(a);
    wanted.set(image, w);
  }
  return input.images.filter((img) => {
    const w = wanted.get(img.name);
    return w !== undefined && (w.has(ALL) || w.has(img.arch));
  });
}
