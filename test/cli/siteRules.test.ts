// Assignment rules in the site file, with real parts: a `wrangler dev` API (local D1) and the `edgeboot` CLI as a
// child process. apply creates them (normalised as the API normalises), diff is then clean, export round-trips them,
// a changed selector is a replacement, --prune deletes, and a tie is refused: in the file before any write, and by the
// API (409 naming both rules) when the tie is with a rule the file does not know.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWranglerDev, type WranglerDev } from "../helpers/wrangler.ts";
import { edgeboot } from "./run.ts";

const work = mkdtempSync(join(tmpdir(), "edgeboot-rules-"));
const siteFile = join(work, "rules.site.yaml");

const SITE = `apiVersion: edgeboot/v1
site:
  slug: rules-lab
  name: Rules lab
  bootAuth: open
  unknownHostPolicy: discover
profiles:
  - name: rl-live
    cmdline: console=ttyS0
  - name: rl-worker
    cmdline: console=ttyS0 role=worker
hosts:
  - hostname: w1
    mac: 02:00:00:00:00:01
    labels:
      role: worker
rules:
  - name: qemu
    profile: rl-live
    selector:
      macPrefix: 52-54-00
  - name: workers
    profile: rl-worker
    description: k3s agents
    selector:
      labels:
        role: worker
      arch: x86_64
  - name: dell
    profile: rl-worker
    selector:
      uuid: 4C4C4544-*
`;

let api: WranglerDev;
let env: Record<string, string>;
const cli = (args: string[]) => edgeboot(args, env);

