// Which rule assigns a machine its profile: the matching rule of highest specificity. Ties cannot happen among saved
// rules (conflicts.ts refuses them at save), so the winner is unique; the name order below only keeps a corrupted
// set deterministic.
import type { RuleSelector } from "../db/schema.ts";
import type { Machine } from "./machine.ts";
import { selectorMisses, type Miss } from "./match.ts";
import { specificity } from "./specificity.ts";

export type AssignRule = { name: string; profileId: string; selector: RuleSelector };

export type RuleVerdict<R extends AssignRule = AssignRule> = {
  rule: R;
  specificity: number;
  misses: Miss[];
  // Set on a rule that matched but lost to a more specific one.
  outrankedBy?: string;
};

export type Assignment<R extends AssignRule = AssignRule> = { winner: RuleVerdict<R> | null; verdicts: RuleVerdict<R>[] };

export function assign<R extends AssignRule>(rules: readonly R[], machine: Machine): Assignment<R> {
  const verdicts = rules
    .map((rule) => ({ rule, specificity: specificity(rule.selector), misses: selectorMisses(rule.selector, machine) }) as RuleVerdict<R>)
    .sort((a, b) => b.specificity - a.specificity || (a.rule.name < b.rule.name ? -1 : a.rule.name > b.rule.name ? 1 : 0));
  const winner = verdicts.find((v) => v.misses.length === 0) ?? null;
  for (const v of verdicts) if (winner && v !== winner && v.misses.length === 0) v.outrankedBy = winner.rule.name;
  return { winner, verdicts };
}

// The constraints a rule holds, for messages: labels.role=worker, arch=arm64, macPrefix=52:54:00.
export function describeSelector(s: RuleSelector): string {
  const parts = Object.entries(s.labels ?? {})
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `labels.${k}=${v}`);
  for (const key of ["arch", "macPrefix", "uuid", "serial"] as const) if (s[key] !== undefined) parts.push(`${key}=${s[key]}`);
  return parts.join(", ");
}
