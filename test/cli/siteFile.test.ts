// The operator journey with real parts: a `wrangler dev` API (local D1 and R2) and the `edgeboot` CLI as a child
// process. The committed example site file is applied, diffed, applied again and exported; then the error paths.
import { createHash, randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startWranglerDev, type WranglerDev } from "../helpers/wrangler.ts";
import { edgeboot } from "./run.ts";

const EXAMPLE = fileURLToPath(new URL("../../worker/cli/examples/lab.site.yaml", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "edgeboot-cli-"));
const siteFile = join(work, "lab.site.yaml");
const kernel = randomBytes(300 * 1024);
const initrd = randomBytes(200 * 1024);
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const K3S = "k3s-join-token-do-not-leak-4711";

let api: WranglerDev;
let env: Record<string, string>;
const cli = (args: string[], extra: Record<string, string | undefined> = {}, stdin?: string) => edgeboot(args, { ...env, ...extra }, stdin);

async function admin(method: string, path: string, body?: unknown) {
  const res = await fetch(`${api.url}${path}`, { method, headers: { authorization: `Bearer ${api.adminToken}`, ...(body ? { "content-type": "application/json" } : {}) }, body: body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, etag: res.headers.get("etag") };
}

beforeAll(async () => {
  api = await startWranglerDev();
  env = { HOME: work, XDG_CONFIG_HOME: join(work, "config"), XDG_CACHE_HOME: join(work, "cache"), EDGEBOOT_API: api.url, EDGEBOOT_TOKEN: api.adminToken };
  copyFileSync(EXAMPLE, siteFile);
  mkdirSync(join(work, "artifacts"));
  writeFileSync(join(work, "artifacts", "vmlinuz"), kernel);
  writeFileSync(join(work, "artifacts", "initrd.img"), initrd);
}, 240_000);

afterAll(async () => {
  await api?.stop();
  rmSync(work, { recursive: true, force: true });
}, 60_000);

describe("site file: apply, diff, apply again, export", () => {
  it("applies the example in dependency order, uploading its local artifacts", async () => {
    const plan = await cli(["diff", "-f", siteFile]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain("↑ upload ./artifacts/vmlinuz");
    expect(plan.stdout).toMatch(/Plan: 6 to create, 0 to update, 0 to delete, 2 to upload, 1 secret\(s\) to write\./);
    expect((await admin("GET", "/v1/sites/lab")).status).toBe(404); // diff writes nothing

    const r = await cli(["apply", "-f", siteFile], { K3S_TOKEN: K3S });
    expect(r.code, r.stderr).toBe(0);
    const order = [...r.stderr.matchAll(/^✓ \w+ (.+)$/gm)].map((m) => m[1]);
    expect(order).toEqual([
      "./artifacts/vmlinuz",
      "./artifacts/initrd.img",
      "image debian-12 (x86_64)",
      "profile debian-live",
      "profile rescue",
      "site lab",
      "secret K3S_TOKEN",
      "host node-01",
      "host node-02",
    ]);
    expect(r.stdout + r.stderr).not.toContain(K3S);

    const image = await admin("GET", "/v1/images/debian-12?arch=x86_64");
    expect(image.body.artifacts).toEqual({ kernel: sha(kernel), initrd: [sha(initrd)] });
    expect((await admin("GET", "/v1/profiles/rescue")).body.menu.items.map((i: { target: string }) => i.target)).toEqual(["debian-live", "rescue", "local"]);
    const node2 = await admin("GET", "/v1/sites/lab/hosts/52-54-00-00-01-02");
    expect(node2.body).toMatchObject({ hostname: "node-02", profile: "debian-live", vars: { ntp: "10.0.0.2" }, labels: { rack: "r1", role: "worker" } });
    expect((await admin("GET", "/v1/secrets?site=lab")).body.items.map((s: { name: string }) => s.name)).toEqual(["K3S_TOKEN"]);
  });

  it("then diff shows nothing and a second apply changes nothing (without the secret's env: it exists)", async () => {
    const before = await admin("GET", "/v1/audit?limit=500");
    const diff = await cli(["diff", "-f", siteFile, "--exit-code"]);
    expect(diff.code, diff.stdout + diff.stderr).toBe(0);
    expect(diff.stdout).toContain("No changes: site lab matches");
    const again = await cli(["apply", "-f", siteFile]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toContain("✓");
    const after = await admin("GET", "/v1/audit?limit=500");
    expect(after.body.items.length).toBe(before.body.items.length);
  });

  it("renders what a host would get with the secret masked, and explains it", async () => {
    const vendor = await cli(["render", "node-01", "vendor-data", "--site", "lab"]);
    expect(vendor.code, vendor.stderr).toBe(0);
    expect(vendor.stdout).toContain("content: <secret:K3S_TOKEN>");
    expect(vendor.stdout).not.toContain(K3S);
    const chain = await cli(["render", "node-01", "--site", "lab"]);
    expect(chain.stdout).toMatch(/^#!ipxe\n/);
    expect(chain.stdout).toContain(`/artifacts/${sha(kernel)}`);
    const why = await cli(["explain", "52:54:00:00:01:01", "--site", "lab", "-o", "json"]);
    expect(JSON.parse(why.stdout)).toMatchObject({ decision: { kind: "boot" }, boot: { profile: { name: "debian-live" }, image: { name: "debian-12" } } });
  });

  it("exports the site as a file that diffs clean, with secret references and never their values", async () => {
    const out = join(work, "exported.yaml");
    const r = await cli(["export", "lab", "--out", out]);
    expect(r.code, r.stderr).toBe(0);
    const text = readFileSync(out, "utf8");
    expect(text).not.toContain(K3S);
    const doc = parse(text);
    expect(doc.site).toMatchObject({ slug: "lab", name: "Lab rack 1", bootAuth: "relay", defaultProfile: "debian-live" });
    expect(doc.hosts.map((h: { hostname: string }) => h.hostname)).toEqual(["node-01", "node-02"]);
    expect(doc.images[0].artifacts).toEqual({ kernel: sha(kernel), initrd: [sha(initrd)] });
    expect(doc.secrets).toEqual([{ name: "K3S_TOKEN", fromEnv: "EDGEBOOT_SECRET_K3S_TOKEN" }]);
    const diff = await cli(["diff", "-f", out, "--exit-code"]);
    expect(diff.code, diff.stdout + diff.stderr).toBe(0);
  });

  it("names a discovered machine (MAC only) when the file lists its MAC", async () => {
    expect((await admin("POST", "/v1/sites/lab/hosts", { mac: "52:54:00:00:01:03", state: "discovered" })).status).toBe(201);
    const file = join(work, "enrol.yaml");
    writeFileSync(file, `${readFileSync(siteFile, "utf8")}`.replace("\nsecrets:", "\n  - hostname: node-03\n    mac: 52:54:00:00:01:03\n    profile: debian-live\n\nsecrets:"));
    const diff = await cli(["diff", "-f", file]);
    expect(diff.stdout).toContain("~ host node-03");
    expect(diff.stdout).toContain('hostname: null → "node-03"');
    expect((await cli(["apply", "-f", file])).code).toBe(0);
    expect((await admin("GET", "/v1/sites/lab/hosts/52:54:00:00:01:03")).body).toMatchObject({ hostname: "node-03", profile: "debian-live" });
    expect((await admin("DELETE", "/v1/sites/lab/hosts/node-03")).status).toBe(204);
  });

  it("--prune deletes the site's hosts the file does not name", async () => {
    expect((await admin("POST", "/v1/sites/lab/hosts", { hostname: "stray", mac: "52:54:00:00:01:99" })).status).toBe(201);
    expect((await admin("PUT", "/v1/secrets/OLD_TOKEN?site=lab", { value: "old" })).status).toBe(201);
    const plan = await cli(["diff", "-f", siteFile, "--prune"]);
    expect(plan.stdout).toContain("- host stray");
    expect(plan.stdout).toContain("- secret OLD_TOKEN");
    expect((await cli(["apply", "-f", siteFile])).code).toBe(0);
    expect((await admin("GET", "/v1/sites/lab/hosts/stray")).status).toBe(200); // not without --prune
    const pruned = await cli(["apply", "-f", siteFile, "--prune"]);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.stderr).toContain("✓ deleted host stray");
    expect((await admin("GET", "/v1/sites/lab/hosts/stray")).status).toBe(404);
    expect((await admin("GET", "/v1/secrets?site=lab")).body.items.map((x: { name: string }) => x.name)).toEqual(["K3S_TOKEN"]);
  });
});

describe("CLI error paths", () => {
  it("a wrong token: the API's code and message, a hint, exit 1, no stack trace", async () => {
    for (const token of ["wrong", "wrong-but-long-enough-0123456789"]) {
      const r = await cli(["sites", "list"], { EDGEBOOT_TOKEN: token });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^error\[unauthorized\] \(HTTP 401\): (invalid token|unknown token)/);
      expect(r.stderr).toContain("check EDGEBOOT_TOKEN");
      expect(r.stderr).not.toMatch(/is required|\n\s+at /);
    }
  });

  it("an unreachable API", async () => {
    const r = await cli(["hosts", "list", "--site", "lab"], { EDGEBOOT_API: `http://127.0.0.1:${await freePort()}` });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error\[unreachable\]: cannot reach the API at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("an invalid site file: every problem with file, line, column and field; nothing sent", async () => {
    const bad = join(work, "bad.yaml");
    writeFileSync(bad, "apiVersion: edgeboot/v1\nsite:\n  slug: lab\n  name: Lab\n  bootAuth: maybe\nhosts:\n  - hostname: a\n    mac: zz\n    colour: red\n  - profile: x\n");
    const r = await cli(["apply", "-f", bad], { EDGEBOOT_API: `http://127.0.0.1:${await freePort()}` });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${bad}:5:3: site.bootAuth: Invalid option`);
    expect(r.stderr).toContain(`${bad}:8:5: hosts[0].mac: MAC address expected`);
    expect(r.stderr).toContain(`${bad}:9:5: hosts[0].colour: unknown field`);
    expect(r.stderr).toContain(`${bad}:10:5: hosts[1].hostname: a host needs a hostname or a mac`);
    writeFileSync(bad, "apiVersion: edgeboot/v1\nsite: [unclosed\n");
    const yaml = await cli(["diff", "-f", bad]);
    expect(yaml.code).toBe(2);
    expect(yaml.stderr).toMatch(new RegExp(`${bad.replace(/[.]/g, "\\.")}:\\d+:\\d+: `));
  });

  it("a site file naming a profile nobody has: file, line and field, exit 2, and nothing is written", async () => {
    const file = join(work, "typo.yaml");
    const text = readFileSync(siteFile, "utf8").replace("slug: lab\n", "slug: lab-t\n").replace("    vars:\n      ntp: 10.0.0.2\n", "    vars:\n      ntp: 10.0.0.2\n    intent: { target: rescue-shell, mode: once }\n");
    writeFileSync(file, text);
    const r = await cli(["apply", "-f", file], { K3S_TOKEN: K3S });
    expect(r.code).toBe(2);
    const line = text.split("\n").findIndex((l) => l.includes("rescue-shell")) + 1;
    expect(r.stderr).toContain(`${file}:${line}:15: hosts[1].intent.target: no profile named "rescue-shell" in this file's profiles or in the API`);
    expect((await admin("GET", "/v1/sites/lab-t")).status).toBe(404);
  });

  it("an API refusal during apply names the file, line and field it refused", async () => {
    const file = join(work, "refused.yaml");
    writeFileSync(file, "apiVersion: edgeboot/v1\nsite:\n  slug: lab\n  name: Lab rack 1\nprofiles:\n  - name: bad-cmdline\n    image: debian-12\n    cmdline: console=ttyS0 {{ bogus.x }}\n");
    const r = await cli(["apply", "-f", file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error[invalid_input] (HTTP 400): ${file}:8: profiles[0].cmdline: create profile bad-cmdline: invalid cmdline: unknown variable "bogus.x"`);
    expect((await admin("GET", "/v1/profiles/bad-cmdline")).status).toBe(404);
  });

  it("a secret reference missing from the environment: named with its line, and nothing is written", async () => {
    const file = join(work, "new-secret.yaml");
    const text = readFileSync(siteFile, "utf8").replace("slug: lab\n", "slug: lab-b\n");
    writeFileSync(file, text);
    const r = await cli(["apply", "-f", file], { K3S_TOKEN: undefined });
    expect(r.code).toBe(1);
    const line = text.split("\n").findIndex((l) => l.includes("fromEnv: K3S_TOKEN")) + 1;
    expect(r.stderr).toContain(`error[missing_secret]: secret values are missing; nothing was changed:\n  ${file}:${line}: secrets[0].fromEnv: environment variable K3S_TOKEN (secret K3S_TOKEN) is not set`);
    expect((await admin("GET", "/v1/sites/lab-b")).status).toBe(404);
  });

  it("a 409 on a saved plan shows what changed since it was made, and writes nothing for that resource", async () => {
    const file = join(work, "drift.yaml");
    writeFileSync(file, readFileSync(siteFile, "utf8").replace("ntp: 10.0.0.2", "ntp: 10.0.0.9"));
    const planFile = join(work, "plan.json");
    const diff = await cli(["diff", "-f", file, "--out", planFile]);
    expect(diff.stdout).toContain('vars: {"ntp":"10.0.0.2"} → {"ntp":"10.0.0.9"}');
    // Someone else changes the host between plan and apply.
    const boot = await cli(["boot", "node-02", "--site", "lab", "--once", "rescue"]);
    expect(boot.code, boot.stderr).toBe(0);
    const r = await cli(["apply", "--plan", planFile]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error[precondition_failed] (HTTP 409): host node-02 changed since the plan was made, so it was not updated:");
    expect(r.stderr).toContain('intent: null → {"target":"rescue","mode":"once"}');
    expect((await admin("GET", "/v1/sites/lab/hosts/node-02")).body.vars).toEqual({ ntp: "10.0.0.2" });
    // A fresh plan applies.
    expect((await cli(["apply", "-f", file])).code).toBe(0);
    expect((await admin("GET", "/v1/sites/lab/hosts/node-02")).body).toMatchObject({ vars: { ntp: "10.0.0.9" }, intent: { target: "rescue" } });
  });

  it("an API refusal prints its code, message and details", async () => {
    const r = await cli(["hosts", "create", "dup", "--mac", "52:54:00:00:01:01", "--site", "lab"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error\[conflict\] \(HTTP 409\): .*52:54:00:00:01:01/);
  });
});

describe("resource commands, contexts, upload, import", () => {
  it("contexts keep the API and token in a 0600 file; the environment overrides them", async () => {
    const ctxEnv = { EDGEBOOT_API: undefined, EDGEBOOT_TOKEN: undefined };
    const set = await cli(["context", "set", "local", "--api", api.url, "--token-stdin", "--site", "lab"], ctxEnv, `${api.adminToken}\n`);
    expect(set.code, set.stderr).toBe(0);
    const list = await cli(["hosts", "list", "-o", "json"], ctxEnv);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).map((h: { hostname: string }) => h.hostname)).toEqual(["node-01", "node-02"]);
    const { statSync } = await import("node:fs");
    expect(statSync(join(work, "config", "edgeboot", "config.yaml")).mode & 0o777).toBe(0o600);
    const overridden = await cli(["sites", "list"], { EDGEBOOT_API: undefined, EDGEBOOT_TOKEN: "wrong" });
    expect(overridden.code).toBe(1);
  });

  it("lists as a table, JSON or YAML; creates a token whose secret is printed once; deletes", async () => {
    const table = await cli(["hosts", "list", "--site", "lab"]);
    expect(table.stdout.split("\n")[0]).toMatch(/^HOSTNAME\s+MAC\s+PROFILE\s+STATE/);
    expect(table.stdout).toMatch(/node-01\s+52:54:00:00:01:01\s+debian-live\s+ready/);
    const yaml = parse((await cli(["profiles", "get", "rescue", "-o", "yaml"])).stdout);
    expect(yaml).toMatchObject({ name: "rescue", image: "debian-12" });
    const token = await cli(["tokens", "create", "ci-reader", "--scope", "read"]);
    expect(token.code, token.stderr).toBe(0);
    expect(token.stdout.trim()).toMatch(/^ebt_[A-Za-z0-9_-]{43}$/);
    const asReader = await cli(["sites", "list", "-o", "json"], { EDGEBOOT_TOKEN: token.stdout.trim() });
    expect(JSON.parse(asReader.stdout).map((s: { slug: string }) => s.slug)).toContain("lab");
    const relay = await cli(["relays", "create", "rack-1", "--site", "lab"]);
    expect(relay.stdout.trim()).toMatch(/^ebr_/);
    expect((await cli(["relays", "delete", "rack-1", "--site", "lab"])).stderr).toContain("revoked relay rack-1");
    expect((await cli(["secrets", "set", "ROOT_PW", "--site", "lab", "--host", "node-01"], {}, "pw-value\n")).code).toBe(0);
    expect((await admin("GET", "/v1/secrets?site=lab&host=node-01")).body.items.map((s: { name: string }) => s.name)).toEqual(["ROOT_PW"]);
    expect((await cli(["secrets", "delete", "ROOT_PW", "--site", "lab", "--host", "node-01"])).code).toBe(0);
  });

  it("boot --local, wake without a relay, events", async () => {
    expect((await cli(["boot", "node-01", "--site", "lab", "--local"])).code).toBe(0);
    expect((await admin("GET", "/v1/sites/lab/hosts/node-01")).body.intent).toEqual({ target: "local", mode: "once" });
    expect((await cli(["boot", "node-01", "--site", "lab", "--clear"])).code).toBe(0);
    const wake = await cli(["wake", "node-01", "--site", "lab"]);
    expect(wake.code).toBe(1);
    expect(wake.stderr).toContain("error[conflict] (HTTP 409): the site has no relay");
    const events = await cli(["events", "--site", "lab", "-o", "json"]);
    expect(events.code, events.stderr).toBe(0);
    expect(Array.isArray(JSON.parse(events.stdout))).toBe(true);
  });

  it("events --follow prints a boot's events as they happen", async () => {
    const { spawn } = await import("node:child_process");
    const { BIN } = await import("./run.ts");
    const created = await cli(["sites", "create", "open-lab", "--name", "Open lab", "--boot-auth", "open"]);
    expect(created.code, created.stderr).toBe(0);
    // debian-live's user-data names var.ntp, which this site does not set: the host brings its own.
    const host = await cli(["hosts", "create", "o-1", "--mac", "52:54:00:00:03:01", "--profile", "debian-live", "--site", "open-lab", "--data", '{"vars":{"ntp":"10.9.9.9"}}']);
    expect(host.code, host.stderr).toBe(0);
    const follower = spawn(process.execPath, [BIN, "events", "--site", "open-lab", "--follow", "--interval", "0.5", "-o", "json"], { env: { PATH: process.env.PATH, NO_COLOR: "1", ...env } });
    let out = "";
    follower.stdout.on("data", (d) => (out += d));
    try {
      // Let it take its first (empty) page, then boot: the chain fetch records chain-served.
      await new Promise((r) => setTimeout(r, 2500));
      expect((await fetch(`${api.url}/boot/open-lab/ipxe?mac=52:54:00:00:03:01&arch=x86_64`)).status).toBe(200);
      const deadline = Date.now() + 20_000;
      while (!out.includes("chain-served") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      const events = out.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
      expect(events).toContainEqual(expect.objectContaining({ phase: "chain-served", mac: "52:54:00:00:03:01" }));
    } finally {
      follower.kill("SIGTERM");
    }
  });

  it("imports dnsmasq reservations, reports skipped lines, and a re-import changes nothing", async () => {
    const conf = join(work, "dnsmasq.conf");
    writeFileSync(conf, "dhcp-host=52:54:00:00:02:01,10.0.0.41,imp-1\ndhcp-host=id:client-9,10.0.0.49,by-id\n");
    const first = await cli(["import", "dnsmasq", conf, "--site", "lab", "--profile", "debian-live"]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain("created 1, unchanged 0, skipped 1");
    expect(first.stderr).toContain(`${conf}:2: skipped: matches its client by DHCP client id (id:client-9)`);
    const again = await cli(["import", "dnsmasq", conf, "--site", "lab"]);
    expect(again.stderr).toContain("created 0, unchanged 1, skipped 1");
    writeFileSync(conf, "dhcp-host=52:54:00:00:02:01,10.0.0.42,imp-1\n");
    const clash = await cli(["import", "dnsmasq", conf, "--site", "lab"]);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toContain(`${conf}:1: mac 52:54:00:00:02:01 belongs to existing host imp-1, which differs: ipv4 "10.0.0.41" (site) → "10.0.0.42" (file)`);
    expect(clash.stderr).not.toContain("details:"); // the lines say it all
  });

  it("explain of a MAC no host has: the site's unknown-host policy and the rules' verdicts", async () => {
    const r = await cli(["explain", "52:54:00:00:0f:0f", "--site", "lab"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^host\s+none: no host of site lab has MAC 52:54:00:00:0f:0f/m);
    expect(r.stdout).toMatch(/^decision\s+unknown host \(policy discover\): recorded as discovered; iPXE asks again every 30 s/m);
    const json = await cli(["explain", "52-54-00-00-0F-0F", "--site", "lab", "-o", "json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ host: null, site: { slug: "lab", unknownHostPolicy: "discover" }, machine: { mac: "52:54:00:00:0f:0f" } });
    const byName = await cli(["explain", "no-such-host", "--site", "lab"]);
    expect(byName.code).toBe(1);
    expect(byName.stderr).toMatch(/^error\[not_found\] \(HTTP 404\): host not found/);
  });

  it("a site's boot key is shown once and opens its chains; deleting a site in use names --force", async () => {
    expect((await cli(["sites", "create", "key-lab", "--name", "Key lab", "--boot-auth", "key"])).code).toBe(0);
    const host = await cli(["hosts", "create", "k-1", "--mac", "52:54:00:00:04:01", "--profile", "debian-live", "--site", "key-lab", "--data", '{"vars":{"ntp":"10.9.9.9"}}']);
    expect(host.code, host.stderr).toBe(0);
    const key = await cli(["sites", "boot-key", "key-lab"]);
    expect(key.code, key.stderr).toBe(0);
    expect(key.stdout.trim()).toMatch(/^ebk_[A-Za-z0-9_-]{20,}$/);
    expect((await fetch(`${api.url}/boot/key-lab/ipxe?mac=52:54:00:00:04:01&k=${key.stdout.trim()}`)).status).toBe(200);
    expect((await fetch(`${api.url}/boot/key-lab/ipxe?mac=52:54:00:00:04:01&k=ebk_wrong-key-0123456789`)).status).toBe(401);
    const del = await cli(["sites", "delete", "key-lab"]);
    expect(del.code).toBe(1);
    expect(del.stderr).toContain("pass --force (edgeboot sites delete key-lab --force)");
    expect((await cli(["sites", "delete", "key-lab", "--force"])).code).toBe(0);
  });

  it("update changes only the fields given, with If-Match; a rule keeps what --data leaves out", async () => {
    const p = await cli(["profiles", "update", "rescue", "--data", '{"cmdline":"console=ttyS0 single quiet"}', "-o", "json"]);
    expect(p.code, p.stderr).toBe(0);
    expect(JSON.parse(p.stdout)).toMatchObject({ name: "rescue", image: "debian-12", cmdline: "console=ttyS0 single quiet", menu: { title: "Lab boot menu" } });
    const h = await cli(["hosts", "update", "node-01", "--site", "lab", "--data", "labels: {rack: r2, role: worker}"]);
    expect(h.code, h.stderr).toBe(0);
    expect((await admin("GET", "/v1/sites/lab/hosts/node-01")).body).toMatchObject({ labels: { rack: "r2", role: "worker" }, profile: "debian-live", mac: "52:54:00:00:01:01" });
    const bad = await cli(["hosts", "update", "node-01", "--site", "lab", "--data", '{"mac":"zz"}']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error\[invalid_input\] \(HTTP 400\): .*\n\s+mac: /);
    expect((await cli(["rules", "create", "upd", "--profile", "debian-live", "--label", "rack=r9", "--site", "lab"])).code).toBe(0);
    const r = await cli(["rules", "update", "upd", "--site", "lab", "--data", '{"description":"rack 9 boots live"}', "-o", "json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ name: "upd", profile: "debian-live", selector: { labels: { rack: "r9" } }, description: "rack 9 boots live" });
    expect((await cli(["rules", "delete", "upd", "--site", "lab"])).code).toBe(0);
  });

  it("uploads with one PUT, skips a second time, and places the artifact into an image", async () => {
    const file = join(work, "vmlinuz-arm");
    const bytes = randomBytes(200 * 1024);
    writeFileSync(file, bytes);
    const first = await cli(["upload", file, "--image", "cli-img", "--arch", "arm64", "--role", "kernel"]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout.trim()).toBe(sha(bytes));
    expect(first.stderr).toContain("uploaded:");
    const second = await cli(["upload", file]);
    expect(second.code).toBe(0);
    expect(second.stderr).toContain("already uploaded");
    expect((await admin("GET", "/v1/images/cli-img?arch=arm64")).body.artifacts.kernel).toBe(sha(bytes));
    const bad = await cli(["upload", file, "--part-size", "1M"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--part-size must be at least 5M");
    const missing = await cli(["upload", join(work, "nope")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("error[no_file]: no such file");
  }, 60_000);
});

describe("resumable multipart upload against the real API", () => {
  it("uploads a large file in parallel parts and resumes after an interruption", async () => {
    const { artifactApi, UploadApiError } = await import("../../worker/cli/upload/api.ts");
    const { uploadFile } = await import("../../worker/cli/upload/uploader.ts");
    const { readdirSync } = await import("node:fs");
    const MiB = 1024 * 1024;
    const file = join(work, "rootfs.squashfs");
    const bytes = randomBytes(11 * MiB + 123);
    writeFileSync(file, bytes);
    const stateDir = join(work, "upload-state");
    const real = artifactApi({ apiUrl: api.url, token: api.adminToken });
    const sentParts: number[] = [];
    // First run: the connection "drops" after part 1 is accepted (a refusal, so it is not retried in-process).
    let allowed = 1;
    const flaky = {
      ...real,
      putPart: async (...args: Parameters<typeof real.putPart>) => {
        if (allowed-- <= 0) throw new UploadApiError(400, null, "simulated interruption");
        sentParts.push(args[2]);
        return real.putPart(...args);
      },
    };
    const opts = { file, partSize: 5 * MiB, concurrency: 1, stateDir, log: () => {} };
    await expect(uploadFile(flaky, opts)).rejects.toThrow(/simulated interruption/);
    expect(readdirSync(stateDir)).toEqual([`${sha(bytes)}.json`]);
    expect((await admin("GET", `/v1/artifacts/${sha(bytes)}`)).status).toBe(404);

    const resumed = await uploadFile({ ...real, putPart: async (...args: Parameters<typeof real.putPart>) => (sentParts.push(args[2]), real.putPart(...args)) }, { ...opts, concurrency: 2 });
    expect(resumed).toEqual({ sha256: sha(bytes), size: bytes.length, result: "resumed" });
    expect(sentParts.sort()).toEqual([1, 2, 3]);
    expect(readdirSync(stateDir)).toEqual([]);
    const meta = await admin("GET", `/v1/artifacts/${sha(bytes)}`);
    expect(meta.body.artifact).toMatchObject({ size: bytes.length, state: "ready" });
  }, 120_000);
});
