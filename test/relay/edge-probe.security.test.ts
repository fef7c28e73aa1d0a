// Attack families an independent probe of issue 14 tried beyond the announced ones, against a real Worker
// (`wrangler dev`, local D1/R2) behind real relay processes (`node relay/main.ts`), one per site. Each must be refused
// (or, where the threat model says an attacker can still win, be seen by the operator as an alert event):
//  - a forged DHCP REQUEST that makes the relay vouch for the victim's MAC at the attacker's address (`bound`)
//  - the victim's SMBIOS UUID or serial (PXE broadcasts the UUID) claimed from the attacker's own MAC
//  - a host token of one site through another site's relay; a MAC claimed at another site's relay
//  - two parallel fetches of a secret-bearing file under `once`; a token after its boot reported done
//  - path tricks on the relay's /h/ proxy and the API's /boot/h/ (encoded slashes, dot segments, NUL, overlong)
//  - secret values, host tokens or the relay credential in admin reads, the dry run, the status page, the relay's
//    /healthz and /metrics, or either process's log
//  - site and read tokens writing into another site or naming secrets outside their reach
//  - oversized, duplicated and smuggling headers at the relay; a client's own Edgeboot-* headers; paths outside every
//    route (the relay's state dir, with its private key, is never served even as the binaries dir)
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeDhcp, encodeDhcp } from "../../relay/dhcp/packet.ts";
import { freePort, startWranglerDev, type WranglerDev } from "../helpers/wrangler.ts";
import { claimVia4011, rewrite } from "./support/dhcpClaim.ts";
import { getFrom } from "./support/http.ts";
import { startRelayProcess, type RelayProcess } from "./support/relayProcess.ts";
import { UdpPeer } from "./support/udp.ts";

const VICTIM = "52:54:00:e1:4a:01";
const VICTIM_UUID = "4c4c4544-0042-3510-8052-b3c04f4a4a31"; // PXE broadcasts it in DHCP option 97
const GLOBAL = "global-join-token-7f3a";
const HOST = "host-password-hash-91c2";
const OTHER = "other-site-secret-55d0";
const SECRETS = [GLOBAL, HOST, OTHER];
const TOKEN_RE = /\/h\/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)\//;

let api: WranglerDev;
let lab: RelayProcess; // site lab's relay, DHCP on a loopback port
let other: RelayProcess; // site other's relay
let labDhcp: number;
let labCred = "";
const tokens: Record<"siteLab" | "siteOther" | "read", string> = { siteLab: "", siteOther: "", read: "" };
const work = mkdtempSync(join(tmpdir(), "edgeboot-probe-"));

async function call(method: string, path: string, body?: unknown, token = api.adminToken, headers: Record<string, string> = {}) {
  const res = await fetch(`${api.url}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, text: await res.text(), headers: res.headers };
}
async function must(method: string, path: string, body?: unknown) {
  const r = await call(method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path} -> ${r.status} ${r.text}`);
  return r.text ? JSON.parse(r.text) : null;
}
async function upload(text: string): Promise<string> {
  const sha = createHash("sha256").update(text).digest("hex");
  const res = await fetch(`${api.url}/v1/artifacts/${sha}`, { method: "PUT", headers: { authorization: `Bearer ${api.adminToken}` }, body: text });
  if (res.status >= 300) throw new Error(`upload -> ${res.status}`);
  return sha;
}
const leaks = (text: string) => SECRETS.filter((s) => text.includes(s));
const alertsAt = async (site: string) => {
  const r = await call("GET", `/v1/sites/${site}/events?limit=200`);
  return (JSON.parse(r.text).items as Array<{ phase: string; detail: Record<string, unknown> }>).filter((e) => e.detail?.alert === true);
};
async function eventually<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  let v = await get();
  for (let i = 0; i < 50 && !ok(v); i++) {
    await new Promise((r) => setTimeout(r, 200));
    v = await get();
  }
  expect(ok(v), `${what}: ${JSON.stringify(v).slice(0, 800)}`).toBe(true);
  return v;
}

