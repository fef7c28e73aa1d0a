// /v1/sites/:site/rules: profile assignment rules (worker/assign/README.md). A save that would tie with a saved rule
// (equal specificity, selectors a machine could both match) is refused with 409 naming both, and nothing is stored.
import { createRoute, z } from "@hono/zod-openapi";
import { requireSiteAccess } from "../auth/bearer.ts";
import type { Db } from "../db/client.ts";
import { describeSelector } from "../assign/pick.ts";
import { tiesWith } from "../assign/conflicts.ts";
import { specificity } from "../assign/specificity.ts";
import { auditIfChanged } from "../db/queries/audit.ts";
import { findSite, profileId } from "../db/queries/catalogue.ts";
import { deleteRule, findRule, insertRuleIfUnchanged, MAX_RULES_PER_SITE, replaceRuleIfUnchanged, ruleSetFingerprint, siteRules, type NamedRule } from "../db/queries/rules.ts";
import type { RuleSelector } from "../db/schema.ts";
import { ApiError } from "../errors.ts";
import { checkIfMatch, concurrentChange, etagOf } from "../lib/etag.ts";
import { adminRouter, errors, jsonBody, jsonContent, noContent, security } from "./openapi.ts";
import { RuleCreate, RuleName, RuleReplace, Selector } from "./ruleFields.ts";
import { iso, Slug, Timestamp } from "./schemas.ts";

