// Short-lived tokens a relay puts into direct-HTTPS chain URLs (`&t=`): EdDSA JWTs signed by the relay's own key
// (registered with the API), bound to site + MAC, valid for minutes. Shared by relay (signs) and Worker (verifies).
import { JwsError, jsonPart, signEd25519, verifyCompact, type Ed25519KeyLookup } from "./ed25519Jws.ts";

export const RELAY_TOKEN_TYPE = "edgeboot-relay+jwt";
export const RELAY_TOKEN_MAX_TTL_SECONDS = 600;

export const relayTokenAudience = (site: string) => `edgeboot:boot:${site}`;

export type RelayTokenClaims = { relayId: string; site: string; mac: string; exp: number };

const encoder = new TextEncoder();

export async function signRelayBootToken(
  key: CryptoKey,
  claims: { relayId: string; site: string; mac: string; ttlSeconds: number; nowSeconds: number },
): Promise<string> {
  const ttl = Math.min(Math.max(1, claims.ttlSeconds), RELAY_TOKEN_MAX_TTL_SECONDS);
  const header = jsonPart({ alg: "EdDSA", kid: claims.relayId, typ: RELAY_TOKEN_TYPE });
  const payload = jsonPart({
    iss: `relay:${claims.relayId}`,
    aud: relayTokenAudience(claims.site),
    sub: claims.mac,
    iat: claims.nowSeconds,
    exp: claims.nowSeconds + ttl,
  });
  return `${header}.${payload}.${await signEd25519(key, header, encoder.encode(payload))}`;
}

// getKey resolves the relay's registered public key by `kid` (the relay id); it must refuse unknown or revoked relays.
// The claim checks are RFC 7519's (aud, exp, nbf) as jose's jwtVerify made them, plus this token's own rules.
export async function verifyRelayBootToken(
  token: string,
  getKey: Ed25519KeyLookup,
  expected: { site: string; mac: string; nowSeconds: number },
): Promise<RelayTokenClaims> {
  const { header, payload: bytes } = await verifyCompact(token, getKey);
  if (header.typ !== RELAY_TOKEN_TYPE) throw new JwsError(`relay token type must be ${RELAY_TOKEN_TYPE}`);
  let payload: Record<string, unknown>;
  try {
    payload = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  } catch {
    throw new JwsError("relay token payload is not JSON");
  }
  if (!payload || typeof payload !== "object" || Array.isArray(payload)) throw new JwsError("relay token payload is not a JSON object");
  const { iss, sub, aud, iat, exp, nbf } = payload;
  if (typeof iss !== "string" || typeof sub !== "string" || typeof iat !== "number" || typeof exp !== "number") {
    throw new JwsError("relay token lacks iss, sub, iat or exp");
  }
  const audience = relayTokenAudience(expected.site);
  if (!(aud === audience || (Array.isArray(aud) && aud.includes(audience)))) throw new JwsError("relay token is for another audience");
  if (exp <= expected.nowSeconds) throw new JwsError("relay token has expired");
  if (nbf !== undefined && (typeof nbf !== "number" || nbf > expected.nowSeconds)) throw new JwsError("relay token is not valid yet");
  const relayId = String(header.kid ?? "");
  if (iss !== `relay:${relayId}`) throw new Error("relay token issuer does not match its key id");
  if (exp - iat > RELAY_TOKEN_MAX_TTL_SECONDS) throw new Error("relay token lifetime too long");
  if (sub !== expected.mac) throw new Error("relay token is bound to another MAC");
  return { relayId, site: expected.site, mac: expected.mac, exp };
}
