// Where cache misses come from: the API's relay-facing artifact route, with the relay's credential.
export type Upstream = {
  fetchArtifact(sha256: string, signal: AbortSignal): Promise<Response>;
};

export function apiUpstream(opts: { apiUrl: string; credential: string; fetch?: typeof fetch }): Upstream {
  const base = opts.apiUrl.replace(/\/+$/, "");
  const doFetch = opts.fetch ?? fetch;
  return {
    fetchArtifact: (sha256, signal) =>
      doFetch(`${base}/relay/v1/artifacts/${sha256}`, {
        headers: { authorization: `Bearer ${opts.credential}`, "accept-encoding": "identity" },
        signal,
      }),
  };
}