export const RuleView = z
  .object({
    id: z.string(),
    site: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    profile: z.string().nullable(),
    selector: Selector,
    specificity: z.number().openapi({ description: "1000 × weight + precision; the matching rule with the highest wins" }),
    revision: z.number(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi("Rule");

const SiteParam = z.object({ site: Slug });
const RuleParam = SiteParam.extend({ rule: RuleName });
const tags = ["rules"];

const toView = (site: string, r: NamedRule): z.infer<typeof RuleView> => ({
  id: r.id,
  site,
  name: r.name,
  description: r.description,
  profile: r.profile,
  selector: r.selector as z.infer<typeof Selector>,
  specificity: specificity(r.selector),
  revision: r.revision,
  createdAt: iso(r.createdAt)!,
  updatedAt: iso(r.updatedAt)!,
});

function refuseTies(name: string, selector: RuleSelector, saved: NamedRule[]) {
  const ties = tiesWith({ name, selector }, saved);
  if (!ties.length) return;
  const names = ties.map((t) => `"${t.name}"`).join(", ");
  throw new ApiError(
    "conflict",
    `rule "${name}" ties with rule${ties.length > 1 ? "s" : ""} ${names}: equal specificity (${specificity(selector)}) and a machine could match both; make one more specific or give them a constraint that separates them (e.g. different values of one label)`,
    { field: "selector", rules: [name, ...ties.map((t) => t.name)], specificity: specificity(selector), selectors: Object.fromEntries([[name, describeSelector(selector)], ...ties.map((t) => [t.name, describeSelector(t.selector)])]) },
  );
}

// The guarded write did not land: the profile was deleted meanwhile (400 naming it), or the rule set changed since the
// tie check read it (409, retry).
async function writeLost(db: Db, profile: string): Promise<ApiError> {
  await profileId(db, profile, "profile");
  return new ApiError("precondition_failed", "the site's rules changed while this one was checked; retry");
}

export const rulesAdmin = adminRouter()
  .openapi(
    createRoute({
      method: "get",
      path: "/sites/{site}/rules",
      tags,
      security,
      summary: `List a site's assignment rules by name (at most ${MAX_RULES_PER_SITE}, all on one page)`,
      request: { params: SiteParam },
      responses: { 200: jsonContent(z.object({ items: z.array(RuleView), nextCursor: z.string().nullable() }), "Rules"), ...errors },
    }),
    async (c) => {
      const { site: slug } = c.req.valid("param");
      requireSiteAccess(c, slug, "read");
      const db = c.get("db");
      const site = await findSite(db, slug);
      return c.json({ items: (await siteRules(db, site.id)).map((r) => toView(slug, r)), nextCursor: null }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/sites/{site}/rules",
      tags,
      security,
      summary: "Create an assignment rule; 409 if the name is taken or it would tie with a saved rule (both named)",
      request: { params: SiteParam, ...jsonBody(RuleCreate) },
      responses: { 201: jsonContent(RuleView, "Created"), ...errors },
    }),
    async (c) => {
      const { site: slug } = c.req.valid("param");
      const principal = requireSiteAccess(c, slug, "write");
      const input = c.req.valid("json");
      const db = c.get("db");
      const site = await findSite(db, slug);
      const pid = await profileId(db, input.profile, "profile");
      const saved = await siteRules(db, site.id);
      if (saved.some((r) => r.name === input.name)) throw new ApiError("conflict", `rule "${input.name}" already exists in site "${slug}"`, { field: "name", rule: input.name });
      if (saved.length >= MAX_RULES_PER_SITE) throw new ApiError("conflict", `site "${slug}" already has ${MAX_RULES_PER_SITE} rules, the most a site may have`, { max: MAX_RULES_PER_SITE });
      refuseTies(input.name, input.selector, saved);
      const id = crypto.randomUUID();
      const values = { id, siteId: site.id, name: input.name, description: input.description ?? null, profileId: pid, selector: input.selector };
      const [inserted] = await db.batch([
        insertRuleIfUnchanged(db, values, ruleSetFingerprint(saved)),
        auditIfChanged(db, { actor: principal.name, action: "rule.create", resource: "rule", resourceId: id, siteId: site.id, detail: { name: input.name, profile: input.profile, selector: input.selector } }),
      ]);
      const row = inserted[0];
      if (!row) throw await writeLost(db, input.profile);
      c.header("etag", etagOf(row));
      c.header("location", `/v1/sites/${slug}/rules/${input.name}`);
      return c.json(toView(slug, { ...row, profile: input.profile }), 201);
    },
  )
  .openapi(
    createRoute({ method: "get", path: "/sites/{site}/rules/{rule}", tags, security, summary: "Get an assignment rule (ETag = revision)", request: { params: RuleParam }, responses: { 200: jsonContent(RuleView, "The rule"), ...errors } }),
    async (c) => {
      const { site: slug, rule: name } = c.req.valid("param");
      requireSiteAccess(c, slug, "read");
      const db = c.get("db");
      const site = await findSite(db, slug);
      const rule = findRule(await siteRules(db, site.id), name);
      c.header("etag", etagOf(rule));
      return c.json(toView(slug, rule), 200);
    },
  )
  .openapi(
    createRoute({
      method: "put",
      path: "/sites/{site}/rules/{rule}",
      tags,
      security,
      summary: "Replace an assignment rule's profile, selector and description (honours If-Match); 409 on a tie",
      request: { params: RuleParam, ...jsonBody(RuleReplace) },
      responses: { 200: jsonContent(RuleView, "Replaced"), ...errors },
    }),
    async (c) => {
      const { site: slug, rule: name } = c.req.valid("param");
      const principal = requireSiteAccess(c, slug, "write");
      const input = c.req.valid("json");
      const db = c.get("db");
      const site = await findSite(db, slug);
      const saved = await siteRules(db, site.id);
      const row = findRule(saved, name);
      checkIfMatch(c.req.header("if-match"), etagOf(row));
      const pid = await profileId(db, input.profile, "profile");
      refuseTies(name, input.selector, saved);
      const [updated] = await db.batch([
        replaceRuleIfUnchanged(db, row, { description: input.description ?? null, profileId: pid, selector: input.selector }, ruleSetFingerprint(saved)),
        auditIfChanged(db, { actor: principal.name, action: "rule.replace", resource: "rule", resourceId: row.id, siteId: site.id, detail: { name, profile: input.profile, selector: input.selector } }),
      ]);
      if (!updated[0]) throw await writeLost(db, input.profile);
      c.header("etag", etagOf(updated[0]));
      return c.json(toView(slug, { ...updated[0], profile: input.profile }), 200);
    },
  )
  .openapi(
    createRoute({ method: "delete", path: "/sites/{site}/rules/{rule}", tags, security, summary: "Delete an assignment rule (honours If-Match)", request: { params: RuleParam }, responses: { ...noContent, ...errors } }),
    async (c) => {
      const { site: slug, rule: name } = c.req.valid("param");
      const principal = requireSiteAccess(c, slug, "write");
      const db = c.get("db");
      const site = await findSite(db, slug);
      const row = findRule(await siteRules(db, site.id), name);
      checkIfMatch(c.req.header("if-match"), etagOf(row));
      const [deleted] = await db.batch([
        deleteRule(db, row),
        auditIfChanged(db, { actor: principal.name, action: "rule.delete", resource: "rule", resourceId: row.id, siteId: site.id, detail: { name } }),
      ]);
      if (!deleted[0]) throw concurrentChange();
      return c.body(null, 204);
    },
  );


// /explain's `rules` section (worker/assign/explain.ts), documented with the explain route (openapiSiteTools.ts).
export const RuleExplanation = z
  .object({
    matched: z.string().nullable().openapi({ description: "The most specific rule the machine matches, whether or not it decided" }),
    decided: z.boolean().openapi({ description: "Whether the boot decision came from the rules (an intent or the host's own profile comes first)" }),
    why: z.string(),
    items: z.array(
      z.object({
        name: z.string(),
        profile: z.string().nullable(),
        specificity: z.number(),
        result: z.enum(["matched", "outranked", "no-match"]),
        why: z.string(),
        failed: z.array(z.object({ constraint: z.string().openapi({ example: "labels.rack" }), want: z.string(), have: z.string().nullable(), why: z.string() })),
      }),
    ),
  })
  .openapi("RuleExplanation");
