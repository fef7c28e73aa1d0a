// /explain's account of the assignment rules: which rule matched and, for every other rule, why it did not (the
// constraints that failed) or that a more specific one won; and whether the rules decided at all.
import type { Assignment, AssignRule } from "./pick.ts";

export type RuleExplanation = {
  // The rule the machine matches, whether or not it decided the boot.
  matched: string | null;
  // Whether the decision came from the rules (false when an intent or the host's own profile came first).
  decided: boolean;
  why: string;
  items: {
    name: string;
    profile: string | null;
    specificity: number;
    result: "matched" | "outranked" | "no-match";
    why: string;
    failed: { constraint: string; want: string; have: string | null; why: string }[];
  }[];
};

export function explainAssignment<R extends AssignRule & { profile: string | null }>(a: Assignment<R>, decidedBy: "intent" | "host" | "rules" | "policy"): RuleExplanation {
  const matched = a.winner?.rule.name ?? null;
  const why =
    decidedBy === "intent"
      ? "not consulted: the host's boot intent comes first"
      : decidedBy === "host"
        ? "not consulted: the host's own profile comes first"
        : matched
          ? `rule "${matched}" is the most specific matching rule`
          : a.verdicts.length
            ? "no rule matches; the site's unknown-host policy applies"
            : "the site has no rules; the site's unknown-host policy applies";
  return {
    matched,
    decided: decidedBy === "rules",
    why,
    items: a.verdicts.map((v) => ({
      name: v.rule.name,
      profile: v.rule.profile,
      specificity: v.specificity,
      result: v === a.winner ? "matched" : v.outrankedBy ? "outranked" : "no-match",
      why:
        v === a.winner
          ? "every constraint holds; most specific match"
          : v.outrankedBy
            ? `matches, but rule "${v.outrankedBy}" is more specific (${a.winner!.specificity} > ${v.specificity})`
            : v.misses.map((m) => m.why).join("; "),
      failed: v.misses,
    })),
  };
}
