// The API's Ed25519 signing keys: Worker secret SIGNING_KEYS = JSON array of private JWKs with `kid`.
// The first key signs; every key verifies, so a rotated-out key keeps its tokens valid until they expire.
// Parsed and imported once per isolate, cached by the secret's value.
import { importJWK, type JWK } from "jose";
import { z } from "zod";
import { ApiError } from "../errors.ts";

const PrivateJwk = z.object({
  kty: z.literal("OKP"),
  crv: z.literal("Ed25519"),
  kid: z.string().min(1).max(64),
  x: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  d: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
});
const KeyList = z.array(PrivateJwk).min(1);

export type PublicJwk = { kty: "OKP"; crv: "Ed25519"; x: string; kid: string; alg: "EdDSA"; use: "sig" };

export type SigningKeys = {
  signer: { kid: string; key: CryptoKey };
  verifiers: ReadonlyMap<string, CryptoKey>;
  jwks: { keys: PublicJwk[] };
};

const cache = new Map<string, Promise<SigningKeys>>();

export function getSigningKeys(env: { SIGNING_KEYS: string }): Promise<SigningKeys> {
  const secret = env.SIGNING_KEYS;
  let hit = cache.get(secret);
  if (!hit) {
    hit = loadSigningKeys(secret);
    // A broken secret is retried on the next request instead of being cached as a failure.
    hit.catch(() => cache.delete(secret));
    cache.set(secret, hit);
  }
  return hit;
}

async function loadSigningKeys(secret: string): Promise<SigningKeys> {
  let raw: unknown;
  try {
    raw = JSON.parse(secret);
  } catch {
    throw new ApiError("internal", "worker misconfigured: SIGNING_KEYS is not valid JSON");
  }
  const parsed = KeyList.safeParse(raw);
  if (!parsed.success) {
    throw new ApiError("internal", "worker misconfigured: SIGNING_KEYS must be a non-empty array of Ed25519 private JWKs with kid");
  }
  const kids = new Set<string>();
  const verifiers = new Map<string, CryptoKey>();
  const publicKeys: PublicJwk[] = [];
  let signer: SigningKeys["signer"] | undefined;
  for (const jwk of parsed.data) {
    if (kids.has(jwk.kid)) throw new ApiError("internal", `worker misconfigured: SIGNING_KEYS has kid ${jwk.kid} twice`);
    kids.add(jwk.kid);
    const publicJwk: PublicJwk = { kty: "OKP", crv: "Ed25519", x: jwk.x, kid: jwk.kid, alg: "EdDSA", use: "sig" };
    verifiers.set(jwk.kid, await importKey({ kty: "OKP", crv: "Ed25519", x: jwk.x }));
    publicKeys.push(publicJwk);
    if (!signer) signer = { kid: jwk.kid, key: await importKey(jwk) };
  }
  return { signer: signer!, verifiers, jwks: { keys: publicKeys } };
}

async function importKey(jwk: JWK): Promise<CryptoKey> {
  const key = await importJWK(jwk, "EdDSA");
  if (key instanceof Uint8Array) throw new ApiError("internal", "worker misconfigured: SIGNING_KEYS holds a symmetric key");
  return key as CryptoKey;
}
