// The CLI's pure parts, without an API: site-file errors with positions, the published JSON Schema, the deploy
// helpers and the deploy step sequence (wrangler replaced by a recorder of its argument lists), the config file.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { importJWK } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import { configPath, loadConfig, resolveTarget, saveConfig } from "../../worker/cli/config.ts";
import { CliError } from "../../worker/cli/errors.ts";
import { measure } from "../../worker/cli/deploy/bundle.ts";
import { generateSecret } from "../../worker/cli/deploy/secrets.ts";
import { deploy } from "../../worker/cli/deploy/steps.ts";
import { createdDatabaseId, deployConfig, deployedUrl, findDatabase, hasBucket, secretNames } from "../../worker/cli/deploy/wranglerConfig.ts";
import { parseSiteFile } from "../../worker/cli/site/load.ts";
import { referenceProblems } from "../../worker/cli/site/refs.ts";
import { siteFileJsonSchema } from "../../worker/cli/site/schema.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "edgeboot-cli-units-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const problemsOf = (text: string) => {
  try {
    parseSiteFile("site.yaml", text);
  } catch (err) {
    expect(err).toBeInstanceOf(CliError);
    return (err as CliError).message.split("\n").slice(1).map((l) => l.trim());
  }
  throw new Error("expected the site file to be refused");
};

describe("site file", () => {
  it("the example parses, normalising MACs like the API", () => {
    const { file } = parseSiteFile("lab.site.yaml", readFileSync(join(ROOT, "worker/cli/examples/lab.site.yaml"), "utf8"));
    expect(file.site.slug).toBe("lab");
    expect(file.hosts.map((h) => h.mac)).toEqual(["52:54:00:00:01:01", "52:54:00:00:01:02"]);
    expect(parseSiteFile("x", "apiVersion: edgeboot/v1\nsite: {slug: a, name: A}\nhosts: [{hostname: N1, mac: AABB.CCDD.EEFF}]\n").file.hosts[0]).toEqual({ hostname: "n1", mac: "aa:bb:cc:dd:ee:ff" });
  });

  it("names file, line, column and field for each problem, nested ones included", () => {
    const text = [
      "apiVersion: edgeboot/v1", // 1
      "site:", // 2
      "  slug: Lab_1", // 3
      "  name: x", // 4
      "profiles:", // 5
      "  - name: p", // 6
      "    menu:", // 7
      "      items:", // 8
      "        - label: a", // 9
      "          target: Not-A-Name", // 10
      "secrets:", // 11
      "  - name: TOKEN", // 12
      "    fromEnv: T", // 13
      "    value: plain-text", // 14
      "  - name: OTHER", // 15
      "    host: ghost", // 16
      "    fromFile: ./x", // 17
    ].join("\n");
    expect(problemsOf(text)).toEqual([
      expect.stringMatching(/^site\.yaml:3:3: site\.slug: a slug is/),
      expect.stringMatching(/^site\.yaml:10:11: profiles\[0\]\.menu\.items\[0\]\.target: /),
      "site.yaml:14:5: secrets[0].value: unknown field",
      'site.yaml:16:5: secrets[1].host: host "ghost" is not one of this file\'s hosts',
    ]);
  });

  it("refuses a secret with a value source missing, duplicates, and broken YAML with its position", () => {
    expect(problemsOf("apiVersion: edgeboot/v1\nsite: {slug: a, name: A}\nsecrets:\n  - name: X\n")).toEqual([
      expect.stringMatching(/^site\.yaml:4:5: secrets\[0\]\.fromEnv: a secret takes exactly one of fromEnv or fromFile/),
    ]);
    expect(problemsOf("apiVersion: edgeboot/v1\nsite: {slug: a, name: A}\nhosts:\n  - mac: 52:54:00:00:00:01\n  - mac: 52-54-00-00-00-01\n")).toEqual([
      "site.yaml:5:5: hosts[1].mac: 52:54:00:00:00:01 appears twice",
    ]);
    expect(problemsOf("apiVersion: edgeboot/v1\nsite:\n  slug: a\n  slug: b\n")[0]).toMatch(/^site\.yaml:4:3: Map keys must be unique/);
    expect(problemsOf("apiVersion: edgeboot/v2\nsite: {slug: a, name: A}\n")[0]).toMatch(/^site\.yaml:1:1: apiVersion: /);
  });

  it("names every reference to a profile or image that neither the file nor the API has, with line and field", () => {
    const text = [
      "apiVersion: edgeboot/v1", // 1
      "site:", // 2
      "  slug: lab", // 3
      "  name: Lab", // 4
      "  defaultProfile: live", // 5
      "images:", // 6
      "  - name: deb", // 7
      "    artifacts: { kernel: ./vmlinuz }", // 8
      "profiles:", // 9
      "  - name: live", // 10
      "    image: deb", // 11
      "  - name: menu", // 12
      "    image: debain", // 13
      "    menu:", // 14
      "      items:", // 15
      "        - { label: a, target: live }", // 16
      "        - { label: b, target: local }", // 17
      "        - { label: c, target: resuce }", // 18
      "hosts:", // 19
      "  - hostname: n1", // 20
      "    profile: from-api", // 21
      "  - hostname: n2", // 22
      "    profile: lvie", // 23
      "    intent: { target: gone, mode: once }", // 24
      "rules:", // 25
      "  - name: r", // 26
      "    profile: nope", // 27
      "    selector: { arch: arm64 }", // 28
    ].join("\n");
    const { file, at } = parseSiteFile("site.yaml", text);
    const api = { images: [{ name: "other" }], profiles: [{ name: "from-api" }] };
    const shown = referenceProblems(file, api, at).map((p) => `${p.line}:${p.col}: ${p.field}: ${p.message}`);
    expect(shown).toEqual([
      '13:5: profiles[1].image: no image named "debain" in this file\'s images or in the API',
      '18:23: profiles[1].menu.items[2].target: no profile named "resuce" in this file\'s profiles or in the API',
      '23:5: hosts[1].profile: no profile named "lvie" in this file\'s profiles or in the API',
      '24:15: hosts[1].intent.target: no profile named "gone" in this file\'s profiles or in the API',
      '27:5: rules[0].profile: no profile named "nope" in this file\'s profiles or in the API',
    ]);
    expect(referenceProblems(parseSiteFile("x", "apiVersion: edgeboot/v1\nsite: {slug: a, name: A, defaultProfile: p}\n").file, { images: [], profiles: [] }, at)).toHaveLength(1);
  });

  it("publishes a JSON Schema that matches the zod schema (regenerate with `npx edgeboot schema > worker/cli/site.schema.json`)", () => {
    const committed = JSON.parse(readFileSync(join(ROOT, "worker/cli/site.schema.json"), "utf8"));
    expect(committed).toEqual(siteFileJsonSchema());
    expect(committed.properties.site.properties.bootAuth.enum).toEqual(["relay", "key", "open"]);
  });
});

