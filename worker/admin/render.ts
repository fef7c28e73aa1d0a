// Dry-run of the boot path for operators: GET /v1/sites/:site/hosts/:host/render/:what renders exactly what the
// machine would get (same decision and renderers as /boot), and /explain says which host record, profile, image and
// intent apply and why. Nothing is written. Host tokens and secret values are replaced by placeholders: a read-only
// principal must not obtain a working host token (it would read the host's secrets through user-data). The tokens
// behind the placeholders are real-length ones minted as the chain mints them (boot/previewTokens.ts), so the kernel
// line's budget is checked on the line the machine would get.
import { Hono, type Context } from "hono";
import { z } from "zod";
import { zv } from "../artifacts/http.ts";
import { requireSiteAccess } from "../auth/bearer.ts";
import { bootEntry, renderChain } from "../boot/renderChain.ts";
import { kernelLine } from "../render/ipxe.ts";
import { archCandidates, decide, resolvePlan, type ResolvedBoot, type ResolvedPlan } from "../boot/plan.ts";
import { NOCLOUD_FILES, renderNocloudDocument, type SecretReach } from "../boot/nocloud.ts";
import { pickFile, renderHostFile } from "../boot/files.ts";
import { CONTENT_TYPES, FILE_NAME } from "../render/files.ts";
import { renderError, text } from "../boot/respond.ts";
import { hideTokens, previewMinter } from "../boot/previewTokens.ts";
import { apiBase, cacheBase, rechainUrl, relayLanBase } from "../boot/urls.ts";
import type { AppEnv } from "../context.ts";
import { liveCache } from "../db/queries/bootChain.ts";
import { loadBootProfiles } from "../db/queries/bootProfiles.ts";
import { findSiteHost, secretNamesFor } from "../db/queries/bootAdmin.ts";
import { ApiError, toApiError } from "../errors.ts";
import { explainAssignment } from "../assign/explain.ts";
import { machineOf } from "../assign/machine.ts";
import { assign } from "../assign/pick.ts";
import { siteRules } from "../db/queries/rules.ts";
import { RELAY_HEALTHY_MS } from "../relayapi/health.ts";

export const DRY_RUN_TOKEN = "<host-token>";

export const Params = z.object({ site: z.string().min(1).max(63), host: z.string().min(1).max(253) });
export const RenderParams = Params.extend({ what: z.enum(["ipxe", ...NOCLOUD_FILES]) });
export const RenderFileParams = Params.extend({ name: z.string().regex(FILE_NAME, "a file name") });
// The architecture/platform iPXE would report; defaults to the host's recorded arch, else x86_64.
export const DryRunQuery = z.object({
  arch: z.string().regex(/^[a-z0-9_]{1,32}$/).optional(),
  platform: z.string().regex(/^[a-z0-9_-]{1,32}$/).optional(),
});

async function dryRun(c: Context<AppEnv>, p: z.infer<typeof Params>, q: z.infer<typeof DryRunQuery>) {
  requireSiteAccess(c, p.site, "read");
  const db = c.get("db");
  const { site, host } = await findSiteHost(db, p.site, p.host);
  // Rules see what the chain would: the host's labels and identity, the arch iPXE would report.
  const assignment = assign(await siteRules(db, site.id), machineOf(host, { arch: q.arch ?? null }));
  const decision = decide(site, host, () => assignment);
  const archs = archCandidates(host.arch, q.arch);
  let plan: ResolvedPlan | null = null;
  let planError: ApiError | null = null;
  const [loaded, cacheRows] = await Promise.all([
    decision.kind === "boot" ? loadBootProfiles(db, decision.ref, archs) : null,
    liveCache(db, site.id, Date.now() - RELAY_HEALTHY_MS),
  ]);
  if (decision.kind === "boot" && loaded) {
    try {
      plan = resolvePlan(decision.ref, loaded.profiles, archs);
    } catch (err) {
      planError = toApiError(err);
    }
  }
  const cacheUrl = cacheRows[0]?.cacheUrl ?? null;
  // A `bound` site's seed and events URLs go through the issuing relay (chain.ts sessionDelivery); the live one here.
  const hostRoot = site.secretDelivery === "bound" ? relayLanBase(cacheUrl) : null;
  return { site, host, decision, assignment, archs, plan, planError, cache: cacheBase(cacheUrl), hostRoot, base: apiBase(c.get("env").PUBLIC_URL, c.req.url) };
}

// NoCloud data follows the profile actually booted: the single profile, or the menu's default item.
function nocloudBoot(plan: ResolvedPlan | null): ResolvedBoot | null {
  if (!plan) return null;
  if (plan.kind === "single") return plan.boot;
  const target = plan.items[plan.defaultIndex]?.target;
  return target && target !== "local" ? target : null;
}

// Secret placeholders in the reach of the template's author (boot/nocloud.ts resolveSecrets): names only, never values.
async function placeholderSecrets(c: Context<AppEnv>, site: { id: string }, host: { id: string }) {
  const rows = await secretNamesFor(c.get("db"), { siteId: site.id, hostId: host.id });
  return async (wanted: string[], reach: SecretReach) => {
    const names = new Set(rows.filter((r) => reach === "catalogue" || r.siteId !== null).map((r) => r.name));
    return Object.fromEntries(wanted.filter((n) => names.has(n)).map((n) => [n, `<secret:${n}>`]));
  };
}

