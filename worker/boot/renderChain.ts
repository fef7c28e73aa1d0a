// Turns a decision into the chain script. Shared by the live chain (real host tokens) and the admin dry-run
// (placeholder tokens), so both always render the same text.
import { missingRoles } from "../artifacts/roles.ts";
import type { SiteRow } from "../db/queries/bootChain.ts";
import { ApiError } from "../errors.ts";
import {
  checkCmdline,
  CmdlineError,
  cmdlineValueGuard,
  renderBootScript,
  renderDiscoverScript,
  renderLocalScript,
  renderMenuScript,
  type BootEntry,
  type MenuEntry,
} from "../render/ipxe.ts";
import { networkConfigArg } from "../render/netconfig.ts";
import { compileTemplate, renderCompiled, secretNames } from "../render/template.ts";
import type { Decision, ResolvedBoot, ResolvedPlan } from "./plan.ts";
import { templateContext, type ContextHost } from "./templateContext.ts";
import { fileUrls } from "./files.ts";
import { cacheArtifactUrl, eventsUrl, seedUrl, workerArtifactUrl } from "./urls.ts";

export type ChainRenderInput = {
  site: Pick<SiteRow, "id" | "slug" | "name" | "vars" | "discoverRetrySeconds"> & { files?: SiteRow["files"] };
  host: ContextHost;
  decision: Decision;
  // Set for decision "boot".
  plan: ResolvedPlan | null;
  base: string;
  // The site relay's cache, when one is live: kernels and initrds then come at LAN speed.
  cache: string | null;
  // Where seed and events URLs point: null = the API; a relay's LAN base for a `bound` boot session (urls.ts).
  hostRoot?: string | null;
  // The discover script's re-chain URL; only that script needs it, so it is built on demand.
  rechain: () => string;
  mintToken: (boot: ResolvedBoot) => Promise<string>;
};

export async function bootEntry(input: Pick<ChainRenderInput, "site" | "host" | "base" | "cache" | "hostRoot">, boot: ResolvedBoot, token: string): Promise<BootEntry> {
  const { base, cache } = input;
  const artifactUrl = (sha: string) => (cache ? cacheArtifactUrl(cache, sha) : workerArtifactUrl(base, token, sha));
  const art = boot.image.artifacts;
  if (!art?.kernel) throw new CmdlineError(`image "${boot.image.name}" (${boot.image.arch}) has no kernel`);
  const roles: Record<string, string> = {};
  for (const [role, sha] of Object.entries(art)) if (typeof sha === "string") roles[role] = artifactUrl(sha);
  const seed = seedUrl(base, token, input.hostRoot);
  const events = eventsUrl(base, token, input.hostRoot);
  // `{{ boot.files.<name> }}`: the token URL of each file the host can read (the profile's and the site's).
  const files = fileUrls({ site: { files: input.site.files ?? {} }, profile: boot.profile, base, token, hostRoot: input.hostRoot });
  const tpl = compileTemplate(boot.profile.cmdline);
  // The command line travels in clear on the LAN and is readable in /proc/cmdline: no secrets there.
  if (secretNames(tpl).length) throw new CmdlineError("secrets cannot be used in the kernel command line");
  // Refused at save (admin/roleRefs.ts); a row written before that check cannot boot either.
  const missing = missingRoles(tpl.refs, art);
  if (missing.length) {
    throw new ApiError("not_bootable", `profile "${boot.profile.name}" names {{ boot.artifacts.${missing[0]} }}, which image "${boot.image.name}" (${boot.image.arch}) does not have`, {
      profile: boot.profile.name,
      image: boot.image.name,
      arch: boot.image.arch,
      missing,
    });
  }
  const ctx = templateContext({
    site: input.site,
    profile: boot.profile,
    host: input.host,
    boot: { baseUrl: base, seedUrl: seed, eventsUrl: events, artifacts: roles, files },
  });
  return {
    kernelUrl: artifactUrl(art.kernel),
    // A NixOS store image (roles.ts) is one more initramfs part, after the image's own initrds.
    initrdUrls: [...(art.initrd ?? []), ...(typeof art.store === "string" ? [art.store] : [])].map(artifactUrl),
    cmdline: checkCmdline(renderCompiled(tpl, ctx, cmdlineValueGuard), { nocloud: boot.profile.nocloud ?? true }),
    seedUrl: seed,
    nocloud: boot.profile.nocloud ?? true,
    // cloud-init 22.4 never fetches network-config over HTTP: static addressing rides on the kernel line.
    networkConfig: input.host.network ? await networkConfigArg(input.host.network, input.host.mac) : null,
    eventsUrl: events,
    name: boot.profile.name,
  };
}

const describeHost = (h: ContextHost) => h.hostname ?? h.mac ?? h.uuid ?? h.serial ?? h.id;

export async function renderChain(input: ChainRenderInput): Promise<{ body: string; detail: Record<string, unknown> }> {
  const { site, host, decision } = input;
  const head = `edgeboot site=${site.slug} host=${describeHost(host)}`;
  switch (decision.kind) {
    case "discover": {
      const retry = site.discoverRetrySeconds;
      const message = `this machine (${describeHost(host)}) is not assigned to a profile yet; waiting for an operator, retrying in ${retry} s`;
      return { body: renderDiscoverScript(`${head} unassigned`, message, retry, input.rechain()), detail: { decision: "discover", why: decision.why } };
    }
    case "local":
    case "deny":
      return {
        body: renderLocalScript(`${head} local disk`, `${decision.why}; booting from the local disk`),
        detail: { decision: decision.kind, why: decision.why },
      };
    case "boot":
      break;
  }
  const plan = input.plan;
  if (!plan) throw new Error("renderChain: a boot decision needs a resolved plan");
  const entry = async (boot: ResolvedBoot) => bootEntry(input, boot, await input.mintToken(boot));
  const common = { decision: "boot", why: decision.why, source: decision.source, ...(decision.rule ? { rule: decision.rule } : {}), intent: decision.intent, via: input.cache ? "relay-cache" : "worker" };
  if (plan.kind === "single") {
    const { profile, image } = plan.boot;
    const body = renderBootScript(`${head} profile=${profile.name} image=${image.name} ${image.version} ${image.arch}`, await entry(plan.boot));
    return { body, detail: { ...common, profile: profile.name, image: { name: image.name, version: image.version, arch: image.arch } } };
  }
  const items: MenuEntry[] = [];
  for (const item of plan.items) {
    items.push({ key: item.key, label: item.label, boot: item.target === "local" ? "local" : await entry(item.target) });
  }
  const body = renderMenuScript(`${head} profile=${plan.profile.name} menu`, plan, items);
  return { body, detail: { ...common, profile: plan.profile.name, menu: plan.items.map((i) => (i.target === "local" ? "local" : i.target.profile.name)) } };
}