async function admin(method: string, path: string, body?: unknown) {
  const res = await fetch(`${api.url}${path}`, { method, headers: { authorization: `Bearer ${api.adminToken}`, ...(body ? { "content-type": "application/json" } : {}) }, body: body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}
const ruleNames = async () => (await admin("GET", "/v1/sites/rules-lab/rules")).body.items.map((r: { name: string }) => r.name);

beforeAll(async () => {
  api = await startWranglerDev();
  env = { HOME: work, XDG_CONFIG_HOME: join(work, "config"), XDG_CACHE_HOME: join(work, "cache"), EDGEBOOT_API: api.url, EDGEBOOT_TOKEN: api.adminToken };
  writeFileSync(siteFile, SITE);
}, 240_000);

afterAll(async () => {
  await api?.stop();
  rmSync(work, { recursive: true, force: true });
}, 60_000);

describe("site file: assignment rules", () => {
  it("apply creates the rules after their profiles and the site, normalised as the API normalises them", async () => {
    const plan = await cli(["diff", "-f", siteFile]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain("+ rule qemu");
    const r = await cli(["apply", "-f", siteFile]);
    expect(r.code, r.stderr).toBe(0);
    const order = [...r.stderr.matchAll(/^✓ \w+ (.+)$/gm)].map((m) => m[1]);
    expect(order).toEqual(["profile rl-live", "profile rl-worker", "site rules-lab", "host w1", "rule qemu", "rule workers", "rule dell"]);
    const rules = (await admin("GET", "/v1/sites/rules-lab/rules")).body.items;
    expect(rules.map((x: Record<string, unknown>) => [x.name, x.profile, x.selector, x.description])).toEqual([
      ["dell", "rl-worker", { uuid: "4c4c4544-*" }, null],
      ["qemu", "rl-live", { macPrefix: "52:54:00" }, null],
      ["workers", "rl-worker", { labels: { role: "worker" }, arch: "x86_64" }, "k3s agents"],
    ]);
    // The rule decides for the labelled host, as /explain shows.
    const why = await admin("GET", "/v1/sites/rules-lab/hosts/w1/explain?arch=x86_64");
    expect(why.body.decision).toMatchObject({ source: "rule", rule: "workers" });
    // And as `edgeboot explain` prints it: the winner, and why each other rule did not decide.
    const shown = await cli(["explain", "w1", "--site", "rules-lab", "--arch", "x86_64"]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('rules      rule "workers" is the most specific matching rule');
    expect(shown.stdout).toContain("✓ workers → rl-worker (3000): every constraint holds; most specific match");
    expect(shown.stdout).toContain("✗ qemu → rl-live (4006): MAC 02:00:00:00:00:01 does not start with 52:54:00");
    expect(shown.stdout).toContain("✗ dell → rl-worker (8009): no uuid");
    // `edgeboot assignment` tries the rules on an identity no host has yet: a Dell UUID outranks the QEMU MAC prefix.
    const tried = await cli(["assignment", "--site", "rules-lab", "--mac", "52:54:00:aa:bb:cc", "--uuid", "4c4c4544-0000-1111-2222-333344445555"]);
    expect(tried.code, tried.stderr).toBe(0);
    expect(tried.stdout).toContain("✓ dell → rl-worker (8009)");
    expect(tried.stdout).toMatch(/~ qemu → rl-live \(4006\)/);
    expect(tried.stdout).toMatch(/✗ workers → rl-worker \(3000\): .*role/);
  });

  it("then diff is clean (the file's spellings compare as normalised) and apply changes nothing", async () => {
    const diff = await cli(["diff", "-f", siteFile, "--exit-code"]);
    expect(diff.code, diff.stdout + diff.stderr).toBe(0);
    const again = await cli(["apply", "-f", siteFile]);
    expect(again.stderr).not.toContain("✓");
  });

  it("export writes the rules and the profiles they name; the exported file diffs clean", async () => {
    const out = join(work, "exported.yaml");
    const r = await cli(["export", "rules-lab", "--out", out]);
    expect(r.code, r.stderr).toBe(0);
    const doc = parse(readFileSync(out, "utf8"));
    expect(doc.rules).toEqual([
      { name: "dell", profile: "rl-worker", selector: { uuid: "4c4c4544-*" } },
      { name: "qemu", profile: "rl-live", selector: { macPrefix: "52:54:00" } },
      { name: "workers", profile: "rl-worker", selector: { labels: { role: "worker" }, arch: "x86_64" }, description: "k3s agents" },
    ]);
    expect(doc.profiles.map((p: { name: string }) => p.name).sort()).toEqual(["rl-live", "rl-worker"]);
    const diff = await cli(["diff", "-f", out, "--exit-code"]);
    expect(diff.code, diff.stdout + diff.stderr).toBe(0);
  });

  it("a changed selector is a replacement that keeps the description; --prune deletes rules the file drops", async () => {
    const changed = SITE.replace("        role: worker\n      arch: x86_64", "        role: worker\n        rack: r1\n      arch: x86_64").replace(/  - name: dell\n[\s\S]*$/, "");
    writeFileSync(siteFile, changed);
    const plan = await cli(["diff", "-f", siteFile, "--prune"]);
    expect(plan.stdout).toContain("~ rule workers");
    expect(plan.stdout).toContain("- rule dell");
    const r = await cli(["apply", "-f", siteFile, "--prune"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("✓ deleted rule dell");
    expect((await admin("GET", "/v1/sites/rules-lab/rules/workers")).body).toMatchObject({ selector: { labels: { role: "worker", rack: "r1" }, arch: "x86_64" }, description: "k3s agents", revision: 2 });
    expect(await ruleNames()).toEqual(["qemu", "workers"]);
  });

  it("a tie inside the file is refused at load, with its line, before anything is written", async () => {
    const tied = `${readFileSync(siteFile, "utf8")}  - name: zone-a\n    profile: rl-live\n    selector:\n      labels:\n        zone: a\n        rack: r1\n      arch: x86_64\n`;
    const file = join(work, "tied.yaml");
    writeFileSync(file, tied);
    const r = await cli(["apply", "-f", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/tied\.yaml:\d+:\d+: rules\[2\]\.selector: ties with rule workers/);
    expect(await ruleNames()).toEqual(["qemu", "workers"]);
  });

  it("a tie with a rule the file does not know is the API's 409, naming both", async () => {
    expect((await admin("POST", "/v1/sites/rules-lab/rules", { name: "manual", profile: "rl-live", selector: { labels: { zone: "b" } } })).status).toBe(201);
    const file = join(work, "clash.yaml");
    writeFileSync(file, `${readFileSync(siteFile, "utf8")}  - name: by-rack\n    profile: rl-live\n    selector:\n      labels:\n        rack: r2\n`);
    const r = await cli(["apply", "-f", file]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('rule "by-rack" ties with rule "manual"');
    expect(await ruleNames()).toEqual(["manual", "qemu", "workers"]);
  });

  it("edgeboot rules create|list|get|delete", async () => {
    const made = await cli(["rules", "create", "by-cli", "--site", "rules-lab", "--profile", "rl-live", "--label", "zone=c", "--label", "tier=x", "--arch", "arm64", "-o", "json"]);
    expect(made.code, made.stderr).toBe(0);
    expect(JSON.parse(made.stdout)).toMatchObject({ name: "by-cli", selector: { labels: { zone: "c", tier: "x" }, arch: "arm64" }, specificity: 5000 });
    const list = await cli(["rules", "list", "--site", "rules-lab"]);
    expect(list.stdout).toMatch(/by-cli\s+rl-live\s+zone=c,tier=x arch=arm64\s+5000/);
    const tie = await cli(["rules", "create", "tie", "--site", "rules-lab", "--profile", "rl-live", "--label", "owner=ops"]);
    expect(tie.code).not.toBe(0);
    expect(tie.stderr).toContain('rule "tie" ties with rule "manual"');
    expect((await cli(["rules", "delete", "by-cli", "--site", "rules-lab"])).code).toBe(0);
    expect(await ruleNames()).toEqual(["manual", "qemu", "workers"]);
  });
});
