// Relay configuration from command-line flags and EDGEBOOT_* environment variables (a flag wins over its variable),
// validated once; every bad value is reported with the flag and variable it came from.
import { resolve } from "node:path";
import { parseArgs } from "./builtins.ts";
import { parseNetwork, type Network } from "./dhcp/agents.ts";
import { LOG_LEVELS, type LogLevel } from "./log.ts";

export const UEFI_BINARIES = ["ipxe.efi", "snp.efi", "snponly.efi"] as const;
// PROTOCOLS.md §1.6: "binl" = strategy A (UEFI offers carry no option 43, the client asks again on 4011);
// "pxe43" = strategy B (option 43 {6:8} + siaddr + file for every architecture, answered on 67 only).
export const OFFER_MODES = ["binl", "pxe43"] as const;
export type OfferMode = (typeof OFFER_MODES)[number];
export const DHCP_THREAD = ["on", "off"] as const;

const GIB = 1024 ** 3;
const SIZE_UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: GIB, t: 1024 ** 4 };

type Spec = { flag: string; env: string; arg: string; help: string; bool?: boolean; multiple?: boolean; secret?: boolean };

// One row per setting: flag name, environment variable, help text. Defaults live in the schema below.
const SPECS = {
  apiUrl: { flag: "api-url", env: "EDGEBOOT_API_URL", arg: "URL", help: "edgeboot API base URL, e.g. https://boot.example.com (required)" },
  site: { flag: "site", env: "EDGEBOOT_SITE", arg: "SLUG", help: "site this relay serves (required)" },
  credential: {
    flag: "credential",
    env: "EDGEBOOT_RELAY_CREDENTIAL",
    arg: "SECRET",
    secret: true,
    help: "relay credential from POST /v1/sites/:site/relays; prefer the variable or --credential-file (a flag shows in ps)",
  },
  credentialFile: { flag: "credential-file", env: "EDGEBOOT_RELAY_CREDENTIAL_FILE", arg: "PATH", help: "read the relay credential from this file" },
  relayId: { flag: "relay-id", env: "EDGEBOOT_RELAY_ID", arg: "ID", help: "relay id (normally learned when registering)" },
  listenAddress: { flag: "listen", env: "EDGEBOOT_LISTEN", arg: "IPV4", help: "address the sockets bind to (default 0.0.0.0; DHCP needs 0.0.0.0 to see broadcasts)" },
  advertiseAddress: {
    flag: "advertise",
    env: "EDGEBOOT_ADVERTISE",
    arg: "IPV4",
    help: "the relay's LAN IPv4 put in offers (siaddr, option 54) and boot URLs (default: the address of --interface, else the first non-loopback IPv4)",
  },
  interface: { flag: "interface", env: "EDGEBOOT_INTERFACE", arg: "NAME", help: "LAN interface name, used to pick the advertised address" },
  dhcpPort: { flag: "dhcp-port", env: "EDGEBOOT_DHCP_PORT", arg: "PORT", help: "proxyDHCP port for DISCOVERs (default 67; 0 = off, e.g. beside a DHCP server on this host)" },
  proxyDhcpPort: { flag: "proxy-dhcp-port", env: "EDGEBOOT_PROXY_DHCP_PORT", arg: "PORT", help: "PXE boot-server port (default 4011; 0 = off)" },
  dhcpThread: {
    flag: "dhcp-thread",
    env: "EDGEBOOT_DHCP_THREAD",
    arg: "on|off",
    help: "answer proxyDHCP (67 and 4011) on a worker thread of its own, off the loop that serves TFTP and HTTP (default on; off saves ~9 MiB)",
  },
  tftpPort: { flag: "tftp-port", env: "EDGEBOOT_TFTP_PORT", arg: "PORT", help: "TFTP port (default 69; 0 = off)" },
  httpPort: { flag: "http-port", env: "EDGEBOOT_HTTP_PORT", arg: "PORT", help: "HTTP port for /boot.ipxe, /artifacts, /metrics, /healthz and HTTP Boot (default 8067)" },
  binariesDir: { flag: "binaries-dir", env: "EDGEBOOT_BINARIES_DIR", arg: "DIR", help: "iPXE binaries served over TFTP and HTTP Boot (default /usr/lib/ipxe)" },
  symlinkRoots: {
    flag: "binaries-symlink-root",
    env: "EDGEBOOT_BINARIES_SYMLINK_ROOTS",
    arg: "DIR",
    multiple: true,
    help: "directory that symlinks in the binaries dir may point into (repeatable; variable: comma-separated; default /boot, where Debian keeps ipxe.efi)",
  },
  stateDir: { flag: "state-dir", env: "EDGEBOOT_STATE_DIR", arg: "DIR", help: "relay key pair and event queue (default ./.relay-state)" },
  cacheDir: { flag: "cache-dir", env: "EDGEBOOT_CACHE_DIR", arg: "DIR", help: "artifact cache (default <state-dir>/cache)" },
  cacheMaxBytes: { flag: "cache-max-bytes", env: "EDGEBOOT_CACHE_MAX_BYTES", arg: "SIZE", help: "artifact cache limit, bytes or with K/M/G/T suffix (default 20G)" },
  syncIntervalSeconds: { flag: "sync-interval", env: "EDGEBOOT_SYNC_INTERVAL", arg: "SECONDS", help: "seconds between syncs with the API (default 15)" },
  logLevel: { flag: "log-level", env: "EDGEBOOT_LOG_LEVEL", arg: "LEVEL", help: "debug | info | warn | error (default info)" },
  biosBinary: { flag: "bios-binary", env: "EDGEBOOT_BIOS_BINARY", arg: "FILE", help: "boot file for BIOS PXE clients (default undionly.kpxe)" },
  uefiBinary: { flag: "uefi-binary", env: "EDGEBOOT_UEFI_BINARY", arg: "FILE", help: "default boot file for x64 UEFI, PXE and HTTP Boot: ipxe.efi | snp.efi | snponly.efi (default ipxe.efi; a host's ipxeBuild overrides it)" },
  arm64Binary: { flag: "arm64-binary", env: "EDGEBOOT_ARM64_BINARY", arg: "FILE", help: "default boot file for arm64 UEFI, PXE and HTTP Boot, answered only when present (default ipxe-arm64.efi; a host's ipxeBuild overrides it)" },
  offerMode: { flag: "offer-mode", env: "EDGEBOOT_OFFER_MODE", arg: "MODE", help: "binl (default: UEFI asks on 4011) | pxe43 (option 43 on 67 for all)" },
  offerModeOverrides: {
    flag: "offer-mode-mac",
    env: "EDGEBOOT_OFFER_MODE_MACS",
    arg: "PREFIX=MODE",
    multiple: true,
    help: "offer mode for MACs starting with PREFIX, e.g. 52:54:00=pxe43 (repeatable; variable: comma-separated)",
  },
  allowDirect: {
    flag: "allow-direct",
    env: "EDGEBOOT_ALLOW_DIRECT",
    arg: "",
    bool: true,
    help: "send HTTPS-capable iPXE straight to the API with a relay-signed token (until sync supplies the site's setting)",
  },
  apiTrustSha256: {
    flag: "api-trust-sha256",
    env: "EDGEBOOT_API_TRUST_SHA256",
    arg: "HEX",
    multiple: true,
    help: "SHA-256 fingerprint of a certificate the API's HTTPS server sends (its root or an intermediate) for iPXE to trust: handed to UEFI firmware in the proxy offer, read by ipxe.efi at startup (repeatable, at most 7; variable: comma-separated; README, Direct mode)",
  },
  directTokenTtlSeconds: { flag: "direct-token-ttl", env: "EDGEBOOT_DIRECT_TOKEN_TTL", arg: "SECONDS", help: "lifetime of direct-mode tokens (default 300, at most 600)" },
  apiTimeoutMs: { flag: "api-timeout-ms", env: "EDGEBOOT_API_TIMEOUT_MS", arg: "MS", help: "timeout for one chain fetch from the API (default 8000)" },
  apiMaxRequests: {
    flag: "api-max-requests",
    env: "EDGEBOOT_API_MAX_REQUESTS",
    arg: "N",
    help: "machine requests (chains, NoCloud, events) in flight at the API at once; more wait in order, up to twice --api-timeout-ms (default 32)",
  },
  tftpMaxBlksize: { flag: "tftp-max-blksize", env: "EDGEBOOT_TFTP_MAX_BLKSIZE", arg: "BYTES", help: "largest TFTP block granted: LAN MTU - 32 (default 1468)" },
  tftpMaxWindow: { flag: "tftp-max-windowsize", env: "EDGEBOOT_TFTP_MAX_WINDOWSIZE", arg: "N", help: "largest RFC 7440 window granted (default 64)" },
  tftpMaxTransfers: {
    flag: "tftp-max-transfers",
    env: "EDGEBOOT_TFTP_MAX_TRANSFERS",
    arg: "N",
    help: "concurrent TFTP transfers; more requests wait in order, unanswered, for a free slot (default 1024; each needs 2 file descriptors)",
  },
  relayAgentNetworks: {
    flag: "relay-agent-network",
    env: "EDGEBOOT_RELAY_AGENT_NETWORKS",
    arg: "CIDR",
    multiple: true,
    help: "answer relayed DHCP (giaddr set) only from relay agents in this network, e.g. 10.20.0.0/16 (repeatable; variable: comma-separated; default none: relayed requests are dropped)",
  },
  wolBroadcast: { flag: "wol-broadcast", env: "EDGEBOOT_WOL_BROADCAST", arg: "IPV4", help: "where wake-on-LAN packets go: the LAN's broadcast address (default 255.255.255.255)" },
  wolPort: { flag: "wol-port", env: "EDGEBOOT_WOL_PORT", arg: "PORT", help: "UDP port for wake-on-LAN packets (default 9)" },
} satisfies Record<string, Spec>;

