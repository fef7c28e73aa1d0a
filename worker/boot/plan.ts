// What a machine boots, decided from rows already read; pure, so the chain, the dry-run and /explain share it.
import type { BootIntent, IpxeMenu } from "../db/schema.ts";
import { archCandidates, type HostRow, type ImageRow, type ProfileRef, type ProfileRow, type ProfileWithImages, type SiteRow } from "../db/queries/bootChain.ts";
import { ApiError } from "../errors.ts";
import { describeSelector, type Assignment } from "../assign/pick.ts";

export type Decision =
  | { kind: "boot"; ref: ProfileRef; source: "intent" | "host" | "rule" | "site-default"; intent: BootIntent | null; why: string; rule?: string }
  | { kind: "local"; intent: BootIntent | null; why: string }
  | { kind: "discover"; why: string }
  | { kind: "deny"; why: string };

// Intent first (once or always), then the host's profile, then the site's most specific matching assignment rule
// (worker/assign/README.md); machines none of these place follow the site's unknown-host policy. `assign` runs only
// when the rules decide.
export function decide(
  site: Pick<SiteRow, "unknownHostPolicy" | "defaultProfileId">,
  host: Pick<HostRow, "intent" | "profileId"> | null,
  assign: () => Pick<Assignment, "winner"> = () => ({ winner: null }),
): Decision {
  const intent = host?.intent ?? null;
  if (intent) {
    const why = `boot intent (${intent.mode}): ${intent.target}`;
    if (intent.target === "local") return { kind: "local", intent, why };
    return { kind: "boot", ref: { by: "name", value: intent.target }, source: "intent", intent, why };
  }
  if (host?.profileId) return { kind: "boot", ref: { by: "id", value: host.profileId }, source: "host", intent: null, why: "the host's assigned profile" };
  const who = host ? "host has no profile" : "unknown machine";
  const won = assign().winner?.rule;
  if (won) {
    const why = `${who}; assignment rule "${won.name}" (${describeSelector(won.selector)})`;
    return { kind: "boot", ref: { by: "id", value: won.profileId }, source: "rule", intent: null, why, rule: won.name };
  }
  switch (site.unknownHostPolicy) {
    case "discover":
      return { kind: "discover", why: `${who}; site policy discover: wait for an operator` };
    case "default":
      return site.defaultProfileId
        ? { kind: "boot", ref: { by: "id", value: site.defaultProfileId }, source: "site-default", intent: null, why: `${who}; site policy default: the site's default profile` }
        : { kind: "deny", why: `${who}; site policy default, but the site has no default profile` };
    default:
      return { kind: "deny", why: `${who}; site policy deny` };
  }
}

export { archCandidates };

export type ResolvedBoot = { profile: ProfileRow; image: ImageRow };
export type ResolvedMenuItem = { key: string | null; label: string; target: ResolvedBoot | "local" };
export type ResolvedPlan =
  | { kind: "single"; boot: ResolvedBoot }
  | { kind: "menu"; profile: ProfileRow; title: string; timeoutMs: number; defaultIndex: number; items: ResolvedMenuItem[] };

// The operator's data names something that cannot boot: 409 not_bootable (an iPXE script saying so, and an event).
const renderFailed = (message: string, details: Record<string, unknown>) => new ApiError("not_bootable", message, details);

function resolveBoot(entry: ProfileWithImages | undefined, name: string, archs: string[]): ResolvedBoot {
  if (!entry) throw renderFailed(`profile "${name}" does not exist`, { profile: name });
  const { profile } = entry;
  if (!profile.image) throw renderFailed(`profile "${profile.name}" has no image to boot`, { profile: profile.name });
  for (const arch of archs) {
    const image = entry.images.find((i) => i.arch === arch);
    if (image) return { profile, image };
  }
  throw renderFailed(`image "${profile.image}" has no build for ${archs.join(" or ")}`, { profile: profile.name, image: profile.image, archs });
}

// The chosen profile and, when it has a menu, each item's profile and image. Menus are one level deep.
export function resolvePlan(ref: ProfileRef, loaded: Map<string, ProfileWithImages>, archs: string[]): ResolvedPlan {
  const main = [...loaded.values()].find((e) => (ref.by === "id" ? e.profile.id : e.profile.name) === ref.value);
  if (!main) throw renderFailed(`profile ${ref.by === "id" ? "id " : ""}"${ref.value}" does not exist`, { profile: ref.value });
  const menu: IpxeMenu | null = main.profile.menu ?? null;
  if (!menu || menu.items.length === 0) return { kind: "single", boot: resolveBoot(main, main.profile.name, archs) };
  const items: ResolvedMenuItem[] = menu.items.map((item) => ({
    key: item.key ?? null,
    label: item.label,
    target: item.target === "local" ? "local" : resolveBoot(loaded.get(item.target), item.target, archs),
  }));
  const wanted = menu.defaultItem;
  const defaultIndex = Math.max(0, wanted === undefined ? 0 : menu.items.findIndex((i) => i.target === wanted || i.key === wanted || i.label === wanted));
  return {
    kind: "menu",
    profile: main.profile,
    title: menu.title ?? main.profile.description ?? main.profile.name,
    timeoutMs: menu.timeoutMs ?? 0,
    defaultIndex,
    items,
  };
}
