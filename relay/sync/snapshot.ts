import { array, boolean, nullable, number, object, record, string, type Checked } from "../check.ts";

const SHA256 = /^[0-9a-f]{64}$/;

// Callers read `.safeParse(value)`: the checked value, or the first problem.
const schema = <T>(check: (v: unknown) => T) => ({
  parse: check,
  safeParse(value: unknown): { success: true; data: T } | { success: false; error: { issues: Array<{ message: string }> } } {
    try {
      return { success: true, data: check(value) };
    } catch (err) {
      return { success: false, error: { issues: [{ message: (err as Error).message }] } };
    }
  },
});

// GET /relay/v1/sync, as the relay reads it. Unknown fields are kept (newer APIs may add some).
const checkSnapshot = object({
  site: object({ slug: string(), name: string(), bootAuth: string(), allowDirect: boolean, unknownHostPolicy: string() }),
  relay: object({ id: string(), name: string() }),
  hosts: array(
    object({
      mac: nullable(string()),
      uuid: nullable(string()),
      serial: nullable(string()),
      hostname: nullable(string()),
      arch: nullable(string()),
      state: string(),
      profile: nullable(string()),
    }),
  ),
  prefetch: array(object({ sha256: string(SHA256), size: number({ int: true, min: 0 }) })),
  commands: array(object({ id: string(), kind: string(), payload: record, createdAt: number() })),
  manifests: array(string()),
  pollSeconds: number({ int: true, min: 1 }),
});
export const SiteSnapshot = schema(checkSnapshot);
export type SiteSnapshot = Checked<typeof checkSnapshot>;

// The signed manifest payload (see worker/artifacts/manifest.ts).
const checkManifest = object({
  image: string(),
  arch: string(),
  version: string(),
  artifacts: array(object({ role: string(), sha256: string(SHA256), size: number({ int: true, min: 0 }), url: string() })),
  issuedAt: string(),
});
export const Manifest = schema(checkManifest);
export type Manifest = Checked<typeof checkManifest>;
export const MANIFEST_JWS_TYP = "edgeboot-manifest+jws";
