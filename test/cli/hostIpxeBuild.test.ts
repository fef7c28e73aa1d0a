// A host's iPXE build override (ipxeBuild) through the edgeboot CLI against a real `wrangler dev` API: `hosts create
// --ipxe-build`, a site file that sets it (apply, a clean second diff, export round trip), and a bad value refused by
// the API with the field named.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWranglerDev, type WranglerDev } from "../helpers/wrangler.ts";
import { edgeboot } from "./run.ts";

const work = mkdtempSync(join(tmpdir(), "edgeboot-ipxebuild-cli-"));
let api: WranglerDev;
let env: Record<string, string>;
const cli = (args: string[]) => edgeboot(args, env);
const get = async (p: string) => (await fetch(`${api.url}${p}`, { headers: { authorization: `Bearer ${api.adminToken}` } })).json() as Promise<any>;

beforeAll(async () => {
  api = await startWranglerDev();
  env = { HOME: work, XDG_CONFIG_HOME: join(work, "config"), XDG_CACHE_HOME: join(work, "cache"), EDGEBOOT_API: api.url, EDGEBOOT_TOKEN: api.adminToken };
}, 240_000);

afterAll(async () => {
  await api?.stop();
  rmSync(work, { recursive: true, force: true });
}, 60_000);

describe("hosts: ipxeBuild from the CLI and the site file", () => {
  it("applies ipxeBuild from a site file, diffs clean afterwards, exports it, and changes it on the next apply", async () => {
    const file = (build: string | null) => ({
      apiVersion: "edgeboot/v1",
      site: { slug: "ib-lab", name: "ipxeBuild lab", bootAuth: "open" },
      hosts: [
        { hostname: "arm-1", mac: "52:54:00:ac:00:01", arch: "arm64", ipxeBuild: build },
        { hostname: "x86-1", mac: "52:54:00:ac:00:02" },
      ],
    });
    const path = join(work, "ib.site.yaml");
    writeFileSync(path, stringify(file("snponly")));
    const applied = await cli(["apply", "-f", path]);
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    expect((await get("/v1/sites/ib-lab/hosts/arm-1")).ipxeBuild).toBe("snponly");
    expect((await get("/v1/sites/ib-lab/hosts/x86-1")).ipxeBuild).toBeNull();
    const diff = await cli(["diff", "-f", path]);
    expect(diff.code, diff.stdout + diff.stderr).toBe(0);
    expect(diff.stdout).not.toMatch(/ipxeBuild/);

    const exported = await cli(["export", "--site", "ib-lab"]);
    expect(exported.code, exported.stderr).toBe(0);
    const hosts = (parse(exported.stdout) as { hosts: Array<Record<string, unknown>> }).hosts;
    expect(hosts.find((h) => h.hostname === "arm-1")?.ipxeBuild).toBe("snponly");
    expect(hosts.find((h) => h.hostname === "x86-1")).not.toHaveProperty("ipxeBuild");

    writeFileSync(path, stringify(file("ipxe")));
    const changed = await cli(["apply", "-f", path]);
    expect(changed.code, changed.stdout + changed.stderr).toBe(0);
    expect(changed.stdout + changed.stderr).toMatch(/ipxeBuild/);
    expect((await get("/v1/sites/ib-lab/hosts/arm-1")).ipxeBuild).toBe("ipxe");
  });

  it("refuses a file name in a site file at load, naming the field, before anything is sent", async () => {
    const path = join(work, "bad.site.yaml");
    writeFileSync(path, stringify({ apiVersion: "edgeboot/v1", site: { slug: "ib-bad", name: "bad" }, hosts: [{ hostname: "h-1", mac: "52:54:00:ac:01:01", ipxeBuild: "snponly.efi" }] }));
    const r = await cli(["apply", "-f", path]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/ipxeBuild/);
    expect((await fetch(`${api.url}/v1/sites/ib-bad`, { headers: { authorization: `Bearer ${api.adminToken}` } })).status).toBe(404);
  });

  it("hosts create --ipxe-build sets it; a bad value is the API's 400 naming ipxeBuild", async () => {
    const site = await cli(["sites", "create", "ib-cli", "--name", "ipxeBuild cli"]);
    expect(site.code, site.stderr).toBe(0);
    const ok = await cli(["hosts", "create", "snp-1", "--mac", "52:54:00:ac:02:01", "--ipxe-build", "snponly", "--site", "ib-cli"]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect((await get("/v1/sites/ib-cli/hosts/snp-1")).ipxeBuild).toBe("snponly");
    const bad = await cli(["hosts", "create", "snp-2", "--mac", "52:54:00:ac:02:02", "--ipxe-build", "snp.efi", "--site", "ib-cli"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/ipxeBuild/);
    expect((await fetch(`${api.url}/v1/sites/ib-cli/hosts/snp-2`, { headers: { authorization: `Bearer ${api.adminToken}` } })).status).toBe(404);
  });
});
