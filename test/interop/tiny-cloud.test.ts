// Alpine's tiny-cloud NoCloud module (vendored unmodified in test/interop/tiny-cloud/) run under busybox sh with
// busybox wget against a real Worker and the chain's exact kernel line: it detects NoCloud, wants its ephemeral
// network for the http seed, fetches the seed files through the double slash, and writes the host's static
// network-interfaces to /etc/network/interfaces and its nameservers to /etc/resolv.conf. (`yx`, its YAML reader, is
// Alpine-only: a small stand-in built on Debian's python3-yaml answers the same key paths.)
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { startWranglerDev, type WranglerDev } from "../helpers/wrangler.ts";
import { PYTHON, requirePython } from "./cloudinit/peers.ts";

const TC = fileURLToPath(new URL("./tiny-cloud/", import.meta.url));
const MAC = "52:54:00:bb:00:01";
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOIiHcbg/7ytfLFHUNLRgEAubFz/13SwXBOM/05GNZe4 ops@example";
const NETWORK = { addresses: ["10.0.0.60/24", "fd00::60/64"], gateway4: "10.0.0.1", gateway6: "fd00::1", nameservers: ["10.0.0.53", "fd00::53"] };

// yx -f <file> <key>...: the value at that path (scalars), or the keys/indices of a map/list, one per line.
const YX = `#!${PYTHON}
import sys, yaml
args = sys.argv[1:]
if args[:1] == ["-f"]:
    data = yaml.safe_load(open(args[1])); args = args[2:]
else:
    data = yaml.safe_load(sys.stdin)
for k in args:
    if isinstance(data, list): data = data[int(k)]
    elif isinstance(data, dict): data = data.get(k) if k in data else data.get(int(k)) if k.isdigit() else None
    if data is None: sys.exit(1)
if isinstance(data, dict): print("\\n".join(str(k) for k in data))
elif isinstance(data, list): print("\\n".join(str(i) for i in range(len(data))))
else: print(data)
`;

let wrangler: WranglerDev;
let work: string;
let bin: string;

async function admin(method: string, path: string, body?: unknown) {
  const res = await fetch(`${wrangler.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${wrangler.adminToken}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status} ${await res.text()}`);
}

async function kernelLine(): Promise<string> {
  const script = await (await fetch(`${wrangler.url}/boot/lab/ipxe?mac=${MAC}`)).text();
  const line = script.split("\n").find((l) => l.startsWith("kernel "))!;
  return `kernel ${line.replace(/^kernel --name kernel \S+ /, "").replace(/ \|\| goto retry$/, "")}`;
}

// Runs a snippet with tiny-cloud's functions loaded, as its init would, in a fake root.
function tinyCloud(root: string, snippet: string) {
  const script = `
    log() { echo "log: $*" >&2; }
    replace_word() { echo "$@"; }
    add_once() { grep -qxF "$2" "$1" 2>/dev/null || echo "$2" >> "$1"; }
    init__set_default_interfaces() { echo "default interfaces" >&2; }
    imds() { _imds "$@"; }
    . "${TC}imds"
    . "${TC}init"
    ${snippet}`;
  return spawnSync("busybox", ["sh", "-c", script], {
    encoding: "utf8",
    env: { PATH: `${bin}:/usr/bin:/bin`, ROOT: root, TINY_CLOUD_VAR: join(root, "var/lib/cloud"), MOCK: "echo" },
    timeout: 60_000,
  });
}