type Key = keyof typeof SPECS;

// Each field: a parser of the raw flag or variable text (a list for repeatable ones) that returns the typed value or
// throws a FieldError. Hand-written: zod cost the relay ~6 MiB RSS (measured on Node 22) for these few checks.
class FieldError extends Error {
  readonly index: number | undefined; // the bad item of a repeatable setting
  constructor(message: string, index?: number) {
    super(message);
    this.index = index;
  }
}
const REQUIRED = "is required";
const text = (v: unknown): string => {
  if (typeof v !== "string") throw new FieldError("must be text");
  return v;
};
const matching = (pattern: RegExp, message: string) => (v: unknown) => {
  const s = text(v);
  if (!pattern.test(s)) throw new FieldError(message);
  return s;
};
const oneOf =
  <T extends string>(values: readonly T[], message = `must be one of ${values.join(", ")}`) =>
  (v: unknown): T => {
    const s = text(v);
    if (!(values as readonly string[]).includes(s)) throw new FieldError(message);
    return s as T;
  };
// A repeatable setting: each item parsed, a bad one reported by its index.
const list =
  <T>(item: (v: unknown) => T) =>
  (v: unknown): T[] =>
    (Array.isArray(v) ? v : [v]).map((x, i) => {
      try {
        return item(x);
      } catch (err) {
        throw new FieldError((err as Error).message, i);
      }
    });
