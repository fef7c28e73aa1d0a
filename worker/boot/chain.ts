// GET /boot/:site/ipxe: authenticate, match the machine, decide, render, sign. Reads: one D1 statement (loadChainContext)
// when the decision's profiles are cached under the current catalogue token, else two round trips. A chain that hands
// out host tokens then writes its boot session, with its event and last-seen rows, in one batch before answering: the
// tokens are only good once the session exists. Chains without tokens (discover, local disk, refusals) write their
// bookkeeping after the response, in their own waitUntil (writeBehind.ts). A D1 failure anywhere gets the machine a
// 503 script that waits and chains again, never a hang or a bare 500.
// The CPU steps (parseChainRequest, admitChain, composeChain) are exported for the in-workerd CPU benchmark.
import type { Context } from "hono";
import { authenticateBoot, type BootAuthResult } from "../auth/bootAuth.ts";
import { newSessionId, signHostToken } from "../auth/hostTokens.ts";
import { relayCredentialHash, relayTokenKid } from "../auth/relayCredential.ts";
import type { AppEnv } from "../context.ts";
import { loadChainContext, type ChainLookup, type ProfileWithImages } from "../db/queries/bootChain.ts";
import { cachedBootProfiles } from "../db/queries/bootProfiles.ts";
import { insertEventStatement, insertSeenHostStatement, LAST_SEEN_GRANULARITY_MS, seenRecently, touchHostStatement, touchRelayStatement } from "../db/queries/bootEvents.ts";
import { issueSessionStatements, supersedeStatement, type NewBootSession } from "../db/queries/bootSessions.ts";
import type { BootSessionEntry, SecretDelivery } from "../db/schema.ts";
import type { Env } from "../env.ts";
import { ApiError, notFound } from "../errors.ts";
import { getSigningKeys } from "../keys/signingKeys.ts";
import { RELAY_HEALTHY_MS } from "../relayapi/health.ts";
import { CHAIN_SIGNATURE_HEADER, signChain } from "../shared/chainSignature.ts";
import { archCandidates, decide, resolvePlan, type Decision } from "./plan.ts";
import { machineOf } from "../assign/machine.ts";
import { assign } from "../assign/pick.ts";
import { CLIENT_ADDRESS_HEADER } from "../shared/relayHeaders.ts";
import { ChainQuery, ClientAddress, parseInput, seenHostId, SiteSlugParam } from "./query.ts";
import { renderChain } from "./renderChain.ts";
import { ipxeErrorResponse, ipxeRetryResponse, renderError, text } from "./respond.ts";
import type { ContextHost } from "./templateContext.ts";
import { apiBase, cacheBase, rechainUrl, relayLanBase } from "./urls.ts";
import { writeBehind } from "./writeBehind.ts";
import { runWrites, type BoundStatement } from "../db/prepared.ts";

export type Clock = () => number;

// A boot session (and its tokens) lives at most this long: longer than any install, short enough that a token
// copied off a LAN does not work forever. The next chain of the host ends it much sooner.
export const BOOT_SESSION_MAX_AGE_MS = 7 * 86_400_000;
// How long a machine waits before chaining again after a transient failure (D1 unreachable).
export const RETRY_SECONDS = 10;

export async function serveChain(c: Context<AppEnv>, now: Clock): Promise<Response> {
  try {
    return await chain(c, now());
  } catch (err) {
    if (err instanceof ApiError) return ipxeErrorResponse(err);
    // Not a refusal: D1 (or another backend) failed. The chain is a pure function of the data it reads, so a retry is
    // the right answer for the machine; the stack goes to the log.
    console.error("chain failed, machine told to retry", err instanceof Error ? err.stack : String(err));
    return ipxeRetryResponse(RETRY_SECONDS, retryTarget(c));
  }
}

function retryTarget(c: Context<AppEnv>): string {
  const q = c.req.query();
  const keep = (k: string) => (typeof q[k] === "string" && q[k]!.length <= 512 ? q[k] : undefined);
  return rechainUrl({ mac: keep("mac"), uuid: keep("uuid"), serial: keep("serial"), arch: keep("arch"), platform: keep("platform"), t: keep("t"), k: keep("k") });
}

export type ChainRequest = {
  slug: string;
  q: ChainQuery;
  mac: string | null;
  credentialHash: string | null;
  // The Edgeboot-Client-Address header, validated; trusted only when a relay credential authenticates the request.
  relayClientAddress: string | null;
  lookup: ChainLookup;
};

