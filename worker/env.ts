import { z } from "zod";

// Worker bindings and secrets, parsed once per isolate; a wrong binding is a clear 500, not a crash later.
const EnvSchema = z.object({
  DB: z.custom<D1Database>((v) => typeof v === "object" && v !== null && "prepare" in v, "DB must be a D1 binding"),
  ARTIFACTS: z.custom<R2Bucket>((v) => typeof v === "object" && v !== null && "head" in v, "ARTIFACTS must be an R2 binding"),
  ADMIN_TOKEN: z.string().min(16, "ADMIN_TOKEN secret must be at least 16 characters"),
  // JSON array of Ed25519 private JWKs with `kid`; the first signs, all verify (rotation).
  SIGNING_KEYS: z.string().min(2, "SIGNING_KEYS secret is required"),
  // base64 of 32 random bytes: AES-256-GCM key for secrets at rest.
  SECRETS_KEY: z.string().min(40, "SECRETS_KEY secret must be base64 of 32 bytes"),
  PUBLIC_URL: z.string().optional().default(""),
});

export type Env = z.infer<typeof EnvSchema>;

export type EnvParseResult = { ok: true; env: Env } | { ok: false; message: string };

const cache = new WeakMap<object, EnvParseResult>();

export function parseEnv(raw: unknown): EnvParseResult {
  if (typeof raw === "object" && raw !== null) {
    const hit = cache.get(raw);
    if (hit) return hit;
  }
  const parsed = EnvSchema.safeParse(raw);
  const result: EnvParseResult = parsed.success
    ? { ok: true, env: parsed.data }
    : { ok: false, message: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") };
  if (typeof raw === "object" && raw !== null) cache.set(raw, result);
  return result;
}