describe("deploy helpers", () => {
  const toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
  const ID = "0b6e6c1e-3f5a-4d55-9b0a-7c2f1d7e9a11";

  it("writes the real database id into a copy of wrangler.toml, nothing else changed", () => {
    const out = deployConfig(toml, { databaseId: ID });
    expect(out).toContain(`database_id = "${ID}"`);
    expect(out.split("\n").slice(1).join("\n")).toBe(toml.replace(/database_id = "[^"]*"/, `database_id = "${ID}"`));
    expect(() => deployConfig(toml, { databaseId: "not-an-id" })).toThrow(/not a D1 database id/);
  });

  it("reads what wrangler prints", () => {
    expect(findDatabase(JSON.stringify([{ uuid: ID, name: "edgeboot" }, { uuid: "x", name: "other" }]), "edgeboot")).toBe(ID);
    expect(findDatabase("[]", "edgeboot")).toBeNull();
    expect(createdDatabaseId(`✅ Successfully created DB 'edgeboot'\n\n[[d1_databases]]\nbinding = "DB"\ndatabase_name = "edgeboot"\ndatabase_id = "${ID}"\n`)).toBe(ID);
    expect(createdDatabaseId(`{\n  "d1_databases": [\n    {\n      "binding": "DB",\n      "database_name": "edgeboot",\n      "database_id": "${ID}"\n    }\n  ]\n}`)).toBe(ID);
    expect(hasBucket("Listing buckets...\nname:           edgeboot-artifacts\ncreation_date:  2026-01-01T00:00:00.000Z\n", "edgeboot-artifacts")).toBe(true);
    expect(hasBucket("name:           edgeboot-artifacts-old\n", "edgeboot-artifacts")).toBe(false);
    expect(secretNames('[{"name":"ADMIN_TOKEN","type":"secret_text"}]')).toEqual(["ADMIN_TOKEN"]);
    expect(secretNames("✘ [ERROR] This Worker does not exist")).toBeNull();
    expect(secretNames('{"success":false}')).toBeNull();
    expect(deployedUrl("Deployed edgeboot triggers\n  https://edgeboot.acme.workers.dev\nCurrent Version ID: 1")).toBe("https://edgeboot.acme.workers.dev");
  });

  it("generates secrets the Worker accepts: an Ed25519 private JWK with a kid, a 32-byte key, a root token", async () => {
    const keys = JSON.parse(await generateSecret("SIGNING_KEYS", new Date("2026-12-06T00:00:00Z")));
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: "OKP", crv: "Ed25519", kid: expect.stringMatching(/^k-2026-12-06-[0-9a-f]{6}$/), x: expect.any(String), d: expect.any(String) });
    await expect(importJWK(keys[0], "EdDSA")).resolves.toBeTruthy();
    expect(Buffer.from(await generateSecret("SECRETS_KEY"), "base64")).toHaveLength(32);
    expect(await generateSecret("ADMIN_TOKEN")).toMatch(/^ebt_root_[A-Za-z0-9_-]{32}$/);
  });

  it("first deploy: creates database and bucket, migrates, deploys with all three secrets in one version", async () => {
    const calls: string[][] = [];
    let secretsFile: Record<string, string> | null = null;
    const wrangler = (args: string[]) => {
      calls.push(args);
      const i = args.indexOf("--secrets-file");
      if (i >= 0) secretsFile = JSON.parse(readFileSync(args[i + 1]!, "utf8"));
      if (args[0] === "d1" && args[1] === "list") return { status: 0, stdout: "[]", stderr: "" };
      if (args[0] === "d1" && args[1] === "create") return { status: 0, stdout: `database_id = "${ID}"`, stderr: "" };
      // What wrangler 4 prints for a Worker that was never deployed.
      if (args[0] === "secret") return { status: 1, stdout: "", stderr: '✘ [ERROR] Worker "edgeboot" not found.\n\nIf this is a new Worker, run `wrangler deploy` first to create it.' };
      if (args[0] === "deploy") return { status: 0, stdout: "https://edgeboot.acme.workers.dev", stderr: "" };
      return { status: 0, stdout: "", stderr: "" };
    };
    const root = mkdtempSync(join(dir, "root-"));
    writeFileSync(join(root, "wrangler.toml"), toml);
    const out = await deploy({ root, dryRun: false, log: () => {}, wrangler });
    expect(calls.map((c) => c.slice(0, 3).join(" "))).toEqual([
      "whoami --json",
      "d1 list --json",
      "d1 create edgeboot",
      "r2 bucket list",
      "r2 bucket create",
      "d1 migrations apply",
      "secret list --format",
      "deploy --config wrangler.deploy.toml",
    ]);
    expect(calls[5]).toEqual(["d1", "migrations", "apply", "DB", "--remote", "--config", "wrangler.deploy.toml"]);
    expect(readFileSync(join(root, "wrangler.deploy.toml"), "utf8")).toContain(`database_id = "${ID}"`);
    expect(Object.keys(secretsFile!).sort()).toEqual(["ADMIN_TOKEN", "SECRETS_KEY", "SIGNING_KEYS"]);
    expect(out).toEqual({ url: "https://edgeboot.acme.workers.dev", adminToken: secretsFile!.ADMIN_TOKEN });
  });

  it("a later deploy reuses database and bucket and never replaces an existing secret", async () => {
    const calls: string[][] = [];
    const wrangler = (args: string[]) => {
      calls.push(args);
      if (args[0] === "d1" && args[1] === "list") return { status: 0, stdout: JSON.stringify([{ uuid: ID, name: "edgeboot" }]), stderr: "" };
      if (args[0] === "r2") return { status: 0, stdout: "name: edgeboot-artifacts\n", stderr: "" };
      if (args[0] === "secret") return { status: 0, stdout: JSON.stringify(["ADMIN_TOKEN", "SIGNING_KEYS", "SECRETS_KEY"].map((name) => ({ name, type: "secret_text" }))), stderr: "" };
      return { status: 0, stdout: "", stderr: "" };
    };
    const root = mkdtempSync(join(dir, "root-"));
    writeFileSync(join(root, "wrangler.toml"), toml);
    const out = await deploy({ root, dryRun: false, log: () => {}, wrangler, publicUrl: "https://boot.example.net" });
    expect(calls.some((c) => c[1] === "create")).toBe(false);
    expect(calls.at(-1)).toEqual(["deploy", "--config", "wrangler.deploy.toml", "--var", "PUBLIC_URL:https://boot.example.net", "--keep-vars"]);
    expect(out.adminToken).toBeNull();
  });

  it("a secret list that fails for another reason stops the deploy: nothing generated, nothing deployed", async () => {
    for (const answer of [
      { status: 1, stdout: "", stderr: "✘ [ERROR] A request to the Cloudflare API failed. Authentication error [code: 10000]" },
      { status: 0, stdout: "Something went wrong", stderr: "" },
    ]) {
      const calls: string[][] = [];
      const wrangler = (args: string[]) => {
        calls.push(args);
        if (args[0] === "d1" && args[1] === "list") return { status: 0, stdout: JSON.stringify([{ uuid: ID, name: "edgeboot" }]), stderr: "" };
        if (args[0] === "r2") return { status: 0, stdout: "name: edgeboot-artifacts\n", stderr: "" };
        if (args[0] === "secret") return answer;
        return { status: 0, stdout: "", stderr: "" };
      };
      const root = mkdtempSync(join(dir, "root-"));
      writeFileSync(join(root, "wrangler.toml"), toml);
      await expect(deploy({ root, dryRun: false, log: () => {}, wrangler })).rejects.toThrow(/could not list the Worker's secrets, so none were generated or deployed/);
      expect(calls.some((c) => c[0] === "deploy")).toBe(false);
    }
  });

  it("--dry-run runs nothing and prints every step; a failing step names itself", async () => {
    const lines: string[] = [];
    const root = mkdtempSync(join(dir, "root-"));
    writeFileSync(join(root, "wrangler.toml"), toml);
    await deploy({ root, dryRun: true, log: (l) => lines.push(l), wrangler: () => { throw new Error("must not run"); } });
    expect(lines.filter((l) => l.startsWith("$ wrangler"))).toHaveLength(6);
    expect(() => statSync(join(root, "wrangler.deploy.toml"))).toThrow();
    const failing = () => ({ status: 1, stdout: "", stderr: "Authentication error [code: 10000]" });
    await expect(deploy({ root, dryRun: false, log: () => {}, wrangler: failing })).rejects.toThrow(/check the Cloudflare login.*failed.*Authentication error/s);
  });

  it("measures a bundle directory's gzip size, ignoring source maps", () => {
    const out = mkdtempSync(join(dir, "bundle-"));
    writeFileSync(join(out, "index.js"), "x".repeat(100_000));
    writeFileSync(join(out, "index.js.map"), "y".repeat(100_000));
    const m = measure(out);
    expect(m).toMatchObject({ files: 1, raw: 100_000 });
    expect(m.gzip).toBeGreaterThan(0);
    expect(m.gzip).toBeLessThan(1000);
  });
});

describe("contexts", () => {
  it("saves 0600, resolves flags over environment over file, and says what is missing", async () => {
    const env = { XDG_CONFIG_HOME: join(dir, "cfg"), HOME: dir };
    await expect(resolveTarget(env, {})).rejects.toThrow(/no API URL/);
    await saveConfig(env, { current: "prod", contexts: { prod: { api: "https://edgeboot.example/", token: "t-file", site: "lab" } } });
    expect(statSync(configPath(env)).mode & 0o777).toBe(0o600);
    expect(await resolveTarget(env, {})).toEqual({ api: "https://edgeboot.example", token: "t-file", site: "lab", context: "prod" });
    expect(await resolveTarget({ ...env, EDGEBOOT_TOKEN: "t-env", EDGEBOOT_API: "http://127.0.0.1:8787" }, { site: "other" })).toMatchObject({ api: "http://127.0.0.1:8787", token: "t-env", site: "other" });
    await expect(resolveTarget(env, { context: "nope" })).rejects.toThrow(/no context named "nope"/);
    writeFileSync(configPath(env), "contexts:\n  x: {api: ftp://nope}\n");
    await expect(loadConfig(env)).rejects.toThrow(/contexts\.x\.api: an http\(s\) URL/);
  });
});