// An installed OS's DHCP REQUEST (no PXE vendor class, no iPXE options) naming `ip` for `mac`, as any LAN host can
// send it: the relay records it apart from boot bindings, and may vouch for `mac` at `ip` on the /h/ proxy.
async function osRequest(mac: string, ip: string) {
  const p = decodeDhcp(rewrite("ovmf-x64-request.bin", { mac, requestedIp: ip }));
  for (const code of [60, 77, 93, 94, 97, 175]) p.options.delete(code);
  const peer = await UdpPeer.bind(0, ip);
  await peer.send(encodeDhcp(p), labDhcp);
  await peer.close();
  await new Promise((r) => setTimeout(r, 300));
}

// The victim boots at `ip` through the lab relay: its 4011 REQUEST, then /boot.ipxe. Returns the chain's host token.
async function boot(ip: string, wantRelayBase: boolean): Promise<string> {
  let chain = "";
  const ready = () => TOKEN_RE.test(chain) && (!wantRelayBase || chain.includes(`${lab.base}/h/`));
  for (let i = 0; i < 40 && !ready(); i++) {
    await claimVia4011(lab.proxyPort, VICTIM, ip);
    chain = (await getFrom(`${lab.base}/boot.ipxe?mac=${VICTIM}&arch=x86_64&platform=efi`, ip)).body;
    if (!ready()) await new Promise((r) => setTimeout(r, 500)); // the relay registers its LAN base with its first sync
  }
  expect(ready(), chain).toBe(true);
  return TOKEN_RE.exec(chain)![1]!;
}

beforeAll(async () => {
  api = await startWranglerDev({ frozen: "bundle" });
  const kernel = await upload("probe kernel\n");
  const initrd = await upload("probe initrd\n");
  await must("POST", "/v1/images", { name: "probe-image", arch: "x86_64", version: "1", artifacts: { kernel, initrd: [initrd] } });
  await must("PUT", "/v1/secrets/JOIN", { value: GLOBAL });
  await must("POST", "/v1/profiles", {
    name: "probe-linux",
    image: "probe-image",
    cmdline: "console=ttyS0",
    userData: "#cloud-config\nwrite_files:\n  - path: /etc/join\n    content: '{{ secret.JOIN }} {{ secret.PW }}'\n",
    vendorData: "#cloud-config\nwrite_files:\n  - path: /etc/pw\n    content: '{{ secret.PW }}'\n",
  });
  for (const slug of ["lab", "other"]) await must("POST", "/v1/sites", { slug, name: slug, bootAuth: "relay", unknownHostPolicy: "discover", secretDelivery: "bound" });
  await must("PUT", "/v1/secrets/PW?site=lab", { value: "site-level-pw" });
  await must("POST", "/v1/sites/lab/hosts", { hostname: "victim", mac: VICTIM, uuid: VICTIM_UUID, serial: "SN-VICTIM", profile: "probe-linux" });
  await must("PUT", "/v1/secrets/PW?site=lab&host=victim", { value: HOST });
  await must("PUT", "/v1/secrets/OTHER?site=other", { value: OTHER });
  tokens.siteLab = (await must("POST", "/v1/tokens", { name: "probe-lab", scopes: ["site:lab"] })).secret;
  tokens.siteOther = (await must("POST", "/v1/tokens", { name: "probe-other", scopes: ["site:other"] })).secret;
  tokens.read = (await must("POST", "/v1/tokens", { name: "probe-read", scopes: ["read"] })).secret;
  labCred = (await must("POST", "/v1/sites/lab/relays", { name: "relay-lab" })).secret;
  const otherCred = (await must("POST", "/v1/sites/other/relays", { name: "relay-other" })).secret;
  labDhcp = await freePort();
  const dir = (name: string) => mkdtempSync(join(work, name));
  [lab, other] = await Promise.all([
    startRelayProcess({ apiUrl: api.url, credential: labCred, stateDir: dir("lab-"), extraArgs: ["--dhcp-port", String(labDhcp), "--api-timeout-ms", "15000"] }),
    startRelayProcess({ apiUrl: api.url, credential: otherCred, stateDir: dir("other-"), extraArgs: ["--site", "other", "--api-timeout-ms", "15000"] }),
  ]);
}, 240_000);

