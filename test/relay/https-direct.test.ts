// Direct HTTPS (relay/README.md, "Direct HTTPS"): the API's root fingerprint handed to UEFI firmware as iPXE's
// `trust` (option 175.90) in real captured exchanges, the direct and fallback scripts' exact text and structure,
// iPXE error numbers in words, and the relay's https-fallback round trip over a real HTTP socket.
import { exportJWK, generateKeyPair, importJWK } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { ipxeTrustOption, IPXE_TRUST_OPTION } from "../../relay/boot/trust.ts";
import { classifyIpxeError, ipxeErrorUrl } from "../../relay/boot/ipxeError.ts";
import { bootQuery, directScript, httpsFallbackScript } from "../../relay/boot/scripts.ts";
import { createBootIpxeHandler } from "../../relay/boot/handler.ts";
import type { ChainFetcher } from "../../relay/boot/chain.ts";
import { BinaryCatalog } from "../../relay/binaries.ts";
import { parseConfig } from "../../relay/config.ts";
import { ClientTable } from "../../relay/dhcp/clients.ts";
import { decodeTlvs, OPT } from "../../relay/dhcp/options.ts";
import { decodeDhcp, encodeDhcp } from "../../relay/dhcp/packet.ts";
import { buildProxyReply, type ProxyContext, type ProxyDecision } from "../../relay/dhcp/proxy.ts";
import { createRelayHttpServer } from "../../relay/http/server.ts";
import type { RelayKeys } from "../../relay/keys.ts";
import { RelayState } from "../../relay/state.ts";
import { capture } from "./support/captures.ts";
import { listen } from "./support/http.ts";
import { parts } from "./support/relayParts.ts";
import { mutateText, prng, report } from "./support/fuzz.ts";
import { proxyContext } from "./support/proxyContext.ts";
import { parseBootQuery } from "../../relay/boot/handler.ts";

const ROOT = "9faf717b7f8ca2f93c256c79f8ac5591895d66d1ff3bee6397a70d29c65eed1a"; // iPXE's own root CA (crypto/rootcert.c)
const API_ROOT = "0f".repeat(32);

