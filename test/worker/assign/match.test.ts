// The pure matcher: the pattern language, specificity, per-constraint misses, the winner, and the tie rule. The tie
// rule's soundness is also checked by brute force: selectors it calls disjoint are never both matched by any machine
// of an exhaustive small universe.
import { describe, expect, it } from "vitest";
import { canTie, disjointBecause, tiesWith } from "../../../worker/assign/conflicts.ts";
import { globMatch, globsIntersect } from "../../../worker/assign/glob.ts";
import { machineOf, type Machine } from "../../../worker/assign/machine.ts";
import { selectorMisses } from "../../../worker/assign/match.ts";
import { assign, describeSelector } from "../../../worker/assign/pick.ts";
import { specificity } from "../../../worker/assign/specificity.ts";
import type { RuleSelector } from "../../../worker/db/schema.ts";

const machine = (m: Partial<Machine>): Machine => ({ labels: {}, arch: null, mac: null, uuid: null, serial: null, ...m });

describe("glob patterns", () => {
  it("matches `*` as any run, everything else literally", () => {
    expect(globMatch("CZ2*", "CZ2301ABC")).toBe(true);
    expect(globMatch("CZ2*", "cz2301")).toBe(false);
    expect(globMatch("*-0042-*", "4c4c4544-0042-3510")).toBe(true);
    expect(globMatch("a*b*c", "abc")).toBe(true);
    expect(globMatch("a*b*c", "acb")).toBe(false);
    expect(globMatch("exact", "exact")).toBe(true);
    expect(globMatch("exact", "exactly")).toBe(false);
    expect(globMatch("a.c", "abc")).toBe(false);
    expect(globMatch("**", "")).toBe(true);
  });

  it("stays linear on patterns that make a backtracking regex explode", () => {
    const t0 = Date.now();
    expect(globMatch(`${"*a".repeat(40)}*b`, "a".repeat(128))).toBe(false);
    expect(Date.now() - t0).toBeLessThan(200);
  });

  it("decides intersection exactly (checked against brute force over a small alphabet)", () => {
    const alphabet = ["a", "b", "*"];
    const patterns: string[] = [];
    const grow = (p: string) => {
      if (p.length) patterns.push(p);
      if (p.length < 3) for (const c of alphabet) grow(p + c);
    };
    grow("");
    const words: string[] = [""];
    for (let len = 1; len <= 6; len++) for (const w of words.filter((x) => x.length === len - 1)) for (const c of "ab") words.push(w + c);
    for (const p of patterns) {
      for (const q of patterns) {
        // Patterns of ≤ 3 characters need witnesses of at most 6 (each literal once, a star at most one more each).
        const brute = words.some((w) => globMatch(p, w) && globMatch(q, w));
        expect(globsIntersect(p, q), `${p} ∩ ${q}`).toBe(brute);
      }
    }
  });
});

describe("specificity", () => {
  it("weights kinds (uuid 8, serial 8, MAC prefix 4, label 2 each, arch 1) and adds precision", () => {
    expect(specificity({ arch: "arm64" })).toBe(1000);
    expect(specificity({ labels: { rack: "r1", role: "worker" } })).toBe(4000);
    expect(specificity({ macPrefix: "52:54:00" })).toBe(4006);
    expect(specificity({ macPrefix: "52:54:00:12" })).toBe(4008);
    expect(specificity({ uuid: "4c4c4544-*" })).toBe(8009);
    expect(specificity({ serial: "CZ2*", arch: "x86_64" })).toBe(9003);
  });
});

