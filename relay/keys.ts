// The relay's own Ed25519 key pair, kept in <stateDir>/relay-key.jwk (mode 0600) across restarts: it signs the
// short-lived `&t=` tokens of direct mode, and its public half is registered with the API.
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { webcrypto } from "node:crypto";

// WebCrypto, as the shared token code (worker/shared/ed25519Jws.ts) signs with it; no JOSE library in the relay.
type JWK = webcrypto.JsonWebKey;
export type PublicJwk = { kty: "OKP"; crv: "Ed25519"; x: string };
export type RelayKeys = { privateKey: CryptoKey; publicJwk: PublicJwk };

export const KEY_FILE = "relay-key.jwk";

export async function loadOrCreateRelayKeys(stateDir: string): Promise<RelayKeys> {
  const path = join(stateDir, KEY_FILE);
  let jwk: JWK | null = null;
  try {
    jwk = JSON.parse(await readFile(path, "utf8")) as JWK;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new Error(`cannot read relay key ${path}: ${(err as Error).message}`);
  }
  if (!jwk) {
    const pair = (await crypto.subtle.generateKey("Ed25519", true, ["sign", "verify"])) as CryptoKeyPair;
    const { x, d } = (await crypto.subtle.exportKey("jwk", pair.privateKey)) as JWK;
    jwk = { kty: "OKP", crv: "Ed25519", x, d };
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    // Written whole then renamed, so a crash never leaves half a key.
    const tmp = `${path}.tmp-${process.pid}`;
    await writeFile(tmp, `${JSON.stringify(jwk)}\n`, { mode: 0o600 });
    await rename(tmp, path);
  }
  await chmod(path, 0o600).catch(() => {});
  if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || typeof jwk.x !== "string" || typeof jwk.d !== "string") {
    throw new Error(`relay key ${path} is not an Ed25519 private JWK`);
  }
  const privateKey = await crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", x: jwk.x, d: jwk.d }, "Ed25519", false, ["sign"]);
  return { privateKey, publicJwk: { kty: "OKP", crv: "Ed25519", x: jwk.x } };
}
