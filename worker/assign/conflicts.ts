// Which rules could tie: two selectors of equal specificity that some machine could match both of. Checked at save,
// so the rule a machine gets never depends on the order rules were read (worker/assign/README.md, "Ties").
import type { RuleSelector } from "../db/schema.ts";
import { globsIntersect } from "./glob.ts";
import { macHasPrefix } from "./match.ts";
import { specificity } from "./specificity.ts";

// A proof that no machine matches both selectors, or null when one may. Only proofs count: a selector pair this
// cannot separate is treated as overlapping, so a refusal may be stricter than needed but a tie never slips through.
export function disjointBecause(a: RuleSelector, b: RuleSelector): string | null {
  for (const [key, value] of Object.entries(a.labels ?? {})) {
    const other = b.labels?.[key];
    if (other !== undefined && other !== value) return `label ${key}: ${JSON.stringify(value)} vs ${JSON.stringify(other)}`;
  }
  if (a.arch !== undefined && b.arch !== undefined && a.arch !== b.arch) return `arch: ${a.arch} vs ${b.arch}`;
  if (a.macPrefix !== undefined && b.macPrefix !== undefined) {
    const [short, long] = a.macPrefix.length <= b.macPrefix.length ? [a.macPrefix, b.macPrefix] : [b.macPrefix, a.macPrefix];
    if (!macHasPrefix(long, short)) return `macPrefix: ${a.macPrefix} vs ${b.macPrefix}`;
  }
  for (const field of ["uuid", "serial"] as const) {
    const x = a[field];
    const y = b[field];
    if (x !== undefined && y !== undefined && !globsIntersect(x, y)) return `${field}: no value matches both ${x} and ${y}`;
  }
  return null;
}

export const canTie = (a: RuleSelector, b: RuleSelector) => specificity(a) === specificity(b) && disjointBecause(a, b) === null;

// The saved rules a new or replaced rule would tie with.
export function tiesWith<R extends { name: string; selector: RuleSelector }>(candidate: { name: string; selector: RuleSelector }, saved: readonly R[]): R[] {
  return saved.filter((r) => r.name !== candidate.name && canTie(candidate.selector, r.selector));
}