// Missing: required, undefined, or a default.
const required =
  <T>(parse: (v: unknown) => T) =>
  (v: unknown): T => {
    if (v === undefined) throw new FieldError(REQUIRED);
    return parse(v);
  };
const optional =
  <T>(parse: (v: unknown) => T) =>
  (v: unknown): T | undefined =>
    v === undefined ? undefined : parse(v);
const withDefault =
  <T>(parse: (v: unknown) => T, fallback: T | (() => T)) =>
  (v: unknown): T =>
    v !== undefined ? parse(v) : typeof fallback === "function" ? (fallback as () => T)() : fallback;

const IPV4 = /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])$/;
const ipv4 = matching(IPV4, "must be an IPv4 address like 192.168.1.10");
const intIn = (min: number, max: number, what: string) => (v: unknown) => {
  const s = text(v).trim();
  if (!/^\d+$/.test(s)) throw new FieldError(`must be a whole number (${what})`);
  const n = Number(s);
  if (n < min) throw new FieldError(`must be at least ${min}`);
  if (n > max) throw new FieldError(`must be at most ${max}`);
  return n;
};
const port = intIn(0, 65535, "a port 0-65535");
const fileName = (v: unknown) => {
  const s = matching(/^[A-Za-z0-9._+-]+(\/[A-Za-z0-9._+-]+)*$/, "must be a relative file name without '..'")(v);
  if (s.split("/").includes("..")) throw new FieldError("must not contain '..'");
  return s;
};
const dir = (v: unknown) => {
  const s = text(v);
  if (s.length === 0) throw new FieldError("must not be empty");
  return resolve(s);
};
const macPrefix = (v: unknown) => matching(/^[0-9a-f]{1,12}$/, "must be a hex MAC prefix like 52:54:00")(text(v).trim().toLowerCase().replace(/[:\-.]/g, ""));
const size = (v: unknown) => {
  const s = matching(/^\d+(\.\d+)?\s*([kKmMgGtT])?(i?[bB])?$/, "must be a size like 20G, 512M or 1073741824")(text(v).trim());
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt])?/i.exec(s)!;
  const bytes = Math.floor(Number(m[1]) * SIZE_UNITS[(m[2] ?? "").toLowerCase()]!);
  if (bytes < 64 * 1024 ** 2) throw new FieldError("must be at least 64M");
  return bytes;
};
const boolText = (v: unknown) => {
  if (typeof v === "boolean") return v;
  const s = text(v).trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(s)) return true;
  if (["0", "false", "no", "off", ""].includes(s)) return false;
  throw new FieldError("must be true or false");
};
const httpUrl = (v: unknown) => {
  const message = "must be an http(s) URL like https://boot.example.com";
  let url: URL;
  try {
    url = new URL(text(v));
  } catch {
    throw new FieldError(message);
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || !url.hostname) throw new FieldError(message);
  return text(v).replace(/\/+$/, "");
};

