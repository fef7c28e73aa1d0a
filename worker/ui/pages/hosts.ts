import { html } from "hono/html";
import type { Principal } from "../../context.ts";
import { seg } from "../apiClient.ts";
import { type Html, type Notice, page, stateBadge, when } from "../layout.ts";
import type { LastPhase } from "../queries.ts";
import { STAGE_LABEL, stageOf } from "../timeline.ts";
import { type HostItem, hostHref, hostName, ms } from "./site.ts";

export const HOST_STATES = ["discovered", "ready", "booting", "booted", "installing", "installed", "failed"] as const;
export const PAGE_SIZES = [25, 50, 100, 200] as const;

export type HostFilters = { state: string; label: string; mac: string; limit: number; cursor: string; page: number };
// Which form control an API validation error is about.
export const FILTER_FIELDS: Record<string, string> = { state: "State", label: "Label", mac: "MAC address", limit: "Hosts per page", cursor: "Page" };

const intentText = (i: HostItem["intent"]) => (i ? `${i.mode === "once" ? "once" : "always"}: ${i.target}` : "");

export function hostsPage(o: {
  principal: Principal;
  site: { slug: string; name: string };
  filters: HostFilters;
  invalid: Set<string>;
  hosts: HostItem[];
  last: Map<string, LastPhase>;
  nextCursor: string | null;
  notice: Notice | null;
  now: number;
}): Html {
  const { site, filters: f, now } = o;
  const slug = site.slug;
  const base = `/ui/sites/${seg(slug)}/hosts`;
  const keep = new URLSearchParams();
  for (const [k, v] of [["state", f.state], ["label", f.label], ["mac", f.mac]] as const) if (v) keep.set(k, v);
  if (f.limit !== 50) keep.set("limit", String(f.limit));
  const firstHref = `${base}${keep.size ? `?${keep}` : ""}`;
  const next = new URLSearchParams(keep);
  if (o.nextCursor) next.set("cursor", o.nextCursor), next.set("page", String(f.page + 1));
  const from = (f.page - 1) * f.limit + 1;
  const filtered = Boolean(f.state || f.label || f.mac);
  const bad = (k: string) => (o.invalid.has(k) ? html` aria-invalid="true"` : "");

  const body = html`<h1>Hosts of ${site.name}</h1>
<form method="get" action="${base}" class="filters" aria-label="Filter hosts">
  <div><label for="f-state">State</label>
    <select id="f-state" name="state"${bad("state")}><option value="">any state</option>${HOST_STATES.map((s) => html`<option value="${s}" ${f.state === s ? "selected" : ""}>${s}</option>`)}</select></div>
  <div><label for="f-label">Label (key=value)</label>
    <input id="f-label" name="label" value="${f.label}" placeholder="rack=r12" maxlength="320" autocomplete="off"${bad("label")}></div>
  <div><label for="f-mac">MAC address</label>
    <input id="f-mac" name="mac" value="${f.mac}" placeholder="52:54:00:12:34:56" maxlength="32" autocomplete="off"${bad("mac")}></div>
  <div><label for="f-limit">Hosts per page</label>
    <select id="f-limit" name="limit"${bad("limit")}>${PAGE_SIZES.map((n) => html`<option value="${n}" ${f.limit === n ? "selected" : ""}>${n}</option>`)}</select></div>
  <div class="actions"><button type="submit" class="primary">Apply filters</button>${filtered ? html` <a href="${base}">Clear</a>` : ""}</div>
</form>
${o.notice?.kind === "error"
    ? ""
    : o.hosts.length === 0
      ? html`<p class="empty">${filtered ? "No host matches these filters." : f.cursor ? "No more hosts." : "This site has no hosts yet."}</p>`
      : html`<p class="muted" id="range">Hosts ${from}–${from + o.hosts.length - 1}${filtered ? " matching the filters" : ""}, by hostname (unnamed machines first).</p>
<div class="table-wrap"><table class="cards" aria-describedby="range">
  <thead><tr><th scope="col">Host</th><th scope="col">MAC</th><th scope="col">State</th><th scope="col">Profile</th><th scope="col">Last phase</th><th scope="col">Last seen</th></tr></thead>
  <tbody>${o.hosts.map((h) => {
        const lp = o.last.get(h.id);
        return html`<tr>
    <th scope="row" data-label="Host"><a href="${hostHref(slug, h)}">${hostName(h)}</a>${h.intent ? html` <span class="badge info" title="next boot">${intentText(h.intent)}</span>` : ""}</th>
    <td data-label="MAC"><code>${h.mac ?? "—"}</code></td>
    <td data-label="State">${stateBadge(h.state)}</td>
    <td data-label="Profile">${h.profile ?? html`<span class="muted">none</span>`}</td>
    <td data-label="Last phase">${lp ? html`<code>${lp.phase}</code> <span class="muted">${STAGE_LABEL[stageOf({ phase: lp.phase, detail: {} })]}, ${when(lp.at, now)}</span>` : html`<span class="muted">no events</span>`}</td>
    <td data-label="Last seen">${when(ms(h.lastSeenAt), now)}</td>
  </tr>`;
      })}</tbody>
</table></div>`}
<nav class="pager" aria-label="Pages">
  ${f.cursor ? html`<a class="button" href="${firstHref}">First page</a>` : ""}
  ${o.nextCursor ? html`<a class="button" rel="next" href="${base}?${next.toString()}">Next ${f.limit} hosts</a>` : ""}
</nav>`;
  return page({
    title: `Hosts of ${site.name}`,
    principal: o.principal,
    crumbs: [{ href: "/ui", label: "Sites" }, { href: `/ui/sites/${seg(slug)}`, label: site.name }, { label: "Hosts" }],
    notice: o.notice,
    body,
  });
}
