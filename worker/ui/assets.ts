// The page's only stylesheet and script, served from /ui/assets so the Content-Security-Policy can forbid inline code.

export const APP_CSS = `
:root { --fg:#1b1f24; --muted:#57606a; --bg:#fff; --panel:#f6f8fa; --line:#d0d7de; --accent:#0b57d0; --accent-fg:#fff;
  --ok:#116329; --ok-bg:#dafbe1; --bad:#a40e26; --bad-bg:#ffebe9; --warn:#7a4a00; --warn-bg:#fff1c2; --info:#0b3f8f; --info-bg:#ddf4ff; }
* { box-sizing: border-box; }
body { margin:0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
a { color:var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, summary:focus-visible { outline:3px solid #f2a900; outline-offset:2px; }
code { font: 0.9em ui-monospace, SFMono-Regular, Menlo, monospace; overflow-wrap:anywhere; }
.skip { position:absolute; left:-999px; } .skip:focus { left:8px; top:8px; background:#fff; padding:4px 8px; z-index:9; }
.sr-only { position:absolute; width:1px; height:1px; overflow:hidden; clip:rect(0 0 0 0); white-space:nowrap; }
.top { display:flex; flex-wrap:wrap; gap:8px 16px; align-items:center; justify-content:space-between; padding:10px 16px; background:#0d1b2a; color:#fff; }
.top a.brand { color:#fff; text-decoration:none; font-weight:700; font-size:1.15rem; } .top a.brand span { font-weight:400; opacity:.85; }
.who { display:flex; gap:12px; align-items:center; font-size:.9rem; flex-wrap:wrap; }
.who form { margin:0; } .who button.link { color:#fff; }
button.link { background:none; border:none; padding:0; text-decoration:underline; cursor:pointer; font:inherit; }
.crumbs ol { list-style:none; display:flex; flex-wrap:wrap; gap:4px; margin:0; padding:8px 16px; font-size:.9rem; background:var(--panel); border-bottom:1px solid var(--line); }
.crumbs li + li::before { content:"›"; margin-right:4px; color:var(--muted); }
main { padding:12px 16px 48px; max-width:1200px; margin:0 auto; }
h1 { font-size:1.5rem; margin:.4em 0; } h2 { font-size:1.2rem; margin:1.4em 0 .5em; } h3 { font-size:1rem; margin:1em 0 .3em; }
.muted { color:var(--muted); } .lead { margin-top:0; } .help { color:var(--muted); font-size:.9rem; margin:.2em 0 .6em; }
.empty { padding:12px; background:var(--panel); border:1px dashed var(--line); border-radius:6px; }
.card { border:1px solid var(--line); border-radius:8px; padding:12px 16px; background:#fff; }
.card > h2:first-child { margin-top:0; }
.card.narrow { max-width:560px; margin:24px auto; }
.notice { border-radius:6px; padding:10px 14px; margin:8px 0 16px; border:1px solid; }
.notice p { margin:0; font-weight:600; } .notice ul { margin:.4em 0 0; }
.notice.error { background:var(--bad-bg); border-color:var(--bad); color:var(--bad); }
.notice.ok { background:var(--ok-bg); border-color:var(--ok); color:var(--ok); }
.badge { display:inline-block; padding:1px 8px; border-radius:999px; font-size:.8rem; font-weight:600; background:var(--panel); color:var(--fg); border:1px solid var(--line); text-decoration:none; white-space:nowrap; }
.badge.ok, .badge.state-booted, .badge.state-installed, .badge.status-booted { background:var(--ok-bg); color:var(--ok); border-color:#8fd19e; }
.badge.bad, .badge.state-failed, .badge.status-failed { background:var(--bad-bg); color:var(--bad); border-color:#f5a3a9; }
.badge.warn, .badge.state-discovered, .badge.status-waiting { background:var(--warn-bg); color:var(--warn); border-color:#e8c56b; }
.badge.info, .badge.state-booting, .badge.state-installing, .badge.status-in-progress { background:var(--info-bg); color:var(--info); border-color:#9cc8f0; }
.boot { border-left:4px solid var(--line); padding-left:10px; }
.boot.status-booted { border-left-color:var(--ok); } .boot.status-failed { border-left-color:var(--bad); }
.boot.status-waiting { border-left-color:#b7791f; } .boot.status-in-progress { border-left-color:var(--accent); }
.nowrap { white-space:nowrap; }
.badge.muted { color:var(--muted); }
ul.chips, ul.plain { list-style:none; padding:0; margin:4px 0; } ul.chips { display:inline-flex; flex-wrap:wrap; gap:4px; vertical-align:middle; }
.table-wrap { overflow-x:auto; }
table { border-collapse:collapse; width:100%; font-size:.95rem; }
th, td { text-align:left; padding:8px; border-bottom:1px solid var(--line); vertical-align:top; }
thead th { background:var(--panel); font-size:.85rem; color:var(--muted); }
tbody th { font-weight:600; }
table.compact td, table.compact th { padding:4px 8px; }
td.detail { color:var(--muted); font-size:.85rem; overflow-wrap:anywhere; }
label { font-weight:600; display:block; font-size:.9rem; }
input, select, button, .button { font:inherit; min-height:44px; padding:6px 10px; border:1px solid #8c959f; border-radius:6px; background:#fff; color:var(--fg); }
input[type=radio] { min-height:auto; }
fieldset { border:1px solid var(--line); border-radius:6px; padding:4px 10px; margin:0; }
fieldset label { font-weight:400; display:inline-flex; gap:6px; align-items:center; margin-right:12px; }
button, .button { cursor:pointer; background:var(--panel); text-decoration:none; display:inline-flex; align-items:center; }
button.primary { background:var(--accent); color:var(--accent-fg); border-color:var(--accent); }
[aria-invalid=true] { border:2px solid var(--bad); background:var(--bad-bg); }
.stack { display:flex; flex-direction:column; gap:6px; } .stack button { align-self:flex-start; }
.inline-form, .filters { display:flex; flex-wrap:wrap; gap:8px 12px; align-items:flex-end; margin:8px 0; }
.filters { background:var(--panel); padding:10px; border-radius:8px; border:1px solid var(--line); }
.filters small { display:block; }
.pager { display:flex; gap:8px; margin:12px 0; }
ul.discovered { list-style:none; padding:0; display:grid; gap:10px; }
ul.discovered p { margin:0 0 6px; }
dl.facts { display:grid; grid-template-columns:repeat(auto-fill, minmax(200px, 1fr)); gap:8px 16px; margin:8px 0 16px; }
dl.facts dt { font-size:.8rem; color:var(--muted); } dl.facts dd { margin:0; }
.host-grid { display:grid; grid-template-columns: minmax(0, 2fr) minmax(0, 1fr); gap:16px; align-items:start; }
.live { font-size:.85rem; color:var(--muted); margin:0 0 6px; }
ol.stages { list-style:none; display:flex; flex-wrap:wrap; gap:4px; padding:0; margin:8px 0; }
ol.stages li { flex:1 1 110px; border-radius:6px; padding:6px 8px; border:1px solid var(--line); display:flex; flex-direction:column; }
ol.stages .name { font-weight:600; font-size:.9rem; } ol.stages .dur { font-size:.85rem; }
ol.stages li.done { background:var(--ok-bg); border-color:#8fd19e; color:var(--ok); }
ol.stages li.failed { background:var(--bad-bg); border-color:#f5a3a9; color:var(--bad); }
ol.stages li.not-seen { background:var(--panel); color:var(--muted); border-style:dashed; }
.boot-head { margin:.2em 0; }
.jump { display:none; margin:0 0 6px; }
tr.gap td { text-align:center; color:var(--muted); font-style:italic; }
/* Long unbroken values (a 128-character site name or serial, a 256-character label) wrap instead of widening the page. */
h1, .crumbs li, .who span, ul.discovered p, dl.facts dd { overflow-wrap:anywhere; }
dl.facts > div { min-width:0; }
dl.facts .badge { white-space:normal; overflow-wrap:anywhere; }
@media (max-width: 760px) {
  .host-grid { grid-template-columns:1fr; }
  .jump { display:block; }
  dl.facts { grid-template-columns:1fr 1fr; }
  table.cards thead { position:absolute; width:1px; height:1px; overflow:hidden; clip:rect(0 0 0 0); }
  table.cards, table.cards tbody, table.cards tr, table.cards th, table.cards td { display:block; width:100%; }
  table.cards tr { border:1px solid var(--line); border-radius:8px; margin:0 0 10px; padding:4px 0; }
  table.cards th, table.cards td { border:none; padding:2px 10px; overflow-wrap:anywhere; }
  table.cards [data-label]::before { content:attr(data-label) ": "; color:var(--muted); font-weight:400; font-size:.85rem; }
  table.events tr { padding:6px 10px; }
  table.events td { display:inline; padding:0 8px 0 0; }
  table.events [data-label]::before { content:none; }
  table.events td.detail { display:block; padding:2px 0 0; }
  table.cards td:empty { display:none; }
  .inline-form > div, .inline-form fieldset { flex:1 1 100%; }
  .filters > div { flex:1 1 40%; } .inline-form input:not([type=radio]), .inline-form select, .filters input, .filters select { width:100%; }
}
`;

