// The status page (/ui) through the real Worker entry: login, scopes (read sees and cannot act, site: sees only its
// site), escaping, filter and cursor errors, enrolling a discovered machine, actions, CSRF.
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, ROOT_TOKEN, seedHost, seedProfile, seedSite, seedToken, uniq, uniqMac } from "../../helpers/admin.ts";

const ORIGIN = "http://api.test";

type Page = { status: number; headers: Headers; body: string };

async function ui(path: string, opts: { token?: string | null; form?: Record<string, string>; origin?: string } = {}): Promise<Page> {
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? ROOT_TOKEN : opts.token;
  if (token) headers.cookie = `edgeboot_session=${encodeURIComponent(token)}`;
  let body: string | undefined;
  if (opts.form) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    headers.origin = opts.origin ?? ORIGIN;
    body = new URLSearchParams(opts.form).toString();
  }
  const res = await (exports as any).default.fetch(new Request(`${ORIGIN}${path}`, { method: opts.form ? "POST" : "GET", headers, body, redirect: "manual" }));
  return { status: res.status, headers: res.headers, body: await res.text() };
}

async function lab() {
  const site = uniq("site");
  await seedSite(site, { bootAuth: "open" });
  const profile = uniq("prof");
  await seedProfile(profile);
  return { site, profile };
}