describe("matching one selector", () => {
  const host = machine({ labels: { rack: "r1", role: "worker" }, arch: "x86_64", mac: "52:54:00:12:34:56", uuid: "4c4c4544-0042-3510-8052-b4c04f4e3732", serial: "CZ2301" });

  it("holds when every constraint holds", () => {
    expect(selectorMisses({ labels: { rack: "r1" }, arch: "x86_64", macPrefix: "52:54:00", uuid: "4c4c4544-*", serial: "CZ2*" }, host)).toEqual([]);
  });

  it("names each failed constraint, with what was wanted and what the machine has", () => {
    const misses = selectorMisses({ labels: { rack: "r2", zone: "a" }, arch: "arm64", macPrefix: "52:54:01", uuid: "00000000-*", serial: "XX*" }, host);
    expect(misses.map((m) => [m.constraint, m.want, m.have])).toEqual([
      ["labels.rack", "r2", "r1"],
      ["labels.zone", "a", null],
      ["arch", "arm64", "x86_64"],
      ["macPrefix", "52:54:01", "52:54:00:12:34:56"],
      ["uuid", "00000000-*", host.uuid],
      ["serial", "XX*", "CZ2301"],
    ]);
    expect(misses[1]!.why).toBe("no label zone");
  });

  it("compares MAC prefixes by whole octets", () => {
    expect(selectorMisses({ macPrefix: "52:54:0" as string }, machine({ mac: "52:54:00:00:00:01" }))).toHaveLength(1);
    expect(selectorMisses({ macPrefix: "52" }, machine({ mac: "52:54:00:00:00:01" }))).toEqual([]);
  });

  it("an unknown machine has no labels: a label rule never matches it", () => {
    expect(selectorMisses({ labels: { role: "worker" } }, machineOf(null, { mac: "52:54:00:00:00:01" }))[0]!.why).toBe("no label role");
  });

  it("a known host's record comes first, the request fills what it lacks", () => {
    expect(machineOf({ mac: "52:54:00:00:00:01", arch: null, labels: { a: "b" } }, { mac: "aa:aa:aa:aa:aa:aa", arch: "arm64", serial: "S1" })).toEqual({
      labels: { a: "b" },
      arch: "arm64",
      mac: "52:54:00:00:00:01",
      uuid: null,
      serial: "S1",
    });
  });
});

describe("the winning rule", () => {
  const rules = [
    { name: "qemu", profileId: "p-qemu", selector: { macPrefix: "52:54:00" } },
    { name: "qemu-lab", profileId: "p-lab", selector: { macPrefix: "52:54:00:12" } },
    { name: "workers", profileId: "p-work", selector: { labels: { role: "worker" } } },
    { name: "arm", profileId: "p-arm", selector: { arch: "arm64" } },
  ];

  it("is the most specific matching rule; the others are outranked or missed", () => {
    const a = assign(rules, machine({ mac: "52:54:00:12:00:01", labels: { role: "worker" }, arch: "x86_64" }));
    expect(a.winner?.rule.name).toBe("qemu-lab");
    const byName = Object.fromEntries(a.verdicts.map((v) => [v.rule.name, v]));
    expect(byName.qemu!.outrankedBy).toBe("qemu-lab");
    expect(byName.workers!.outrankedBy).toBe("qemu-lab");
    expect(byName.arm!.misses.map((m) => m.constraint)).toEqual(["arch"]);
  });

  it("is none when nothing matches", () => {
    expect(assign(rules, machine({ mac: "00:11:22:33:44:55" })).winner).toBeNull();
  });

  it("does not depend on the order rules are read in", () => {
    const m = machine({ mac: "52:54:00:99:00:01", labels: { role: "worker" }, arch: "arm64" });
    const names = new Set([rules, [...rules].reverse(), [rules[2]!, rules[0]!, rules[3]!, rules[1]!]].map((r) => assign(r, m).winner?.rule.name));
    expect([...names]).toEqual(["qemu"]);
  });

  it("describes a selector for messages", () => {
    expect(describeSelector({ labels: { z: "1", a: "2" }, arch: "arm64", serial: "S*" })).toBe("labels.a=2, labels.z=1, arch=arm64, serial=S*");
  });
});

