// GET /boot/:site/ipxe: authenticate, match the machine, decide, render, sign. One D1 round trip (the statement in
// loadChainContext) when the decision's profiles are cached under the current catalogue token, else two; the
// bookkeeping writes go out after the response, coalesced across requests (writeBehind.ts).
// The CPU steps (parseChainRequest, admitChain, composeChain) are exported for the in-workerd CPU benchmark.
import type { Context } from "hono";
import { authenticateBoot, type BootAuthResult } from "../auth/bootAuth.ts";
import { signHostToken, tokenIssuer } from "../auth/hostTokens.ts";
import { relayCredentialHash, relayTokenKid } from "../auth/relayCredential.ts";
import type { AppEnv } from "../context.ts";
import { loadChainContext, type ChainLookup, type ProfileWithImages } from "../db/queries/bootChain.ts";
import { cachedBootProfiles } from "../db/queries/bootProfiles.ts";
import { insertEventStatement, insertSeenHostStatement, touchHostStatement, touchRelayStatement } from "../db/queries/bootEvents.ts";
import type { Env } from "../env.ts";
import { notFound } from "../errors.ts";
import { getSigningKeys } from "../keys/signingKeys.ts";
import { RELAY_HEALTHY_MS } from "../relayapi/health.ts";
import { CHAIN_SIGNATURE_HEADER, signChain } from "../shared/chainSignature.ts";
import { archCandidates, decide, resolvePlan, type Decision } from "./plan.ts";
import { ChainQuery, seenHostId, SiteSlugParam } from "./query.ts";
import { renderChain } from "./renderChain.ts";
import { ipxeErrorResponse, renderError, text } from "./respond.ts";
import type { ContextHost } from "./templateContext.ts";
import { apiBase, cacheBase, rechainUrl } from "./urls.ts";
import { writeBehind } from "./writeBehind.ts";

export type Clock = () => number;

export async function serveChain(c: Context<AppEnv>, now: Clock): Promise<Response> {
  try {
    return await chain(c, now());
  } catch (err) {
    return ipxeErrorResponse(err);
  }
}

export type ChainRequest = { slug: string; q: ChainQuery; mac: string | null; credentialHash: string | null; lookup: ChainLookup };

// Step 1 (CPU): validate the query, hash the relay credential.
export async function parseChainRequest(siteParam: string | undefined, query: Record<string, string>, authorization: string | undefined, at: number): Promise<ChainRequest> {
  const slug = SiteSlugParam.safeParse(siteParam);
  if (!slug.success) throw notFound("site", { site: siteParam });
  const q = ChainQuery.parse(query);
  const mac = q.mac ?? null;
  const credentialHash = await relayCredentialHash(authorization);
  const lookup: ChainLookup = {
    siteSlug: slug.data,
    mac,
    uuid: q.uuid ?? null,
    serial: q.serial ?? null,
    relayCredentialHash: credentialHash,
    relayId: !credentialHash && q.t ? relayTokenKid(q.t) : null,
    cacheSeenSince: at - RELAY_HEALTHY_MS,
  };
  return { slug: slug.data, q, mac, credentialHash, lookup };
}

type Loaded = Awaited<ReturnType<typeof loadChainContext>>;
export type Admitted = { site: NonNullable<Loaded["site"]>; auth: BootAuthResult; host: ContextHost; hostId: string; known: Loaded["host"]; decision: Decision };

// Step 2 (CPU): authenticate against the site's policy, then decide what the machine boots.
export async function admitChain(req: ChainRequest, loaded: Loaded, at: number): Promise<Admitted> {
  const site = loaded.site;
  if (!site) throw notFound("site", { site: req.slug });
  const { q, mac } = req;
  const auth = await authenticateBoot(site, { credentialHash: req.credentialHash, token: q.t, key: q.k, relay: loaded.relay, mac, nowSeconds: Math.floor(at / 1000) });
  const known = loaded.host;
  const hostId = known?.id ?? (await seenHostId(site.id, q));
  const host: ContextHost = known ?? { id: hostId, hostname: null, mac, uuid: q.uuid ?? null, serial: q.serial ?? null, arch: null, ipv4: null };
  return { site, auth, host, hostId, known, decision: decide(site, known) };
}