// Step 1 (CPU): validate the query, hash the relay credential.
export async function parseChainRequest(
  siteParam: string | undefined,
  query: Record<string, string>,
  authorization: string | undefined,
  at: number,
  clientAddressHeader?: string,
): Promise<ChainRequest> {
  const slug = SiteSlugParam.safeParse(siteParam);
  if (!slug.success) throw notFound("site", { site: siteParam });
  const q = parseInput(ChainQuery, query, "query");
  const mac = q.mac ?? null;
  const credentialHash = await relayCredentialHash(authorization);
  const relayClientAddress = clientAddressHeader === undefined ? null : parseInput(ClientAddress, clientAddressHeader, "Edgeboot-Client-Address");
  const lookup: ChainLookup = {
    siteSlug: slug.data,
    mac,
    uuid: q.uuid ?? null,
    serial: q.serial ?? null,
    relayCredentialHash: credentialHash,
    relayId: !credentialHash && q.t ? relayTokenKid(q.t) : null,
    cacheSeenSince: at - RELAY_HEALTHY_MS,
  };
  return { slug: slug.data, q, mac, credentialHash, relayClientAddress, lookup };
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
  // Rules are matched only when they decide (no intent, no profile of the host's own): the host's labels and record,
  // the request for what the record lacks (an unknown machine: only the request).
  const decision = decide(site, known, () => assign(loaded.rules, machineOf(known, { mac, uuid: q.uuid, serial: q.serial, arch: q.arch })));
  return { site, auth, host, hostId, known, decision };
}

// The delivery policy a boot session gets. `bound` needs what it binds to: a relay credential, the address that relay
// saw and the relay's LAN base. A chain without them (direct token, boot key, open site, unregistered relay) gets
// `once`, and its event says why.
export function sessionDelivery(
  policy: SecretDelivery,
  req: Pick<ChainRequest, "relayClientAddress">,
  auth: BootAuthResult,
  relayCacheUrl: string | null,
): { delivery: SecretDelivery; hostRoot: string | null; downgraded?: string } {
  if (policy !== "bound") return { delivery: policy, hostRoot: null };
  const lan = relayLanBase(relayCacheUrl);
  if (auth.method !== "relay") return { delivery: "once", hostRoot: null, downgraded: `bound needs a relay-fetched chain (this one: ${auth.method})` };
  if (!req.relayClientAddress) return { delivery: "once", hostRoot: null, downgraded: "bound needs the relay's Edgeboot-Client-Address" };
  if (!lan) return { delivery: "once", hostRoot: null, downgraded: "bound needs the relay's registered cache URL (its LAN base)" };
  return { delivery: "bound", hostRoot: lan };
}

// Step 3 (CPU): resolve the plan, render the script with fresh host tokens, sign it. The session row to write comes
// back with it (null when the script hands out no token).
export async function composeChain(
  env: Pick<Env, "PUBLIC_URL" | "SIGNING_KEYS">,
  req: ChainRequest,
  a: Admitted,
  profiles: Map<string, ProfileWithImages> | null,
  cacheUrl: string | null,
  requestUrl: string,
  at: number,
  sid: string,
  relay: { cacheUrl: string | null; clientAddress: string | null } = { cacheUrl: null, clientAddress: null },
) {
  const { site, decision, hostId } = a;
  const { q, mac } = req;
  const keys = await getSigningKeys(env);
  const nowSeconds = Math.floor(at / 1000);
  const archs = archCandidates(a.known?.arch, q.arch);
  const plan = decision.kind === "boot" ? resolvePlan(decision.ref, profiles ?? new Map(), archs) : null;
  const policy = sessionDelivery(site.secretDelivery, req, a.auth, relay.cacheUrl);
  const entries: BootSessionEntry[] = [];
  const expiresAt = at + BOOT_SESSION_MAX_AGE_MS;
  const rendered = await renderChain({
    site,
    host: a.host,
    decision,
    plan,
    base: apiBase(env.PUBLIC_URL, requestUrl),
    // A chain the machine fetched itself over HTTPS (relay token) keeps its artifacts on HTTPS too: from the relay's
    // plain-HTTP cache, the kernel would cross the LAN with no integrity check (relay/README.md, Direct HTTPS).
    cache: a.auth.method === "relay-token" ? null : cacheBase(cacheUrl),
    hostRoot: policy.hostRoot,
    rechain: () => rechainUrl({ mac, uuid: q.uuid, serial: q.serial, arch: q.arch, platform: q.platform, t: q.t, k: q.k }),
    mintToken: ({ profile, image }) => {
      entries.push({ profileId: profile.id, imageId: image.id });
      return signHostToken(keys.signer, { sid, entry: entries.length - 1 }, { expSeconds: Math.floor(expiresAt / 1000) });
    },
  });
  const signature = await signChain(rendered.body, { site: site.slug, mac, iat: nowSeconds }, keys.signer.key, keys.signer.kid);
  const session: NewBootSession | null = entries.length
    ? {
        id: sid,
        siteId: site.id,
        hostId,
        mac,
        clientAddress: relay.clientAddress,
        relayId: a.auth.relayId,
        entries,
        hostRoot: policy.hostRoot,
        delivery: policy.delivery,
        issuedAt: at,
        secretUntil: at + site.hostTokenTtlSeconds * 1000,
        expiresAt,
      }
    : null;
  const detail = { ...rendered.detail, ...(session ? { delivery: policy.delivery } : {}), ...(policy.downgraded && session ? { deliveryNote: policy.downgraded } : {}) };
  return { body: rendered.body, detail, signature, session };
}