export const renderAdmin = new Hono<AppEnv>()
  .get("/sites/:site/hosts/:host/render/files/:name", zv("param", RenderFileParams), zv("query", DryRunQuery), async (c) => {
    const p = c.req.valid("param");
    const run = await dryRun(c, p, c.req.valid("query"));
    if (run.planError) throw run.planError;
    const { site, host } = run;
    const profile = nocloudBoot(run.plan)?.profile ?? null;
    const file = pickFile(p.name, { site, profile });
    if (!file) throw new ApiError("not_found", `host "${p.host}" has no file "${p.name}" (neither its profile nor its site defines one)`, { file: p.name });
    try {
      const body = await renderHostFile(file, { site, host, profile, base: run.base, token: DRY_RUN_TOKEN, hostRoot: run.hostRoot }, await placeholderSecrets(c, site, host));
      return text(body, 200, { "content-type": CONTENT_TYPES[file.kind] });
    } catch (err) {
      throw renderError(err, `files/${p.name}`) ?? err;
    }
  })
  .get("/sites/:site/hosts/:host/render/:what", zv("param", RenderParams), zv("query", DryRunQuery), async (c) => {
    const p = c.req.valid("param");
    const q = c.req.valid("query");
    const run = await dryRun(c, p, q);
    if (run.planError) throw run.planError;
    const { site, host } = run;
    try {
      if (p.what === "ipxe") {
        const minter = await previewMinter(c.get("env"), Date.now());
        const { body } = await renderChain({
          site,
          host,
          decision: run.decision,
          plan: run.plan,
          base: run.base,
          cache: run.cache,
          hostRoot: run.hostRoot,
          rechain: () => rechainUrl({ mac: host.mac, uuid: host.uuid, serial: host.serial, arch: q.arch ?? host.arch, platform: q.platform }),
          mintToken: minter.mint,
        });
        return text(hideTokens(body, minter.minted, DRY_RUN_TOKEN));
      }
      const boot = nocloudBoot(run.plan);
      // Same reach as the live render (boot/nocloud.ts resolveSecrets): site templates never see global secrets.
      const body = await renderNocloudDocument(p.what, { site, host, profile: boot?.profile ?? null, base: run.base, token: DRY_RUN_TOKEN, hostRoot: run.hostRoot }, await placeholderSecrets(c, site, host));
      return text(body);
    } catch (err) {
      throw renderError(err, p.what) ?? err;
    }
  })
  .get("/sites/:site/hosts/:host/explain", zv("param", Params), zv("query", DryRunQuery), async (c) => {
    const run = await dryRun(c, c.req.valid("param"), c.req.valid("query"));
    const { site, host, decision, plan, assignment } = run;
    const decidedBy = decision.kind === "boot" && decision.source === "rule" ? "rules" : host.intent ? "intent" : host.profileId ? "host" : "policy";
    const minter = await previewMinter(c.get("env"), Date.now());
    const describe = async (boot: ResolvedBoot) => {
      const entry = await bootEntry(run, boot, await minter.mint(boot))
        .then((e) => {
          kernelLine(e);
          return JSON.parse(hideTokens(JSON.stringify(e), minter.minted, DRY_RUN_TOKEN)) as typeof e;
        })
        .catch((err) => renderError(err, "the kernel command line") ?? Promise.reject(err));
      return {
        profile: { id: boot.profile.id, name: boot.profile.name },
        image: { id: boot.image.id, name: boot.image.name, version: boot.image.version, arch: boot.image.arch },
        artifacts: entry instanceof ApiError ? null : { kernel: entry.kernelUrl, initrd: entry.initrdUrls, seed: entry.seedUrl },
        cmdline: entry instanceof ApiError ? null : entry.cmdline,
        error: entry instanceof ApiError ? { code: entry.code, message: entry.message } : null,
      };
    };
    return c.json({
      site: { slug: site.slug, bootAuth: site.bootAuth, unknownHostPolicy: site.unknownHostPolicy, defaultProfileId: site.defaultProfileId },
      host: { id: host.id, hostname: host.hostname, mac: host.mac, uuid: host.uuid, serial: host.serial, arch: host.arch, state: host.state, profileId: host.profileId },
      archCandidates: run.archs,
      decision: {
        kind: decision.kind,
        why: decision.why,
        source: decision.kind === "boot" ? decision.source : null,
        intent: decision.kind === "boot" || decision.kind === "local" ? decision.intent : null,
        rule: decision.kind === "boot" ? (decision.rule ?? null) : null,
      },
      rules: explainAssignment(assignment, decidedBy),
      artifactsVia: run.cache ? "relay-cache" : "worker",
      boot: plan?.kind === "single" ? await describe(plan.boot) : null,
      menu:
        plan?.kind === "menu"
          ? {
              profile: { id: plan.profile.id, name: plan.profile.name },
              title: plan.title,
              timeoutMs: plan.timeoutMs,
              defaultIndex: plan.defaultIndex,
              items: await Promise.all(plan.items.map(async (i) => ({ key: i.key, label: i.label, target: i.target === "local" ? "local" : await describe(i.target) }))),
            }
          : null,
      error: run.planError ? { code: run.planError.code, message: run.planError.message, details: run.planError.details ?? null } : null,
    });
  });
