// The CLI's refusals that need no API: bad flags, unreadable @files, bad --data, missing token or URL. Each is one
// `error[code]: message` line naming what to fix, with exit 2 for usage (1 for an unreachable API), never a stack
// trace or an "internal" error. The API URL points at a closed port, so anything sent would fail as unreachable.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../helpers/wrangler.ts";
import { edgeboot } from "./run.ts";

const work = mkdtempSync(join(tmpdir(), "edgeboot-cli-usage-"));
let env: Record<string, string>;

beforeAll(async () => {
  env = { HOME: work, XDG_CONFIG_HOME: join(work, "config"), XDG_CACHE_HOME: join(work, "cache"), EDGEBOOT_API: `http://127.0.0.1:${await freePort()}`, EDGEBOOT_TOKEN: "t".repeat(20) };
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const cases: [string[], number, RegExp, Record<string, string | undefined>?][] = [
  [["sites", "list", "--bogus"], 2, /^error: unknown option '--bogus'/],
  [["frobnicate"], 2, /^error: unknown command 'frobnicate'/],
  [["sites", "list", "-o", "xml"], 2, /^error\[usage\]: -o\/--output is table, json or yaml; got "xml"/],
  [["hosts", "list"], 2, /^error\[usage\]: which site\? pass --site SLUG/],
  [["hosts", "create", "h1", "--site", "lab", "--data", "@missing.json"], 2, /^error\[usage\]: --data @missing\.json: cannot read missing\.json \(ENOENT\)/],
  [["hosts", "create", "h1", "--site", "lab", "--data", "{bad"], 2, /^error\[usage\]: --data is not JSON or YAML: /],
  [["hosts", "create", "h1", "--site", "lab", "--data", "[1]"], 2, /^error\[usage\]: --data must be a JSON or YAML object/],
  [["profiles", "create", "p1", "--user-data", "@missing.yaml"], 2, /^error\[usage\]: --user-data @missing\.yaml: cannot read missing\.yaml \(ENOENT\)/],
  [["secrets", "set", "S1", "--site", "lab", "--from-file", "missing.txt"], 2, /^error\[usage\]: --from-file missing\.txt: cannot read it \(ENOENT\)/],
  [["secrets", "set", "S1", "--site", "lab", "--from-env", "NOT_SET_ANYWHERE"], 2, /^error\[usage\]: environment variable NOT_SET_ANYWHERE is not set/],
  [["boot", "node-01", "--site", "lab"], 2, /^error\[usage\]: give exactly one of --once PROFILE, --always PROFILE, --local or --clear/],
  [["render", "node-01", "bogus", "--site", "lab"], 2, /^error\[usage\]: render what\? one of ipxe/],
  [["sites", "list"], 1, /^error\[no_token\]: no token: set EDGEBOOT_TOKEN/, { EDGEBOOT_TOKEN: undefined }],
  [["sites", "list"], 1, /^error\[no_api\]: the API URL must be http\(s\):\/\/…; got "127\.0\.0\.1:8787"/, { EDGEBOOT_API: "127.0.0.1:8787" }],
  [["sites", "list"], 1, /^error\[unreachable\]: cannot reach the API at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/],
];

describe("usage errors without an API", () => {
  it.each(cases)("edgeboot %j exits %i", async (args, code, message, extra) => {
    const r = await edgeboot(args, { ...env, ...extra });
    expect(r.code, r.stderr).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/error\[internal\]|\n\s+at /);
    expect(r.stdout).toBe("");
  });
});
