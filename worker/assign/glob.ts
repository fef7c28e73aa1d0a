// The pattern language of rule selectors (uuid, serial): `*` matches any run of characters, possibly empty; every
// other character is literal. No `?`, no classes, no escapes, so a pattern reads the way it is written.

// Two-pointer wildcard match with backtracking to the last `*` only: O(pattern × text), whatever the pattern (a
// regular expression built from `*a*a*a…` backtracks exponentially).
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] !== "*" && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === "*") {
      star = p++;
      resume = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++resume;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === "*") p++;
  return p === pattern.length;
}

// Whether some string matches both patterns: reachability in the product of the two patterns' automata (state i of a
// pattern = "matched its first i characters"; a `*` loops on any character or is skipped). At most
// (|a| + 1) × (|b| + 1) states, so it is exact and cheap for the lengths selectors allow.
export function globsIntersect(a: string, b: string): boolean {
  const seen = new Set<number>();
  const width = b.length + 1;
  const stack: [number, number][] = [[0, 0]];
  while (stack.length) {
    const [i, j] = stack.pop()!;
    const key = i * width + j;
    if (seen.has(key)) continue;
    seen.add(key);
    if (i === a.length && j === b.length) return true;
    const ca = a[i];
    const cb = b[j];
    // Skip a `*` (it matched nothing more).
    if (ca === "*") stack.push([i + 1, j]);
    if (cb === "*") stack.push([i, j + 1]);
    // Both consume one character: equal literals, or a `*` (staying) against a literal; `*` against `*` consuming a
    // character leads back to the same state.
    if (ca !== undefined && cb !== undefined) {
      if (ca !== "*" && cb !== "*" && ca === cb) stack.push([i + 1, j + 1]);
      else if (ca === "*" && cb !== "*") stack.push([i, j + 1]);
      else if (ca !== "*" && cb === "*") stack.push([i + 1, j]);
    }
  }
  return false;
}

// Characters a pattern fixes: the precision part of a rule's specificity (specificity.ts).
export const literalLength = (pattern: string) => pattern.replaceAll("*", "").length;
