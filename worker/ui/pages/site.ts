import { html } from "hono/html";
import type { Principal } from "../../context.ts";
import { seg } from "../apiClient.ts";
import { bytes } from "../format.ts";
import { type Html, type Notice, page, stateBadge, when } from "../layout.ts";
import type { CacheUse } from "../queries.ts";
import { stageOf, STAGE_LABEL } from "../timeline.ts";
import { relayHealth, stateChips } from "./sites.ts";

export type RelayItem = { name: string; lanAddress: string | null; softwareVersion: string | null; lastSeenAt: string | null; revokedAt: string | null };
export type HostItem = {
  id: string;
  hostname: string | null;
  mac: string | null;
  uuid: string | null;
  serial: string | null;
  arch: string | null;
  ipxeBuild?: string | null;
  profile: string | null;
  state: string;
  lastSeenAt: string | null;
  lastIdentity: Record<string, string> | null;
  labels: Record<string, string>;
  intent: { target: string; mode: string; revertOnPhase?: string } | null;
};
export type EventItem = { id: number; at: string; hostId: string | null; mac: string | null; source: string; phase: string; detail: Record<string, unknown> };

export const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso));
export const hostRef = (h: Pick<HostItem, "hostname" | "mac" | "id">) => h.hostname ?? h.mac ?? h.id;
export const hostName = (h: Pick<HostItem, "hostname" | "mac" | "id">) => h.hostname ?? (h.mac ? `unnamed ${h.mac}` : `unnamed ${h.id.slice(0, 8)}`);
export const hostHref = (site: string, h: Pick<HostItem, "hostname" | "mac" | "id">) => `/ui/sites/${seg(site)}/hosts/${seg(hostRef(h))}`;

export function cacheUse(u: CacheUse | undefined): Html {
  if (!u || u.hits + u.misses === 0) return html`<span class="muted">nothing served in 24 h</span>`;
  const rate = Math.round((100 * u.hits) / (u.hits + u.misses));
  return html`${rate}% hits · ${u.hits} hit${u.hits === 1 ? "" : "s"} (${bytes(u.hitBytes)}), ${u.misses} miss${u.misses === 1 ? "" : "es"} (${bytes(u.missBytes)}) <span class="muted">in 24 h</span>`;
}

export function profileOptions(profiles: string[], selected: string | null, placeholder: string): Html {
  return html`<option value="">${placeholder}</option>${profiles.map((p) => html`<option value="${p}" ${p === selected ? "selected" : ""}>${p}</option>`)}`;
}

export function enrollForm(site: string, h: HostItem, profiles: string[], etag: string | null, idSuffix: string): Html {
  const action = `/ui/sites/${seg(site)}/hosts/${seg(hostRef(h))}/enroll`;
  return html`<form method="post" action="${action}" class="inline-form" aria-label="Enroll ${hostName(h)}">
  ${etag ? html`<input type="hidden" name="etag" value="${etag}">` : ""}
  <div><label for="hn-${idSuffix}">Hostname</label>
  <input id="hn-${idSuffix}" name="hostname" required maxlength="253" placeholder="node-01" autocomplete="off" value="${h.hostname ?? ""}"></div>
  <div><label for="pr-${idSuffix}">Profile</label>
  <select id="pr-${idSuffix}" name="profile" required>${profileOptions(profiles, h.profile, "Choose a profile…")}</select></div>
  <button type="submit" class="primary">Enroll</button>
</form>`;
}

export function eventDetail(d: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(d)) {
    if (v === null || v === undefined || k === "sid") continue;
    const text = typeof v === "string" ? v : JSON.stringify(v);
    parts.push(`${k}=${text.length > 80 ? `${text.slice(0, 77)}…` : text}`);
    if (parts.length >= 6) break;
  }
  return parts.join(" ");
}

export type Activity = { slug: string; relays: RelayItem[]; cache: Map<string, CacheUse>; events: EventItem[]; hostsById: Map<string, Pick<HostItem, "id" | "hostname" | "mac">>; now: number };

// The part of the site page the browser re-fetches (no forms in it, so nothing the operator types is replaced).
export function siteActivity(o: Activity): Html {
  const { slug, now } = o;
  return html`<section aria-labelledby="relays-h">
  <h2 id="relays-h">Relays</h2>
  ${o.relays.length === 0
    ? html`<p class="empty">No relay yet. Create one with <code>POST /v1/sites/${slug}/relays</code> and run <code>edgeboot-relay</code> on the site's LAN.</p>`
    : html`<div class="table-wrap"><table class="cards">
    <thead><tr><th scope="col">Relay</th><th scope="col">Health</th><th scope="col">Version</th><th scope="col">LAN address</th><th scope="col">Last sync</th><th scope="col">Artifact cache</th></tr></thead>
    <tbody>${o.relays.map(
      (r) => html`<tr>
      <th scope="row" data-label="Relay">${r.name}</th>
      <td data-label="Health">${relayHealth({ lastSeenAt: ms(r.lastSeenAt), revokedAt: ms(r.revokedAt) }, now)}</td>
      <td data-label="Version">${r.softwareVersion ?? html`<span class="muted">not registered</span>`}</td>
      <td data-label="LAN address">${r.lanAddress ?? html`<span class="muted">—</span>`}</td>
      <td data-label="Last sync">${when(ms(r.lastSeenAt), now)}</td>
      <td data-label="Artifact cache">${cacheUse(o.cache.get(r.name))}</td>
    </tr>`,
    )}</tbody></table></div>`}
