import { CompactSign } from "jose";
import { imageArtifactHashes } from "./refs.ts";
import { ROLE_ORDER } from "./roles.ts";

// A signed statement of which bytes make up an image: the relay pins and prefetches exactly these hashes.
export type ManifestArtifact = { role: string; sha256: string; size: number; url: string };
export type Manifest = { image: string; arch: string; version: string; artifacts: ManifestArtifact[]; issuedAt: string };

export const MANIFEST_JWS_TYP = "edgeboot-manifest+jws";

export type ImageForManifest = { name: string; arch: string; version: string; artifacts: Record<string, unknown> };

// Roles in a stable order (roles.ts: kernel, initrds in boot order, store, rootfs, modloop, apkovl, then others by
// name), so equal images give equal manifests.
export function manifestEntries(image: ImageForManifest): { role: string; sha256: string }[] {
  const roles = Object.keys(image.artifacts).sort((a, b) => roleRank(a) - roleRank(b) || a.localeCompare(b));
  return roles.flatMap((role) => imageArtifactHashes({ [role]: image.artifacts[role] }).map((sha256) => ({ role, sha256 })));
}

const roleRank = (role: string) => (ROLE_ORDER.includes(role) ? ROLE_ORDER.indexOf(role) : ROLE_ORDER.length);

// Fails with the missing hashes when an image names artifacts that were never uploaded (or are still pending).
export function buildManifest(
  image: ImageForManifest,
  sizes: ReadonlyMap<string, number>,
  artifactUrl: (sha256: string) => string,
  issuedAt: Date,
): { ok: true; manifest: Manifest } | { ok: false; missing: string[] } {
  const entries = manifestEntries(image);
  const missing = [...new Set(entries.filter((e) => !sizes.has(e.sha256)).map((e) => e.sha256))];
  if (missing.length) return { ok: false, missing };
  return {
    ok: true,
    manifest: {
      image: image.name,
      arch: image.arch,
      version: image.version,
      artifacts: entries.map((e) => ({ ...e, size: sizes.get(e.sha256) ?? 0, url: artifactUrl(e.sha256) })),
      issuedAt: issuedAt.toISOString(),
    },
  };
}

// Compact JWS (EdDSA) over the manifest JSON; verifiable with the API's /.well-known/jwks.json.
export async function signManifest(manifest: Manifest, signer: { key: CryptoKey | Uint8Array; kid: string }): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(manifest)))
    .setProtectedHeader({ alg: "EdDSA", kid: signer.kid, typ: MANIFEST_JWS_TYP })
    .sign(signer.key);
}
