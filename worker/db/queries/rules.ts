// Reads and guarded writes of a site's assignment rules (admin routes, dry-run). The chain reads rules in its own
// statement (bootChain.ts). Writes are conditional on the site's rule set being the one the tie check saw, so two
// concurrent saves cannot together store a tie that neither would have been allowed alone, nor name a profile deleted
// in between.
import { and, asc, eq, sql } from "drizzle-orm";
import type { Db } from "../client.ts";
import { assignmentRules, profiles, type RuleSelector } from "../schema.ts";
import { notFound } from "../../errors.ts";

export type RuleRow = typeof assignmentRules.$inferSelect;
export type NamedRule = RuleRow & { profile: string | null };

// A site has at most this many rules: the chain reads all of them on every boot.
export const MAX_RULES_PER_SITE = 100;

export async function siteRules(db: Db, siteId: string): Promise<NamedRule[]> {
  const rows = await db
    .select({ rule: assignmentRules, profile: profiles.name })
    .from(assignmentRules)
    .leftJoin(profiles, eq(profiles.id, assignmentRules.profileId))
    .where(eq(assignmentRules.siteId, siteId))
    .orderBy(asc(assignmentRules.name));
  return rows.map((r) => ({ ...r.rule, profile: r.profile }));
}

export function findRule(rules: NamedRule[], name: string): NamedRule {
  const rule = rules.find((r) => r.name === name);
  if (!rule) throw notFound("rule", { rule: name });
  return rule;
}

// The rule set as the tie check saw it: every rule's id and revision, in id order.
export const ruleSetFingerprint = (rules: Pick<RuleRow, "id" | "revision">[]) =>
  rules
    .map((r) => `${r.id}.${r.revision}`)
    .sort()
    .join(",");

const currentFingerprint = (siteId: string) =>
  sql`(select coalesce(group_concat(${assignmentRules.id} || '.' || ${assignmentRules.revision}, ',' order by ${assignmentRules.id} || '.' || ${assignmentRules.revision}), '')
       from ${assignmentRules} where ${assignmentRules.siteId} = ${siteId})`;

// The profile must still exist when the write lands (a concurrent profile delete checks rules in its own guard).
const profileExists = (profileId: string) => sql`exists (select 1 from ${profiles} where ${profiles.id} = ${profileId})`;

export type RuleValues = { id: string; siteId: string; name: string; description: string | null; profileId: string; selector: RuleSelector };

// Columns in table order (id, site_id, name, description, profile_id, selector, revision, created_at, updated_at).
export const insertRuleIfUnchanged = (db: Db, v: RuleValues, fingerprint: string) =>
  db
    .insert(assignmentRules)
    .select(
      sql`select ${v.id}, ${v.siteId}, ${v.name}, ${v.description}, ${v.profileId}, ${JSON.stringify(v.selector)}, 1, ${NOW_MS}, ${NOW_MS}
          where ${currentFingerprint(v.siteId)} = ${fingerprint} and ${profileExists(v.profileId)}`,
    )
    .returning();

export const replaceRuleIfUnchanged = (db: Db, row: RuleRow, v: Pick<RuleValues, "description" | "profileId" | "selector">, fingerprint: string) =>
  db
    .update(assignmentRules)
    .set({ ...v, revision: row.revision + 1, updatedAt: Date.now() })
    .where(and(eq(assignmentRules.id, row.id), eq(assignmentRules.revision, row.revision), sql`${currentFingerprint(row.siteId)} = ${fingerprint}`, profileExists(v.profileId)))
    .returning();

// Removing a rule never creates a tie: guarded by its revision only.
export const deleteRule = (db: Db, row: RuleRow) =>
  db
    .delete(assignmentRules)
    .where(and(eq(assignmentRules.id, row.id), eq(assignmentRules.revision, row.revision)))
    .returning({ id: assignmentRules.id });

const NOW_MS = sql`cast(unixepoch('subsecond') * 1000 as integer)`;