// Live timeline: re-fetch the fragment every second while the tab is visible (the page shows a new event within
// 2 s); confirm dialogs for forms that change what a machine boots.
export const APP_JS = `"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) { if (!window.confirm(form.dataset.confirm)) ev.preventDefault(); });
  });
  document.querySelectorAll("[data-poll]").forEach(function (el) {
    var status = document.getElementById(el.dataset.status || "");
    var every = Number(el.dataset.every) || 1000;
    var last = null, busy = false, pending = null;
    var say = function (text) { if (status && status.textContent !== text) status.textContent = text; };
    var apply = function (text) {
      // Never swap the content under the keyboard focus; apply it once focus has left.
      if (el.contains(document.activeElement)) { pending = text; return; }
      var open = Array.prototype.map.call(el.querySelectorAll("details"), function (d) { return d.open; });
      el.innerHTML = text;
      el.querySelectorAll("details").forEach(function (d, i) { if (open[i]) d.open = true; });
      pending = null;
    };
    el.addEventListener("focusout", function () { setTimeout(function () { if (pending !== null) apply(pending); }, 0); });
    var tick = function () {
      if (busy || document.hidden) return;
      busy = true;
      fetch(el.dataset.poll, { credentials: "same-origin", headers: { accept: "text/html" }, cache: "no-store" })
        .then(function (res) {
          if (res.status === 401) { say("Your session ended: reload the page to log in again."); clearInterval(timer); return null; }
          if (!res.ok) throw new Error(String(res.status));
          return res.text();
        })
        .then(function (text) {
          if (text === null) return;
          if (last !== null && text !== last) apply(text);
          if (text !== last) el.dataset.updated = String(Date.now());
          last = text;
          say("Live: updates appear here on their own.");
        })
        .catch(function () { say("Cannot reach the API; retrying."); })
        .then(function () { busy = false; });
    };
    var timer = setInterval(tick, every);
    tick();
  });
});
`;
