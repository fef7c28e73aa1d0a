// Fetches one host's chain from the API with the relay credential and checks the API's signature on it (a detached
// Ed25519 JWS bound to site + MAC, worker/shared/chainSignature.ts). Only a verified 200 body is ever returned.
import type { FlattenedVerifyGetKey } from "jose";
import { CHAIN_SIGNATURE_HEADER, ChainSignatureError, verifyChain } from "../../worker/shared/chainSignature.ts";
import { CLIENT_ADDRESS_HEADER } from "../../worker/shared/relayHeaders.ts";
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
  getKey: FlattenedVerifyGetKey;
  fetch?: typeof fetch;
  now?: () => number;
}): ChainFetcher {
  const doFetch = deps.fetch ?? fetch;
  const now = deps.now ?? Date.now;
  const base = `${deps.apiUrl}/boot/${encodeURIComponent(deps.site)}/ipxe`;
  return async (params, client) => {
    const started = now();
    const fail = (reason: ChainFailure, message: string, status?: number): ChainResult => ({ ok: false, reason, message, ...(status ? { status } : {}), ms: now() - started });
    let res: Response;
    const signal = AbortSignal.timeout(deps.timeoutMs);
    try {
      res = await doFetch(`${base}?${bootQuery(params)}`, {
        headers: { authorization: `Bearer ${deps.credential}`, accept: "text/plain", [CLIENT_ADDRESS_HEADER]: client.address },
        redirect: "error",
        signal,
      });
    } catch (err) {
      return signal.aborted ? fail("api_timeout", `API did not answer within ${deps.timeoutMs} ms`) : fail("api_unreachable", `API unreachable: ${(err as Error).message}`);
    }
    let body: string;
    try {
      body = await readCapped(res, MAX_CHAIN_BYTES);
    } catch (err) {
      return (err as Error).message === "too_large" ? fail("too_large", `chain larger than ${MAX_CHAIN_BYTES} bytes`) : fail("api_unreachable", `reading the chain failed: ${(err as Error).message}`);
    }
    if (res.status !== 200) {
      const code = res.headers.get("edgeboot-error");
      return fail("api_status", `API answered ${res.status}${code ? ` (${code})` : ""}`, res.status);
    }
    try {
      await verifyChain(body, res.headers.get(CHAIN_SIGNATURE_HEADER), deps.getKey, { site: deps.site, mac: params.mac, nowSeconds: Math.floor(now() / 1000) });
    } catch (err) {
      if (err instanceof ChainSignatureError) return fail(err.reason, err.message);
      return fail("bad_signature", `signature check failed: ${(err as Error).message}`);
    }
    return { ok: true, body, ms: now() - started };
  };
}

async function readCapped(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get("content-length") ?? "0");
  if (declared > max) {
    await res.body?.cancel().catch(() => {});
    throw new Error("too_large");
  }
  if (!res.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > max) throw new Error("too_large");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}
