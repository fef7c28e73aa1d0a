// Ed25519 ("EdDSA") JWS over WebCrypto (RFC 7515 compact form, RFC 8037 for the algorithm), for the formats the
// Worker and the relay share: pure, no runtime state, the same code in workerd and Node. jose would do it too, but
// loading it costs the relay ~9 MiB RSS (measured on Node 22) for three verifications; only EdDSA is ever accepted.

export type JwsHeader = Record<string, unknown> & { alg?: unknown; kid?: unknown; typ?: unknown; crit?: unknown };
// Resolves the public key for a protected header (by kid); throws when there is none.
export type Ed25519KeyLookup = (header: JwsHeader) => Promise<CryptoKey> | CryptoKey;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class JwsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JwsError";
  }
}

export function base64url(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]!);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64url(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) throw new JwsError("not base64url");
  const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export const jsonPart = (value: unknown): string => base64url(encoder.encode(JSON.stringify(value)));

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

// The JWS Signing Input: ASCII(BASE64URL(header)) || '.' || payload (encoded, or raw bytes under b64=false).
const signingInput = (protectedPart: string, payload: Uint8Array) => concat(encoder.encode(`${protectedPart}.`), payload);

export async function signEd25519(key: CryptoKey, protectedPart: string, payload: Uint8Array): Promise<string> {
  return base64url(new Uint8Array(await crypto.subtle.sign("Ed25519", key, signingInput(protectedPart, payload))));
}

// Decodes and checks a protected header: alg must be EdDSA; crit may name only the extensions the caller handles.
export function decodeProtectedHeader(protectedPart: string, understood: readonly string[] = []): JwsHeader {
  let header: unknown;
  try {
    header = JSON.parse(decoder.decode(fromBase64url(protectedPart)));
  } catch {
    throw new JwsError("protected header is not base64url JSON");
  }
  if (!header || typeof header !== "object" || Array.isArray(header)) throw new JwsError("protected header is not a JSON object");
  const h = header as JwsHeader;
  if (h.alg !== "EdDSA") throw new JwsError(`algorithm ${JSON.stringify(h.alg)} is not allowed (EdDSA only)`);
  if (h.crit !== undefined) {
    // RFC 7515 §4.1.11: an extension listed in crit that the recipient does not understand makes the JWS invalid.
    if (!Array.isArray(h.crit) || h.crit.length === 0 || !h.crit.every((c) => typeof c === "string" && understood.includes(c) && c in h)) {
      throw new JwsError("protected header lists a critical extension that is not understood");
    }
  }
  return h;
}

// Verifies one signature with the key the header names; returns the header. Throws JwsError on any failure.
export async function verifyEd25519(protectedPart: string, payload: Uint8Array, signaturePart: string, getKey: Ed25519KeyLookup, understood: readonly string[] = []): Promise<JwsHeader> {
  const header = decodeProtectedHeader(protectedPart, understood);
  const signature = fromBase64url(signaturePart);
  if (signature.length !== 64) throw new JwsError("signature is not an Ed25519 signature");
  const key = await getKey(header);
  let ok = false;
  try {
    ok = await crypto.subtle.verify("Ed25519", key, signature, signingInput(protectedPart, payload));
  } catch (err) {
    throw new JwsError(`signature check failed: ${(err as Error).message}`);
  }
  if (!ok) throw new JwsError("signature verification failed");
  return header;
}

// A compact JWS (header.payload.signature) with an encoded payload: the verified header and payload bytes.
export async function verifyCompact(jws: string, getKey: Ed25519KeyLookup): Promise<{ header: JwsHeader; payload: Uint8Array }> {
  const parts = jws.split(".");
  if (parts.length !== 3 || !parts[0] || !parts[2]) throw new JwsError("not a compact JWS");
  const header = await verifyEd25519(parts[0], encoder.encode(parts[1]), parts[2], getKey);
  return { header, payload: fromBase64url(parts[1]!) };
}
