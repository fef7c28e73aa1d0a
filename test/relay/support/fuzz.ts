// Seeded fuzzing helpers: a PRNG (mulberry32), byte mutations of real seeds, and a count printer. A failure names
// its seed and iteration, so it replays.
import { concatBytes } from "../../../relay/bytes.ts";

export const FUZZ_ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 100_000);

export function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Rnd = () => number;
export const pick = <T>(rnd: Rnd, list: readonly T[]): T => list[Math.floor(rnd() * list.length)]!;

export function mutate(seedBytes: Uint8Array, rnd: Rnd): Uint8Array {
  let b: Uint8Array = seedBytes.slice();
  const edits = 1 + Math.floor(rnd() * 8);
  for (let e = 0; e < edits; e++) {
    const kind = rnd();
    const at = Math.floor(rnd() * Math.max(1, b.length));
    if (kind < 0.45) b[at] = Math.floor(rnd() * 256); // flip a byte
    else if (kind < 0.6) b[at] = [0, 1, 0xff, 0x7f, 0x80][Math.floor(rnd() * 5)]!; // interesting values
    else if (kind < 0.75) b = b.subarray(0, at); // truncate
    else if (kind < 0.85) {
      const extra = new Uint8Array(Math.floor(rnd() * 64)).map(() => Math.floor(rnd() * 256));
      b = concatBytes([b.subarray(0, at), extra, b.subarray(at)]); // insert
    } else b = concatBytes([b, b.subarray(at, at + Math.floor(rnd() * 300))]); // duplicate a run
  }
  return b;
}

export const randomBytes = (rnd: Rnd, max: number) => new Uint8Array(Math.floor(rnd() * max)).map(() => Math.floor(rnd() * 256));

// Text mutations for URLs, queries and tokens: characters from an alphabet heavy in separators and escapes.
const ALPHABET = "abcAZ09-_.~:/?#[]@!$&'()*+,;=%% \t\r\n\"<>\\^`{|}\u0000\u00ff\u2028\ud800é";
export function mutateText(seed: string, rnd: Rnd): string {
  let s = seed;
  const edits = 1 + Math.floor(rnd() * 6);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rnd() * (s.length + 1));
    const k = rnd();
    if (k < 0.35) s = s.slice(0, at) + pick(rnd, [...ALPHABET]) + s.slice(at + 1);
    else if (k < 0.55) s = s.slice(0, at) + pick(rnd, [...ALPHABET]) + s.slice(at);
    else if (k < 0.7) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rnd() * 8));
    else if (k < 0.8) s = s.slice(0, at) + s.slice(at, at + Math.floor(rnd() * 40)).repeat(1 + Math.floor(rnd() * 4)) + s.slice(at);
    else if (k < 0.9) s = s.slice(0, at) + pick(rnd, ["%00", "%2e%2e", "../", "%2F", "%zz", "&&", "==", "mac=", "${x}", "%ff%fe"]) + s.slice(at);
    else s = s.slice(0, at);
  }
  return s;
}

export function report(name: string, counts: Record<string, number>): void {
  // Printed so a run shows what was exercised (the closing note's fuzz counts come from these lines).
  console.log(`fuzz ${name}: ${Object.entries(counts).map(([k, v]) => `${k}=${v}`).join(" ")}`);
}
