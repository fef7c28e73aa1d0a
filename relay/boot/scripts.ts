// iPXE scripts the relay writes itself (pure: values in, text out). Everything put into a script is either a URL
// built with URLSearchParams (which percent-encodes '$', '{', spaces and quotes, so iPXE reads no syntax in it) or
// text reduced to a safe character set.
export type BootParams = { mac: string; uuid?: string; serial?: string; arch?: string; platform?: string };
export type QueryParams = Omit<BootParams, "mac"> & { mac?: string };

const SAFE_TEXT = /[^A-Za-z0-9 .,:;()/_+=@#%-]/g;
export const scriptText = (s: string) => s.replace(SAFE_TEXT, "?").slice(0, 200);

export function bootQuery(p: QueryParams, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries({ mac: p.mac, uuid: p.uuid, serial: p.serial, arch: p.arch, platform: p.platform, ...extra })) if (v) q.set(k, v);
  return q.toString();
}

// Backoff for the failure loop: 5 s, 10 s, 20 s ... capped at 5 minutes.
export const retryDelaySeconds = (attempt: number) => Math.min(300, 5 * 2 ** Math.min(Math.max(attempt - 1, 0), 6));

const RENEW_BEFORE_RETRY_S = 60;

// Said on the console, reported, then retried with backoff; never a silent hang. When the relay itself is
// unreachable the retry fails: the loop renews DHCP (the lease or the relay's address may have moved) and tries
// again (PROTOCOLS.md §1.7: iPXE gives up on a missed proxy offer after 2 s, so retries belong in the script).
export function failureScript(input: { relayBase: string; params: BootParams; attempt: number; reason: string; message: string }): string {
  const next = input.attempt + 1;
  const delay = retryDelaySeconds(input.attempt);
  const url = `${input.relayBase}/boot.ipxe?${bootQuery(input.params, { attempt: String(next) })}`;
  return [
    "#!ipxe",
    `# edgeboot relay: no verified boot script (${scriptText(input.reason)})`,
    `echo edgeboot: cannot boot ${scriptText(input.params.mac)} yet: ${scriptText(input.message)}`,
    `echo edgeboot: attempt ${input.attempt}, retrying in ${delay} s`,
    ":retry",
    `sleep ${delay}`,
    // The relay serves a chain only to an address it saw in DHCP in the last 5 minutes (dhcp/clients.ts,
    // CLIENT_TTL_MS): after a long wait the loop renews DHCP first, so the retry is not refused as unknown.
    ...(delay >= RENEW_BEFORE_RETRY_S ? ["dhcp || goto retry"] : []),
    `chain --replace --autofree ${url} || goto renew`,
    ":renew",
    "echo edgeboot: relay unreachable, renewing DHCP",
    "dhcp || goto retry",
    "goto retry",
    "",
  ].join("\n");
}

// Direct mode: an HTTPS-capable iPXE fetches its chain from the API itself, with a relay-signed token. If that fails
// (an untrusted or ECDSA certificate, old cipher suites, a skewed clock, the API unreachable: PROTOCOLS.md §6), it
// comes back to the relay with iPXE's error number, which the relay records and explains (httpsFallbackScript).
// `${errno}` is constant script text: iPXE fills it in; every other value is a URL built by bootQuery.
export function directScript(input: { directUrl: string; fallbackUrl: string; trust: boolean }): string {
  return [
    "#!ipxe",
    `# edgeboot relay: direct HTTPS to the API (trust fingerprint in the proxy offer: ${input.trust ? "yes" : "no"})`,
    `chain --replace --autofree ${input.directUrl} || goto relay`,
    ":relay",
    "echo edgeboot: direct HTTPS chain failed (iPXE error ${errno}), asking the relay",
    `chain --replace --autofree ${input.fallbackUrl}&errno=\${errno}`,
    "",
  ].join("\n");
}

// The fallback's first stop: why direct HTTPS failed, on the console, then the relay-carried chain.
export function httpsFallbackScript(input: { reason: string; errno: string; help: string; fallbackUrl: string }): string {
  return [
    "#!ipxe",
    "# edgeboot relay: direct HTTPS failed, falling back to the relay-carried chain",
    `echo edgeboot: https-fallback: ${scriptText(input.reason)}`,
    `echo edgeboot: iPXE error ${scriptText(input.errno)} (${scriptText(input.help)}); booting through the relay`,
    `chain --replace --autofree ${input.fallbackUrl}`,
    "",
  ].join("\n");
}

// The relay would not hand this client a chain (it has not seen this address in DHCP, the query names another MAC,
// or two machines claim the MAC or the address). Said on the console, then DHCP is renewed, which is also what
// teaches the relay the binding again (after its restart or the binding's expiry), and the request retried with
// backoff. Served with 200: iPXE runs only a successful download, and this text must reach the console.
export function refusedScript(input: { relayBase: string; params: QueryParams; attempt: number; reason: string; message: string }): string {
  const delay = retryDelaySeconds(input.attempt);
  const url = `${input.relayBase}/boot.ipxe?${bootQuery(input.params, { attempt: String(input.attempt + 1) })}`;
  return [
    "#!ipxe",
    `# edgeboot relay: chain refused (${scriptText(input.reason)})`,
    `echo edgeboot: the relay refused this boot: ${scriptText(input.message)}`,
    `echo edgeboot: attempt ${input.attempt}, renewing DHCP and retrying in ${delay} s`,
    ":retry",
    `sleep ${delay}`,
    "dhcp || goto retry",
    `chain --replace --autofree ${url} || goto retry`,
    "",
  ].join("\n");
}