async function chain(c: Context<AppEnv>, at: number): Promise<Response> {
  const env = c.get("env");
  const db = c.get("db");
  const req = await parseChainRequest(c.req.param("site"), c.req.query(), c.req.header("authorization"), at, c.req.header(CLIENT_ADDRESS_HEADER));
  const loaded = await loadChainContext(db, req.lookup);
  const a = await admitChain(req, loaded, at);
  const { site, known, hostId, decision, auth } = a;
  const { q, mac } = req;
  const sid = newSessionId();
  // The relay's view of the client when a relay credential vouches for it; else the caller's own address as
  // Cloudflare saw it (absent locally).
  const clientAddress = auth.method === "relay" ? req.relayClientAddress : (c.req.header("cf-connecting-ip") ?? null);
  const identity: Record<string, string> = { auth: auth.method };
  for (const [k, v] of Object.entries({ mac, uuid: q.uuid, serial: q.serial, arch: q.arch, platform: q.platform, relay: auth.relayId, address: clientAddress })) if (v) identity[k] = v;

  // The event and the host record of one chain always go in one batch, so they never disagree.
  const bookkeeping = (phase: string, detail: Record<string, unknown>, booting: boolean): BoundStatement[] =>
    [
      insertEventStatement({ siteId: site.id, hostId: known || decision.kind !== "deny" ? hostId : null, mac, source: "worker", phase, bootSession: sid, detail, at }),
      known
        ? hostTouch(known, at, identity, booting ? "booting" : undefined)
        : decision.kind === "deny"
          ? null
          : insertSeenHostStatement({ id: hostId, siteId: site.id, mac, uuid: q.uuid ?? null, serial: q.serial ?? null, arch: null }, at, identity, booting ? "booting" : "discovered"),
      auth.relayId ? touchRelayStatement({ id: auth.relayId, at }) : null,
    ].filter((s) => s !== null);

  let out: Awaited<ReturnType<typeof composeChain>>;
  try {
    // Reused from an earlier chain while the catalogue token is unchanged; else the second round trip.
    const profiles = decision.kind === "boot" ? await cachedBootProfiles(db, decision.ref, archCandidates(known?.arch, q.arch), loaded.catalogueToken) : null;
    out = await composeChain(env, req, a, profiles, loaded.cacheUrl, c.req.url, at, sid, { cacheUrl: loaded.relay?.cacheUrl ?? null, clientAddress });
  } catch (err) {
    const failed = renderError(err, "the iPXE chain");
    if (!failed) throw err;
    writeBehind(c, "chain", db.$client, bookkeeping("render-failed", { what: "ipxe", code: failed.code, message: failed.message, sid }, false));
    throw failed;
  }

  // How the caller came: its auth method and scheme (a machine's direct HTTPS chain is relay-token over https).
  const clientDetail = { ...(clientAddress ? { client: clientAddress } : {}), auth: auth.method, scheme: new URL(c.req.url).protocol.replace(/:$/, "") };
  if (out.session) {
    // Before the response: the tokens in this script name this row. The host's earlier sessions end here.
    await runWrites(db.$client, [...issueSessionStatements(out.session), ...bookkeeping("chain-served", { ...out.detail, ...clientDetail, sid }, true)]);
    return text(out.body, 200, { [CHAIN_SIGNATURE_HEADER]: out.signature });
  }
  // A discovered machine retries every few seconds: record it once, then only refresh last-seen. A known host sent to
  // its disk (or refused) ends its earlier boot sessions.
  const phase = decision.kind === "discover" ? (known ? null : "discovered") : "chain-served";
  if (phase) writeBehind(c, "chain", db.$client, [...bookkeeping(phase, { ...out.detail, ...clientDetail, sid }, false), known ? supersedeStatement(known.id, site.id, at) : null]);
  else if (known) writeBehind(c, "chain", db.$client, [hostTouch(known, at, identity)]);
  return text(out.body, 200, { [CHAIN_SIGNATURE_HEADER]: out.signature });
}

// Last seen is kept to LAST_SEEN_GRANULARITY_MS (bootEvents.ts): a machine re-chaining in a loop (discover, menus,
// retries) does not rewrite its row on every request. A new identity or state always is.
export { LAST_SEEN_GRANULARITY_MS };

function hostTouch(known: NonNullable<Loaded["host"]>, at: number, identity: Record<string, string>, state?: "booting") {
  const fresh = seenRecently(known.lastSeenAt, at);
  const sameState = state === undefined || known.state === state;
  return fresh && sameState && sameIdentity(known.lastIdentity, identity) ? null : touchHostStatement(known.id, at, identity, state);
}

function sameIdentity(stored: Record<string, string> | null, reported: Record<string, string>): boolean {
  if (!stored) return false;
  const keys = Object.keys(reported);
  return keys.length === Object.keys(stored).length && keys.every((k) => stored[k] === reported[k]);
}