describe("the API's root fingerprint as iPXE's trust setting", () => {
  it("encodes option 175 holding sub-option 90 with the fingerprints back to back", () => {
    const value = ipxeTrustOption([API_ROOT, ROOT])!;
    expect(value.length).toBe(2 + 64 + 1); // sub-option, then END as in option 43
    expect(decodeTlvs(value)).toEqual([{ code: IPXE_TRUST_OPTION, value: Uint8Array.from(Buffer.from(API_ROOT + ROOT, "hex")) }]);
    expect(IPXE_TRUST_OPTION).toBe(0x5a); // DHCP_EB_TRUST = DHCP_ENCAP_OPT(DHCP_EB_ENCAP, 0x5a)
    expect(ipxeTrustOption([])).toBeNull();
    expect(() => ipxeTrustOption(Array(8).fill(ROOT))).toThrow(/at most 7/);
    expect(() => ipxeTrustOption(["zz"])).toThrow(/not a SHA-256 fingerprint/);
  });

  it("--api-trust-sha256 takes openssl's colon form or plain hex, repeatable up to 7, and names a bad value", () => {
    const base = ["--api-url", "https://api.example", "--site", "lab"];
    const env = { EDGEBOOT_RELAY_CREDENTIAL: "c" };
    const colons = API_ROOT.toUpperCase().match(/../g)!.join(":");
    const ok = parseConfig([...base, "--api-trust-sha256", colons, "--api-trust-sha256", ROOT], env);
    expect(ok.kind === "ok" && ok.config.apiTrustSha256).toEqual([API_ROOT, ROOT]);
    const fromEnv = parseConfig(base, { ...env, EDGEBOOT_API_TRUST_SHA256: `${ROOT}, ${API_ROOT}` });
    expect(fromEnv.kind === "ok" && fromEnv.config.apiTrustSha256).toEqual([ROOT, API_ROOT]);
    const none = parseConfig(base, env);
    expect(none.kind === "ok" && none.config.apiTrustSha256).toEqual([]);
    const bad = parseConfig([...base, "--api-trust-sha256", "abc"], env);
    expect(bad.kind).toBe("error");
    expect(bad.kind === "error" && bad.errors.join("\n")).toMatch(/--api-trust-sha256 \(EDGEBOOT_API_TRUST_SHA256\) must be a SHA-256 fingerprint/);
    const many = parseConfig([...base, ...Array(8).fill(["--api-trust-sha256", ROOT]).flat()], env);
    expect(many.kind === "error" && many.errors.join("\n")).toMatch(/at most 7/);
  });

  const ctx = (over: Partial<ProxyContext> = {}): ProxyContext => proxyContext({ ipxeTrust: ipxeTrustOption([API_ROOT]), ...over });
  // The trust fingerprints in a reply as the client decodes it, or null.
  const trustOnWire = (d: ProxyDecision): string | null => {
    if (d.kind !== "reply") throw new Error(`expected a reply, got ${d.reason}`);
    const opt175 = decodeDhcp(encodeDhcp(d.packet)).options.get(OPT.IPXE);
    const sub = opt175 ? decodeTlvs(opt175)?.find((t) => t.code === IPXE_TRUST_OPTION) : undefined;
    return sub ? Buffer.from(sub.value).toString("hex") : null;
  };

  it("goes to UEFI firmware in the proxy offer and the 4011 ACK (what ipxe.efi caches and reads at startup)", () => {
    expect(trustOnWire(buildProxyReply(decodeDhcp(capture("ovmf-x64-discover.bin")), "dhcp", { address: "0.0.0.0", port: 68 }, ctx()))).toBe(API_ROOT);
    const req4011 = decodeDhcp(capture("ovmf-x64-request-4011.bin"));
    expect(trustOnWire(buildProxyReply(req4011, "proxy", { address: "10.213.0.110", port: 4011 }, ctx()))).toBe(API_ROOT);
    // pxe43 mode answers UEFI on 67 only: the offer carries it too.
    expect(trustOnWire(buildProxyReply(decodeDhcp(capture("ovmf-x64-discover.bin")), "dhcp", { address: "0.0.0.0", port: 68 }, ctx({ offerMode: "pxe43" })))).toBe(API_ROOT);
  });

  it("is not sent to a running iPXE (it ignores trust after startup), to BIOS ROMs, or when none is configured", () => {
    const from68 = { address: "0.0.0.0", port: 68 };
    expect(trustOnWire(buildProxyReply(decodeDhcp(capture("ipxe-efi-discover.bin")), "dhcp", from68, ctx()))).toBeNull();
    expect(trustOnWire(buildProxyReply(decodeDhcp(capture("seabios-ipxe-discover.bin")), "dhcp", from68, ctx()))).toBeNull();
    expect(trustOnWire(buildProxyReply(decodeDhcp(capture("ovmf-x64-discover.bin")), "dhcp", from68, ctx({ ipxeTrust: null })))).toBeNull();
  });
});

