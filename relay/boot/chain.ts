// Fetches one host's chain from the API with the relay credential and checks the API's signature on it (a detached
// Ed25519 JWS bound to site + MAC, worker/shared/chainSignature.ts). Only a verified 200 body is ever returned.
import type { Ed25519KeyLookup } from "../../worker/shared/ed25519Jws.ts";
import { CHAIN_SIGNATURE_HEADER, ChainSignatureError, verifyChain } from "../../worker/shared/chainSignature.ts";
import { CLIENT_ADDRESS_HEADER } from "../../worker/shared/relayHeaders.ts";
import type { ApiGate } from "../apiGate.ts";
import { apiRequest, ApiRequestError, type ApiAnswer } from "../apiRequest.ts";
import { bootQuery, type BootParams } from "./scripts.ts";

export const MAX_CHAIN_BYTES = 256 * 1024;

export type ChainFailure = "api_unreachable" | "api_timeout" | "api_status" | "too_large" | "bad_signature" | "wrong_site" | "wrong_mac" | "stale" | "malformed";

export type ChainResult =
  | { ok: true; body: string; ms: number }
  | { ok: false; reason: ChainFailure; message: string; status?: number; ms: number };

// The address the relay saw the request come from, sent on every chain fetch: the API binds the boot session (and
// what its host token may read) to it.

export type ChainFetcher = (params: BootParams, client: { address: string }) => Promise<ChainResult>;

export function createChainFetcher(deps: {
  apiUrl: string;
  site: string;
  credential: string;
  timeoutMs: number;
  getKey: Ed25519KeyLookup;
  gate?: ApiGate; // bounds this relay's requests in flight at the API
  now?: () => number;
}): ChainFetcher {
  const now = deps.now ?? Date.now;
  const base = `${deps.apiUrl}/boot/${encodeURIComponent(deps.site)}/ipxe`;
  return async (params, client) => {
    const started = now();
    const fail = (reason: ChainFailure, message: string, status?: number): ChainResult => ({ ok: false, reason, message, ...(status ? { status } : {}), ms: now() - started });
    let release: (() => void) | null = null;
    try {
      release = deps.gate ? await deps.gate.acquire() : null;
    } catch (err) {
      return fail("api_timeout", (err as Error).message);
    }
    let res: ApiAnswer;
    try {
      res = await apiRequest(`${base}?${bootQuery(params)}`, {
        headers: { authorization: `Bearer ${deps.credential}`, accept: "text/plain", [CLIENT_ADDRESS_HEADER]: client.address },
        timeoutMs: deps.timeoutMs,
        maxBytes: MAX_CHAIN_BYTES,
      });
    } catch (err) {
      const kind = err instanceof ApiRequestError ? err.kind : "network";
      if (kind === "timeout") return fail("api_timeout", `API did not answer within ${deps.timeoutMs} ms`);
      if (kind === "too_large") return fail("too_large", `chain larger than ${MAX_CHAIN_BYTES} bytes`);
      return fail("api_unreachable", `API unreachable: ${(err as Error).message}`);
    } finally {
      release?.();
    }
    const body = res.body.toString("utf8");
    if (res.status !== 200) {
      const code = res.headers["edgeboot-error"];
      const why = apiReason(body, typeof code === "string" ? code : null);
      return fail("api_status", `API answered ${res.status}${typeof code === "string" ? ` (${code})` : ""}${why ? `: ${why}` : ""}`, res.status);
    }
    const signature = res.headers[CHAIN_SIGNATURE_HEADER.toLowerCase()];
    try {
      await verifyChain(body, typeof signature === "string" ? signature : null, deps.getKey, { site: deps.site, mac: params.mac, nowSeconds: Math.floor(now() / 1000) });
    } catch (err) {
      if (err instanceof ChainSignatureError) return fail(err.reason, err.message);
      return fail("bad_signature", `signature check failed: ${(err as Error).message}`);
    }
    return { ok: true, body, ms: now() - started };
  };
}

// The API's refusal script says why on its `echo edgeboot: <code>: <message>` line (worker/render/ipxe.ts,
// renderErrorScript); the relay never runs an unsigned body, but it repeats that reason on the console it answers
// (escaped again by the failure script). The code, already in the header, is not repeated.
export function apiReason(body: string, code: string | null): string | null {
  const said = /^echo edgeboot: (.{1,400})$/m.exec(body)?.[1]?.trim();
  if (!said) return null;
  return code && said.startsWith(`${code}: `) ? said.slice(code.length + 2) : said;
}
