// cloud-init's own phone_home module (Debian 12's 22.4.2 and Debian 13's 25.1.4, extracted, never installed) posting
// to the events URL of a real chain from a real Worker (`wrangler dev`): its form body (`post: all`, with the host's
// SSH public keys) records `booted` with the fields as detail, and ends the boot session for secret-bearing files.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWranglerDev, type WranglerDev } from "../helpers/wrangler.ts";
import { cloudInit, requirePython, runPython, type CloudInit } from "./cloudinit/peers.ts";
import { adminClient } from "./support/adminClient.ts";

const DRIVER = fileURLToPath(new URL("./cloudinit/phone_home.py", import.meta.url));
const KEYS = {
  "ssh_host_ed25519_key.pub": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOIiHcbg/7ytfLFHUNLRgEAubFz/13SwXBOM/05GNZe4 root@node\n",
  "ssh_host_ecdsa_key.pub": `ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBB${"Q".repeat(88)}= root@node\n`,
  "ssh_host_rsa_key.pub": `ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAACAQ${"C".repeat(680)}= root@node\n`,
};

let wrangler: WranglerDev;
let versions: CloudInit[];
let work: string;
const { call: api, artifact } = adminClient(() => wrangler);

beforeAll(async () => {
  requirePython();
  versions = [cloudInit("bookworm"), cloudInit("trixie")];
  work = mkdtempSync(join(tmpdir(), "edgeboot-phonehome-"));
  mkdirSync(join(work, "keys"));
  for (const [name, text] of Object.entries(KEYS)) writeFileSync(join(work, "keys", name), text);
  wrangler = await startWranglerDev();
  await api("POST", "/v1/sites", { slug: "lab", name: "Lab", bootAuth: "open" });
  const kernel = await artifact(Buffer.from("kernel bytes"));
  const initrd = await artifact(Buffer.from("initrd bytes"));
  await api("POST", "/v1/images", { name: "debian", arch: "x86_64", artifacts: { kernel, initrd: [initrd] } });
  await api("POST", "/v1/profiles", { name: "live", image: "debian", userData: "#cloud-config\nphone_home:\n  url: {{ boot.eventsUrl }}?phase=booted\n  post: all\n" });
  await api("POST", "/v1/sites/lab/hosts", { hostname: "node-1", mac: "52:54:00:ab:00:01", profile: "live" });
}, 10 * 60_000);

afterAll(async () => {
  await wrangler?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("cloud-init phone_home → events", () => {
  it.each([["bookworm"], ["trixie"]] as const)("%s: the module's form POST records booted and closes the boot's secret-bearing files", async (dist) => {
    const ci = versions.find((v) => v.dist === dist)!;
    const chain = await fetch(`${wrangler.url}/boot/lab/ipxe?mac=52:54:00:ab:00:01`).then((r) => r.text());
    const seed = /;s=(http\S+\/nocloud\/)/.exec(chain)![1]!;
    // The URL as the user-data renders it for this boot.
    const userData = await fetch(`${seed}user-data`).then((r) => r.text());
    const url = /url: (\S+)/.exec(userData)![1]!.replace(/^"|"$/g, "");
    expect(url).toMatch(/\/boot\/h\/[\w.-]+\/events\?phase=booted$/);

    const run = runPython(ci, DRIVER, [url, join(work, "keys"), "iid-node-1", "node-1", "node-1.lab.example"]);
    expect(run.status, run.stderr).toBe(0);
    // No failure swallowed by the module (only the missing DSA key, reported as N/A, is expected).
    expect(JSON.parse(run.stdout.trim().split("\n").pop()!)).toEqual({ error: null, logged: [] });

    const listed = await api("GET", "/v1/sites/lab/events?phase=booted&limit=1");
    const [booted] = listed.items ?? listed.events;
    expect(booted, `${JSON.stringify(listed)}\n${run.stderr}`).toBeDefined();
    expect(booted.detail).toMatchObject({
      instance_id: "iid-node-1",
      hostname: "node-1",
      fqdn: "node-1.lab.example",
      // 22.4 still posts the DSA key ("N/A" when absent); 25.x no longer asks for it.
      ...(dist === "bookworm" ? { pub_key_dsa: "N/A" } : {}),
      pub_key_ed25519: KEYS["ssh_host_ed25519_key.pub"].trim(),
      pub_key_rsa: KEYS["ssh_host_rsa_key.pub"].trim(),
    });
    // The boot reported done: its user-data is closed.
    const replay = await fetch(`${seed}user-data`);
    expect(replay.status).toBe(410);
    expect(((await replay.json()) as { error: { code: string } }).error.code).toBe("boot_done");
  });
});
