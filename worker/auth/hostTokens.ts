// Per-host boot tokens: EdDSA JWTs that sit in the URL path (/boot/h/<token>/...), because cloud-init appends file
// names to the NoCloud seed URL. One boot session (sid) pins the profile and image the chain was rendered with, so
// NoCloud data and artifacts match what the machine actually booted. Verification accepts EdDSA only: `alg: none`,
// HS256 keyed with the public key and every other algorithm are refused by jose before any key is used.
import { errors, jwtVerify, SignJWT, type JWTHeaderParameters } from "jose";
import { ApiError } from "../errors.ts";
import type { SigningKeys } from "../keys/signingKeys.ts";

export const HOST_TOKEN_TYPE = "edgeboot-host+jwt";
export const HOST_TOKEN_AUDIENCE = "edgeboot:host";
// Path segment shape of a compact JWS; anything else is refused before parsing.
export const HOST_TOKEN_PATTERN = /^[A-Za-z0-9_-]{10,1000}\.[A-Za-z0-9_-]{10,2000}\.[A-Za-z0-9_-]{20,200}$/;

export type HostTokenClaims = {
  hostId: string;
  siteId: string;
  mac: string | null;
  // Boot session: one chain render; events carry it so a timeline can be grouped per boot.
  sid: string;
  profileId: string | null;
  imageId: string | null;
  iat: number;
  exp: number;
};

export const tokenIssuer = (publicUrl: string) => publicUrl.replace(/\/+$/, "") || "edgeboot";

export async function signHostToken(
  signer: SigningKeys["signer"],
  claims: Omit<HostTokenClaims, "iat" | "exp">,
  opts: { issuer: string; nowSeconds: number; ttlSeconds: number },
): Promise<string> {
  const payload: Record<string, string> = { site: claims.siteId, sid: claims.sid };
  if (claims.mac) payload.mac = claims.mac;
  if (claims.profileId) payload.prf = claims.profileId;
  if (claims.imageId) payload.img = claims.imageId;
  return new SignJWT(payload)
    .setProtectedHeader({ alg: "EdDSA", kid: signer.kid, typ: HOST_TOKEN_TYPE })
    .setIssuer(opts.issuer)
    .setAudience(HOST_TOKEN_AUDIENCE)
    .setSubject(claims.hostId)
    .setIssuedAt(opts.nowSeconds)
    .setExpirationTime(opts.nowSeconds + opts.ttlSeconds)
    .sign(signer.key);
}

// Throws ApiError("unauthorized") for every kind of bad token; the reason goes into the message, never key material.
export async function verifyHostToken(
  token: string,
  keys: SigningKeys,
  expected: { issuer: string; nowSeconds: number },
): Promise<HostTokenClaims> {
  if (!HOST_TOKEN_PATTERN.test(token)) throw new ApiError("unauthorized", "malformed host token");
  try {
    const { payload } = await jwtVerify(
      token,
      (header: JWTHeaderParameters) => {
        const key = header.kid ? keys.verifiers.get(header.kid) : undefined;
        if (!key) throw new ApiError("unauthorized", "host token signed by an unknown key");
        return key;
      },
      {
        algorithms: ["EdDSA"],
        typ: HOST_TOKEN_TYPE,
        issuer: expected.issuer,
        audience: HOST_TOKEN_AUDIENCE,
        currentDate: new Date(expected.nowSeconds * 1000),
        requiredClaims: ["sub", "iat", "exp"],
      },
    );
    const str = (v: unknown) => (typeof v === "string" && v.length > 0 && v.length <= 128 ? v : null);
    const hostId = str(payload.sub);
    const siteId = str(payload.site);
    const sid = str(payload.sid);
    if (!hostId || !siteId || !sid) throw new ApiError("unauthorized", "host token lacks its host, site or session");
    return {
      hostId,
      siteId,
      sid,
      mac: str(payload.mac),
      profileId: str(payload.prf),
      imageId: str(payload.img),
      iat: payload.iat ?? 0,
      exp: payload.exp ?? 0,
    };
  } catch (err) {
    if (err instanceof ApiError) throw err;
    if (err instanceof errors.JWTExpired) throw new ApiError("unauthorized", "host token expired");
    if (err instanceof errors.JWTClaimValidationFailed) throw new ApiError("unauthorized", `host token refused: ${err.claim} claim check failed`);
    if (err instanceof errors.JOSEAlgNotAllowed) throw new ApiError("unauthorized", "host token refused: algorithm not allowed");
    throw new ApiError("unauthorized", "host token refused: invalid signature or format");
  }
}
