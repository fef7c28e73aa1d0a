// Secrets at rest: AES-256-GCM with a random 96-bit IV per write. The additional data is the secret's scope string
// (site, host and name), so a ciphertext copied into another row — another host, site or name — fails to decrypt.

export type SealedSecret = { iv: string; ciphertext: string };

export class SecretboxError extends Error {
  override name = "SecretboxError";
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const keys = new Map<string, Promise<CryptoKey>>();

// The scope a secret is bound to; null site/host = wider scope (global < site < host).
export function secretScope(ref: { siteId: string | null; hostId: string | null; name: string }): string {
  return `edgeboot-secret:v1|site=${ref.siteId ?? "*"}|host=${ref.hostId ?? "*"}|name=${ref.name}`;
}

export async function encryptSecret(keyB64: string, scope: string, plaintext: string): Promise<SealedSecret> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: encoder.encode(scope) }, await importKey(keyB64), encoder.encode(plaintext));
  return { iv: toBase64(iv), ciphertext: toBase64(new Uint8Array(sealed)) };
}

export async function decryptSecret(keyB64: string, scope: string, sealed: SealedSecret): Promise<string> {
  const key = await importKey(keyB64);
  try {
    const iv = fromBase64(sealed.iv);
    if (iv.length !== 12) throw new SecretboxError("bad iv length");
    const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData: encoder.encode(scope) }, key, fromBase64(sealed.ciphertext));
    return decoder.decode(plain);
  } catch {
    // Wrong key, wrong scope or tampered bytes all look the same to GCM; say nothing more.
    throw new SecretboxError("secret could not be decrypted (wrong key, scope or tampered ciphertext)");
  }
}

function importKey(keyB64: string): Promise<CryptoKey> {
  let key = keys.get(keyB64);
  if (!key) {
    const raw = fromBase64(keyB64);
    if (raw.length !== 32) throw new SecretboxError("SECRETS_KEY must be base64 of exactly 32 bytes");
    key = crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
    keys.set(keyB64, key);
  }
  return key;
}

function toBase64(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

function fromBase64(text: string): Uint8Array {
  let bin: string;
  try {
    bin = atob(text);
  } catch {
    throw new SecretboxError("invalid base64");
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
