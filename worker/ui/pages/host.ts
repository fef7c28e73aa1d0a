import { html } from "hono/html";
import type { Principal } from "../../context.ts";
import { seg } from "../apiClient.ts";
import { duration, isoUtc } from "../format.ts";
import { type Html, type Notice, page, stateBadge } from "../layout.ts";
import { type Boot, STAGE_LABEL, STAGES } from "../timeline.ts";
import { enrollForm, eventDetail, type HostItem, hostName, hostRef, ms, profileOptions } from "./site.ts";

const STATUS_TEXT: Record<Boot["status"], string> = {
  booted: "finished",
  failed: "failed",
  waiting: "waiting for an operator (discovered)",
  "in-progress": "in progress",
};

function stageBar(b: Boot): Html {
  const seen = new Map(b.stages.map((s) => [s.stage, s]));
  const shown = STAGES.filter((s) => s !== "wake" || seen.has(s));
  return html`<ol class="stages" aria-label="Stages">${shown.map((stage) => {
    const s = seen.get(stage);
    if (!s) return html`<li class="stage not-seen"><span class="name">${STAGE_LABEL[stage]}</span><span class="dur">no events</span></li>`;
    const at = `at +${duration(s.startAt - b.startAt)}`;
    // A stage of one instant (the host's final report) has a time, not a duration.
    const took = s.ms === 0 && s.events === 1 ? at : `${duration(s.ms)}, ${at}`;
    return html`<li class="stage ${s.failed ? "failed" : "done"}"><span class="name">${s.label}</span><span class="dur">${s.failed ? "failed · " : ""}${took}</span></li>`;
  })}</ol>`;
}

// A machine in a loop (discovery retries, TFTP retries) can log hundreds of events in one boot; the page lists how
// it started and the newest ones, so the open page stays short and the latest event stays in view.
export const LISTED_HEAD = 10;
export const LISTED_MAX = 60;

export function listedEvents<T>(events: T[]): { head: T[]; hidden: number; tail: T[] } {
  if (events.length <= LISTED_MAX) return { head: events, hidden: 0, tail: [] };
  const tail = events.slice(events.length - (LISTED_MAX - LISTED_HEAD));
  return { head: events.slice(0, LISTED_HEAD), hidden: events.length - LISTED_MAX, tail };
}

const eventRow = (e: Boot["events"][number]) => html`<tr data-phase="${e.phase}">
      <td data-label="At" class="nowrap"><span title="${isoUtc(e.at)}">+${duration(e.offsetMs)}</span></td>
      <td data-label="Stage">${STAGE_LABEL[e.stage]}</td>
      <td data-label="Event"><code class="nowrap">${e.phase}</code></td>
      <td data-label="From">${e.source}</td>
      <td data-label="Detail" class="detail">${eventDetail(e.detail)}</td>
    </tr>`;

export function timelineFragment(boots: Boot[]): Html {
  if (boots.length === 0) return html`<p class="empty">No boot events yet. They appear here within a second or two of the machine's DHCP request.</p>`;
  const [latest, ...earlier] = boots as [Boot, ...Boot[]];
  const listed = listedEvents(latest.events);
  return html`<div class="boot status-${latest.status}">
  <p class="boot-head"><strong>Latest boot</strong>: started ${isoUtc(latest.startAt)},
    <span class="badge status-${latest.status}">${STATUS_TEXT[latest.status]}</span>, ${latest.status === "in-progress" || latest.status === "waiting" ? `${duration(latest.endAt - latest.startAt)} so far` : `took ${duration(latest.endAt - latest.startAt)}`}, last event <code>${latest.lastPhase}</code></p>
  ${stageBar(latest)}
  <p class="help">Each stage lasts from its first event to the first event of the next one (so Artifacts includes the kernel starting).</p>
  <div class="table-wrap"><table class="cards compact events">
    <caption class="sr-only">Events of the latest boot, oldest first</caption>
    <thead><tr><th scope="col">At</th><th scope="col">Stage</th><th scope="col">Event</th><th scope="col">From</th><th scope="col">Detail</th></tr></thead>
    <tbody>${listed.head.map(eventRow)}${listed.hidden
      ? html`<tr class="gap"><td colspan="5">… ${listed.hidden} more event${listed.hidden === 1 ? "" : "s"} of this boot not listed here (the stage boxes above include them) …</td></tr>`
      : ""}${listed.tail.map(eventRow)}</tbody>
  </table></div>
</div>
${earlier.length
    ? html`<details><summary>Earlier boots (${earlier.length}) in the last hours</summary><ul class="plain">${earlier.map(
        (b) => html`<li>${isoUtc(b.startAt)}: <span class="badge status-${b.status}">${STATUS_TEXT[b.status]}</span> after ${duration(b.endAt - b.startAt)}, last <code>${b.lastPhase}</code> · ${b.stages.map((s) => `${s.label} ${duration(s.ms)}`).join(" → ")}</li>`,
      )}</ul></details>`
    : ""}`;
}

