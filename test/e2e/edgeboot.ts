// edgeboot as a site runs it: the catalogue built through the admin API the way an operator would (artifacts
// uploaded with curl -T, an image, profiles, a site with a relay, hosts), and the relay started on the LAN.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AdminApi } from "./api.ts";
import type { BootImage } from "./image.ts";
import type { TestNet } from "./netns.ts";
import { type Daemon, startDaemon, waitFor } from "./proc.ts";

const repo = fileURLToPath(new URL("../..", import.meta.url));

export const SITE = "e2e-lab";
export const IMAGE = "e2e-linux";
export const PROFILE = "e2e-normal";
export const INSTALLER = "e2e-installer";
export const CMDLINE = "console=ttyS0";
export const RELAY_HTTP_PORT = 8067;

// The normal OS prints who it is and a per-host variable, so a VM that got another host's data is caught.
const normalUserData = '#!/bin/sh\necho "EDGEBOOT user-data ran on $(hostname) word={{ var.word }} profile={{ profile.name }}"\n';
// The installer reports "installed" instead of "booted" (the phase that ends a one-shot reinstall intent).
const installerUserData = '#!/bin/sh\necho "EDGEBOOT installer ran on $(hostname)"\necho installed > "$EDGEBOOT_PHASE_FILE"\n';

export interface Catalogue {
  relayCredential: string;
  relayName: string;
}

export async function buildCatalogue(api: AdminApi, image: BootImage): Promise<Catalogue> {
  api.uploadArtifact(image.kernel, image.kernelSha256);
  api.uploadArtifact(image.initrd, image.initrdSha256);
  await api.post("/v1/images", {
    name: IMAGE,
    arch: "x86_64",
    version: image.kernelPackage.replace(/\.deb$/, ""),
    artifacts: { kernel: image.kernelSha256, initrd: [image.initrdSha256] },
  });
  await api.post("/v1/profiles", { name: PROFILE, image: IMAGE, cmdline: CMDLINE, userData: normalUserData, vars: { word: "profile-default" } });
  await api.post("/v1/profiles", { name: INSTALLER, image: IMAGE, cmdline: CMDLINE, userData: installerUserData });
  // Unknown machines are recorded and told to wait; the shortest retry keeps the discover scenario quick.
  await api.post("/v1/sites", { slug: SITE, name: "e2e lab", bootAuth: "relay", unknownHostPolicy: "discover", discoverRetrySeconds: 5 });
  const relayName = "lan-relay";
  const created: { credential: string } = await api.post(`/v1/sites/${SITE}/relays`, { name: relayName });
  return { relayCredential: created.credential, relayName };
}

export interface HostSpec {
  hostname: string;
  mac: string;
  profile?: string;
  word?: string;
  intent?: { target: string; mode: "once" | "always"; revertOnPhase?: string };
}

export async function addHost(api: AdminApi, host: HostSpec): Promise<void> {
  await api.post(`/v1/sites/${SITE}/hosts`, {
    hostname: host.hostname,
    mac: host.mac,
    profile: host.profile ?? PROFILE,
    vars: { word: host.word ?? `word-of-${host.hostname}` },
    ...(host.intent ? { intent: host.intent } : {}),
  });
}

export interface Relay {
  readonly daemon: Daemon;
  readonly url: string;
  readonly log: string;
  /** Whole, verified artifacts are files named by their sha256 here (relay/cache/names.ts). */
  readonly cacheDir: string;
  stop(): Promise<void>;
}

/** Starts relay/main.ts in the relay namespace and waits for its HTTP side to answer; `extraArgs` go last. */
export async function startRelay(net: TestNet, apiUrl: string, catalogue: Catalogue, workDir: string, extraArgs: string[] = []): Promise<Relay> {
  const credentialFile = join(workDir, "relay-credential");
  writeFileSync(credentialFile, catalogue.relayCredential, { mode: 0o600 });
  const log = join(workDir, "relay.log");
  const stateDir = join(workDir, "relay-state");
  const daemon = startDaemon({
    name: "relay",
    ns: net.ns.relay,
    cmd: process.execPath, // the Node 22 running the tests (relay/ is TypeScript run by Node's type stripping)
    args: [
      join(repo, "relay/main.ts"),
      "--api-url", apiUrl,
      "--site", SITE,
      "--credential-file", credentialFile,
      "--interface", "lan0",
      "--state-dir", stateDir,
      "--http-port", String(RELAY_HTTP_PORT),
      "--sync-interval", "2",
      "--log-level", "debug",
      ...extraArgs,
    ],
    log,
    cwd: repo,
  });
  const url = `http://${net.ip.relay}:${RELAY_HTTP_PORT}`;
  try {
    await waitFor("the relay's /healthz", 60_000, async () => {
      if (daemon.child.exitCode !== null) throw new Error(`relay exited with ${daemon.child.exitCode}; see ${log}`);
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
      return res?.ok ? true : undefined;
    });
  } catch (err) {
    await daemon.stop();
    throw err;
  }
  return { daemon, url, log, cacheDir: join(stateDir, "cache"), stop: () => daemon.stop() };
}
