import { Hono } from "hono";
import { z } from "zod";
import { requireCatalogueAccess } from "../auth/bearer.ts";
import { zv } from "../artifacts/http.ts";
import { buildManifest, signManifest } from "../artifacts/manifest.ts";
import { imageArtifactHashes } from "../artifacts/refs.ts";
import { readySizes } from "../artifacts/rows.ts";
import { getSigningKeys } from "../keys/signingKeys.ts";
import type { AppEnv } from "../context.ts";
import { ApiError } from "../errors.ts";
import { resolveImage } from "./images.ts";
import { apiBase, relayArtifactUrl } from "../relayapi/sync.ts";

export const ManifestParam = z.object({ image: z.string().min(1).max(128) });
export const ManifestQuery = z.object({ arch: z.string().regex(/^[a-z0-9_]{1,32}$/, "arch is like x86_64, arm64, i386").optional() });

// GET /v1/images/:image/manifest?arch=: the image's artifacts signed as a compact JWS (EdDSA, kid of the API key
// in /.well-known/jwks.json). `Accept: application/jose` returns the bare JWS; otherwise {manifest, jws}.
export const manifestAdmin = new Hono<AppEnv>().get("/images/:image/manifest", zv("param", ManifestParam), zv("query", ManifestQuery), async (c) => {
  requireCatalogueAccess(c, "read");
  const { image: name } = c.req.valid("param");
  const { arch } = c.req.valid("query");
  const db = c.get("db");
  const image = await resolveImage(db, name, arch);

  const sizes = await readySizes(db, imageArtifactHashes(image.artifacts));
  const base = apiBase(c.get("env").PUBLIC_URL, c.req.url);
  const built = buildManifest(image, sizes, (sha) => relayArtifactUrl(base, sha), new Date());
  if (!built.ok) throw new ApiError("conflict", "image names artifacts that are not uploaded", { missing: built.missing });
  const jws = await signManifest(built.manifest, (await getSigningKeys(c.get("env"))).signer);
  c.header("cache-control", "no-store");
  if (/\bapplication\/jose\b/i.test(c.req.header("accept") ?? "")) return c.body(jws, 200, { "content-type": "application/jose" });
  return c.json({ manifest: built.manifest, jws });
});