const FIELDS = {
  apiUrl: required(httpUrl),
  site: required(matching(/^[a-z0-9][a-z0-9-]{0,62}$/, "must be a site slug: lower-case letters, digits and '-'")),
  credential: required((v: unknown) => {
    const s = text(v).trim();
    if (s.length === 0) throw new FieldError("must not be empty");
    if (s.length > 4096) throw new FieldError("must be at most 4096 characters");
    return matching(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces")(s);
  }),
  relayId: optional(matching(/^[A-Za-z0-9._:-]{1,128}$/, "must be 1-128 characters of [A-Za-z0-9._:-]")),
  listenAddress: withDefault(ipv4, "0.0.0.0"),
  advertiseAddress: optional(ipv4),
  interface: optional(matching(/^[A-Za-z0-9._@:-]{1,15}$/, "must be an interface name like eth0")),
  dhcpPort: withDefault(port, 67),
  proxyDhcpPort: withDefault(port, 4011),
  dhcpThread: withDefault(oneOf(DHCP_THREAD), "on" as (typeof DHCP_THREAD)[number]),
  tftpPort: withDefault(port, 69),
  httpPort: withDefault(port, 8067),
  binariesDir: withDefault(dir, () => resolve("/usr/lib/ipxe")),
  symlinkRoots: withDefault(list(dir), () => [resolve("/boot")]),
  stateDir: withDefault(dir, () => resolve(".relay-state")),
  cacheDir: optional(dir),
  cacheMaxBytes: withDefault(size, 20 * GIB),
  syncIntervalSeconds: withDefault(intIn(1, 3600, "seconds"), 15),
  logLevel: withDefault(oneOf(LOG_LEVELS), "info" as LogLevel),
  biosBinary: withDefault(fileName, "undionly.kpxe"),
  uefiBinary: withDefault(oneOf(UEFI_BINARIES), "ipxe.efi" as (typeof UEFI_BINARIES)[number]),
  arm64Binary: withDefault(fileName, "ipxe-arm64.efi"),
  offerMode: withDefault(oneOf(OFFER_MODES), "binl" as OfferMode),
  offerModeOverrides: withDefault(
    list((v: unknown) => {
      const [prefix, mode] = matching(/^[^=]+=[^=]+$/, "must look like 52:54:00=pxe43")(v).split("=") as [string, string];
      return { prefix: macPrefix(prefix), mode: oneOf(OFFER_MODES, `mode must be one of ${OFFER_MODES.join(", ")}`)(mode) };
    }),
    () => [],
  ),
  allowDirect: withDefault(boolText, false),
  // iPXE's `trust` setting holds at most 255 bytes of 32-byte fingerprints in one DHCP option.
  apiTrustSha256: withDefault((v: unknown) => {
    const items = list((x: unknown) =>
      matching(/^[0-9a-f]{64}$/, "must be a SHA-256 fingerprint: 64 hex digits, colons allowed (openssl x509 -noout -fingerprint -sha256)")(
        text(x).trim().toLowerCase().replace(/[:\s]/g, ""),
      ),
    )(v);
    if (items.length > 7) throw new FieldError("at most 7 fingerprints fit in one DHCP option");
    return items;
  }, () => [] as string[]),
  directTokenTtlSeconds: withDefault(intIn(30, 600, "seconds"), 300),
  apiTimeoutMs: withDefault(intIn(100, 120_000, "milliseconds"), 8000),
  apiMaxRequests: withDefault(intIn(1, 4096, "requests"), 32),
  tftpMaxBlksize: withDefault(intIn(512, 65464, "bytes"), 1468),
  tftpMaxWindow: withDefault(intIn(1, 65535, "blocks"), 64),
  tftpMaxTransfers: withDefault(intIn(1, 10_000, "transfers"), 1024),
  relayAgentNetworks: withDefault(
    list((v: unknown) => {
      const net = parseNetwork(text(v));
      if (typeof net === "string") throw new FieldError(net);
      return net;
    }),
    () => [] as Network[],
  ),
  wolBroadcast: withDefault(ipv4, "255.255.255.255"),
  wolPort: withDefault(intIn(1, 65535, "a port 1-65535"), 9),
} satisfies Record<Exclude<Key, "credentialFile">, (v: unknown) => unknown>;

type Fields = typeof FIELDS;
// Settings without a default are optional properties, as callers build partial configs.
type Parsed = { [K in keyof Fields as undefined extends ReturnType<Fields[K]> ? never : K]: ReturnType<Fields[K]> } & {
  [K in keyof Fields as undefined extends ReturnType<Fields[K]> ? K : never]?: Exclude<ReturnType<Fields[K]>, undefined>;
};
export type RelayConfig = Omit<Parsed, "cacheDir"> & { cacheDir: string };

export type ConfigResult =
  | { kind: "ok"; config: RelayConfig; warnings: string[] }
  | { kind: "help"; text: string }
  | { kind: "version" }
  | { kind: "error"; errors: string[] };

// Pure apart from the injected readFile (for --credential-file); main.ts passes argv, env and fs.
export function parseConfig(
  argv: string[],
  env: Record<string, string | undefined>,
  readFile: (path: string) => string = () => {
    throw new Error("reading files is not available");
  },
): ConfigResult {
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = { help: { type: "boolean" }, version: { type: "boolean" } };
  for (const spec of Object.values(SPECS) as Spec[]) options[spec.flag] = { type: spec.bool ? "boolean" : "string", multiple: spec.multiple ?? false };
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    return { kind: "error", errors: [`${(err as Error).message} (see --help)`] };
  }
  if (values.help) return { kind: "help", text: helpText() };
  if (values.version) return { kind: "version" };

  const warnings: string[] = [];
  const errors: string[] = [];
  const raw: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(SPECS) as [Key, Spec][]) {
    const fromFlag = values[spec.flag];
    const fromEnv = env[spec.env];
    if (fromFlag !== undefined) raw[key] = fromFlag;
    else if (fromEnv !== undefined && fromEnv !== "") raw[key] = spec.multiple ? fromEnv.split(",").map((s) => s.trim()).filter(Boolean) : fromEnv;
  }
  if (values.credential !== undefined) warnings.push("--credential is visible in the process list; prefer EDGEBOOT_RELAY_CREDENTIAL or --credential-file");
  if (raw.credentialFile !== undefined) {
    if (raw.credential !== undefined) errors.push("give the relay credential once: --credential/EDGEBOOT_RELAY_CREDENTIAL or --credential-file, not both");
    try {
      raw.credential = readFile(String(raw.credentialFile)).trim();
    } catch (err) {
      errors.push(`--credential-file (${SPECS.credentialFile.env}): cannot read ${String(raw.credentialFile)}: ${(err as Error).message}`);
    }
  }
  delete raw.credentialFile;

  const parsed: Record<string, unknown> = {};
  for (const [key, parse] of Object.entries(FIELDS) as Array<[Exclude<Key, "credentialFile">, (v: unknown) => unknown]>) {
    try {
      const value = parse(raw[key]);
      if (value !== undefined) parsed[key] = value;
    } catch (err) {
      const spec: Spec = SPECS[key];
      const where = `--${spec.flag} (${spec.env})`;
      const index = err instanceof FieldError ? err.index : undefined;
      const missing = raw[key] === undefined;
      const got = spec.secret || missing ? "" : `; got ${JSON.stringify(index !== undefined ? (raw[key] as unknown[])[index] : raw[key])}`;
      errors.push(missing ? `${where} ${REQUIRED}` : `${where} ${(err as Error).message}${got}`);
    }
  }
  if (errors.length > 0) return { kind: "error", errors };
  const data = parsed as Parsed;
  const udpPorts = [data.dhcpPort, data.proxyDhcpPort, data.tftpPort].filter((p) => p !== 0);
  if (new Set(udpPorts).size !== udpPorts.length) errors.push("--dhcp-port, --proxy-dhcp-port and --tftp-port must differ (0 turns one off)");
  if (data.httpPort === 0) errors.push(`--http-port (${SPECS.httpPort.env}) must not be 0: iPXE fetches /boot.ipxe from it`);
  if (errors.length > 0) return { kind: "error", errors };
  if (data.apiUrl.startsWith("http:") && !/^http:\/\/(127\.|localhost|\[::1\])/.test(data.apiUrl)) {
    warnings.push("--api-url is plain http: the relay credential crosses the network unencrypted");
  }
  return { kind: "ok", config: { ...data, cacheDir: data.cacheDir ?? resolve(data.stateDir, "cache") }, warnings };
}