</section>

<section aria-labelledby="events-h">
  <h2 id="events-h">Recent boot events</h2>
  ${o.events.length === 0
    ? html`<p class="empty">No boot events yet.</p>`
    : html`<div class="table-wrap"><table class="cards compact events">
    <thead><tr><th scope="col">When</th><th scope="col">Host</th><th scope="col">Stage</th><th scope="col">Event</th><th scope="col">Detail</th></tr></thead>
    <tbody>${o.events.map((e) => {
      const h = e.hostId ? o.hostsById.get(e.hostId) : undefined;
      return html`<tr>
      <td data-label="When" class="nowrap">${when(ms(e.at), now)}</td>
      <td data-label="Host">${h ? html`<a href="${hostHref(slug, h)}">${hostName(h)}</a>` : (e.mac ?? html`<span class="muted">—</span>`)}</td>
      <td data-label="Stage">${STAGE_LABEL[stageOf(e)]}</td>
      <td data-label="Event"><code class="nowrap">${e.phase}</code> <span class="muted">${e.source}</span></td>
      <td data-label="Detail" class="detail">${eventDetail(e.detail)}</td>
    </tr>`;
    })}</tbody></table></div>`}
</section>`;
}

export function sitePage(o: {
  principal: Principal;
  site: { slug: string; name: string; bootAuth: string; unknownHostPolicy: string; discoverRetrySeconds: number; defaultProfile: string | null };
  canWrite: boolean;
  relays: RelayItem[];
  cache: Map<string, CacheUse>;
  counts: Record<string, number>;
  discovered: HostItem[];
  discoveredMore: boolean;
  profiles: string[];
  events: EventItem[];
  hostsById: Map<string, Pick<HostItem, "id" | "hostname" | "mac">>;
  notice: Notice | null;
  now: number;
}): Html {
  const { site, now } = o;
  const slug = site.slug;
  const total = Object.values(o.counts).reduce((a, b) => a + b, 0);
  const body = html`<h1>${site.name} <span class="muted">(${slug})</span></h1>
<p class="lead">Boot auth <strong>${site.bootAuth}</strong> · unknown machines: <strong>${site.unknownHostPolicy}</strong>${site.unknownHostPolicy === "default" && site.defaultProfile ? html` (boot <strong>${site.defaultProfile}</strong>)` : ""}
${o.canWrite ? "" : html` · <span class="badge muted">view only</span> this token cannot change this site`}</p>

<section aria-labelledby="hosts-h">
  <h2 id="hosts-h">Hosts</h2>
  <p><a class="button" href="/ui/sites/${seg(slug)}/hosts">All ${total} host${total === 1 ? "" : "s"}</a> ${stateChips(slug, o.counts)}</p>
  <form method="get" action="/ui/sites/${seg(slug)}/find" class="inline-form" role="search">
    <div><label for="find">Find a host</label><input id="find" name="host" placeholder="hostname or MAC" required maxlength="253" autocomplete="off"></div>
    <button type="submit">Open</button>
  </form>
</section>

<section aria-labelledby="disc-h">
  <h2 id="disc-h">Discovered machines</h2>
  ${o.discovered.length === 0
    ? html`<p class="empty">No machine is waiting. Unknown machines that PXE-boot here show up in this list${site.unknownHostPolicy === "discover" ? "" : html` (this site's policy is <strong>${site.unknownHostPolicy}</strong>, so none are recorded as discovered)`}.</p>`
    : html`<p class="help">These machines PXE-booted but edgeboot does not know them yet; ${site.unknownHostPolicy === "discover" ? html`they retry every ${site.discoverRetrySeconds} s and boot as soon as they are enrolled.` : "enroll them to boot a profile."}</p>
  <ul class="discovered">${o.discovered.map(
    (h, i) => html`<li class="card">
    <p><a href="${hostHref(slug, h)}"><strong>${h.mac ?? h.id}</strong></a> ${stateBadge(h.state)}
      <span class="muted">${[h.lastIdentity?.arch ?? h.arch, h.lastIdentity?.platform, h.uuid ? `uuid ${h.uuid}` : null, h.serial ? `serial ${h.serial}` : null].filter(Boolean).join(" · ")}</span>
      · seen ${when(ms(h.lastSeenAt), now)}</p>
    ${o.canWrite ? enrollForm(slug, h, o.profiles, null, String(i)) : ""}
  </li>`,
  )}</ul>
  ${o.discoveredMore ? html`<p><a href="/ui/sites/${seg(slug)}/hosts?state=discovered">All discovered machines</a></p>` : ""}`}
</section>

<p class="live" id="act-status" role="status">Relays and events update every few seconds while this page is open.</p>
<div id="activity" data-poll="/ui/sites/${seg(slug)}/activity" data-status="act-status" data-every="3000">${siteActivity({ slug, relays: o.relays, cache: o.cache, events: o.events, hostsById: o.hostsById, now })}</div>`;
  return page({ title: site.name, principal: o.principal, crumbs: [{ href: "/ui", label: "Sites" }, { label: site.name }], notice: o.notice, body });
}

