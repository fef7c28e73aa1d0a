// Short-lived tokens a relay puts into direct-HTTPS chain URLs (`&t=`): EdDSA JWTs signed by the relay's own key
// (registered with the API), bound to site + MAC, valid for minutes. Shared by relay (signs) and Worker (verifies).
import { jwtVerify, SignJWT, type CryptoKey, type JWTVerifyGetKey, type KeyObject } from "jose";

export const RELAY_TOKEN_TYPE = "edgeboot-relay+jwt";
export const RELAY_TOKEN_MAX_TTL_SECONDS = 600;

export const relayTokenAudience = (site: string) => `edgeboot:boot:${site}`;

export type RelayTokenClaims = { relayId: string; site: string; mac: string; exp: number };

export async function signRelayBootToken(
  key: CryptoKey | KeyObject | Uint8Array,
  claims: { relayId: string; site: string; mac: string; ttlSeconds: number; nowSeconds: number },
): Promise<string> {
  const ttl = Math.min(Math.max(1, claims.ttlSeconds), RELAY_TOKEN_MAX_TTL_SECONDS);
  return new SignJWT({})
    .setProtectedHeader({ alg: "EdDSA", kid: claims.relayId, typ: RELAY_TOKEN_TYPE })
    .setIssuer(`relay:${claims.relayId}`)
    .setAudience(relayTokenAudience(claims.site))
    .setSubject(claims.mac)
    .setIssuedAt(claims.nowSeconds)
    .setExpirationTime(claims.nowSeconds + ttl)
    .sign(key);
}

// getKey resolves the relay's registered public key by `kid` (the relay id); it must refuse unknown or revoked relays.
export async function verifyRelayBootToken(
  token: string,
  getKey: JWTVerifyGetKey,
  expected: { site: string; mac: string; nowSeconds: number },
): Promise<RelayTokenClaims> {
  const { payload, protectedHeader } = await jwtVerify(token, getKey, {
    algorithms: ["EdDSA"],
    audience: relayTokenAudience(expected.site),
    typ: RELAY_TOKEN_TYPE,
    currentDate: new Date(expected.nowSeconds * 1000),
    requiredClaims: ["iss", "sub", "exp", "iat"],
  });
  const relayId = String(protectedHeader.kid ?? "");
  if (payload.iss !== `relay:${relayId}`) throw new Error("relay token issuer does not match its key id");
  if ((payload.exp ?? 0) - (payload.iat ?? 0) > RELAY_TOKEN_MAX_TTL_SECONDS) throw new Error("relay token lifetime too long");
  if (payload.sub !== expected.mac) throw new Error("relay token is bound to another MAC");
  return { relayId, site: expected.site, mac: expected.mac, exp: payload.exp ?? 0 };
}