describe("iPXE error numbers in words", () => {
  it("names the failing layer from the file id and POSIX code", () => {
    // "Permission denied (https://ipxe.org/0216eb3c)": EACCES from crypto/x509.c, the untrusted-root error.
    expect(classifyIpxeError("0x216eb3c")).toEqual({ errno: 0x0216eb3c, failure: "untrusted-certificate" });
    expect(classifyIpxeError("0x22ee03c")?.failure).toBe("untrusted-certificate"); // validator.c
    expect(classifyIpxeError("0x3c0de03c")?.failure).toBe("tls"); // ENOTSUP from net/tls.c
    expect(classifyIpxeError("0x3c16e03c")?.failure).toBe("tls"); // ENOTSUP from x509.c: an algorithm it lacks (ECDSA)
    expect(classifyIpxeError("0x410c603c")?.failure).toBe("http-status"); // EPERM (403) from httpcore.c
    expect(classifyIpxeError("0x4c0a603c")?.failure).toBe("unreachable"); // ETIMEDOUT from tcp.c
    expect(classifyIpxeError("0xe1e603c")?.failure).toBe("unreachable"); // ECONNREFUSED from anywhere
    expect(classifyIpxeError("0")?.failure).toBe("other");
    expect(ipxeErrorUrl(0x0216eb3c)).toBe("https://ipxe.org/err/0216eb3c");
  });

  it("accepts only iPXE's %#lx form", () => {
    for (const bad of ["", "0x", "216eb3c", "0x123456789", "-1", "0x1 || shell", "${errno}"]) expect(classifyIpxeError(bad)).toBeNull();
  });
});

