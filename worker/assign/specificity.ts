// How specific a selector is: one number, higher wins (worker/assign/README.md, "Precedence").
//   specificity = 1000 × weight + precision
//   weight    = 8 per uuid pattern + 8 per serial pattern + 4 for a MAC prefix + 2 per label + 1 for arch
//   precision = characters the uuid and serial patterns fix (all but `*`) + hex digits of the MAC prefix
// Weights rank the kinds of constraint: a UUID or serial range names a batch of hardware, a MAC prefix a NIC vendor
// or range, a label an operator's class, an architecture half the fleet. Precision (at most 36 + 128 + 12 < 1000)
// only separates selectors of equal weight, such as an OUI and a longer prefix inside it.
import type { RuleSelector } from "../db/schema.ts";
import { literalLength } from "./glob.ts";

export const WEIGHTS = { uuid: 8, serial: 8, macPrefix: 4, label: 2, arch: 1 } as const;

export function specificity(s: RuleSelector): number {
  const labels = Object.keys(s.labels ?? {}).length;
  const weight =
    (s.uuid !== undefined ? WEIGHTS.uuid : 0) +
    (s.serial !== undefined ? WEIGHTS.serial : 0) +
    (s.macPrefix !== undefined ? WEIGHTS.macPrefix : 0) +
    labels * WEIGHTS.label +
    (s.arch !== undefined ? WEIGHTS.arch : 0);
  const precision = (s.uuid ? literalLength(s.uuid) : 0) + (s.serial ? literalLength(s.serial) : 0) + (s.macPrefix ? s.macPrefix.replaceAll(":", "").length : 0);
  return 1000 * weight + precision;
}
