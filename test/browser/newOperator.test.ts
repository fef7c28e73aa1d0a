// The status page as a newcomer meets it, in Debian's headless chromium against a real wrangler dev: first visit and
// a wrong token; hostile names, labels, serials and event details (shown as text, never run, never widening the page);
// a host with hundreds of events; an empty site; enrolling with the keyboard alone; nothing loaded from another
// origin and no secret value in any page. Screenshots go to test/browser/screenshots/ (git-ignored).
import type { Browser, Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWranglerDev, type WranglerDev } from "../helpers/wrangler.ts";
import { type Admin, adminApi, chromiumPath, launchChromium, Machine, registerRelay, relayEvents, seedBootableProfile, shot } from "./support.ts";

// Functions passed to page.evaluate run in the page; the repo's tsconfig has no DOM lib.
declare const document: any;
declare const window: any;
declare function getComputedStyle(el: unknown): any;

const SITE = "wild";
const EMPTY = "quiet";
const PROFILE = "linux";
const VICTIM_MAC = "52:54:00:dd:00:01";
const STRANGER_MAC = "52:54:00:dd:00:99";
// Markup that would run or show if any value reached the page unescaped: each sets a flag the test reads.
const XSS = (n: number) => `<img src=x onerror="window.__ran=${n}"><script>window.__ran=${n}</script>"'&`;
const SECRET_VALUES = ["site-secret-value-6f1c2a", "host-secret-value-9b3e7d"];
const LONG_HOSTNAME = ["a", "b", "c"].map((c) => c.repeat(63)).join(".") + "." + "d".repeat(61);
const PHONE = { width: 360, height: 740, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

let api: WranglerDev;
let admin: Admin;
let browser: Browser;
let readToken: string;
const screenshots: string[] = [];

beforeAll(async () => {
  chromiumPath();
  api = await startWranglerDev({ frozen: "bundle" });
  admin = adminApi(api.url, api.adminToken);
  await seedBootableProfile(admin, PROFILE);
  await admin("POST", "/v1/sites", { slug: SITE, name: `Wild ${XSS(1)} ${"W".repeat(40)}`, bootAuth: "open", unknownHostPolicy: "discover" });
  await admin("POST", "/v1/sites", { slug: EMPTY, name: "Quiet site" });
  await admin("POST", `/v1/sites/${SITE}/hosts`, {
    hostname: "victim",
    mac: VICTIM_MAC,
    profile: PROFILE,
    serial: `S<script>window.__ran=2</script>${"Z".repeat(80)}`,
    labels: { note: XSS(3), long: "x".repeat(256), "a/b": "</dd></dl><script>window.__ran=4</script>" },
  });
  await admin("POST", `/v1/sites/${SITE}/hosts`, { hostname: LONG_HOSTNAME, mac: "52:54:00:dd:00:02", profile: PROFILE });
  for (const [i, scope] of [`site=${SITE}`, `site=${SITE}&host=victim`].entries()) {
    await admin("PUT", `/v1/secrets/JOIN_${i}?${scope}`, { value: SECRET_VALUES[i] });
  }
  const relay = (await admin("POST", `/v1/sites/${SITE}/relays`, { name: "edge-1" })).credential;
  await registerRelay(api.url, relay, `v<b>${"9".repeat(50)}`);
  // A host with hundreds of events in one boot (a TFTP retry loop), hostile event details included.
  await relayEvents(api.url, relay, [{ phase: "dhcp-offer", mac: VICTIM_MAC, detail: { client: "10.9.0.5", note: XSS(5), [`<k onclick=x>`]: "v" } }]);
  await relayEvents(api.url, relay, Array.from({ length: 250 }, (_, i) => ({ phase: "tftp-sent", mac: VICTIM_MAC, detail: { file: `try-${i}`, client: "10.9.0.5" } })));
  const machine = new Machine(api.url, SITE, VICTIM_MAC);
  await machine.chain();
  await machine.report("booted");
  // An unknown machine on the open site reports whatever serial it likes.
  const res = await fetch(`${api.url}/boot/${SITE}/ipxe?mac=${STRANGER_MAC}&arch=x86_64&platform=efi&serial=${encodeURIComponent(`<svg onload=window.__ran=6>${"Q".repeat(90)}`)}`);
  expect(res.status).toBe(200);
  await res.text();
  readToken = (await admin("POST", "/v1/tokens", { name: "viewer", scopes: ["read"] })).secret;
  browser = await launchChromium();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await api?.stop();
  if (screenshots.length) console.log(`screenshots:\n${screenshots.map((p) => `  ${p}`).join("\n")}`);
});

const snap = async (page: Page, name: string) => void screenshots.push(await shot(page, name));

// A fresh browser context (no cookie) that records every URL the page loads.
async function freshPage(viewport: { width: number; height: number } = { width: 1280, height: 900 }) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport(viewport);
  const requested: string[] = [];
  page.on("request", (r) => void requested.push(r.url()));
  const errors: string[] = [];
  page.on("pageerror", (e) => void errors.push(String(e)));
  page.on("dialog", (d) => void errors.push(`dialog: ${d.message()}`));
  return { page, requested, errors };
}

