import { z } from "zod";

// GET /relay/v1/sync, as the relay reads it. Unknown fields are kept (newer APIs may add some).
export const SiteSnapshot = z.looseObject({
  site: z.looseObject({
    slug: z.string(),
    name: z.string(),
    bootAuth: z.string(),
    allowDirect: z.boolean(),
    unknownHostPolicy: z.string(),
  }),
  relay: z.object({ id: z.string(), name: z.string() }),
  hosts: z.array(
    z.looseObject({
      mac: z.string().nullable(),
      uuid: z.string().nullable(),
      serial: z.string().nullable(),
      hostname: z.string().nullable(),
      arch: z.string().nullable(),
      state: z.string(),
      profile: z.string().nullable(),
    }),
  ),
  prefetch: z.array(z.looseObject({ sha256: z.string().regex(/^[0-9a-f]{64}$/), size: z.number().int().nonnegative() })),
  commands: z.array(z.looseObject({ id: z.string(), kind: z.string(), payload: z.record(z.string(), z.unknown()), createdAt: z.number() })),
  manifests: z.array(z.string()),
  pollSeconds: z.number().int().positive(),
});
export type SiteSnapshot = z.infer<typeof SiteSnapshot>;

// The signed manifest payload (see worker/artifacts/manifest.ts).
export const Manifest = z.object({
  image: z.string(),
  arch: z.string(),
  version: z.string(),
  artifacts: z.array(z.object({ role: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/), size: z.number().int().nonnegative(), url: z.string() })),
  issuedAt: z.string(),
});
export type Manifest = z.infer<typeof Manifest>;
export const MANIFEST_JWS_TYP = "edgeboot-manifest+jws";
