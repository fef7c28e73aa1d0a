// URLs written into chains and seeds. The API's own base is PUBLIC_URL when set, else the origin the caller used.
export function apiBase(publicUrl: string, requestUrl: string): string {
  return publicUrl.replace(/\/+$/, "") || new URL(requestUrl).origin;
}

// A host token's URLs live under the API's /boot/h/<token>, or, for a `bound` boot session, under the issuing relay's
// LAN base (`root`), whose /h/<token>/... proxies to the API with the relay credential and the client's address.
export const hostBase = (base: string, token: string, root?: string | null) => (root ? `${root}/h/${token}` : `${base}/boot/h/${token}`);
export const seedUrl = (base: string, token: string, root?: string | null) => `${hostBase(base, token, root)}/nocloud/`;
export const eventsUrl = (base: string, token: string, root?: string | null) => `${hostBase(base, token, root)}/events`;
export const fileUrl = (base: string, token: string, name: string, root?: string | null) => `${hostBase(base, token, root)}/files/${name}`;
export const workerArtifactUrl = (base: string, token: string, sha256: string) => `${hostBase(base, token)}/artifacts/${sha256}`;

// A relay's registered cache URL, if it is a plain http(s) URL that is safe to write into a script.
export function cacheBase(cacheUrl: string | null): string | null {
  if (!cacheUrl || /[\s${}]/.test(cacheUrl)) return null;
  try {
    const url = new URL(cacheUrl);
    if (url.protocol !== "http:" && url.protocol !== "https:") return null;
    return cacheUrl.replace(/\/+$/, "");
  } catch {
    return null;
  }
}

// The relay's LAN base from its registered cache URL (`<http base>/artifacts/`), or null when unusable.
export function relayLanBase(cacheUrl: string | null): string | null {
  const cache = cacheBase(cacheUrl);
  return cache ? cache.replace(/\/artifacts$/, "") : null;
}

// The relay registers its cache as `<http base>/artifacts/` (relay/sync/service.ts); a bare base also works.
export const cacheArtifactUrl = (cache: string, sha256: string) => (cache.endsWith("/artifacts") ? `${cache}/${sha256}` : `${cache}/artifacts/${sha256}`);

// The discover loop's re-chain target: the same request, rebuilt from validated values (URLSearchParams encodes
// everything iPXE could read as syntax), as a query-only relative URL.
export function rechainUrl(params: Record<string, string | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  return `?${q.toString()}`;
}