async function logIn(page: Page, token: string) {
  await page.goto(`${api.url}/ui/login`);
  await page.type("#token", token);
  await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
  expect(new URL(page.url()).pathname).toBe("/ui");
}

// What a hostile value could do on this page: run, inject elements, widen the page sideways.
async function hostileCheck(page: Page) {
  return page.evaluate(() => ({
    ran: window.__ran ?? null,
    injected: document.querySelectorAll("img, svg, script:not([src]), main b, [onclick], [onload], [onerror]").length,
    sideways: document.documentElement.scrollWidth - window.innerWidth,
  }));
}

describe("the status page for a new operator", () => {
  it("first visit goes to the login; a wrong token is refused with the API's reason and no session", async () => {
    const { page } = await freshPage();
    await page.goto(`${api.url}/`);
    expect(new URL(page.url()).pathname).toBe("/ui/login");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("token");
    await page.keyboard.type("wrong-token-0123456789abcdef");
    const [res] = await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
    expect(res!.status()).toBe(401);
    expect(await page.$eval(".notice.error", (n: any) => n.textContent.trim())).toBe("The API refused this token: unknown token.");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("token");
    expect(await page.cookies()).toEqual([]);
    // Still no way in: the pages send it back to the login.
    await page.goto(`${api.url}/ui/sites/${SITE}`);
    expect(new URL(page.url()).pathname).toBe("/ui/login");
    await snap(page, "13-wrong-token");
    await page.close();
  });

  it("shows hostile names, labels, serials and event details as text, on a desktop and a phone", async () => {
    for (const [size, viewport] of [["desktop", { width: 1280, height: 900 }], ["phone", PHONE]] as const) {
      const { page, errors } = await freshPage(viewport);
      await logIn(page, api.adminToken);
      for (const path of ["/ui", `/ui/sites/${SITE}`, `/ui/sites/${SITE}/hosts`, `/ui/sites/${SITE}/hosts/victim`, `/ui/sites/${SITE}/hosts/${STRANGER_MAC}`, `/ui/sites/${SITE}/hosts/${LONG_HOSTNAME}`]) {
        await page.goto(`${api.url}${path}`);
        await new Promise((r) => setTimeout(r, 1200)); // one live refresh of the polled parts
        expect(await hostileCheck(page), `${size} ${path}`).toEqual({ ran: null, injected: 0, sideways: 0 });
      }
      await page.goto(`${api.url}/ui/sites/${SITE}/hosts/victim`);
      const shown = await page.evaluate(() => document.body.innerText);
      expect(shown).toContain(`note=${XSS(3)}`);
      expect(shown).toContain("S<script>window.__ran=2</script>");
      await snap(page, `14-hostile-host-${size}`);
      await page.goto(`${api.url}/ui/sites/${SITE}`);
      expect(await page.evaluate(() => document.body.innerText)).toContain("<svg onload=window.__ran=6>");
      await snap(page, `15-hostile-site-${size}`);
      expect(errors).toEqual([]);
      await page.close();
    }
  });

  it("a host with hundreds of events lists how the boot started and its newest events, the rest counted", async () => {
    const { page } = await freshPage();
    await logIn(page, api.adminToken);
    await page.goto(`${api.url}/ui/sites/${SITE}/hosts/victim`);
    const rows = await page.$$eval("#timeline table.events tbody tr", (trs: any[]) => trs.map((tr) => tr.dataset.phase ?? tr.textContent.trim()));
    // 1 DHCP + 250 TFTP + the chain + the report (+ the Worker's own chain event): 10 first, 50 newest, one gap row.
    expect(rows).toHaveLength(61);
    expect(rows[0]).toBe("dhcp-offer");
    expect(rows[10]).toMatch(/^… \d+ more events of this boot not listed here/);
    expect(rows.at(-1)).toBe("booted");
    expect(await page.$eval("#timeline .boot-head", (p: any) => p.textContent)).toContain("finished");
    await snap(page, "16-many-events");
    // On a phone the actions sit below all of that; the link at the top takes the operator there.
    await page.setViewport(PHONE);
    await page.click("p.jump a");
    await page.waitForFunction(() => {
      const r = document.getElementById("act-h").getBoundingClientRect();
      return r.top >= 0 && r.bottom <= window.innerHeight;
    }, { timeout: 5000 });
    expect(await page.$eval("p.jump", (p: any) => getComputedStyle(p).display)).toBe("block");
    await page.close();
  });

  it("an empty site says what to do next", async () => {
    const { page } = await freshPage();
    await logIn(page, api.adminToken);
    await page.goto(`${api.url}/ui/sites/${EMPTY}`);
    const text = await page.evaluate(() => document.body.innerText);
    expect(text).toContain("All 0 hosts");
    expect(text).toContain(`No relay yet. Create one with POST /v1/sites/${EMPTY}/relays`);
    expect(text).toContain("No boot events yet.");
    await snap(page, "17-empty-site");
    await page.goto(`${api.url}/ui/sites/${EMPTY}/hosts`);
    expect(await page.evaluate(() => document.body.innerText)).toContain("This site has no hosts yet.");
    await page.close();
  });

  it("enrolls a discovered machine with the keyboard alone, every stop visibly focused", async () => {
    const { page } = await freshPage();
    await page.goto(`${api.url}/ui/login`);
    await page.keyboard.type(api.adminToken);
    await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
    await page.goto(`${api.url}/ui/sites/${SITE}`);
    const stops: string[] = [];
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press("Tab");
      const stop = await page.evaluate(() => {
        const el = document.activeElement;
        return { name: `${el.tagName.toLowerCase()}${el.name ? `[${el.name}]` : ""}`, outline: getComputedStyle(el).outlineStyle, inDiscovered: Boolean(el.closest("ul.discovered")) };
      });
      expect(stop.outline, `focus ring on ${stop.name}`).not.toBe("none");
      stops.push(stop.name);
      if (stop.name === "input[hostname]" && stop.inDiscovered) break;
    }
    expect(stops.at(-1), `tab stops: ${stops.join(", ")}`).toBe("input[hostname]");
    await page.keyboard.type("stranger-1");
    await page.keyboard.press("Tab");
    await page.keyboard.type(PROFILE); // a focused select picks the option typed
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement.textContent)).toBe("Enroll");
    await snap(page, "18-keyboard-enroll");
    await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
    expect(new URL(page.url()).pathname).toBe(`/ui/sites/${SITE}/hosts/stranger-1`);
    const host = await admin("GET", `/v1/sites/${SITE}/hosts/stranger-1`);
    expect([host.mac, host.profile, host.state]).toEqual([STRANGER_MAC, PROFILE, "ready"]);
    await page.close();
  });

  it("logs in and acts over plain HTTP on a name that is not localhost, as at the demo's URL", async () => {
    // Chromium treats 127.0.0.1 as a secure origin; a LAN name over HTTP is not one, so there it sends no
    // Sec-Fetch-Site and derives the posts' Origin from the referrer policy. The name resolves to loopback here.
    const lan = await launchChromium(["--host-resolver-rules=MAP edgeboot-lab.test 127.0.0.1"]);
    try {
      const base = `http://edgeboot-lab.test:${api.port}`;
      const page = await lan.newPage();
      await page.goto(`${base}/ui/login`);
      expect(await page.evaluate(() => window.isSecureContext)).toBe(false);
      await page.type("#token", api.adminToken);
      const [res] = await Promise.all([page.waitForNavigation(), page.keyboard.press("Enter")]);
      expect(res!.status(), await page.evaluate(() => document.body.innerText)).toBe(200);
      expect(new URL(page.url()).pathname).toBe("/ui");
      await page.goto(`${base}/ui/sites/${SITE}/hosts/victim`);
      await Promise.all([page.waitForNavigation(), page.click("form[action$='/wake'] button")]);
      expect(await page.$eval(".notice", (n: any) => n.textContent)).toContain("Wake-on-LAN queued");
      await page.close();
    } finally {
      await lan.close();
    }
  });

  it("loads nothing from another origin and never shows a secret or the token", async () => {
    for (const token of [api.adminToken, readToken]) {
      const { page, requested } = await freshPage();
      await logIn(page, token);
      for (const path of ["/ui", `/ui/sites/${SITE}`, `/ui/sites/${SITE}/hosts`, `/ui/sites/${SITE}/hosts/victim`]) {
        await page.goto(`${api.url}${path}`);
        await new Promise((r) => setTimeout(r, 1200));
        const html = await page.content();
        for (const secret of [...SECRET_VALUES, token]) expect(html, `${path}`).not.toContain(secret);
      }
      const foreign = requested.filter((u) => new URL(u).origin !== api.url);
      expect(foreign).toEqual([]);
      expect(requested.some((u) => u.endsWith("/ui/assets/app.js"))).toBe(true);
      await page.close();
    }
  });
});
