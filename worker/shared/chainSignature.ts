// Chain signature shared by the Worker (signs) and the relay (verifies); pure, no runtime state.
// A detached JWS (RFC 7515 App. F) with an unencoded payload (RFC 7797, b64=false): the script bytes are signed
// as-is, and the protected header binds them to the site and MAC they were rendered for, so a relay cannot be fed
// another host's chain or an old one.
import { jsonPart, signEd25519, verifyEd25519, type Ed25519KeyLookup } from "./ed25519Jws.ts";

export const CHAIN_SIGNATURE_HEADER = "Edgeboot-Chain-Signature";
export const CHAIN_SIGNATURE_MAX_AGE_SECONDS = 300;

export type ChainBinding = { site: string; mac: string | null; iat: number };

const encoder = new TextEncoder();

export async function signChain(body: string, binding: ChainBinding, key: CryptoKey, kid: string): Promise<string> {
  const protectedPart = jsonPart({ alg: "EdDSA", kid, b64: false, crit: ["b64"], site: binding.site, mac: binding.mac, iat: binding.iat });
  return `${protectedPart}..${await signEd25519(key, protectedPart, encoder.encode(body))}`;
}

export type ChainSignatureFailure = "malformed" | "bad_signature" | "wrong_site" | "wrong_mac" | "stale";

// No parameter properties: the relay runs this file under Node's type stripping.
export class ChainSignatureError extends Error {
  readonly reason: ChainSignatureFailure;
  constructor(reason: ChainSignatureFailure, message: string) {
    super(message);
    this.reason = reason;
    this.name = "ChainSignatureError";
  }
}

export async function verifyChain(
  body: string,
  signature: string | null | undefined,
  getKey: Ed25519KeyLookup,
  expected: { site: string; mac: string | null; nowSeconds: number; maxAgeSeconds?: number },
): Promise<ChainBinding> {
  const parts = (signature ?? "").split(".");
  if (parts.length !== 3 || parts[1] !== "" || !parts[0] || !parts[2]) {
    throw new ChainSignatureError("malformed", "chain signature missing or malformed");
  }
  let header: Record<string, unknown>;
  try {
    // b64=false (RFC 7797): the signing input is the header and the raw script bytes.
    header = await verifyEd25519(parts[0], encoder.encode(body), parts[2], getKey, ["b64"]);
  } catch (err) {
    throw new ChainSignatureError("bad_signature", `chain signature does not verify: ${(err as Error).message}`);
  }
  if (header.b64 !== false || !(header.crit as unknown[] | undefined)?.includes("b64")) throw new ChainSignatureError("malformed", "chain signature must use b64=false, marked critical");
  if (header.site !== expected.site) throw new ChainSignatureError("wrong_site", "chain was signed for another site");
  if ((header.mac ?? null) !== expected.mac) throw new ChainSignatureError("wrong_mac", "chain was signed for another MAC");
  const iat = typeof header.iat === "number" ? header.iat : NaN;
  const maxAge = expected.maxAgeSeconds ?? CHAIN_SIGNATURE_MAX_AGE_SECONDS;
  if (!(Math.abs(expected.nowSeconds - iat) <= maxAge)) throw new ChainSignatureError("stale", "chain signature is too old or from the future");
  return { site: expected.site, mac: expected.mac, iat };
}
