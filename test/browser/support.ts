// Shared by the browser suite: Debian's chromium for puppeteer-core, an admin API client for seeding the way an
// operator would, a machine that boots through the real boot routes, and screenshots in a git-ignored folder.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import puppeteer, { type Browser, type Page } from "puppeteer-core";

export const SCREENSHOTS = fileURLToPath(new URL("./screenshots/", import.meta.url));

const CANDIDATES = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"].filter((p): p is string => Boolean(p));

export function chromiumPath(): string {
  const found = CANDIDATES.find((p) => existsSync(p));
  if (!found) {
    throw new Error(
      `the browser suite needs Debian's chromium package (looked for ${CANDIDATES.join(", ")}): apt-get install -y chromium, or set CHROMIUM_PATH. puppeteer-core never downloads a browser.`,
    );
  }
  return found;
}

export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    // Root in CI containers cannot use Chromium's user-namespace sandbox; /dev/shm is often tiny there.
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run", "--no-default-browser-check", ...extraArgs],
  });
}

export async function shot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

export type Admin = {
  <T = any>(method: string, path: string, body?: unknown, token?: string): Promise<T>;
  raw(method: string, path: string, init?: { body?: BodyInit; headers?: Record<string, string>; token?: string | null }): Promise<Response>;
};

// Throws with the API's error body unless the call succeeds, so a broken seed fails at its line.
export function adminApi(base: string, rootToken: string): Admin {
  const raw = (method: string, path: string, init: { body?: BodyInit; headers?: Record<string, string>; token?: string | null } = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    const token = init.token === undefined ? rootToken : init.token;
    if (token) headers.authorization = `Bearer ${token}`;
    return fetch(`${base}${path}`, { method, headers, body: init.body });
  };
  const call = async (method: string, path: string, body?: unknown, token?: string) => {
    const res = await raw(method, path, { body: body === undefined ? undefined : JSON.stringify(body), headers: body === undefined ? {} : { "content-type": "application/json" }, token });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  return Object.assign(call, { raw }) as Admin;
}

const sha256 = async (bytes: Uint8Array) => Buffer.from(await crypto.subtle.digest("SHA-256", bytes)).toString("hex");

// A tiny image whose "kernel" and "initrd" are real uploads (the boot routes check hashes, not that they boot).
export async function seedBootableProfile(admin: Admin, profile: string) {
  const kernel = new TextEncoder().encode(`kernel for ${profile}\n`);
  const initrd = new TextEncoder().encode(`initrd for ${profile}\n`);
  const hashes = [];
  for (const bytes of [kernel, initrd]) {
    const sha = await sha256(bytes);
    const res = await admin.raw("PUT", `/v1/artifacts/${sha}`, { body: bytes, headers: { "content-type": "application/octet-stream" } });
    if (!res.ok) throw new Error(`upload → ${res.status} ${await res.text()}`);
    hashes.push(sha);
  }
  await admin("POST", "/v1/images", { name: `${profile}-img`, arch: "x86_64", artifacts: { kernel: hashes[0], initrd: [hashes[1]] } });
  await admin("POST", "/v1/profiles", { name: profile, image: `${profile}-img`, cmdline: "console=ttyS0", userData: "#cloud-config\nhostname: {{ host.hostname }}\n" });
  return { kernel: hashes[0]!, initrd: hashes[1]! };
}

// What a machine does on a site with bootAuth "open": the chain from the Worker, then the host-token URLs it names.
export class Machine {
  token: string | null = null;
  constructor(
    readonly base: string,
    readonly site: string,
    readonly mac: string,
  ) {}

  async chain(): Promise<string> {
    const res = await fetch(`${this.base}/boot/${this.site}/ipxe?mac=${this.mac}&arch=x86_64&platform=efi`);
    const body = await res.text();
    if (!res.ok) throw new Error(`chain → ${res.status} ${body}`);
    this.token = /\/boot\/h\/([^/\s"]+)\//.exec(body)?.[1] ?? null;
    return body;
  }

  private async hostCall(path: string) {
    if (!this.token) throw new Error("no host token yet: chain() first");
    const res = await fetch(`${this.base}/boot/h/${this.token}/${path}`);
    if (!res.ok) throw new Error(`${path} → ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  }

  artifact = (sha: string) => this.hostCall(`artifacts/${sha}`);
  nocloud = (file: string) => this.hostCall(`nocloud/${file}`);
  report = (phase: string) => this.hostCall(`events?phase=${phase}`);
}

// Relay events as a site's relay sends them (POST /relay/v1/events with its credential).
export async function relayEvents(base: string, credential: string, events: { phase: string; mac?: string; detail?: Record<string, unknown> }[]) {
  const body = { events: events.map((e) => ({ id: crypto.randomUUID(), at: Date.now(), ...e })) };
  const res = await fetch(`${base}/relay/v1/events`, { method: "POST", headers: { authorization: `Bearer ${credential}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`relay events → ${res.status} ${await res.text()}`);
}

export async function registerRelay(base: string, credential: string, version: string) {
  const { publicKey } = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]) as CryptoKeyPair;
  const jwk = (await crypto.subtle.exportKey("jwk", publicKey)) as JsonWebKey;
  const res = await fetch(`${base}/relay/v1/register`, {
    method: "POST",
    headers: { authorization: `Bearer ${credential}`, "content-type": "application/json" },
    body: JSON.stringify({ publicKeyJwk: { kty: "OKP", crv: "Ed25519", x: jwk.x }, lanAddress: "10.77.0.2", cacheUrl: "http://10.77.0.2:8067/artifacts/", version }),
  });
  if (!res.ok) throw new Error(`register → ${res.status} ${await res.text()}`);
}