// Step 3 (CPU): resolve the plan, render the script with fresh host tokens, sign it.
export async function composeChain(
  env: Pick<Env, "PUBLIC_URL" | "SIGNING_KEYS">,
  req: ChainRequest,
  a: Admitted,
  profiles: Map<string, ProfileWithImages> | null,
  cacheUrl: string | null,
  requestUrl: string,
  at: number,
  sid: string,
) {
  const { site, decision, hostId } = a;
  const { q, mac } = req;
  const keys = await getSigningKeys(env);
  const nowSeconds = Math.floor(at / 1000);
  const archs = archCandidates(a.known?.arch, q.arch);
  const plan = decision.kind === "boot" ? resolvePlan(decision.ref, profiles ?? new Map(), archs) : null;
  const rendered = await renderChain({
    site,
    host: a.host,
    decision,
    plan,
    base: apiBase(env.PUBLIC_URL, requestUrl),
    cache: cacheBase(cacheUrl),
    rechain: () => rechainUrl({ mac, uuid: q.uuid, serial: q.serial, arch: q.arch, platform: q.platform, t: q.t, k: q.k }),
    mintToken: ({ profile, image }) =>
      signHostToken(keys.signer, { hostId, siteId: site.id, mac, sid, profileId: profile.id, imageId: image.id }, {
        issuer: tokenIssuer(env.PUBLIC_URL),
        nowSeconds,
        ttlSeconds: site.hostTokenTtlSeconds,
      }),
  });
  const signature = await signChain(rendered.body, { site: site.slug, mac, iat: nowSeconds }, keys.signer.key, keys.signer.kid);
  return { ...rendered, signature };
}

async function chain(c: Context<AppEnv>, at: number): Promise<Response> {
  const env = c.get("env");
  const db = c.get("db");
  const req = await parseChainRequest(c.req.param("site"), c.req.query(), c.req.header("authorization"), at);
  const loaded = await loadChainContext(db, req.lookup);
  const a = await admitChain(req, loaded, at);
  const { site, known, hostId, decision, auth } = a;
  const { q, mac } = req;
  const sid = crypto.randomUUID();
  const identity: Record<string, string> = { auth: auth.method };
  for (const [k, v] of Object.entries({ mac, uuid: q.uuid, serial: q.serial, arch: q.arch, platform: q.platform, relay: auth.relayId })) if (v) identity[k] = v;

  // Bookkeeping, after the response, in one batch: the event and the host record never disagree.
  const record = (phase: string, detail: Record<string, unknown>, booting: boolean) =>
    writeBehind(c, "chain", db.$client, [
      insertEventStatement({ siteId: site.id, hostId: known || decision.kind !== "deny" ? hostId : null, mac, source: "worker", phase, bootSession: sid, detail, at }),
      known
        ? hostTouch(known, at, identity, booting ? "booting" : undefined)
        : decision.kind === "deny"
          ? null
          : insertSeenHostStatement({ id: hostId, siteId: site.id, mac, uuid: q.uuid ?? null, serial: q.serial ?? null, arch: null }, at, identity, booting ? "booting" : "discovered"),
      auth.relayId ? touchRelayStatement({ id: auth.relayId, at }) : null,
    ]);

  let out: Awaited<ReturnType<typeof composeChain>>;
  try {
    // Reused from an earlier chain while the catalogue token is unchanged; else the second round trip.
    const profiles = decision.kind === "boot" ? await cachedBootProfiles(db, decision.ref, archCandidates(known?.arch, q.arch), loaded.catalogueToken) : null;
    out = await composeChain(env, req, a, profiles, loaded.cacheUrl, c.req.url, at, sid);
  } catch (err) {
    const failed = renderError(err, "the iPXE chain");
    if (!failed) throw err;
    record("render-failed", { what: "ipxe", message: failed.message, sid }, false);
    throw failed;
  }

  // A discovered machine retries every few seconds: record it once, then only refresh last-seen.
  const phase = decision.kind === "discover" ? (known ? null : "discovered") : "chain-served";
  if (phase) record(phase, { ...out.detail, sid }, decision.kind === "boot");
  else if (known) writeBehind(c, "chain", db.$client, [hostTouch(known, at, identity)]);
  return text(out.body, 200, { [CHAIN_SIGNATURE_HEADER]: out.signature });
}

// Last seen is a hint for operators, kept to LAST_SEEN_GRANULARITY_MS like a token's last use: a machine re-chaining
// in a loop (discover, menus, retries) does not rewrite its row on every request. A new identity or state always is.
export const LAST_SEEN_GRANULARITY_MS = 60_000;

function hostTouch(known: NonNullable<Loaded["host"]>, at: number, identity: Record<string, string>, state?: "booting") {
  const fresh = known.lastSeenAt !== null && at - known.lastSeenAt < LAST_SEEN_GRANULARITY_MS;
  const sameState = state === undefined || known.state === state;
  return fresh && sameState && sameIdentity(known.lastIdentity, identity) ? null : touchHostStatement(known.id, at, identity, state);
}

function sameIdentity(stored: Record<string, string> | null, reported: Record<string, string>): boolean {
  if (!stored) return false;
  const keys = Object.keys(reported);
  return keys.length === Object.keys(stored).length && keys.every((k) => stored[k] === reported[k]);
}
