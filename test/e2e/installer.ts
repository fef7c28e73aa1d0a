// The Debian installer scenario's parts: Debian's own netboot installer (package debian-installer-12-netboot-amd64:
// its text-mode kernel `linux` and `initrd.gz`, unmodified), and the LAN services a site would have that the lab's
// site DHCP server does not give: a DNS server, and a stand-in for a package mirror that only logs what it is asked
// (the lab has no Debian mirror, so the install stops at the mirror check; see test/e2e/README.md).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { workRoot } from "./image.ts";
import type { TestNet } from "./netns.ts";
import { type Daemon, sh, startDaemon, waitFor } from "./proc.ts";

export const DI_PACKAGE = "debian-installer-12-netboot-amd64";
// Where the package's files live (also when it is installed with apt-get install).
export const DI_DIR = "usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64";
const here = fileURLToPath(new URL(".", import.meta.url));
const cacheRoot = process.env.E2E_CACHE_DIR || workRoot;

export interface Installer {
  version: string;
  kernel: string;
  initrd: string;
  kernelSha256: string;
  initrdSha256: string;
}

const sha256File = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

function candidateVersion(): string {
  const policy = () => /Candidate: (\S+)/.exec(sh("apt-cache", ["policy", DI_PACKAGE]))?.[1];
  let v = policy();
  if (!v || v === "(none)") {
    sh("apt-get", ["update", "-qq"]); // a fresh CI machine may have no package lists yet
    v = policy();
  }
  if (!v || v === "(none)") throw new Error(`apt has no candidate for ${DI_PACKAGE} (bookworm main)`);
  return v;
}

/** The installer's kernel and initrd: from the installed package if there is one, else `apt-get download` + extract,
 * cached by version under the e2e cache (E2E_CACHE_DIR or test/e2e/.work). */
export function ensureInstaller(): Installer {
  const installed = `/${DI_DIR}`;
  const described = (dir: string, version: string): Installer => {
    const kernel = join(dir, "linux");
    const initrd = join(dir, "initrd.gz");
    const sums = join(dir, "sha256.json");
    const cached = existsSync(sums) ? (JSON.parse(readFileSync(sums, "utf8")) as Installer) : null;
    if (cached?.version === version) return { ...cached, kernel, initrd };
    return { version, kernel, initrd, kernelSha256: sha256File(kernel), initrdSha256: sha256File(initrd) };
  };
  if (existsSync(join(installed, "initrd.gz"))) {
    const version = sh("dpkg-query", ["-W", "-f=${Version}", DI_PACKAGE]).trim();
    return described(installed, version);
  }
  const version = candidateVersion();
  const dir = join(cacheRoot, `d-i-${version.replace(/[^A-Za-z0-9.+-]/g, "_")}`);
  if (existsSync(join(dir, "sha256.json"))) return described(dir, version);
  mkdirSync(cacheRoot, { recursive: true });
  const tmp = join(cacheRoot, `d-i-tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    sh("apt-get", ["download", `${DI_PACKAGE}=${version}`], { cwd: tmp });
    const deb = readdirSync(tmp).find((f) => f.startsWith(`${DI_PACKAGE}_`) && f.endsWith(".deb"));
    if (!deb) throw new Error(`apt-get download ${DI_PACKAGE} left no .deb in ${tmp}`);
    // Only the two files, not the whole ~140 MB tree.
    sh("sh", ["-c", 'dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" "./$3/linux" "./$3/initrd.gz"', "sh", join(tmp, deb), tmp, DI_DIR]);
    const out = join(tmp, "out");
    mkdirSync(out);
    renameSync(join(tmp, DI_DIR, "linux"), join(out, "linux"));
    renameSync(join(tmp, DI_DIR, "initrd.gz"), join(out, "initrd.gz"));
    const image = described(out, version);
    writeFileSync(join(out, "sha256.json"), JSON.stringify({ ...image, kernel: "", initrd: "" }, null, 2));
    rmSync(dir, { recursive: true, force: true });
    renameSync(out, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  // Older installer versions are never used again.
  for (const d of readdirSync(cacheRoot)) if (d.startsWith("d-i-") && !d.startsWith("d-i-tmp-") && d !== basename(dir)) rmSync(join(cacheRoot, d), { recursive: true, force: true });
  return described(dir, version);
}

export interface LanServices {
  /** The DNS server's address (the router's LAN address). */
  dns: string;
  /** Name the mirror stand-in answers as (resolved by that DNS server). */
  mirrorHost: string;
  /** DNS queries dnsmasq logged: `query[A] <name> from <ip>`. */
  dnsQueries(): { type: string; name: string; from: string }[];
  /** Requests the mirror stand-in received. */
  mirrorRequests(): { at: number; method: string; url: string; host: string; userAgent: string; from: string }[];
  stop(): Promise<void>;
}

/**
 * A DNS server (dnsmasq, DNS only) and the mirror stand-in (test/e2e/mirrorstub.mjs: answers 404, logs each request)
 * in the router namespace, on its edgeboot LAN address, as a site's router would offer. `mirrorHost` (and anything
 * else under `domain`) resolves to that address; nothing is forwarded upstream.
 */
export async function startLanServices(net: TestNet, workDir: string, domain: string): Promise<LanServices> {
  const ip = net.ip.router;
  const mirrorHost = `deb.${domain}`;
  const dnsLog = join(workDir, "lan-dns.log");
  const mirrorLog = join(workDir, "mirror-stub.log");
  const daemons: Daemon[] = [];
  const stop = async () => {
    for (const d of daemons) await d.stop();
  };
  try {
    daemons.push(
      startDaemon({
        name: "lan-dns",
        ns: net.ns.router,
        cmd: "dnsmasq",
        log: dnsLog,
        args: [
          "--keep-in-foreground",
          "--log-facility=-",
          "--log-queries",
          "--user=root",
          "--port=53",
          `--listen-address=${ip}`,
          "--bind-interfaces",
          "--no-resolv",
          "--no-hosts",
          `--address=/${domain}/${ip}`,
          `--pid-file=${join(workDir, "lan-dns.pid")}`,
        ],
      }),
    );
    daemons.push(startDaemon({ name: "mirror-stub", ns: net.ns.router, cmd: process.execPath, args: [join(here, "mirrorstub.mjs"), ip, "80"], log: mirrorLog }));
    await waitFor("the mirror stand-in to listen", 30_000, () => (existsSync(mirrorLog) && readFileSync(mirrorLog, "utf8").includes("listening") ? true : undefined));
    await waitFor("the LAN DNS server to start", 30_000, () => (existsSync(dnsLog) && /started, version/.test(readFileSync(dnsLog, "utf8")) ? true : undefined));
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    dns: ip,
    mirrorHost,
    dnsQueries: () =>
      [...readFileSync(dnsLog, "utf8").matchAll(/query\[(\w+)\] (\S+) from (\S+)/g)].map((m) => ({ type: m[1]!, name: m[2]!, from: m[3]! })),
    mirrorRequests: () =>
      readFileSync(mirrorLog, "utf8")
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l)),
    stop,
  };
}
