// Relay identity on the boot path: the relay's bearer credential (stored as its SHA-256, looked up by hash) and the
// short-lived direct-mode tokens it signs with its own registered Ed25519 key (`&t=`).
import { decodeProtectedHeader, importJWK, type JWK } from "jose";
import { sha256Hex } from "../lib/crypto.ts";
import { verifyRelayBootToken } from "../shared/relayToken.ts";

export type BootRelay = {
  id: string;
  siteId: string;
  credentialHash: string;
  publicKeyJwk: JsonWebKey | null;
  revokedAt: number | null;
};

const BEARER = /^Bearer\s+(\S{16,512})$/i;

// SHA-256 of the bearer credential, or null when the header is absent or not a bearer credential.
export async function relayCredentialHash(authorization: string | undefined): Promise<string | null> {
  const m = BEARER.exec(authorization?.trim() ?? "");
  return m?.[1] ? sha256Hex(m[1]) : null;
}

// The relay id a direct-mode token claims to be signed by (`kid`), read before the database lookup.
export function relayTokenKid(token: string): string | null {
  try {
    const { kid } = decodeProtectedHeader(token);
    return typeof kid === "string" && kid.length > 0 && kid.length <= 128 ? kid : null;
  } catch {
    return null;
  }
}

const keyCache = new Map<string, Promise<CryptoKey>>();

function relayKey(relay: BootRelay & { publicKeyJwk: JsonWebKey }): Promise<CryptoKey> {
  const jwk = relay.publicKeyJwk as JWK;
  // Keyed by relay and key material, so a re-registered key is imported afresh.
  const cacheKey = `${relay.id}:${jwk.x ?? ""}`;
  let hit = keyCache.get(cacheKey);
  if (!hit) {
    if (keyCache.size > 1000) keyCache.clear();
    // Only the public part is imported, whatever the row holds; and only as an Ed25519 key.
    hit = importJWK({ kty: jwk.kty, crv: jwk.crv, x: jwk.x }, "EdDSA") as Promise<CryptoKey>;
    hit.catch(() => keyCache.delete(cacheKey));
    keyCache.set(cacheKey, hit);
  }
  return hit;
}

export async function verifyDirectToken(
  token: string,
  relay: BootRelay & { publicKeyJwk: JsonWebKey },
  expected: { site: string; mac: string; nowSeconds: number },
) {
  const key = await relayKey(relay);
  return verifyRelayBootToken(
    token,
    (header) => {
      if (header.kid !== relay.id) throw new Error("relay token key id does not match the relay");
      return key;
    },
    expected,
  );
}