describe("ties", () => {
  it("two selectors tie when equally specific and not provably disjoint", () => {
    // One label each: a machine can carry both labels.
    expect(canTie({ labels: { rack: "r1" } }, { labels: { role: "worker" } })).toBe(true);
    // Same key, different values: no machine has both.
    expect(disjointBecause({ labels: { rack: "r1" } }, { labels: { rack: "r2" } })).toBe('label rack: "r1" vs "r2"');
    expect(canTie({ labels: { rack: "r1" } }, { labels: { rack: "r2" } })).toBe(false);
    expect(canTie({ arch: "arm64" }, { arch: "x86_64" })).toBe(false);
    expect(canTie({ macPrefix: "52:54:00" }, { macPrefix: "52:54:01" })).toBe(false);
    expect(canTie({ serial: "AB*" }, { serial: "AC*" })).toBe(false);
    expect(canTie({ serial: "A*" }, { serial: "*Z" })).toBe(true);
    // Unequal specificity never ties: the more specific wins.
    expect(canTie({ labels: { rack: "r1" } }, { labels: { rack: "r1", role: "w" } })).toBe(false);
    expect(canTie({ macPrefix: "52:54:00" }, { macPrefix: "52:54:00:12" })).toBe(false);
  });

  it("names the saved rules a candidate ties with, never itself", () => {
    const saved = [
      { name: "a", selector: { labels: { rack: "r1" } } },
      { name: "b", selector: { labels: { rack: "r2" } } },
      { name: "c", selector: { macPrefix: "52:54:00" } },
    ];
    expect(tiesWith({ name: "new", selector: { labels: { role: "db" } } }, saved).map((r) => r.name)).toEqual(["a", "b"]);
    expect(tiesWith({ name: "a", selector: { labels: { rack: "r3" } } }, saved).map((r) => r.name)).toEqual([]);
  });

  it("is sound: selectors it lets coexist at equal specificity are never both matched (exhaustive universe)", () => {
    // Every selector over a small universe of constraint values, and every machine of that universe.
    const labelChoices: (Record<string, string> | undefined)[] = [undefined, { k: "1" }, { k: "2" }, { j: "1" }, { k: "1", j: "1" }, { k: "2", j: "2" }];
    const archs = [undefined, "x86_64", "arm64"];
    const macs = [undefined, "52", "52:54", "52:55", "53"];
    const serials = [undefined, "A*", "*B", "AB", "B*"];
    const selectors: RuleSelector[] = [];
    for (const labels of labelChoices) for (const arch of archs) for (const macPrefix of macs) for (const serial of serials) {
      const s: RuleSelector = {};
      if (labels) s.labels = labels;
      if (arch) s.arch = arch;
      if (macPrefix) s.macPrefix = macPrefix;
      if (serial) s.serial = serial;
      if (Object.keys(s).length) selectors.push(s);
    }
    const machines: Machine[] = [];
    for (const labels of [{}, { k: "1" }, { k: "2" }, { j: "1" }, { k: "1", j: "1" }, { k: "2", j: "2" }, { k: "1", j: "2" }] as Record<string, string>[])
      for (const arch of [null, "x86_64", "arm64"])
        for (const mac of [null, "52:54:00:00:00:01", "52:55:00:00:00:01", "53:00:00:00:00:01"])
          for (const serial of [null, "AB", "A", "B", "AXB", "BA"]) machines.push(machine({ labels, arch, mac, serial }));
    // Which machines each selector matches, as a bitset, so a pair is checked with a few ANDs.
    const words = Math.ceil(machines.length / 32);
    const matches = selectors.map((s) => {
      const bits = new Uint32Array(words);
      machines.forEach((m, k) => {
        if (selectorMisses(s, m).length === 0) bits[k >> 5]! |= 1 << (k & 31);
      });
      return bits;
    });
    const overlap = (a: Uint32Array, b: Uint32Array) => a.some((w, i) => (w & b[i]!) !== 0);
    let pairs = 0;
    const wrong: string[] = [];
    for (let i = 0; i < selectors.length; i++) {
      for (let j = i + 1; j < selectors.length; j++) {
        if (disjointBecause(selectors[i]!, selectors[j]!) === null) continue;
        pairs++;
        if (overlap(matches[i]!, matches[j]!)) wrong.push(`${describeSelector(selectors[i]!)} vs ${describeSelector(selectors[j]!)}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(pairs).toBeGreaterThan(10_000);
  }, 60_000);
});