describe("the direct and fallback scripts", () => {
  const params = { mac: "52:54:00:12:34:56", arch: "x86_64", platform: "efi" };
  const relayBase = "http://10.213.0.3:8067";

  it("direct: chain the API over HTTPS, else come back with ${errno}", () => {
    const script = directScript({
      directUrl: `https://api.example/boot/lab/ipxe?${bootQuery(params, { t: "tok" })}`,
      fallbackUrl: `${relayBase}/boot.ipxe?${bootQuery(params, { via: "relay" })}`,
      trust: true,
    });
    expect(script).toBe(
      [
        "#!ipxe",
        "# edgeboot relay: direct HTTPS to the API (trust fingerprint in the proxy offer: yes)",
        "chain --replace --autofree https://api.example/boot/lab/ipxe?mac=52%3A54%3A00%3A12%3A34%3A56&arch=x86_64&platform=efi&t=tok || goto relay",
        ":relay",
        "echo edgeboot: direct HTTPS chain failed (iPXE error ${errno}), asking the relay",
        "chain --replace --autofree http://10.213.0.3:8067/boot.ipxe?mac=52%3A54%3A00%3A12%3A34%3A56&arch=x86_64&platform=efi&via=relay&errno=${errno}",
        "",
      ].join("\n"),
    );
  });

  it("fallback: the reason on the console, then the relay-carried chain", () => {
    expect(
      httpsFallbackScript({ reason: "iPXE did not trust the API certificate", errno: "0x216eb3c", help: "https://ipxe.org/err/0216eb3c", fallbackUrl: `${relayBase}/boot.ipxe?via=relay` }),
    ).toBe(
      [
        "#!ipxe",
        "# edgeboot relay: direct HTTPS failed, falling back to the relay-carried chain",
        "echo edgeboot: https-fallback: iPXE did not trust the API certificate",
        "echo edgeboot: iPXE error 0x216eb3c (https://ipxe.org/err/0216eb3c); booting through the relay",
        "chain --replace --autofree http://10.213.0.3:8067/boot.ipxe?via=relay",
        "",
      ].join("\n"),
    );
  });

  // Whatever a client or the API puts in, the scripts keep their lines, labels and commands.
  const hostile = ["x\nshell", "a || goto relay", "${shell}", "#!ipxe\nexit", "x; chain http://evil/", "\r\nboot", "a b\tc", ":relay", "%0a"];
  it("no substituted value adds a line, a label, a command or a ${...} expansion", () => {
    const shape = (s: string) => s.split("\n").map((l) => l.split(" ")[0]);
    const directShape = shape(directScript({ directUrl: "https://a/x", fallbackUrl: "http://r/y", trust: false }));
    const fallbackShape = shape(httpsFallbackScript({ reason: "r", errno: "0", help: "h", fallbackUrl: "http://r/y" }));
    for (const v of hostile) {
      const p = { mac: "52:54:00:12:34:56", uuid: v, serial: v, arch: v, platform: v };
      const direct = directScript({ directUrl: `https://api.example/boot/lab/ipxe?${bootQuery(p, { t: v })}`, fallbackUrl: `${relayBase}/boot.ipxe?${bootQuery(p, { via: "relay" })}`, trust: true });
      expect(shape(direct)).toEqual(directShape);
      expect(direct.match(/\$\{/g)).toHaveLength(2); // only the script's own ${errno}s
      expect(direct.match(/\|\|/g)).toHaveLength(1);
      const fallback = httpsFallbackScript({ reason: v, errno: v, help: v, fallbackUrl: `${relayBase}/boot.ipxe?${bootQuery(p, { via: "relay" })}` });
      expect(shape(fallback)).toEqual(fallbackShape);
      expect(fallback).not.toMatch(/\$\{|\|\|/); // words like "goto" stay echo text
    }
  });
});

describe("fuzzed fallback queries", () => {
  // 20,000 mutations of what iPXE sends after a failed direct chain: parsed, classified, turned into both scripts;
  // every accepted errno is iPXE's form and no script gains a line, a command, `||` or a `${...}` of its own.
  it("keep the scripts' shape and accept only iPXE's errno form", () => {
    const rnd = prng(0x7a5);
    const seed = "mac=52%3A54%3A00%3A12%3A34%3A56&arch=x86_64&platform=efi&via=relay&errno=0x216eb8f";
    const counts = { inputs: 0, ok: 0, refused: 0, withErrno: 0 };
    const directShape = ["#!ipxe", "#", "chain", ":relay", "echo", "chain", ""];
    const fallbackShape = ["#!ipxe", "#", "echo", "echo", "chain", ""];
    for (let i = 0; i < 20_000; i++) {
      const text = mutateText(seed, rnd);
      counts.inputs++;
      const r = parseBootQuery(new URLSearchParams(text));
      if (!r.ok) {
        counts.refused++;
        continue;
      }
      counts.ok++;
      const params = { mac: r.mac ?? "52:54:00:12:34:56", uuid: r.query.uuid, serial: r.query.serial, arch: r.query.arch, platform: r.query.platform };
      const back = `http://relay/boot.ipxe?${bootQuery(params, { via: "relay" })}`;
      const direct = directScript({ directUrl: `https://api/boot/lab/ipxe?${bootQuery(params, { t: text })}`, fallbackUrl: back, trust: true });
      if (direct.split("\n").map((l) => l.split(" ")[0]).join() !== directShape.join() || direct.match(/\$\{/g)?.length !== 2) throw new Error(`iteration ${i}: ${direct}`);
      if (r.query.errno === undefined) continue;
      counts.withErrno++;
      expect(r.query.errno).toMatch(/^(0x[0-9a-fA-F]{1,8}|0)$/);
      const known = classifyIpxeError(r.query.errno);
      const fallback = httpsFallbackScript({ reason: text, errno: r.query.errno, help: known ? ipxeErrorUrl(known.errno) : text, fallbackUrl: back });
      if (fallback.split("\n").map((l) => l.split(" ")[0]).join() !== fallbackShape.join() || /\$\{|\|\|/.test(fallback)) throw new Error(`iteration ${i}: ${fallback}`);
    }
    report("https-fallback-query", counts);
    expect(counts.withErrno).toBeGreaterThan(1000);
    expect(counts.refused).toBeGreaterThan(1000);
  });
});

describe("GET /boot.ipxe after a failed direct chain", () => {
  const MAC = "52:54:00:12:34:56";
  let keys: RelayKeys;
  let publicKey: CryptoKey;
  beforeAll(async () => {
    const pair = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    keys = { privateKey: pair.privateKey, publicJwk: (await exportJWK(pair.publicKey)) as RelayKeys["publicJwk"] };
    publicKey = (await importJWK(keys.publicJwk, "EdDSA")) as CryptoKey;
  });

  async function relay(fetchChain: ChainFetcher, apiTrustSha256: string[]) {
    const p = parts();
    const clients = new ClientTable();
    clients.claim({ ip: "127.0.0.1", mac: MAC, ipxe: true, source: "dhcp-request" });
    clients.noteClient(MAC, { https: true, arch: 7 });
    const binaries = new BinaryCatalog("/nonexistent-edgeboot-binaries", []);
    await binaries.ready().catch(() => {});
    let base = "";
    const bootIpxe = createBootIpxeHandler({
      config: { apiUrl: "https://api.example", site: "lab", credential: "c", apiTimeoutMs: 1000, directTokenTtlSeconds: 120, apiTrustSha256 },
      state: new RelayState({ relayId: "relay-1", allowDirect: true }),
      keys,
      getKey: async () => publicKey,
      clients,
      relayBase: () => base,
      log: p.log,
      metrics: p.metrics,
      events: p.sink,
      fetchChain,
      now: () => 1_800_000_000_000,
    });
    const server = createRelayHttpServer({ bootIpxe, binaries, registry: p.registry, metrics: p.metrics, log: p.log, extraRoutes: [] });
    const l = await listen(server);
    base = l.base;
    return { ...l, ...p };
  }

  it("records https-fallback with iPXE's error, explains it on the console, then serves the relay-carried chain", async () => {
    const chain = "#!ipxe\nkernel http://relay/artifacts/abc\nboot\n";
    const fetched: string[] = [];
    const r = await relay(async (p) => (fetched.push(p.mac), { ok: true, body: chain, ms: 1 }), [API_ROOT]);
    try {
      const direct = await (await fetch(`${r.base}/boot.ipxe?mac=${MAC}&arch=x86_64`)).text();
      expect(direct).toContain("(trust fingerprint in the proxy offer: yes)");
      const back = /^chain --replace --autofree (\S+)&errno=\$\{errno\}$/m.exec(direct)![1]!;
      // What iPXE requests after "Permission denied (https://ipxe.org/0216eb3c)".
      const res = await fetch(`${back}&errno=0x216eb3c`);
      expect(res.status).toBe(200);
      const explained = await res.text();
      expect(explained).toContain("echo edgeboot: https-fallback: iPXE did not trust the API certificate: its root is not a fingerprint this iPXE trusts (relay --api-trust-sha256)");
      expect(explained).toContain("echo edgeboot: iPXE error 0x216eb3c (https://ipxe.org/err/0216eb3c); booting through the relay");
      expect(fetched).toEqual([]); // nothing fetched yet: the chain comes with the next request, unmodified
      const next = /^chain --replace --autofree (\S+)$/m.exec(explained)![1]!;
      expect(new URL(next).searchParams.get("via")).toBe("relay");
      expect(new URL(next).searchParams.has("errno")).toBe(false);
      expect(await (await fetch(next)).text()).toBe(chain);
      expect(fetched).toEqual([MAC]);
      expect(r.events.map((e) => e.phase)).toEqual(["chain-direct", "https-fallback", "chain-served"]);
      expect(r.events[1]).toMatchObject({ mac: MAC, detail: { client: "127.0.0.1", errno: "0x216eb3c", failure: "untrusted-certificate", trust: true } });
      expect(r.registry.render()).toContain('edgeboot_chain_fetches_total{result="https_fallback"} 1');
    } finally {
      await r.close();
    }
  });

  it("refuses an errno that is not iPXE's number, naming the field", async () => {
    const r = await relay(async () => ({ ok: true, body: "#!ipxe\n", ms: 1 }), []);
    try {
      const res = await fetch(`${r.base}/boot.ipxe?mac=${MAC}&via=relay&errno=${encodeURIComponent("1\necho pwned")}`);
      expect(res.status).toBe(400);
      const body = await res.text();
      expect(body).toContain("errno");
      expect(body.split("\n").filter((l) => l.startsWith("echo"))).toHaveLength(1);
      expect(r.events.filter((e) => e.phase === "https-fallback")).toEqual([]);
    } finally {
      await r.close();
    }
  });
});