function actions(site: string, h: HostItem, profiles: string[], etag: string | null): Html {
  const base = `/ui/sites/${seg(site)}/hosts/${seg(hostRef(h))}`;
  const etagField = etag ? html`<input type="hidden" name="etag" value="${etag}">` : "";
  const needsEnroll = h.state === "discovered" || !h.profile;
  return html`<section aria-labelledby="act-h" class="card">
  <h2 id="act-h">Actions</h2>
  ${needsEnroll
    ? html`<h3>Enroll</h3><p class="help">Give the machine a name and a profile; it boots that profile at its next request.</p>${enrollForm(site, h, profiles, etag, "host")}`
    : ""}
  <h3>Next boot</h3>
  ${h.intent
    ? html`<p>Set: boot <strong>${h.intent.target === "local" ? "the local disk" : h.intent.target}</strong> ${h.intent.mode === "once" ? html`once, until the host reports <code>${h.intent.revertOnPhase ?? "installed"}</code>` : "always"}.</p>
  <form method="post" action="${base}/intent">${etagField}<input type="hidden" name="clear" value="1"><button type="submit">Clear next-boot setting</button></form>`
    : html`<p class="help">Normally it boots its profile${h.profile ? html` <strong>${h.profile}</strong>` : ""}. Choose something else for its next boot only:</p>`}
  <form method="post" action="${base}/intent" class="inline-form" data-confirm="Change what this machine boots next?">
    ${etagField}
    <div><label for="i-target">Boot</label>
    <select id="i-target" name="target" required>${profileOptions(profiles, null, "Choose…")}<option value="local">the local disk</option></select></div>
    <fieldset><legend>Until the host reports</legend>
      <label><input type="radio" name="revertOnPhase" value="installed" checked> installed (reinstall)</label>
      <label><input type="radio" name="revertOnPhase" value="booted"> booted (boot once)</label>
    </fieldset>
    <button type="submit" class="primary">Set next boot</button>
  </form>
  <h3>Power on</h3>
  ${h.mac
    ? html`<form method="post" action="${base}/wake" class="inline-form"><button type="submit">Wake (send Wake-on-LAN)</button>
    <span class="help">The site's relay sends the magic packet at its next sync (within about 15 s).</span></form>`
    : html`<p class="muted">No MAC address known, so it cannot be woken.</p>`}
</section>`;
}

// A host without a profile of its own that an assignment rule booted: the rule and profile of its latest chain.
function ruleProfile(boots: Boot[]): Html | null {
  for (const boot of [...boots].sort((a, b) => b.startAt - a.startAt)) {
    const served = boot.events.filter((e) => e.phase === "chain-served" && e.source === "worker" && e.detail.source === "rule").at(-1);
    if (served && typeof served.detail.rule === "string" && typeof served.detail.profile === "string") {
      return html`${served.detail.profile} <span class="muted">(none of its own; by rule ${served.detail.rule})</span>`;
    }
  }
  return null;
}

// The part of the host page that the browser re-fetches every second: what the host is now, and its boots.
export function hostLive(h: HostItem, boots: Boot[]): Html {
  const labels = Object.entries(h.labels);
  const seen = ms(h.lastSeenAt);
  return html`<dl class="facts">
  <div><dt>State</dt><dd>${stateBadge(h.state)}</dd></div>
  <div><dt>MAC</dt><dd><code>${h.mac ?? "—"}</code></dd></div>
  <div><dt>Profile</dt><dd>${h.profile ?? ruleProfile(boots) ?? html`<span class="muted">none</span>`}</dd></div>
  <div><dt>Last seen</dt><dd>${seen === null ? html`<span class="muted">never</span>` : html`<time datetime="${new Date(seen).toISOString()}">${isoUtc(seen)}</time>`}</dd></div>
  <div><dt>Architecture</dt><dd>${h.lastIdentity?.arch ?? h.arch ?? "—"}${h.lastIdentity?.platform ? ` (${h.lastIdentity.platform})` : ""}</dd></div>
  ${h.ipxeBuild ? html`<div><dt>iPXE build</dt><dd>${h.ipxeBuild}</dd></div>` : ""}
  ${h.uuid ? html`<div><dt>UUID</dt><dd><code>${h.uuid}</code></dd></div>` : ""}
  ${h.serial ? html`<div><dt>Serial</dt><dd>${h.serial}</dd></div>` : ""}
  ${labels.length ? html`<div><dt>Labels</dt><dd><ul class="chips">${labels.map(([k, v]) => html`<li><span class="badge">${k}=${v}</span></li>`)}</ul></dd></div>` : ""}
</dl>
<section aria-labelledby="tl-h">
  <h2 id="tl-h">Boot timeline</h2>
  ${timelineFragment(boots)}
</section>`;
}

export function hostPage(o: {
  principal: Principal;
  site: { slug: string; name: string };
  host: HostItem;
  etag: string | null;
  canWrite: boolean;
  profiles: string[];
  boots: Boot[];
  notice: Notice | null;
  now: number;
}): Html {
  const { site, host: h, now } = o;
  const slug = site.slug;
  // On a phone the actions come after the whole timeline: one tap takes the operator there.
  const body = html`<h1>${hostName(h)}</h1>
${o.canWrite ? html`<p class="jump"><a href="#act-h">Actions: next boot, wake ↓</a></p>` : ""}
<p class="live" id="tl-status" role="status">Updates every second while this page is open.</p>
<div class="host-grid">
<div id="timeline" data-poll="/ui/sites/${seg(slug)}/hosts/${seg(hostRef(h))}/timeline" data-status="tl-status">${hostLive(h, o.boots)}</div>
${o.canWrite ? actions(slug, h, o.profiles, o.etag) : html`<section class="card"><h2>Actions</h2><p class="muted">This token can only look at this site, so enrolling, next-boot changes and wake are not offered.</p></section>`}
</div>`;
  return page({
    title: hostName(h),
    principal: o.principal,
    crumbs: [{ href: "/ui", label: "Sites" }, { href: `/ui/sites/${seg(slug)}`, label: site.name }, { href: `/ui/sites/${seg(slug)}/hosts`, label: "Hosts" }, { label: hostName(h) }],
    notice: o.notice,
    body,
  });
}
