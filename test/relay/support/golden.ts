// Golden files: compared exactly; regenerated with UPDATE_GOLDEN=1 (then review the diff like code).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { expect } from "vitest";

export function expectGolden(path: string, actual: string): void {
  if (process.env.UPDATE_GOLDEN === "1" || !existsSync(path)) {
    writeFileSync(path, actual);
    if (process.env.UPDATE_GOLDEN !== "1") throw new Error(`golden file ${path} was missing and has been written; review it and re-run`);
    return;
  }
  expect(actual).toBe(readFileSync(path, "utf8"));
}

// "Annotated byte fixtures": hex with comments (# to end of line) and free whitespace, as in mqtt-packet's tests.
export function annotatedHex(text: string): Uint8Array {
  const hex = text
    .split("\n")
    .map((line) => line.replace(/#.*$/, ""))
    .join("")
    .replace(/\s+/g, "");
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new Error("annotated hex has a stray character");
  return Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
}

export const readAnnotated = (path: string) => annotatedHex(readFileSync(path, "utf8"));