afterAll(async () => {
  await Promise.all([lab?.stop(), other?.stop()]);
  await api?.stop();
  rmSync(work, { recursive: true, force: true });
}, 60_000);

describe("probe: LAN edge and API (real relay processes, wrangler dev)", () => {
  it("a forged DHCP vouch (bound) reads no file the machine read, and a file it reads first turns the machine's own read into an alert", async () => {
    const token = await boot("127.0.0.20", true);
    // The machine's cloud-init, at the address its chain was fetched from.
    const mine = await getFrom(`${lab.base}/h/${token}/nocloud/user-data`, "127.0.0.20");
    expect(mine.status, mine.body).toBe(200);
    expect(mine.body).toContain(GLOBAL); // admin's profile reaches the global secret (catalogue scope)
    // The attacker sniffed the token; one forged DHCP REQUEST makes the relay vouch for the victim's MAC at its address.
    await osRequest(VICTIM, "127.0.0.30");
    const stolen = await getFrom(`${lab.base}/h/${token}/nocloud/user-data`, "127.0.0.30");
    expect(stolen.status, stolen.body).toBe(410);
    expect(JSON.parse(stolen.body).error.code).toBe("secret_refetch");
    expect(leaks(stolen.body)).toEqual([]);
    // A file nobody read yet: the vouch admits it once (the race the threat model names) ...
    const first = await getFrom(`${lab.base}/h/${token}/nocloud/vendor-data`, "127.0.0.30");
    expect(first.status, first.body).toBe(200);
    // ... and the machine's own OS, at its own lease, is then refused: that refusal is the operator's alarm.
    await osRequest(VICTIM, "127.0.0.21");
    const late = await getFrom(`${lab.base}/h/${token}/nocloud/vendor-data`, "127.0.0.21");
    expect(late.status, late.body).toBe(410);
    await eventually("secret-refetch alerts naming each vouched address", () => alertsAt("lab"), (a) =>
      ["127.0.0.30", "127.0.0.21"].every((ip) => a.some((e) => e.phase === "secret-refetch" && e.detail.via === "vouch" && e.detail.relayedFor === ip)),
    );
    // An address nobody vouches for and that fetched no chain: refused outright.
    const stranger = await getFrom(`${lab.base}/h/${token}/nocloud/user-data`, "127.0.0.31", { headers: { "edgeboot-client-address": "127.0.0.20", "edgeboot-client-mac": VICTIM } });
    expect(stranger.status).toBe(403);
    expect(JSON.parse(stranger.body).error.code).toBe("delivery_bound");
  }, 120_000);

  it("a machine booting with its own MAC and the victim's UUID or serial gets no chain of the victim's", async () => {
    for (const [i, claim] of [`uuid=${VICTIM_UUID.toUpperCase()}`, "serial=SN-VICTIM"].entries()) {
      const mac = `52:54:00:e1:4a:${(0x50 + i).toString(16)}`;
      const ip = `127.0.0.${34 + i}`;
      await claimVia4011(lab.proxyPort, mac, ip); // its own MAC, honestly learned by the relay
      const res = await getFrom(`${lab.base}/boot.ipxe?mac=${mac}&${claim}&arch=x86_64&platform=efi`, ip);
      expect(res.status, claim).toBe(200);
      expect(res.body, claim).not.toContain("chain refused"); // the relay did ask the API: the API's answer follows
      expect(res.body.startsWith("#!ipxe"), claim).toBe(true);
      expect(res.body, claim).not.toContain("host=victim");
      expect(res.body, claim).not.toMatch(TOKEN_RE);
    }
  }, 120_000);

  it("another site's relay: a lab token through it is refused, and a lab MAC claimed there gets no lab chain", async () => {
    const token = await boot("127.0.0.20", true);
    const viaOther = await getFrom(`${other.base}/h/${token}/nocloud/user-data`, "127.0.0.20");
    expect(viaOther.status, viaOther.body).toBe(403);
    expect(JSON.parse(viaOther.body).error.code).toBe("delivery_bound");
    await claimVia4011(other.proxyPort, VICTIM, "127.0.0.40");
    const chain = await getFrom(`${other.base}/boot.ipxe?mac=${VICTIM}&arch=x86_64&platform=efi`, "127.0.0.40");
    expect(chain.status).toBe(200);
    expect(chain.body.startsWith("#!ipxe")).toBe(true);
    expect(chain.body).not.toContain("victim");
    expect(chain.body).not.toMatch(TOKEN_RE);
  }, 120_000);

  it("once: of two parallel fetches through the relay exactly one wins; after the boot reports done the token reads no secret file", async () => {
    expect((await call("PATCH", "/v1/sites/lab", { secretDelivery: "once" })).status).toBe(200);
    try {
      const token = await boot("127.0.0.20", false);
      const both = await Promise.all([0, 1].map(() => getFrom(`${lab.base}/h/${token}/nocloud/user-data`, "127.0.0.20")));
      expect(both.map((r) => r.status).sort()).toEqual([200, 410]);
      expect(both.filter((r) => leaks(r.body).length > 0)).toHaveLength(1);
      const done = await getFrom(`${lab.base}/h/${token}/events?phase=booted`, "127.0.0.20", { method: "POST" });
      expect(done.status, done.body).toBeLessThan(300);
      const after = await getFrom(`${lab.base}/h/${token}/nocloud/vendor-data`, "127.0.0.20");
      expect(after.status).toBe(410);
      expect(JSON.parse(after.body).error.code).toBe("boot_done");
      // The machine-facing API straight, the same token: the same answer.
      expect((await call("GET", `/boot/h/${token}/nocloud/vendor-data`, undefined, "")).status).toBe(410);
    } finally {
      await call("PATCH", "/v1/sites/lab", { secretDelivery: "bound" });
    }
  }, 120_000);

  it("path tricks on the relay's /h/ proxy and the API's /boot/h/ reach no other file, host or route", async () => {
    const token = await boot("127.0.0.20", true);
    const relayPaths = [
      `/h/${token}/nocloud/..%2fuser-data`,
      `/h/${token}/nocloud/%2e%2e/%2e%2e/%2e%2e/relay/v1/sync`,
      `/h/${token}/../../relay/v1/sync`,
      `/h/${token}//nocloud/user-data`,
      `/h/${token}/nocloud/user-data%00`,
      `/h/${token}/nocloud\\..\\..\\relay\\v1\\sync`,
      `/h/${token}/${"a/".repeat(10)}x`,
      `/h/${token}/nocloud/${"x".repeat(5000)}`,
      `/h/${token}%2fnocloud%2fuser-data`,
    ];
    for (const path of relayPaths) {
      const res = await getFrom(`${lab.base}${path}`, "127.0.0.20");
      expect([400, 404, 414, 431], path.slice(0, 80)).toContain(res.status);
      expect(leaks(res.body)).toEqual([]);
    }
    const apiPaths = [
      `/boot/h/${token}/nocloud/..%2f..%2f..%2fv1%2fsecrets`,
      `/boot/h/${token}/nocloud/user-data%2f`,
      `/boot/h/${token}/files/..%2f..%2fnocloud%2fuser-data`,
      `/boot/h/${token}/files/%2e%2e`,
      `/boot/h/${token}/artifacts/${"0".repeat(64)}`,
      `/boot/h/${token}/artifacts/..%2f..%2f..%2fv1%2fsecrets`,
      `/boot/h/${token}/nocloud/${"x".repeat(20_000)}`,
      `/boot/h/${token}/../../v1/secrets`,
      `/boot/h/${token.slice(0, -1)}A/nocloud/user-data`,
    ];
    const apiPort = new URL(api.url).port;
    for (const path of apiPaths) {
      const res = await getFrom(`http://127.0.0.1:${apiPort}${path}`, "127.0.0.1");
      expect(res.status, path.slice(0, 80)).toBeGreaterThanOrEqual(400);
      expect(res.status, path.slice(0, 80)).toBeLessThan(500);
      expect(leaks(res.body)).toEqual([]);
      expect(() => JSON.parse(res.body).error.code, path.slice(0, 80)).not.toThrow();
    }
  }, 120_000);

  it("no secret value and no host token in admin reads, the dry run, the status page or the logs", async () => {
    const token = await boot("127.0.0.20", true);
    expect((await getFrom(`${lab.base}/h/${token}/nocloud/user-data`, "127.0.0.20")).status).toBe(200);
    const reads = [
      "/v1/sites/lab/events?limit=200", "/v1/sites/lab/sessions", "/v1/sites/lab/hosts/victim", "/v1/sites/lab/hosts/victim/explain",
      "/v1/sites/lab/hosts/victim/render/user-data", "/v1/sites/lab/hosts/victim/render/vendor-data", "/v1/sites/lab/hosts/victim/render/ipxe",
      "/v1/sites/lab/hosts?limit=100", "/v1/sites/lab", "/v1/sites/lab/relays", "/v1/secrets", "/v1/secrets?site=lab", "/v1/secrets?site=lab&host=victim",
      "/v1/profiles/probe-linux", "/v1/audit?limit=200", "/v1/openapi.json", "/v1/tokens",
    ];
    for (const [who, t] of [["admin", api.adminToken], ["read", tokens.read], ["site:lab", tokens.siteLab]] as const) {
      for (const path of reads) {
        const r = await call("GET", path, undefined, t);
        expect(leaks(r.text), `${who} ${path}`).toEqual([]);
        expect(r.text.includes(token), `${who} ${path} shows a host token`).toBe(false);
      }
    }
    // The status page, logged in with the read token.
    const login = await fetch(`${api.url}/ui/login`, { method: "POST", redirect: "manual", headers: { origin: api.url, "content-type": "application/x-www-form-urlencoded" }, body: `token=${encodeURIComponent(tokens.read)}` });
    const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0]!;
    expect(cookie, `login ${login.status}`).toMatch(/=/);
    for (const page of ["/ui", "/ui/sites/lab", "/ui/sites/lab/hosts", "/ui/sites/lab/hosts/victim", "/ui/sites/lab/hosts/victim/timeline", "/ui/sites/lab/activity"]) {
      const res = await fetch(`${api.url}${page}`, { headers: { cookie } });
      const html = await res.text();
      expect(res.status, page).toBe(200);
      expect(leaks(html), page).toEqual([]);
      expect(html.includes(token), `${page} shows a host token`).toBe(false);
    }
    // The relay's own pages, open to the LAN, carry neither its credential nor a host token.
    for (const page of ["/healthz", "/metrics"]) {
      const body = (await getFrom(`${lab.base}${page}`, "127.0.0.31")).body;
      expect(body.includes(labCred), `${page} shows the relay credential`).toBe(false);
      expect(body.includes(token), `${page} shows a host token`).toBe(false);
    }
    for (const [name, logs] of [["wrangler", api.logs()], ["lab relay", lab.logs()], ["other relay", other.logs()]] as const) {
      expect(logs.includes(labCred), `${name} logs the relay credential`).toBe(false);
      expect(leaks(logs), name).toEqual([]);
      expect(logs.includes(token), `${name} logs a host token`).toBe(false);
    }
  }, 120_000);

  it("site and read tokens cannot write into another site or name secrets outside their reach", async () => {
    const rule = { name: "grab", profile: "probe-linux", selector: { macPrefix: "52:54:00" } };
    const intoLab: Array<[string, string, unknown]> = [
      ["PUT", "/v1/secrets/PW?site=lab&host=victim", { value: "x" }],
      ["PUT", "/v1/secrets/NEW?site=lab", { value: "x" }],
      ["POST", "/v1/sites/lab/rules", rule],
      ["POST", "/v1/sites/lab/hosts", { hostname: "intruder", mac: "52:54:00:e1:4a:99", profile: "probe-linux" }],
      ["PATCH", "/v1/sites/lab", { files: { x: { kind: "text", template: "{{ secret.PW }}" } } }],
      ["POST", "/v1/sites/lab/relays", { name: "rogue" }],
      ["PATCH", "/v1/sites/lab/hosts/victim", { vars: { a: "b" } }],
    ];
    for (const [who, t] of [["site:other", tokens.siteOther], ["read", tokens.read]] as const) {
      for (const [method, path, body] of intoLab) expect((await call(method, path, body, t)).status, `${who} ${method} ${path}`).toBe(403);
      expect((await call("PUT", "/v1/secrets/JOIN", { value: "x" }, t)).status, `${who} global secret`).toBe(403);
      expect((await call("POST", "/v1/tokens", { name: "esc", scopes: ["admin"] }, t)).status, `${who} admin token`).toBe(403);
    }
    // site:lab on its own site: templates naming a global or another site's secret are refused at save, naming the field.
    for (const [field, body] of [
      ["vendorData", { vendorData: "#cloud-config\nwrite_files:\n  - path: /x\n    content: '{{ secret.JOIN }}'\n" }],
      ["files", { files: { leak: { kind: "text", template: "{{ secret.JOIN }}\n" } } }],
      ["files", { files: { leak: { kind: "text", template: "{{ secret.OTHER }}\n" } } }],
    ] as const) {
      const r = await call("PATCH", "/v1/sites/lab", body, tokens.siteLab);
      expect(r.status, r.text).toBe(400);
      expect(r.text).toContain(field);
    }
    // A site token escalating its own scope.
    expect((await call("POST", "/v1/tokens", { name: "esc", scopes: ["site:other"] }, tokens.siteLab)).status).toBe(403);
    // Nothing of it was stored.
    const site = JSON.parse((await call("GET", "/v1/sites/lab")).text);
    expect(JSON.stringify(site.files ?? {})).not.toContain("leak");
  }, 120_000);

  it("oversized and duplicated headers at the relay are refused and it keeps answering; a client's Edgeboot-* headers are its own", async () => {
    const raw = (text: string) =>
      new Promise<string>((resolve) => {
        const sock = connect({ host: "127.0.0.1", port: Number(new URL(lab.base).port), localAddress: "127.0.0.32" });
        let got = "";
        sock.on("data", (c) => (got += c.toString()));
        sock.on("close", () => resolve(got));
        sock.on("error", () => resolve(got));
        sock.setTimeout(5000, () => sock.destroy());
        sock.end(text);
      });
    const big = await raw(`GET /boot.ipxe HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(70_000)}\r\n\r\n`);
    expect(big === "" || /^HTTP\/1\.1 4\d\d/.test(big), big.slice(0, 80)).toBe(true);
    const dup = await raw("POST /h/x/events HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab");
    expect(dup).toMatch(/^HTTP\/1\.1 400/);
    const smuggle = await raw("POST /boot.ipxe HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\nGET /boot.ipxe?mac=52:54:00:e1:4a:01 HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(smuggle).not.toContain("victim");
    expect((await fetch(`${lab.base}/healthz`)).status).toBe(200);
    // Paths outside every route: the JSON error shape, nothing from the state or binaries dirs.
    for (const path of ["/%2e%2e/%2e%2e/etc/passwd", "/ipxe.efi/../../../etc/passwd", "/relay-key.jwk", "/events/", "//etc/passwd"]) {
      const res = await getFrom(`${lab.base}${path}`, "127.0.0.32");
      expect(res.status, path).toBe(404);
      expect(JSON.parse(res.body).error.code, path).toBe("not_found");
    }
    // A requester that names the victim's address and MAC in its own headers is still itself.
    const token = await boot("127.0.0.20", true);
    const forged = await getFrom(`${lab.base}/h/${token}/nocloud/vendor-data`, "127.0.0.33", {
      headers: { "edgeboot-client-address": "127.0.0.20", "edgeboot-client-mac": VICTIM, "x-forwarded-for": "127.0.0.20", authorization: "Bearer nothing" },
    });
    expect(forged.status).toBe(403);
    expect(leaks(forged.body)).toEqual([]);
  }, 120_000);
});