beforeAll(async () => {
  requirePython();
  if (spawnSync("busybox", ["--list"]).status !== 0) throw new Error("interop peer missing: busybox (apt-get install busybox)");
  work = mkdtempSync(join(tmpdir(), "edgeboot-tinycloud-"));
  bin = join(work, "bin");
  mkdirSync(bin);
  symlinkSync("/usr/bin/busybox", join(bin, "wget"));
  writeFileSync(join(bin, "yx"), YX);
  chmodSync(join(bin, "yx"), 0o755);
  wrangler = await startWranglerDev();
  await admin("POST", "/v1/sites", { slug: "lab", name: "Lab", bootAuth: "open", vars: { sshAuthorizedKeys: [KEY] } });
  const sha = async (text: string) => {
    const bytes = new TextEncoder().encode(text);
    const hex = [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
    const res = await fetch(`${wrangler.url}/v1/artifacts/${hex}`, { method: "PUT", headers: { authorization: `Bearer ${wrangler.adminToken}` }, body: bytes });
    if (res.status >= 300) throw new Error(`artifact → ${res.status}`);
    return hex;
  };
  await admin("POST", "/v1/images", { name: "alpine", arch: "x86_64", artifacts: { kernel: await sha("vmlinuz-virt"), initrd: [await sha("initramfs-virt")] } });
  await admin("POST", "/v1/profiles", { name: "alpine", image: "alpine", cmdline: "console=ttyS0 modules=loop,squashfs", userData: "#alpine-config\npackages: [curl]\nruncmd: [\"echo {{ host.hostname }}\"]\n" });
  await admin("POST", "/v1/sites/lab/hosts", { hostname: "alp-1", mac: MAC, profile: "alpine", network: NETWORK });
}, 10 * 60_000);

afterAll(async () => {
  await wrangler?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("tiny-cloud NoCloud module", () => {
  it("detects NoCloud and wants its ephemeral network for the chain's kernel line", async () => {
    const root = mkdtempSync(join(work, "root-"));
    mkdirSync(join(root, "proc"));
    writeFileSync(join(root, "proc/cmdline"), `${await kernelLine()}\n`);
    const detect = spawnSync("busybox", ["sh", `${TC}autodetect`], { encoding: "utf8", env: { ROOT: root, PATH: "/usr/bin:/bin" } });
    expect(detect.stdout.trim().split("\n").pop()).toBe("10 nocloud");
    const want = tinyCloud(root, "want_ephemeral_network && echo WANT || echo NO");
    expect(want.stdout.trim()).toBe("WANT");
  });

  it("loads the seed over http and applies meta-data's network-interfaces and nameservers", async () => {
    const root = mkdtempSync(join(work, "root-"));
    mkdirSync(join(root, "proc"));
    mkdirSync(join(root, "var/lib/cloud"), { recursive: true });
    writeFileSync(join(root, "proc/cmdline"), `${await kernelLine()}\n`);
    const run = tinyCloud(root, 'load_nocloud && echo LOADED; echo "host=$(imds meta-data/hostname)"; echo "key=$(imds meta-data/public-keys/0/openssh-key)"; init__set_network_interfaces && echo NET');
    expect(run.stdout, run.stderr).toContain("LOADED");
    // The only complaint: our dsmode key, which tiny-cloud ignores.
    expect(run.stderr.split("\n").filter((l) => l.startsWith("log:"))).toEqual(["log: -s warning Unknown NoCloud kernel cmdline key 'dsmode'"]);
    expect(run.stdout).toContain("host=alp-1");
    expect(run.stdout).toContain(`key=${KEY}`);
    expect(run.stdout).toContain("NET");
    const varDir = join(root, "var/lib/cloud");
    const md = parse(readFileSync(join(varDir, "meta-data"), "utf8"));
    expect(md).toMatchObject({ hostname: "alp-1", "public-keys": { "0": { "openssh-key": KEY } } });
    expect(readFileSync(join(varDir, "user-data"), "utf8")).toBe('#alpine-config\npackages: [curl]\nruncmd: ["echo alp-1"]\n\n');
    expect(readFileSync(join(root, "etc/network/interfaces"), "utf8")).toBe(
      "auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet static\n\taddress 10.0.0.60/24\n\taddress fd00::60/64\n\tgateway 10.0.0.1\n\tgateway fd00::1\n",
    );
    expect(readFileSync(join(root, "etc/resolv.conf"), "utf8")).toBe("nameserver 10.0.0.53\nnameserver fd00::53\n");
    expect(existsSync(join(varDir, ".nocloud_loaded"))).toBe(true);
  });
});
