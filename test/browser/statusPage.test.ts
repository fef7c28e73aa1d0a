// The status page in a real browser: Debian's headless chromium driven by puppeteer-core against a real wrangler dev.
// An operator logs in, follows a boot timeline while a machine boots through the real boot and relay routes, enrolls
// a discovered machine, and the scope limits hold (read token cannot act, site token sees only its site); also on a
// phone-size screen. Screenshots go to test/browser/screenshots/ (git-ignored).
import type { Browser, Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWranglerDev, type WranglerDev } from "../helpers/wrangler.ts";
import { type Admin, adminApi, chromiumPath, launchChromium, Machine, registerRelay, relayEvents, seedBootableProfile, shot } from "./support.ts";

// Functions passed to page.evaluate run in the page; the repo's tsconfig has no DOM lib, so name its globals here.
declare const document: any;
declare const window: any;
declare const location: any;
declare function getComputedStyle(el: unknown, pseudo?: string): any;

const SITE = "lab";
const OTHER = "branch";
const PROFILE = "linux";
const NODE_MAC = "52:54:00:aa:00:01";
const CLIENT = "10.77.0.50";
// The issue's bound: a new event shows on the page within 2 s.
const LIVE_MS = 2000;

let api: WranglerDev;
let admin: Admin;
let browser: Browser;
let relayCredential: string;
let readToken: string;
let siteToken: string;
let artifacts: { kernel: string; initrd: string };
const screenshots: string[] = [];

beforeAll(async () => {
  chromiumPath(); // fail first, naming the package, if the browser is missing
  // Frozen: edits to the tree during the run (other work in the same checkout) must not reload the Worker mid-test.
  api = await startWranglerDev({ frozen: "bundle" });
  admin = adminApi(api.url, api.adminToken);
  artifacts = await seedBootableProfile(admin, PROFILE);
  await admin("POST", "/v1/sites", { slug: SITE, name: "Lab east", bootAuth: "open", unknownHostPolicy: "discover", discoverRetrySeconds: 5 });
  await admin("POST", "/v1/sites", { slug: OTHER, name: "Branch office", bootAuth: "open" });
  await admin("POST", `/v1/sites/${SITE}/hosts`, { hostname: "node-1", mac: NODE_MAC, profile: PROFILE, labels: { rack: "r1" } });
  await admin("POST", `/v1/sites/${SITE}/hosts`, { hostname: "node-2", mac: "52:54:00:aa:00:02", profile: PROFILE, state: "installed" });
  await admin("POST", `/v1/sites/${OTHER}/hosts`, { hostname: "branch-1", mac: "52:54:00:bb:00:01", profile: PROFILE });
  relayCredential = (await admin("POST", `/v1/sites/${SITE}/relays`, { name: "lan-relay" })).credential;
  await registerRelay(api.url, relayCredential, "0.1.0-test");
  readToken = (await admin("POST", "/v1/tokens", { name: "viewer", scopes: ["read"] })).secret;
  siteToken = (await admin("POST", "/v1/tokens", { name: "lab-ops", scopes: [`site:${SITE}`] })).secret;
  browser = await launchChromium();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await api?.stop();
  if (screenshots.length) console.log(`screenshots:\n${screenshots.map((p) => `  ${p}`).join("\n")}`);
});

async function snap(page: Page, name: string) {
  screenshots.push(await shot(page, name));
}

async function loggedIn(token: string, viewport = { width: 1280, height: 900 }): Promise<Page> {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport(viewport);
  await page.goto(`${api.url}/ui`);
  expect(new URL(page.url()).pathname).toBe("/ui/login");
  // The token field has focus on arrival: type and press Enter, no mouse needed.
  expect(await page.evaluate(() => document.activeElement?.id)).toBe("token");
  await page.keyboard.type(token);
  await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
  return page;
}

const text = (page: Page) => page.evaluate(() => document.body.innerText);

// Every visible form control has a label, and text meets WCAG AA contrast (4.5:1) against its background.
async function accessibilityProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    for (const el of document.querySelectorAll("input:not([type=hidden]), select")) {
      if (!el.labels?.length && !el.getAttribute("aria-label")) problems.push(`unlabelled ${el.tagName.toLowerCase()} ${el.name}`);
    }
    const rgb = (s: string) => (s.match(/[\d.]+/g) ?? []).map(Number);
    const lum = (c: number[]) => {
      const [r, g, b] = c.slice(0, 3).map((v) => {
        const x = v / 255;
        return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
    };
    const background = (el: any): number[] => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length >= 3 && (c.length < 4 || c[3]! > 0)) return c;
      }
      return [255, 255, 255];
    };
    for (const el of document.querySelectorAll("a, button, .badge, .muted, .help, td, th, p, dd, dt, label, code, li")) {
      if (!el.offsetParent || !el.textContent?.trim()) continue;
      const fg = lum(rgb(getComputedStyle(el).color));
      const bg = lum(background(el));
      const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
      if (ratio < 4.5) problems.push(`contrast ${ratio.toFixed(2)} for ${el.tagName.toLowerCase()}.${el.className}: "${el.textContent.trim().slice(0, 30)}"`);
    }
    return [...new Set(problems)];
  });
}

