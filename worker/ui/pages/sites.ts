import { html } from "hono/html";
import type { Principal } from "../../context.ts";
import { isRelayHealthy } from "../../relayapi/health.ts";
import { seg } from "../apiClient.ts";
import { type Html, page, when } from "../layout.ts";
import type { RelaySummary } from "../queries.ts";

export type SiteItem = { id: string; slug: string; name: string; bootAuth: string; unknownHostPolicy: string };

const STATE_ORDER = ["discovered", "ready", "booting", "booted", "installing", "installed", "failed"];

export function stateChips(slug: string, counts: Record<string, number>): Html {
  const present = STATE_ORDER.filter((s) => counts[s]);
  if (!present.length) return html`<span class="muted">no hosts</span>`;
  return html`<ul class="chips">${present.map(
    (s) => html`<li><a class="badge state-${s}" href="/ui/sites/${seg(slug)}/hosts?state=${s}">${counts[s]} ${s}</a></li>`,
  )}</ul>`;
}

export function relayHealth(r: Pick<RelaySummary, "lastSeenAt" | "revokedAt">, now: number): Html {
  if (r.revokedAt !== null) return html`<span class="badge muted">revoked</span>`;
  if (r.lastSeenAt === null) return html`<span class="badge warn">never connected</span>`;
  return isRelayHealthy(r.lastSeenAt, now) ? html`<span class="badge ok">healthy</span>` : html`<span class="badge bad">not syncing</span>`;
}

export function sitesPage(o: { principal: Principal; sites: SiteItem[]; counts: Map<string, Record<string, number>>; relays: RelaySummary[]; nextCursor: string | null; now: number }): Html {
  const { sites, counts, relays, now } = o;
  const body = html`<h1>Sites</h1>
${sites.length === 0
    ? html`<p class="empty">This token sees no sites. An admin creates them with <code>POST /v1/sites</code>.</p>`
    : html`<div class="table-wrap"><table class="cards">
  <caption class="sr-only">Sites this token can see</caption>
  <thead><tr><th scope="col">Site</th><th scope="col">Hosts</th><th scope="col">Relays</th><th scope="col">Unknown machines</th></tr></thead>
  <tbody>${sites.map((s) => {
        const c = counts.get(s.id) ?? {};
        const total = Object.values(c).reduce((a, b) => a + b, 0);
        const mine = relays.filter((r) => r.siteId === s.id && r.revokedAt === null);
        return html`<tr>
    <th scope="row" data-label="Site"><a href="/ui/sites/${seg(s.slug)}">${s.name}</a> <span class="muted">(${s.slug})</span></th>
    <td data-label="Hosts"><a href="/ui/sites/${seg(s.slug)}/hosts">${total} host${total === 1 ? "" : "s"}</a> ${stateChips(s.slug, c)}</td>
    <td data-label="Relays">${mine.length === 0
      ? html`<span class="badge warn">no relay</span>`
      : html`<ul class="plain">${mine.map((r) => html`<li>${r.name} ${relayHealth(r, now)} <span class="muted">seen ${when(r.lastSeenAt, now)}</span></li>`)}</ul>`}</td>
    <td data-label="Unknown machines">${s.unknownHostPolicy}</td>
  </tr>`;
      })}</tbody>
</table></div>`}
${o.nextCursor ? html`<p><a class="button" href="/ui?cursor=${encodeURIComponent(o.nextCursor)}">Next sites</a></p>` : ""}`;
  return page({ title: "Sites", principal: o.principal, crumbs: [{ label: "Sites" }], body });
}
