// `/ui`: the status page. Server-rendered HTML; every read and action goes through the admin API in-process with the
// session's token (apiClient.ts), so a `read` token sees and cannot act and a `site:` token sees only its site.
import { Hono } from "hono";
import type { Context } from "hono";
import { html } from "hono/html";
import { csrf } from "hono/csrf";
import { secureHeaders } from "hono/secure-headers";
import { canAccessSite } from "../auth/adminScopes.ts";
import { ApiError } from "../errors.ts";
import { type AdminClient, adminClient, type ApiResult, type Fetcher, query, seg } from "./apiClient.ts";
import { APP_CSS, APP_JS } from "./assets.ts";
import { describeAccess, failureNotice, type Notice, page } from "./layout.ts";
import { hostLive, hostPage } from "./pages/host.ts";
import { FILTER_FIELDS, type HostFilters, hostsPage } from "./pages/hosts.ts";
import { loginPage } from "./pages/login.ts";
import { type Activity, type EventItem, type HostItem, hostRef, type RelayItem, siteActivity, sitePage } from "./pages/site.ts";
import { type SiteItem, sitesPage } from "./pages/sites.ts";
import { hostNames, hostStateCounts, hostTimelineEvents, lastPhases, relayCacheUse, relaysOfSites } from "./queries.ts";
import { endSession, principalFor, requireSession, startSession, type UiEnv } from "./session.ts";
import { bootsOf, withCacheEventsOf } from "./timeline.ts";

type List<T> = { items: T[]; nextCursor: string | null };
type SiteView = SiteItem & { discoverRetrySeconds: number; defaultProfile: string | null };

// Messages after a successful action, chosen by a fixed key in the redirect (no free text in URLs).
const DONE: Record<string, Notice> = {
  enrolled: { kind: "ok", text: "Enrolled. The machine boots its profile at its next request." },
  "intent-set": { kind: "ok", text: "Next boot set." },
  "intent-cleared": { kind: "ok", text: "Next-boot setting cleared; the host boots its profile." },
  "wake-queued": { kind: "ok", text: "Wake-on-LAN queued: the relay sends it at its next sync." },
  "wake-queued-stale": { kind: "error", text: "Wake-on-LAN queued, but no relay of this site has synced recently, so it may never be sent." },
};
const doneNotice = (c: Context<UiEnv>) => DONE[c.req.query("done") ?? ""] ?? null;

const errorPage = (c: Context<UiEnv>, status: number, title: string, text: string, details: string[] = []) => {
  let principal;
  try {
    principal = c.get("principal");
  } catch {
    principal = undefined;
  }
  return c.html(
    page({ title, principal, crumbs: [{ href: "/ui", label: "Sites" }, { label: title }], notice: { kind: "error", text, details }, body: html`<p><a href="/ui">Back to sites</a></p>` }),
    status as 400,
  );
};

// A failed API read: back to the login for a dead token, else an error page with the API's own words.
function apiFailure(c: Context<UiEnv>, r: Extract<ApiResult<unknown>, { ok: false }>) {
  if (r.status === 401) {
    endSession(c);
    return c.redirect("/ui/login?reason=expired", 303);
  }
  const title = r.status === 403 ? "Not allowed" : r.status === 404 ? "Not found" : "Error";
  const n = failureNotice(r.error);
  if (r.status === 403) n.details = [...(n.details ?? []), `You are logged in as ${c.get("principal").name} (${describeAccess(c.get("principal"))}).`];
  return errorPage(c, r.status, title, n.text, n.details);
}

const canWrite = (c: Context<UiEnv>, slug: string) => canAccessSite(c.get("principal").scopes, slug, "write");

async function profileNamesVisible(api: AdminClient): Promise<string[]> {
  const r = await api.get<List<{ name: string }>>("/profiles?limit=500");
  return r.ok ? r.body.items.map((p) => p.name) : [];
}

async function formField(c: Context<UiEnv>, name: string): Promise<string> {
  const body = await c.req.parseBody();
  const v = body[name];
  return typeof v === "string" ? v.trim() : "";
}

