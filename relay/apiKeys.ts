// The API's public signing keys (GET /.well-known/jwks.json), for chain signatures and artifact manifests: fetched
// on first use, refetched when a header names a kid not seen yet (key rotation) at most once per cooldown.
import type { Ed25519KeyLookup, JwsHeader } from "../worker/shared/ed25519Jws.ts";
import { apiRequest } from "./apiRequest.ts";

const MAX_JWKS_BYTES = 64 * 1024;

type Loaded = { at: number; keys: Map<string, CryptoKey>; unnamed: CryptoKey[] };

export function remoteApiKeys(apiUrl: string, opts: { timeoutMs: number; cooldownMs?: number; now?: () => number }): Ed25519KeyLookup {
  const url = new URL(`${apiUrl.replace(/\/+$/, "")}/.well-known/jwks.json`);
  const cooldownMs = opts.cooldownMs ?? 30_000;
  const now = opts.now ?? Date.now;
  let loaded: Loaded | null = null;
  let loading: Promise<Loaded> | null = null;

  const load = (): Promise<Loaded> => {
    loading ??= (async () => {
      try {
        const res = await apiRequest(url, { headers: { accept: "application/json" }, timeoutMs: opts.timeoutMs, maxBytes: MAX_JWKS_BYTES });
        if (res.status !== 200) throw new Error(`${url.pathname} answered ${res.status}`);
        const doc = JSON.parse(res.body.toString("utf8")) as { keys?: unknown };
        if (!Array.isArray(doc.keys)) throw new Error(`${url.pathname} has no "keys" array`);
        const next: Loaded = { at: now(), keys: new Map(), unnamed: [] };
        for (const k of doc.keys as Array<Record<string, unknown>>) {
          // Only Ed25519 signing keys, and only their public part.
          if (!k || k.kty !== "OKP" || k.crv !== "Ed25519" || typeof k.x !== "string" || (k.use !== undefined && k.use !== "sig")) continue;
          const key = await crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", x: k.x }, "Ed25519", false, ["verify"]);
          if (typeof k.kid === "string") next.keys.set(k.kid, key);
          else next.unnamed.push(key);
        }
        loaded = next;
        return next;
      } finally {
        loading = null;
      }
    })();
    return loading;
  };

  const pick = (set: Loaded, header: JwsHeader): CryptoKey | null => {
    if (typeof header.kid === "string") return set.keys.get(header.kid) ?? null;
    const all = [...set.keys.values(), ...set.unnamed];
    return all.length === 1 ? all[0]! : null;
  };

  return async (header) => {
    let set = loaded ?? (await load());
    let key = pick(set, header);
    if (!key && now() - set.at >= cooldownMs) {
      set = await load();
      key = pick(set, header);
    }
    if (!key) throw new Error(`no API key matches kid ${JSON.stringify(header.kid ?? null)}`);
    return key;
  };
}