async function until<T>(what: string, fn: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 50; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("status page: login and session", () => {
  it("redirects to the login form without a session and logs in with a token into an HttpOnly, SameSite=Strict cookie", async () => {
    const anon = await ui("/ui", { token: null });
    expect(anon.status).toBe(303);
    expect(anon.headers.get("location")).toBe("/ui/login");
    const form = await ui("/ui/login", { token: null });
    expect(form.body).toContain('<label for="token">API token</label>');
    expect(form.headers.get("content-security-policy")).toContain("script-src 'self'");

    const login = await ui("/ui/login", { token: null, form: { token: ROOT_TOKEN } });
    expect(login.status).toBe(303);
    const cookie = login.headers.get("set-cookie")!;
    expect(cookie).toMatch(/^edgeboot_session=/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\/ui/);
    expect(cookie).not.toMatch(/Max-Age|Expires/);
    // The page never prints the token.
    const home = await ui("/ui");
    expect(home.status).toBe(200);
    expect(home.body).not.toContain(ROOT_TOKEN);
  });

  it("page fragments the browser polls answer 401 without a session, not a redirect", async () => {
    const { site } = await lab();
    await seedHost(site, { hostname: "frag-1" });
    for (const path of [`/ui/sites/${site}/activity`, `/ui/sites/${site}/hosts/frag-1/timeline`]) {
      expect((await ui(path, { token: null })).status).toBe(401);
      const ok = await ui(path);
      expect(ok.status).toBe(200);
      expect(ok.body).not.toContain("<html");
    }
    expect((await ui(`/ui/sites/${site}/activity`)).body).toContain("Recent boot events");
  });

  it("logs out by clearing the cookie", async () => {
    const out = await ui("/ui/logout", { form: {} });
    expect(out.status).toBe(303);
    expect(out.headers.get("location")).toBe("/ui/login?reason=signed-out");
    expect(out.headers.get("set-cookie")).toMatch(/^edgeboot_session=;.*Max-Age=0/);
  });

  it("refuses a bad or unknown token with a clear message and no cookie", async () => {
    const short = await ui("/ui/login", { token: null, form: { token: "abc" } });
    expect(short.status).toBe(401);
    expect(short.body).toContain("not an edgeboot API token");
    const unknown = await ui("/ui/login", { token: null, form: { token: "x".repeat(32) } });
    expect(unknown.status).toBe(401);
    expect(unknown.body).toContain("The API refused this token: unknown token.");
    expect(unknown.headers.get("set-cookie")).toBeNull();
  });

  it("a revoked token's session ends at the next page", async () => {
    const { secret, token } = await seedToken(["read"]);
    expect((await ui("/ui", { token: secret })).status).toBe(200);
    await api("DELETE", `/v1/tokens/${token.id}`);
    const after = await ui("/ui", { token: secret });
    expect(after.status).toBe(303);
    expect(after.headers.get("location")).toBe("/ui/login?reason=expired");
  });

  it("refuses a form posted from another origin", async () => {
    const { site } = await lab();
    const mac = uniqMac();
    await seedHost(site, { mac });
    const res = await ui(`/ui/sites/${site}/hosts/${mac}/wake`, { form: {}, origin: "https://evil.example" });
    expect(res.status).toBe(403);
  });
});

describe("status page: scopes are the API's", () => {
  it("a site token sees only its site; another site is 403 with the API's message", async () => {
    const a = await lab();
    const b = await lab();
    const { secret } = await seedToken([`site:${a.site}`]);
    const home = await ui("/ui", { token: secret });
    expect(home.body).toContain(`(${a.site})`);
    expect(home.body).not.toContain(b.site);
    const other = await ui(`/ui/sites/${b.site}`, { token: secret });
    expect(other.status).toBe(403);
    expect(other.body).toContain(`this token cannot read site &quot;${b.site}&quot;`);
    const otherHosts = await ui(`/ui/sites/${b.site}/hosts`, { token: secret });
    expect(otherHosts.status).toBe(403);
  });

  it("a read token sees hosts but gets no action forms, and a posted action is refused by the API", async () => {
    const { site, profile } = await lab();
    const mac = uniqMac();
    await seedHost(site, { hostname: "r1", mac, profile });
    const { secret } = await seedToken(["read"]);
    const page = await ui(`/ui/sites/${site}/hosts/r1`, { token: secret });
    expect(page.status).toBe(200);
    expect(page.body).toContain("can only look at this site");
    expect(page.body).not.toContain("/wake");
    const forged = await ui(`/ui/sites/${site}/hosts/r1/intent`, { token: secret, form: { target: profile, revertOnPhase: "installed" } });
    expect(forged.status).toBe(403);
    expect(forged.body).toContain("this token is read-only");
    expect((await api("GET", `/v1/sites/${site}/hosts/r1`)).body.intent).toBeNull();
  });
});

describe("status page: hosts view", () => {
  it("escapes every value (labels, hostnames) and shows state, profile and last phase", async () => {
    const { site, profile } = await lab();
    await seedHost(site, { hostname: "esc-1", labels: { note: `<script>alert(1)</script>"'` }, profile, state: "booted" });
    const page = await ui(`/ui/sites/${site}/hosts/esc-1`);
    expect(page.body).not.toContain("<script>alert(1)");
    expect(page.body).toContain("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;");
    const list = await ui(`/ui/sites/${site}/hosts`);
    expect(list.body).toContain("esc-1");
    expect(list.body).toContain(profile);
    expect(list.body).toContain("state-booted");
    expect(list.headers.get("server-timing")).toMatch(/^app;dur=\d/);
  });

  it("filters by state and label, paginates with the API's cursor, and explains bad input naming the field", async () => {
    const { site } = await lab();
    for (let i = 0; i < 5; i++) await seedHost(site, { hostname: `n-${i}`, labels: { rack: i < 3 ? "r1" : "r2" }, state: i === 4 ? "failed" : "ready" });
    const failed = await ui(`/ui/sites/${site}/hosts?state=failed`);
    expect(failed.body).toContain("n-4");
    expect(failed.body).not.toContain(">n-0<");
    const rack = await ui(`/ui/sites/${site}/hosts?label=rack%3Dr2`);
    expect(rack.body).toContain("n-3");
    expect(rack.body).not.toContain(">n-0<");

    const first = await ui(`/ui/sites/${site}/hosts?limit=25`);
    expect(first.body).toContain("n-4");
    const two = await ui(`/ui/sites/${site}/hosts?limit=2`);
    const next = /href="([^"]*cursor=[^"]*)"/.exec(two.body)![1]!.replace(/&amp;/g, "&");
    const page2 = await ui(next);
    expect(page2.body).toContain("n-2");
    expect(page2.body).not.toContain(">n-0<");
    expect(page2.body).toContain("Hosts 3–4");

    const badMac = await ui(`/ui/sites/${site}/hosts?mac=nope`);
    expect(badMac.status).toBe(400);
    expect(badMac.body).toContain("MAC address: MAC address expected");
    expect(badMac.body).toMatch(/id="f-mac"[^>]*aria-invalid="true"/);
    const badLabel = await ui(`/ui/sites/${site}/hosts?label=nokey`);
    expect(badLabel.status).toBe(400);
    expect(badLabel.body).toContain("Label: write key=value, e.g. rack=r12");
    const badCursor = await ui(`/ui/sites/${site}/hosts?cursor=garbage`);
    expect(badCursor.status).toBe(400);
    expect(badCursor.body).toContain("This page link is not valid");
    const badLimit = await ui(`/ui/sites/${site}/hosts?limit=9999`);
    expect(badLimit.status).toBe(400);
    expect(badLimit.body).toContain("Hosts per page");
  });
});

describe("status page: discovered machines and actions", () => {
  it("a machine the boot path discovered is enrolled with a hostname and profile in one form", async () => {
    const { site, profile } = await lab();
    const mac = uniqMac();
    const chain = await (exports as any).default.fetch(new Request(`${ORIGIN}/boot/${site}/ipxe?mac=${mac}&arch=x86_64&platform=efi`));
    expect(chain.status).toBe(200);
    await chain.text();
    await until("the discovered host", async () => ((await api("GET", `/v1/sites/${site}/hosts?state=discovered`)).body.items.length ? true : undefined));
    const sitePage = await ui(`/ui/sites/${site}`);
    expect(sitePage.body).toContain("Discovered machines");
    expect(sitePage.body).toContain(mac);
    const action = new RegExp(`action="(/ui/sites/${site}/hosts/[^"]+/enroll)"`).exec(sitePage.body)![1]!;

    const missing = await ui(action, { form: { hostname: "", profile } });
    expect(missing.status).toBe(400);
    expect(missing.body).toContain("Hostname: required");
    const bad = await ui(action, { form: { hostname: "Not A Name!", profile } });
    expect(bad.status).toBe(400);
    expect(bad.body).toContain("Hostname: hostname must be an RFC 1123 name");

    const done = await ui(action, { form: { hostname: "new-node", profile } });
    expect(done.status).toBe(303);
    expect(done.headers.get("location")).toBe(`/ui/sites/${site}/hosts/new-node?done=enrolled`);
    const host = (await api("GET", `/v1/sites/${site}/hosts/new-node`)).body;
    expect([host.mac, host.profile, host.state]).toEqual([mac, profile, "ready"]);
    const shown = await ui(done.headers.get("location")!);
    expect(shown.body).toContain("Enrolled.");
    expect(shown.body).toContain("discovered");
  });

  it("sets and clears a one-shot next boot, refuses a stale form, and queues a wake only with a relay", async () => {
    const { site, profile } = await lab();
    await seedHost(site, { hostname: "act-1", mac: uniqMac(), profile });
    const page = await ui(`/ui/sites/${site}/hosts/act-1`);
    const etag = /name="etag" value="([^"]+)"/.exec(page.body)![1]!.replace(/&quot;/g, '"');
    const set = await ui(`/ui/sites/${site}/hosts/act-1/intent`, { form: { etag, target: profile, revertOnPhase: "booted" } });
    expect(set.status).toBe(303);
    expect((await api("GET", `/v1/sites/${site}/hosts/act-1`)).body.intent).toEqual({ target: profile, mode: "once", revertOnPhase: "booted" });
    const stale = await ui(`/ui/sites/${site}/hosts/act-1/intent`, { form: { etag, clear: "1" } });
    expect(stale.status).toBe(409);
    expect(stale.body).toContain("If-Match does not match");
    const cleared = await ui(`/ui/sites/${site}/hosts/act-1/intent`, { form: { clear: "1" } });
    expect(cleared.status).toBe(303);
    expect((await api("GET", `/v1/sites/${site}/hosts/act-1`)).body.intent).toBeNull();

    const noRelay = await ui(`/ui/sites/${site}/hosts/act-1/wake`, { form: {} });
    expect(noRelay.status).toBe(409);
    expect(noRelay.body).toContain("the site has no relay");
    await api("POST", `/v1/sites/${site}/relays`, { name: "r1" });
    const woke = await ui(`/ui/sites/${site}/hosts/act-1/wake`, { form: {} });
    expect(woke.status).toBe(303);
    expect(woke.headers.get("location")).toContain("done=wake-queued-stale");
  });
});