export function uiRoutes(app: Fetcher) {
  const ui = new Hono<UiEnv>();
  const apiOf = (c: Context<UiEnv>) => adminClient(c, app, c.get("uiToken"));

  ui.use(
    "*",
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        connectSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
      // Not "no-referrer": with it a browser sends `Origin: null` on the page's own form posts, and over plain HTTP to
      // a name that is not localhost (the demo's URL, a LAN address) it sends no Sec-Fetch-Site either, so the CSRF
      // check below refused every login there. "same-origin" keeps the Origin on our own posts and tells other sites
      // nothing.
      referrerPolicy: "same-origin",
    }),
  );
  // Server time per page, for operators and the 10,000-host benchmark; pages hold live data, so never cached.
  ui.use("*", async (c, next) => {
    const started = performance.now();
    await next();
    c.header("server-timing", `app;dur=${(performance.now() - started).toFixed(1)}`);
    if (!c.req.path.startsWith("/ui/assets/")) c.header("cache-control", "no-store");
  });
  // Form posts must come from this origin (Origin / Sec-Fetch-Site); the cookie is SameSite=Strict as well.
  ui.use("*", csrf());

  ui.get("/assets/app.css", (c) => c.body(APP_CSS, 200, { "content-type": "text/css; charset=utf-8", "cache-control": "public, max-age=300" }));
  ui.get("/assets/app.js", (c) => c.body(APP_JS, 200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=300" }));

  ui.get("/login", (c) => {
    const reason = c.req.query("reason");
    const notice: Notice | null =
      reason === "expired" ? { kind: "error", text: "Your session ended (the token was revoked or expired, or the cookie is gone). Log in again." } : reason === "signed-out" ? { kind: "ok", text: "Logged out." } : null;
    return c.html(loginPage(notice));
  });
  ui.post("/login", async (c) => {
    const token = await formField(c, "token");
    if (!token) return c.html(loginPage({ kind: "error", text: "Paste an API token to log in." }), 400);
    const result = await principalFor(c, token);
    if ("error" in result) return c.html(loginPage({ kind: "error", text: result.error }), 401);
    startSession(c, token);
    return c.redirect("/ui", 303);
  });
  ui.post("/logout", (c) => {
    endSession(c);
    return c.redirect("/ui/login?reason=signed-out", 303);
  });

  ui.use("*", requireSession);

  ui.get("/", async (c) => {
    const api = apiOf(c);
    const cursor = c.req.query("cursor");
    const r = await api.get<List<SiteItem>>(`/sites${query({ limit: 100, cursor })}`);
    if (!r.ok) return r.status === 400 ? errorPage(c, 400, "Bad page link", "This sites page link is not valid; start from the first page.") : apiFailure(c, r);
    const db = c.get("db");
    const ids = r.body.items.map((s) => s.id);
    const [counts, relays] = await Promise.all([hostStateCounts(db, ids), relaysOfSites(db, ids)]);
    return c.html(sitesPage({ principal: c.get("principal"), sites: r.body.items, counts, relays, nextCursor: r.body.nextCursor, now: Date.now() }));
  });

  ui.get("/sites/:site", async (c) => renderSite(c, doneNotice(c)));

  async function renderSite(c: Context<UiEnv>, notice: Notice | null, status = 200) {
    const slug = c.req.param("site")!;
    const api = apiOf(c);
    const siteRes = await api.get<SiteView>(`/sites/${seg(slug)}`);
    if (!siteRes.ok) return apiFailure(c, siteRes);
    const site = siteRes.body;
    const db = c.get("db");
    const now = Date.now();
    const [activity, discovered, profiles, counts] = await Promise.all([
      loadActivity(c, api, site, now),
      api.get<List<HostItem>>(`/sites/${seg(slug)}/hosts?state=discovered&limit=20`),
      profileNamesVisible(api),
      hostStateCounts(db, [site.id]),
    ]);
    if (activity instanceof Response) return activity;
    if (!discovered.ok) return apiFailure(c, discovered);
    return c.html(
      sitePage({
        principal: c.get("principal"),
        site,
        canWrite: canWrite(c, slug),
        ...activity,
        counts: counts.get(site.id) ?? {},
        discovered: discovered.body.items,
        discoveredMore: discovered.body.nextCursor !== null,
        profiles,
        notice,
        now,
      }),
      status as 200,
    );
  }

  // Relays (with cache use) and recent events: on the site page, and re-fetched by it every few seconds.
  async function loadActivity(c: Context<UiEnv>, api: AdminClient, site: SiteView, now: number): Promise<Activity | Response> {
    const db = c.get("db");
    const [relays, evs, cache] = await Promise.all([
      api.get<List<RelayItem>>(`/sites/${seg(site.slug)}/relays?limit=100&revoked=false`),
      api.get<List<EventItem>>(`/sites/${seg(site.slug)}/events?limit=15`),
      relayCacheUse(db, site.id, now),
    ]);
    if (!relays.ok) return apiFailure(c, relays);
    if (!evs.ok) return apiFailure(c, evs);
    const hostsById = await hostNames(db, site.id, evs.body.items.flatMap((e) => (e.hostId ? [e.hostId] : [])));
    return { slug: site.slug, relays: relays.body.items, cache, events: evs.body.items, hostsById, now };
  }

  ui.get("/sites/:site/activity", async (c) => {
    const api = apiOf(c);
    const siteRes = await api.get<SiteView>(`/sites/${seg(c.req.param("site"))}`);
    if (!siteRes.ok) return c.text(siteRes.error.message, siteRes.status as 400);
    const activity = await loadActivity(c, api, siteRes.body, Date.now());
    return activity instanceof Response ? activity : c.html(siteActivity(activity));
  });

  ui.get("/sites/:site/find", async (c) => {
    const slug = c.req.param("site");
    const ref = (c.req.query("host") ?? "").trim();
    if (!ref) return errorPage(c, 400, "Find a host", "Type a hostname or a MAC address to find a host.");
    const r = await apiOf(c).get<HostItem>(`/sites/${seg(slug)}/hosts/${seg(ref)}`);
    if (!r.ok) return r.status === 404 ? errorPage(c, 404, "Not found", `No host named or with MAC "${ref}" in site ${slug}.`) : apiFailure(c, r);
    return c.redirect(`/ui/sites/${seg(slug)}/hosts/${seg(hostRef(r.body))}`, 303);
  });

  ui.get("/sites/:site/hosts", async (c) => {
    const slug = c.req.param("site");
    const api = apiOf(c);
    const siteRes = await api.get<SiteView>(`/sites/${seg(slug)}`);
    if (!siteRes.ok) return apiFailure(c, siteRes);
    const q = c.req.query();
    const pageRaw = q.page ?? "1";
    const f: HostFilters = {
      state: q.state ?? "",
      label: (q.label ?? "").trim(),
      mac: (q.mac ?? "").trim(),
      limit: /^\d{1,4}$/.test(q.limit ?? "") ? Number(q.limit) : 50,
      cursor: q.cursor ?? "",
      page: /^[1-9]\d{0,6}$/.test(pageRaw) ? Number(pageRaw) : 1,
    };
    const invalid = new Set<string>();
    const problems: string[] = [];
    if (q.limit !== undefined && !/^\d{1,4}$/.test(q.limit)) invalid.add("limit"), problems.push(`${FILTER_FIELDS.limit}: a whole number from 1 to 500`);
    if (!/^[1-9]\d{0,6}$/.test(pageRaw)) problems.push("Page number: a whole number from 1");
    let notice: Notice | null = problems.length ? { kind: "error", text: "Some of what you entered is not valid:", details: problems } : null;
    let hosts: HostItem[] = [];
    let nextCursor: string | null = null;
    if (!notice) {
      const r = await api.get<List<HostItem>>(`/sites/${seg(slug)}/hosts${query({ state: f.state, label: f.label, mac: f.mac, limit: f.limit, cursor: f.cursor })}`);
      if (!r.ok && r.status !== 400) return apiFailure(c, r);
      if (r.ok) ({ items: hosts, nextCursor } = r.body);
      else {
        notice = failureNotice(r.error, FILTER_FIELDS, { label: "write key=value, e.g. rack=r12 (the key: letters, digits, . _ / -)" });
        if (Array.isArray(r.error.details)) for (const i of r.error.details as { path?: unknown[] }[]) invalid.add(String(i.path?.[0] ?? ""));
        const details = r.error.details;
        if (invalid.has("cursor") || (details !== null && typeof details === "object" && "cursor" in details)) notice = { kind: "error", text: "This page link is not valid (it may come from another filter or an older version). Start again from the first page.", details: [] };
      }
    }
    const last = await lastPhases(c.get("db"), hosts.map((h) => h.id));
    const body = hostsPage({ principal: c.get("principal"), site: siteRes.body, filters: f, invalid, hosts, last, nextCursor, notice, now: Date.now() });
    return c.html(body, notice ? 400 : 200);
  });

  async function loadHost(c: Context<UiEnv>) {
    const slug = c.req.param("site")!;
    const ref = c.req.param("host")!;
    const api = apiOf(c);
    const [siteRes, hostRes] = await Promise.all([api.get<SiteView>(`/sites/${seg(slug)}`), api.get<HostItem>(`/sites/${seg(slug)}/hosts/${seg(ref)}`)]);
    return { api, slug, siteRes, hostRes };
  }

  async function renderHost(c: Context<UiEnv>, notice: Notice | null, status = 200) {
    const { api, slug, siteRes, hostRes } = await loadHost(c);
    if (!siteRes.ok) return apiFailure(c, siteRes);
    if (!hostRes.ok) return apiFailure(c, hostRes);
    const host = hostRes.body;
    const [profiles, evs] = await Promise.all([profileNamesVisible(api), hostTimelineEvents(c.get("db"), siteRes.body.id, host)]);
    const boots = bootsOf(withCacheEventsOf(evs.host, evs.macless));
    return c.html(
      hostPage({ principal: c.get("principal"), site: siteRes.body, host, etag: hostRes.etag, canWrite: canWrite(c, slug), profiles, boots, notice, now: Date.now() }),
      status as 200,
    );
  }

  ui.get("/sites/:site/hosts/:host", (c) => renderHost(c, doneNotice(c)));

  ui.get("/sites/:site/hosts/:host/timeline", async (c) => {
    const { siteRes, hostRes } = await loadHost(c);
    if (!siteRes.ok) return c.text(siteRes.error.message, siteRes.status as 400);
    if (!hostRes.ok) return c.text(hostRes.error.message, hostRes.status as 400);
    const evs = await hostTimelineEvents(c.get("db"), siteRes.body.id, hostRes.body);
    return c.html(hostLive(hostRes.body, bootsOf(withCacheEventsOf(evs.host, evs.macless))));
  });

  // An action: call the API; on success go back to the host (by its possibly new name), else show why, in place.
  async function act(c: Context<UiEnv>, call: (api: AdminClient, path: string, etag: string | null) => Promise<ApiResult<HostItem | { relayHealthy: boolean }>>, done: (body: unknown) => string) {
    const slug = c.req.param("site")!;
    const ref = c.req.param("host")!;
    const etag = (await formField(c, "etag")) || null;
    const r = await call(apiOf(c), `/sites/${seg(slug)}/hosts/${seg(ref)}`, etag);
    if (!r.ok) {
      if (r.status === 401) return apiFailure(c, r);
      const n = failureNotice(r.error, { hostname: "Hostname", profile: "Profile", intent: "Next boot", state: "State" });
      return renderHost(c, n, r.status);
    }
    const next = r.body && "id" in r.body ? hostRef(r.body) : ref;
    return c.redirect(`/ui/sites/${seg(slug)}/hosts/${seg(next)}?done=${done(r.body)}`, 303);
  }

  ui.post("/sites/:site/hosts/:host/enroll", async (c) => {
    const hostname = await formField(c, "hostname");
    const profile = await formField(c, "profile");
    const missing = [...(hostname ? [] : ["Hostname: required"]), ...(profile ? [] : ["Profile: choose one"])];
    if (missing.length) return renderHost(c, { kind: "error", text: "To enroll a machine, give it a hostname and a profile:", details: missing }, 400);
    return act(c, (api, path, etag) => api.send("PATCH", path, { hostname, profile, state: "ready" }, etag), () => "enrolled");
  });

  ui.post("/sites/:site/hosts/:host/intent", async (c) => {
    if ((await formField(c, "clear")) === "1") return act(c, (api, path, etag) => api.send("PATCH", path, { intent: null }, etag), () => "intent-cleared");
    const target = await formField(c, "target");
    const revertOnPhase = await formField(c, "revertOnPhase");
    if (!target) return renderHost(c, { kind: "error", text: "Choose what the machine should boot next." }, 400);
    const intent = { target, mode: "once", revertOnPhase: revertOnPhase || "installed" };
    return act(c, (api, path, etag) => api.send("PATCH", path, { intent }, etag), () => "intent-set");
  });

  ui.post("/sites/:site/hosts/:host/wake", (c) =>
    act(c, (api, path) => api.send("POST", `${path}/wake`, {}), (body) => ((body as { relayHealthy?: boolean }).relayHealthy ? "wake-queued" : "wake-queued-stale")),
  );

  ui.all("*", (c) => errorPage(c, 404, "Not found", "There is no such page. Start from the list of sites."));

  ui.onError((err, c) => {
    if (err instanceof ApiError && err.code !== "internal") return errorPage(c, err.status, "Error", err.message);
    if (err instanceof Error && "status" in err && (err as { status: number }).status === 403) return errorPage(c, 403, "Not allowed", "This form was not sent from the status page itself (cross-site request refused).");
    console.error("status page error", err instanceof Error ? err.stack : String(err));
    return errorPage(c, 500, "Error", "Something went wrong on the server; the error is in the Worker's log.");
  });
  return ui;
}
