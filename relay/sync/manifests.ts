import { compactVerify, createRemoteJWKSet, type JWTVerifyGetKey } from "jose";
import { Manifest, MANIFEST_JWS_TYP } from "./snapshot.ts";

export type ManifestKeys = JWTVerifyGetKey;

// The API's public keys, fetched from /.well-known/jwks.json and refetched when a new kid shows up (rotation).
export function apiKeys(apiUrl: string): ManifestKeys {
  return createRemoteJWKSet(new URL(`${apiUrl.replace(/\/+$/, "")}/.well-known/jwks.json`), { timeoutDuration: 10_000, cooldownDuration: 30_000 });
}

// A manifest counts only if the API's key signed it: that ties each pinned hash to the API, not to whoever
// answered the sync request.
export async function verifyManifest(jws: string, keys: ManifestKeys): Promise<Manifest> {
  const { payload, protectedHeader } = await compactVerify(jws, keys as Parameters<typeof compactVerify>[1], { algorithms: ["EdDSA"] });
  if (protectedHeader.typ !== MANIFEST_JWS_TYP) throw new Error(`not a manifest (typ ${String(protectedHeader.typ)})`);
  return Manifest.parse(JSON.parse(new TextDecoder().decode(payload)));
}