export function helpText(): string {
  const rows = (Object.values(SPECS) as Spec[]).map((s) => [`  --${s.flag}${s.arg ? ` ${s.arg}` : ""}`, s.help, s.env] as const);
  const width = Math.max(...rows.map((r) => r[0].length)) + 2;
  return [
    "edgeboot-relay: proxyDHCP, TFTP and HTTP hand-off for PXE machines on one LAN segment.",
    "",
    "Usage: edgeboot-relay --api-url URL --site SLUG [options]      (credential via EDGEBOOT_RELAY_CREDENTIAL)",
    "",
    "Options (each also read from the environment variable shown; a flag wins):",
    ...rows.map(([flag, help, envName]) => `${flag.padEnd(width)}${help}\n${" ".repeat(width)}[${envName}]`),
    `  --help${" ".repeat(width - 8)}show this text`,
    `  --version${" ".repeat(width - 11)}print the version`,
    "",
  ].join("\n");
}

// The relay's LAN address for offers and URLs: explicit, else the interface's, else the first non-internal IPv4.
export function pickAdvertiseAddress(
  config: Pick<RelayConfig, "advertiseAddress" | "interface" | "listenAddress">,
  interfaces: Record<string, Array<{ family: string | number; address: string; internal: boolean }> | undefined>,
): { ok: true; address: string } | { ok: false; message: string } {
  if (config.advertiseAddress) return { ok: true, address: config.advertiseAddress };
  if (config.listenAddress !== "0.0.0.0") return { ok: true, address: config.listenAddress };
  const v4 = (list: Array<{ family: string | number; address: string; internal: boolean }> | undefined) =>
    (list ?? []).filter((a) => a.family === "IPv4" || a.family === 4);
  if (config.interface) {
    const found = v4(interfaces[config.interface])[0];
    return found
      ? { ok: true, address: found.address }
      : { ok: false, message: `--interface ${config.interface} has no IPv4 address (set --advertise)` };
  }
  for (const list of Object.values(interfaces)) {
    const found = v4(list).find((a) => !a.internal);
    if (found) return { ok: true, address: found.address };
  }
  return { ok: false, message: "no non-loopback IPv4 address found: set --advertise or --interface" };
}
