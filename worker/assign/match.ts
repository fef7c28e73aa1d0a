// One selector against one machine: every constraint present must hold. Each failed constraint is reported, so
// /explain can say why a rule did not match.
import type { RuleSelector } from "../db/schema.ts";
import { globMatch } from "./glob.ts";
import type { Machine } from "./machine.ts";

export type Miss = { constraint: string; want: string; have: string | null; why: string };

// Octet-wise: "52:54:00" is a prefix of 52:54:00:12:34:56, not of 52:54:0a:….
export const macHasPrefix = (mac: string, prefix: string) => {
  const m = mac.split(":");
  return prefix.split(":").every((octet, i) => m[i] === octet);
};

export function selectorMisses(s: RuleSelector, m: Machine): Miss[] {
  const misses: Miss[] = [];
  for (const [key, want] of Object.entries(s.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const have = m.labels[key] ?? null;
    if (have !== want) misses.push({ constraint: `labels.${key}`, want, have, why: have === null ? `no label ${key}` : `label ${key} is ${JSON.stringify(have)}` });
  }
  if (s.arch !== undefined && m.arch !== s.arch) misses.push({ constraint: "arch", want: s.arch, have: m.arch, why: m.arch ? `arch is ${m.arch}` : "arch unknown" });
  if (s.macPrefix !== undefined && !(m.mac && macHasPrefix(m.mac, s.macPrefix))) {
    misses.push({ constraint: "macPrefix", want: s.macPrefix, have: m.mac, why: m.mac ? `MAC ${m.mac} does not start with ${s.macPrefix}` : "no MAC" });
  }
  for (const field of ["uuid", "serial"] as const) {
    const want = s[field];
    const have = m[field];
    if (want !== undefined && !(have !== null && globMatch(want, have))) {
      misses.push({ constraint: field, want, have, why: have === null ? `no ${field}` : `${field} ${have} does not match ${want}` });
    }
  }
  return misses;
}
