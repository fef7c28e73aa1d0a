// GET /boot.ipxe on the relay: the hand-off from iPXE (which the proxy offer pointed here) to the API's per-host
// chain. Relay mode: fetch + verify + return the chain. Direct mode (HTTPS-capable iPXE, site allows it): a script
// sending iPXE to the API with a relay-signed token. Any failure: a script that says so, is reported and retries.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Ed25519KeyLookup } from "../../worker/shared/ed25519Jws.ts";
import { signRelayBootToken } from "../../worker/shared/relayToken.ts";
import type { RelayConfig } from "../config.ts";
import type { Binding, ClientTable } from "../dhcp/clients.ts";
import type { EventSink } from "../events.ts";
import type { RelayKeys } from "../keys.ts";
import type { Logger } from "../log.ts";
import type { RelayMetrics } from "../metrics.ts";
import type { RelayState } from "../state.ts";
import { createChainFetcher, type ChainFetcher } from "./chain.ts";
import { classifyIpxeError, HTTPS_FAILURE_TEXT, ipxeErrorUrl } from "./ipxeError.ts";
import { bootQuery, directScript, failureScript, httpsFallbackScript, refusedScript, scriptText, type BootParams } from "./scripts.ts";

const UNKNOWN_LOOK_MS = 250;

// What iPXE fills into the offer's URL; empty values are settings it does not have. Each field: a check that
// returns the value or throws the message (hand-written: zod cost the relay ~6 MiB RSS for a handful of shapes).
const matching = (pattern: RegExp, message: string) => (s: string) => {
  if (!pattern.test(s)) throw new Error(message);
  return s;
};
const atMost = (max: number) => (s: string) => {
  if (s.length > max) throw new Error(`must be at most ${max} characters`);
  return s;
};
const BOOT_QUERY = {
  mac: atMost(32),
  uuid: (s: string) => matching(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, "uuid must be a UUID")(s).toLowerCase(),
  serial: atMost(128),
  arch: matching(/^[a-z0-9_]{1,32}$/, "arch must be iPXE's ${buildarch}"),
  platform: matching(/^[a-z0-9_-]{1,32}$/, "platform must be iPXE's ${platform}"),
  attempt: (s: string) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1 || n > 1_000_000) throw new Error("attempt must be a whole number 1-1000000");
    return n;
  },
  via: matching(/^relay$/, 'via must be "relay"'),
  // iPXE's ${errno} after a failed direct HTTPS chain ("%#lx"); only with via=relay.
  errno: matching(/^(0x[0-9a-fA-F]{1,8}|0)$/, "errno must be iPXE's ${errno}"),
};

export type BootQuery = { [K in keyof typeof BOOT_QUERY]?: ReturnType<(typeof BOOT_QUERY)[K]> };

