// The page shell and shared pieces. Every value goes through hono/html's `html`, which escapes interpolations.
import { html } from "hono/html";
import type { Principal } from "../context.ts";
import { isAdmin, siteScopes } from "../auth/adminScopes.ts";
import type { ApiFailure } from "./apiClient.ts";
import { ago, isoUtc } from "./format.ts";

export type Html = ReturnType<typeof html>;
export type Crumb = { href?: string; label: string };
export type Notice = { kind: "ok" | "error"; text: string; details?: string[] };

// What the token may do, in words, so a read-only operator knows why there are no buttons.
export function describeAccess(p: Principal): string {
  if (isAdmin(p.scopes)) return "admin";
  const sites = siteScopes(p.scopes);
  const parts = [...(p.scopes.includes("read") ? ["read-only, all sites"] : []), ...(sites.length ? [`can change site${sites.length > 1 ? "s" : ""} ${sites.join(", ")}`] : [])];
  return parts.join("; ") || "no scopes";
}

export function page(opts: { title: string; principal?: Principal; crumbs?: Crumb[]; notice?: Notice | null; body: Html }): Html {
  const { title, principal, crumbs = [], notice, body } = opts;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${title} · edgeboot</title>
<link rel="stylesheet" href="/ui/assets/app.css">
<script src="/ui/assets/app.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="/ui">edgeboot <span>status</span></a>
  ${principal
    ? html`<div class="who">
    <span title="${principal.scopes.join(" ")}">${principal.name} · ${describeAccess(principal)}</span>
    <form method="post" action="/ui/logout"><button type="submit" class="link">Log out</button></form>
  </div>`
    : ""}
</header>
${crumbs.length
    ? html`<nav class="crumbs" aria-label="Breadcrumb"><ol>${crumbs.map((c, i) =>
        i === crumbs.length - 1 || !c.href ? html`<li><span aria-current="page">${c.label}</span></li>` : html`<li><a href="${c.href}">${c.label}</a></li>`,
      )}</ol></nav>`
    : ""}
<main id="main" tabindex="-1">
${notice ? noticeBox(notice) : ""}
${body}
</main>
</body>
</html>`;
}

export function noticeBox(n: Notice): Html {
  return html`<div class="notice ${n.kind}" role="${n.kind === "error" ? "alert" : "status"}">
  <p>${n.text}</p>
  ${n.details?.length ? html`<ul>${n.details.map((d) => html`<li>${d}</li>`)}</ul>` : ""}
</div>`;
}

// An API error as the operator should read it: the message, then each failed field.
// `hints` replace zod's generic "Invalid input" (a failed union) with what the field expects.
export function failureNotice(e: ApiFailure, fieldNames: Record<string, string> = {}, hints: Record<string, string> = {}): Notice {
  const details: string[] = [];
  if (Array.isArray(e.details)) {
    for (const issue of e.details as { path?: unknown[]; message?: string }[]) {
      const key = Array.isArray(issue.path) ? String(issue.path[0] ?? "") : "";
      const message = issue.message === "Invalid input" && hints[key] ? hints[key] : (issue.message ?? "invalid");
      details.push(`${fieldNames[key] ?? (key || "input")}: ${message}`);
    }
  }
  return { kind: "error", text: e.code === "invalid_input" && details.length ? "Some of what you entered is not valid:" : e.message, details };
}

export const when = (ms: number | null, now: number) =>
  ms === null ? html`<span class="muted">never</span>` : html`<time datetime="${new Date(ms).toISOString()}" title="${isoUtc(ms)}">${ago(ms, now)}</time>`;

export const stateBadge = (state: string) => html`<span class="badge state-${state}">${state}</span>`;
