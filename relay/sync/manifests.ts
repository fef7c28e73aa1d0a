import { verifyCompact, type Ed25519KeyLookup } from "../../worker/shared/ed25519Jws.ts";
import { remoteApiKeys } from "../apiKeys.ts";
import { Manifest, MANIFEST_JWS_TYP } from "./snapshot.ts";

export type ManifestKeys = Ed25519KeyLookup;

// The API's public keys, fetched from /.well-known/jwks.json and refetched when a new kid shows up (rotation).
export function apiKeys(apiUrl: string): ManifestKeys {
  return remoteApiKeys(apiUrl, { timeoutMs: 10_000, cooldownMs: 30_000 });
}

// A manifest counts only if the API's key signed it: that ties each pinned hash to the API, not to whoever
// answered the sync request.
export async function verifyManifest(jws: string, keys: ManifestKeys): Promise<Manifest> {
  const { payload, header } = await verifyCompact(jws, keys);
  if (header.typ !== MANIFEST_JWS_TYP) throw new Error(`not a manifest (typ ${String(header.typ)})`);
  return Manifest.parse(JSON.parse(new TextDecoder().decode(payload)));
}