const noHorizontalScroll = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);

describe("status page in chromium", () => {
  it("logs in with a token and shows sites, relay health, version and host counts", async () => {
    const page = await loggedIn(api.adminToken);
    expect(await page.$eval("h1", (h) => h.textContent)).toBe("Sites");
    const body = await text(page);
    expect(body).toContain("Lab east");
    expect(body).toContain("Branch office");
    expect(body).toContain("lan-relay");
    expect(body).toContain("healthy");
    expect(body).not.toContain(api.adminToken);
    // Keyboard: the first Tab reaches the skip link.
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Skip to content");
    expect(await accessibilityProblems(page)).toEqual([]);
    await snap(page, "01-sites");
    await page.close();
  });

  it("follows a boot timeline live as the relay and the machine report each stage", async () => {
    const page = await loggedIn(api.adminToken);
    await page.goto(`${api.url}/ui/sites/${SITE}/hosts/node-1`);
    expect(await text(page)).toContain("No boot events yet");
    const machine = new Machine(api.url, SITE, NODE_MAC);
    const latency: Record<string, number> = {};
    const step = async (phase: string, act: () => Promise<unknown>) => {
      const started = Date.now();
      await act();
      await page.waitForSelector(`#timeline tr[data-phase="${phase}"]`, { timeout: 10_000 });
      latency[phase] = Date.now() - started;
    };
    await step("dhcp-offer", () => relayEvents(api.url, relayCredential, [{ phase: "dhcp-offer", mac: NODE_MAC, detail: { client: CLIENT } }]));
    await step("tftp-sent", () => relayEvents(api.url, relayCredential, [{ phase: "tftp-sent", mac: NODE_MAC, detail: { file: "ipxe.efi", client: CLIENT } }]));
    await step("chain-served", () => machine.chain());
    // A MAC-less cache event is the host's because it came from the host's address.
    await step("cache-hit", () => relayEvents(api.url, relayCredential, [{ phase: "cache-hit", detail: { sha256: artifacts.kernel, bytes: 7_340_032, client: CLIENT } }]));
    await step("artifact-fetched", () => machine.artifact(artifacts.initrd));
    await step("nocloud-meta-data", () => machine.nocloud("meta-data"));
    await step("nocloud-user-data", () => machine.nocloud("user-data"));
    await snap(page, "02-timeline-in-progress");
    await step("booted", () => machine.report("booted"));
    console.log(`timeline: ms from the report to the row on the page: ${JSON.stringify(latency)}`);
    for (const [phase, ms] of Object.entries(latency)) expect(ms, `${phase} shown after ${ms} ms`).toBeLessThanOrEqual(LIVE_MS);

    const stages = await page.$$eval("#timeline ol.stages li", (lis) => lis.map((li: any) => [li.querySelector(".name")?.textContent, li.className]));
    expect(stages).toEqual([
      ["DHCP", "stage done"],
      ["TFTP", "stage done"],
      ["iPXE chain", "stage done"],
      ["Artifacts", "stage done"],
      ["cloud-init", "stage done"],
      ["Host report", "stage done"],
    ]);
    expect(await page.$eval("#timeline .boot-head", (p: any) => p.textContent)).toContain("finished");
    expect(await accessibilityProblems(page)).toEqual([]);
    await snap(page, "03-timeline-booted");
    await page.close();
  });

  it("enrolls a discovered machine with one form, and the machine then boots its profile", async () => {
    const mac = "52:54:00:cc:00:07";
    const machine = new Machine(api.url, SITE, mac);
    await machine.chain(); // answered with the discover script: wait and retry
    const deadline = Date.now() + 10_000;
    while ((await admin("GET", `/v1/sites/${SITE}/hosts?state=discovered`)).items.length === 0) {
      if (Date.now() > deadline) throw new Error("the machine was not recorded as discovered");
      await new Promise((r) => setTimeout(r, 200));
    }
    const page = await loggedIn(siteToken);
    await page.goto(`${api.url}/ui/sites/${SITE}`);
    expect(await text(page)).toContain(mac);
    await snap(page, "04-discovered");
    const form = (await page.$("ul.discovered form[action$='/enroll']"))!;
    await (await form.$("input[name=hostname]"))!.type("node-7");
    await (await form.$("select[name=profile]"))!.select(PROFILE);
    await Promise.all([page.waitForNavigation(), (await form.$("button[type=submit]"))!.click()]);
    expect(new URL(page.url()).pathname).toBe(`/ui/sites/${SITE}/hosts/node-7`);
    expect(await text(page)).toContain("Enrolled.");
    const host = await admin("GET", `/v1/sites/${SITE}/hosts/node-7`);
    expect([host.mac, host.profile, host.state]).toEqual([mac, PROFILE, "ready"]);
    // Its next chain request boots, and the open page shows it.
    await machine.chain();
    await page.waitForSelector(`#timeline tr[data-phase="chain-served"]`, { timeout: 5000 });
    await snap(page, "05-enrolled");
    await page.close();
  });

  it("the site page's relays and recent events update on their own", async () => {
    const page = await loggedIn(siteToken);
    await page.goto(`${api.url}/ui/sites/${SITE}`);
    await relayEvents(api.url, relayCredential, [{ phase: "wake-sent", mac: "52:54:00:aa:00:02", detail: { commandId: "demo" } }]);
    await page.waitForFunction(() => document.querySelector("#activity")?.textContent.includes("wake-sent"), { timeout: 8000 });
    expect(await page.$eval("#activity", (el: any) => el.textContent)).toContain("node-2");
    await page.close();
  });

  it("a read token sees every site and cannot act; a forged action is refused", async () => {
    const page = await loggedIn(readToken);
    expect(await text(page)).toContain("read-only, all sites");
    expect(await text(page)).toContain("Branch office");
    await page.goto(`${api.url}/ui/sites/${SITE}/hosts/node-1`);
    expect(await page.$$("form[action$='/wake'], form[action$='/intent'], form[action$='/enroll']")).toHaveLength(0);
    expect(await text(page)).toContain("This token can only look at this site");
    const forged = await page.evaluate(async () => {
      const res = await fetch(`${location.pathname}/wake`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "" });
      return { status: res.status, text: await res.text() };
    });
    expect(forged.status).toBe(403);
    expect(forged.text).toContain("this token is read-only");
    await snap(page, "06-read-token-host");
    await page.close();
  });

  it("a site token sees only its own site", async () => {
    const page = await loggedIn(siteToken);
    const body = await text(page);
    expect(body).toContain("Lab east");
    expect(body).not.toContain("Branch office");
    const res = await page.goto(`${api.url}/ui/sites/${OTHER}`);
    expect(res!.status()).toBe(403);
    expect(await text(page)).toContain(`this token cannot read site "${OTHER}"`);
    const host = await page.goto(`${api.url}/ui/sites/${OTHER}/hosts/branch-1/timeline`);
    expect(host!.status()).toBe(403);
    await page.goto(`${api.url}/ui/sites/${OTHER}`);
    await snap(page, "07-site-token-other-site");
    await page.close();
  });

  it("filters hosts and explains a bad filter next to the field", async () => {
    const page = await loggedIn(api.adminToken);
    await page.goto(`${api.url}/ui/sites/${SITE}/hosts`);
    await page.select("#f-state", "installed");
    await Promise.all([page.waitForNavigation(), page.click("form.filters button[type=submit]")]);
    const rows = await page.$$eval("table.cards tbody th a", (as: any[]) => as.map((a) => a.textContent));
    expect(rows).toEqual(["node-2"]);
    await page.goto(`${api.url}/ui/sites/${SITE}/hosts?mac=not-a-mac`);
    expect(await page.$eval(".notice.error", (n: any) => n.textContent)).toContain("MAC address: MAC address expected");
    expect(await page.$eval("#f-mac", (i) => i.getAttribute("aria-invalid"))).toBe("true");
    await snap(page, "08-bad-filter");
    await page.close();
  });

  it("is usable on a phone: no sideways scrolling, tables become cards, actions reachable", async () => {
    const phone = { width: 390, height: 844, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
    const page = await loggedIn(api.adminToken, phone);
    await snap(page, "09-phone-sites");
    expect(await noHorizontalScroll(page)).toBe(true);
    await page.goto(`${api.url}/ui/sites/${SITE}`);
    expect(await noHorizontalScroll(page)).toBe(true);
    await snap(page, "10-phone-site");
    await page.goto(`${api.url}/ui/sites/${SITE}/hosts/node-1`);
    expect(await noHorizontalScroll(page)).toBe(true);
    expect(await page.$("form[action$='/wake'] button")).not.toBeNull();
    expect(await accessibilityProblems(page)).toEqual([]);
    await snap(page, "11-phone-host");
    // The hosts table becomes one card per host, each cell labelled in place of the hidden header row.
    await page.goto(`${api.url}/ui/sites/${SITE}/hosts`);
    expect(await noHorizontalScroll(page)).toBe(true);
    expect(await page.$eval("td[data-label=MAC]", (td) => getComputedStyle(td, "::before").content)).toContain("MAC");
    await snap(page, "12-phone-hosts");
    await page.close();
  });
});