// The query of /boot.ipxe, parsed (pure; fuzzed). An error names the fields.
export function parseBootQuery(params: URLSearchParams): { ok: true; query: BootQuery; mac: string | null } | { ok: false; message: string } {
  const query: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [field, check] of Object.entries(BOOT_QUERY) as Array<[keyof BootQuery, (s: string) => unknown]>) {
    const raw = params.getAll(field).at(-1); // the last of repeated fields
    if (raw === undefined || raw.trim() === "") continue;
    try {
      query[field] = check(raw);
    } catch (err) {
      problems.push(`${field}: ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) return { ok: false, message: problems.join("; ") };
  const parsed = query as BootQuery;
  const mac = parsed.mac ? normalizeMac(parsed.mac) : null;
  if (parsed.mac && !mac) return { ok: false, message: "mac: not a MAC address" };
  return { ok: true, query: parsed, mac };
}

// aa:bb:cc:dd:ee:ff from the separators iPXE and people use (colons, hyphens, none).
export function normalizeMac(input: string): string | null {
  const hex = input.trim().toLowerCase().replace(/[:-]/g, "");
  return /^[0-9a-f]{12}$/.test(hex) ? hex.match(/../g)!.join(":") : null;
}

export const clientIp = (req: IncomingMessage) => (req.socket.remoteAddress ?? "").replace(/^::ffff:/, "");

// Why a client gets no chain, in words for the iPXE console and the event.
const REFUSALS = {
  "unknown-client": "this relay has not seen DHCP from this address; a chain goes only to the address a MAC took by DHCP",
  "mac-mismatch": "the MAC in the request is not the one this address used in DHCP",
  "mac-contested": "this MAC holds another address in DHCP; no chain here until that claim expires",
  "ip-contested": "two MACs claimed this address in DHCP; no chain until one of them uses it or the older claim expires",
} as const;
export type RefusalReason = keyof typeof REFUSALS;

export type BootHandlerDeps = {
  config: Pick<RelayConfig, "apiUrl" | "site" | "credential" | "apiTimeoutMs" | "directTokenTtlSeconds"> & Partial<Pick<RelayConfig, "apiTrustSha256">>;
  state: RelayState;
  keys: RelayKeys;
  getKey: Ed25519KeyLookup;
  clients?: ClientTable;
  dhcpSettle?: () => Promise<void>; // DHCP on a worker thread: resolves once its posted claims are in `clients`
  relayBase: () => string; // http://<advertised address>:<http port>, for retry and fallback URLs
  log: Logger;
  metrics: RelayMetrics;
  events: EventSink;
  fetchChain?: ChainFetcher; // seam for tests; defaults to the API fetcher
  now?: () => number;
};

// At most `max` per window per address, for at most 1024 addresses (the oldest forgotten first).
function perAddressBudget(now: () => number, max: number, windowMs: number) {
  const seen = new Map<string, { from: number; n: number }>();
  return (ip: string): boolean => {
    const t = now();
    let e = seen.get(ip);
    if (!e || t - e.from >= windowMs) e = { from: t, n: 0 };
    e.n++;
    seen.delete(ip);
    seen.set(ip, e);
    if (seen.size > 1024) seen.delete(seen.keys().next().value!);
    return e.n <= max;
  };
}

function sendScript(res: ServerResponse, body: string, status = 200): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
  res.end(body);
}

export function createBootIpxeHandler(deps: BootHandlerDeps) {
  const now = deps.now ?? Date.now;
  const fetchChain =
    deps.fetchChain ??
    createChainFetcher({ apiUrl: deps.config.apiUrl, site: deps.config.site, credential: deps.config.credential, timeoutMs: deps.config.apiTimeoutMs, getKey: deps.getKey, now });
  const { log, metrics, events } = deps;
  const reportRefusal = perAddressBudget(now, 6, 60_000);

  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const relayBase = deps.relayBase();
    const parsed = parseBootQuery(url.searchParams);
    const ip = clientIp(req);
    if (!parsed.ok) {
      metrics.chainFetches.inc({ result: "bad_request" });
      log.warn("bad /boot.ipxe request", { client: ip, message: parsed.message });
      // A malformed request will not get better by retrying: say so and hand back to the firmware.
      return sendScript(res, ["#!ipxe", `echo edgeboot: bad boot request: ${scriptText(parsed.message)}`, "sleep 30", "exit 1", ""].join("\n"), 400);
    }
    const q = parsed.query;
    const queryMac = parsed.mac;
    const attempt = q.attempt ?? 1;
    // Only the MAC this address used in DHCP, learned from the client's own packets (dhcp/clients.ts); the query
    // may only agree with it. Anything else gets a script saying why, and an alert, never another host's chain.
    // This request is the client using its address: it confirms a provisional claim whose MAC agrees (clients.ts).
    let binding: Binding = deps.clients?.use(ip, queryMac) ?? { kind: "unknown" };
    // With DHCP on a worker thread this client's REQUEST may still be on its way to the table: on a miss, wait until
    // every claim the worker has posted is applied (bounded), then look again. Known clients never wait. An address
    // still unknown gets two more looks UNKNOWN_LOOK_MS apart: under a storm a REQUEST can sit unread in the worker's
    // socket behind hundreds of DISCOVERs (iPXE chains the moment its ACK arrives; 15 of 200 BIOS machines were
    // refused once in an N = 1,000 storm). A stranger costs at most ~0.5 s of waiting, no work.
    if (deps.dhcpSettle && deps.clients && (binding.kind !== "bound" || (queryMac && queryMac !== binding.mac))) {
      await deps.dhcpSettle();
      binding = deps.clients.use(ip, queryMac);
      for (let look = 0; look < 2 && binding.kind === "unknown"; look++) {
        await new Promise((resolve) => setTimeout(resolve, UNKNOWN_LOOK_MS));
        await deps.dhcpSettle();
        binding = deps.clients.use(ip, queryMac);
      }
    }
    let refusal: RefusalReason | null = null;
    if (binding.kind === "unknown") refusal = "unknown-client";
    else if (binding.kind === "contested") refusal = binding.reason === "ip-held" ? "ip-contested" : "mac-contested";
    else if (queryMac && queryMac !== binding.mac) refusal = "mac-mismatch";
    if (refusal || binding.kind !== "bound") {
      const reason = refusal ?? "unknown-client";
      const seenMac = binding.kind === "unknown" ? null : binding.mac;
      metrics.chainFetches.inc({ result: reason.replace(/-/g, "_") });
      // Reported at most a few times a minute per address: a requester in a loop must not flood the boot timeline.
      if (reportRefusal(ip)) events.emit({
        phase: "chain-refused",
        ...(seenMac ? { mac: seenMac } : {}),
        detail: { client: ip, reason, ...(queryMac ? { queryMac } : {}), ...(binding.kind === "contested" ? { others: binding.others.slice(0, 4) } : {}), attempt },
        at: now(),
      });
      log.warn("chain refused", { client: ip, reason, queryMac, seenMac });
      const retryParams = { uuid: q.uuid, serial: q.serial, arch: q.arch, platform: q.platform, ...(queryMac ? { mac: queryMac } : {}) };
      return sendScript(res, refusedScript({ relayBase, params: retryParams, attempt, reason, message: REFUSALS[reason] }));
    }
    const mac = binding.mac;
    const params: BootParams = { mac, uuid: q.uuid, serial: q.serial, arch: q.arch, platform: q.platform };

    // Direct mode needs: the site allows it, this MAC's iPXE advertised HTTPS (175.20), a known relay id, and no
    // earlier direct failure (via=relay is the fallback URL of the direct script).
    const state = deps.state.get();
    if (state.allowDirect && state.relayId && q.via !== "relay" && deps.clients?.byMac(mac)?.https) {
      const token = await signRelayBootToken(deps.keys.privateKey, {
        relayId: state.relayId,
        site: deps.config.site,
        mac,
        ttlSeconds: deps.config.directTokenTtlSeconds,
        nowSeconds: Math.floor(now() / 1000),
      });
      const directUrl = `${deps.config.apiUrl}/boot/${encodeURIComponent(deps.config.site)}/ipxe?${bootQuery(params, { t: token })}`;
      const fallbackUrl = `${relayBase}/boot.ipxe?${bootQuery(params, { via: "relay" })}`;
      const trust = (deps.config.apiTrustSha256 ?? []).length > 0;
      metrics.chainFetches.inc({ result: "direct" });
      events.emit({ phase: "chain-direct", mac, detail: { client: ip, trust }, at: now() });
      log.info("direct HTTPS hand-off", { mac, client: ip, trust });
      return sendScript(res, directScript({ directUrl, fallbackUrl, trust }));
    }

    // A direct HTTPS chain failed and iPXE came back with its error number: record it, say why on the console, and
    // continue with the relay-carried chain (a second request, so the signed chain is served unmodified).
    if (q.via === "relay" && q.errno !== undefined) {
      const known = classifyIpxeError(q.errno);
      const failure = known?.failure ?? "other";
      metrics.chainFetches.inc({ result: "https_fallback" });
      events.emit({ phase: "https-fallback", mac, detail: { client: ip, errno: q.errno, failure, trust: (deps.config.apiTrustSha256 ?? []).length > 0 }, at: now() });
      log.warn("direct HTTPS failed, falling back to the relay", { mac, client: ip, errno: q.errno, failure });
      const fallbackUrl = `${relayBase}/boot.ipxe?${bootQuery(params, { via: "relay" })}`;
      const help = known ? ipxeErrorUrl(known.errno) : "no iPXE error number";
      return sendScript(res, httpsFallbackScript({ reason: HTTPS_FAILURE_TEXT[failure], errno: q.errno, help, fallbackUrl }));
    }

    const result = await fetchChain(params, { address: ip });
    if (result.ok) {
      metrics.chainFetches.inc({ result: "ok" });
      events.emit({ phase: "chain-served", mac, detail: { client: ip, ms: result.ms, bytes: Buffer.byteLength(result.body), attempt }, at: now() });
      log.info("chain served", { mac, client: ip, ms: result.ms });
      return sendScript(res, result.body);
    }
    const refused = result.reason !== "api_unreachable" && result.reason !== "api_timeout";
    metrics.chainFetches.inc({ result: result.reason });
    events.emit({
      phase: refused ? "chain-refused" : "chain-failed",
      mac,
      detail: { client: ip, reason: result.reason, message: result.message, ...(result.status ? { status: result.status } : {}), attempt },
      at: now(),
    });
    log.warn(refused ? "chain refused" : "chain fetch failed", { mac, client: ip, reason: result.reason, message: result.message, attempt });
    return sendScript(res, failureScript({ relayBase, params, attempt, reason: result.reason, message: result.message }));
  };
}
