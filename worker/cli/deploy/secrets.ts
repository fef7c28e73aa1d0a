// The Worker's three secrets, generated the way `npm start` generates .dev.vars (worker/dev/devVars.mjs):
// ADMIN_TOKEN (root bearer token), SIGNING_KEYS (a JSON array of Ed25519 private JWKs with a kid; the first signs,
// all are published in /.well-known/jwks.json) and SECRETS_KEY (32 random bytes, base64: AES-256-GCM for secrets).
import { randomBytes } from "node:crypto";
import { exportJWK, generateKeyPair } from "jose";

export const WORKER_SECRETS = ["ADMIN_TOKEN", "SIGNING_KEYS", "SECRETS_KEY"] as const;
export type WorkerSecret = (typeof WORKER_SECRETS)[number];

export async function generateSecret(name: WorkerSecret, now = new Date()): Promise<string> {
  switch (name) {
    case "ADMIN_TOKEN":
      return `ebt_root_${randomBytes(24).toString("base64url")}`;
    case "SECRETS_KEY":
      return randomBytes(32).toString("base64");
    case "SIGNING_KEYS": {
      const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
      // The kid names the key's birth date, so a later rotation (prepend a new key, keep the old one until the
      // host tokens it signed have expired) can tell them apart.
      const kid = `k-${now.toISOString().slice(0, 10)}-${randomBytes(3).toString("hex")}`;
      return JSON.stringify([{ ...(await exportJWK(privateKey)), kid }]);
    }
  }
}
