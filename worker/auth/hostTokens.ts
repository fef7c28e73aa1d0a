// Per-host boot tokens: EdDSA JWTs that sit in the URL path (/boot/h/<token>/...), because cloud-init appends file
// names to the NoCloud seed URL. A token carries only its boot session id (`sid`), the boot entry it was minted for
// (`e`, menus only) and its expiry: site, host, MAC, profile, image, delivery policy and state live in the session
// row (boot_sessions), so a token is ~226 characters instead of ~625 (with a 10-character kid; each kid character
// adds 4/3) and the kernel line keeps its room.
// Verification is strict: EdDSA only (`alg: none`, HS256 keyed with the public key and every other algorithm are
// refused by jose before any key is used), a known `kid`, `typ` edgeboot-host+jwt (what separates it from the
// relay's boot tokens, which use another typ and are verified with another key), `sid` and `exp` required and
// unexpired. Issuer and audience claims are left out on purpose: the `typ` plus a session row that only this
// deployment's database holds bind a token to its issuer more tightly than a URL string would, at no length.
import { errors, jwtVerify, SignJWT, type JWTHeaderParameters } from "jose";
import { ApiError } from "../errors.ts";
import type { SigningKeys } from "../keys/signingKeys.ts";
import { HOST_TOKEN_PATTERN } from "../shared/relayHeaders.ts";

export const HOST_TOKEN_TYPE = "edgeboot-host+jwt";
// Boot session ids: 12 random bytes, base64url (96 bits: unique, not a secret; the signature is what counts).
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{16}$/;
// A menu offers at most this many boot entries per chain.
export const MAX_ENTRIES = 64;

export type HostTokenPayload = { sid: string; entry: number; exp: number };

export function newSessionId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export async function signHostToken(signer: SigningKeys["signer"], claims: { sid: string; entry?: number }, opts: { expSeconds: number }): Promise<string> {
  const payload: Record<string, string | number> = { sid: claims.sid };
  if (claims.entry) payload.e = claims.entry;
  return new SignJWT(payload).setProtectedHeader({ alg: "EdDSA", kid: signer.kid, typ: HOST_TOKEN_TYPE }).setExpirationTime(opts.expSeconds).sign(signer.key);
}

// Throws ApiError for every kind of bad token: 401 unauthorized (the reason in the message, never key material), or
// 410 session_expired for a genuine token past its expiry (jose checks the signature before the claims).
export async function verifyHostToken(token: string, keys: SigningKeys, expected: { nowSeconds: number }): Promise<HostTokenPayload> {
  if (!HOST_TOKEN_PATTERN.test(token)) throw new ApiError("unauthorized", "malformed host token");
  try {
    const { payload } = await jwtVerify(
      token,
      (header: JWTHeaderParameters) => {
        const key = header.kid ? keys.verifiers.get(header.kid) : undefined;
        if (!key) throw new ApiError("unauthorized", "host token signed by an unknown key");
        return key;
      },
      { algorithms: ["EdDSA"], typ: HOST_TOKEN_TYPE, currentDate: new Date(expected.nowSeconds * 1000), requiredClaims: ["sid", "exp"] },
    );
    const sid = typeof payload.sid === "string" && SESSION_ID_PATTERN.test(payload.sid) ? payload.sid : null;
    const entry = payload.e === undefined ? 0 : Number.isInteger(payload.e) && (payload.e as number) > 0 && (payload.e as number) < MAX_ENTRIES ? (payload.e as number) : null;
    if (!sid || entry === null) throw new ApiError("unauthorized", "host token lacks a valid boot session");
    return { sid, entry, exp: payload.exp ?? 0 };
  } catch (err) {
    if (err instanceof ApiError) throw err;
    if (err instanceof errors.JWTExpired) throw new ApiError("session_expired", "host token expired: its boot session is older than the maximum age");
    if (err instanceof errors.JWTClaimValidationFailed) throw new ApiError("unauthorized", `host token refused: ${err.claim} claim check failed`);
    if (err instanceof errors.JOSEAlgNotAllowed) throw new ApiError("unauthorized", "host token refused: algorithm not allowed");
    throw new ApiError("unauthorized", "host token refused: invalid signature or format");
  }
}
