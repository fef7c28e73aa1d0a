import { describe, expect, it } from "vitest";
import { canAccessCatalogue, canAccessSite, canWriteAnything, Scope, visibleSites } from "../../../worker/auth/adminScopes.ts";
import { checkIfMatch, etagOf } from "../../../worker/lib/etag.ts";
import { decodeCursor, encodeCursor, toPage } from "../../../worker/lib/pagination.ts";

describe("scopes", () => {
  it("parses admin, read and site:<slug> only", () => {
    expect(Scope.safeParse("admin").success).toBe(true);
    expect(Scope.safeParse("read").success).toBe(true);
    expect(Scope.safeParse("site:lab-1").success).toBe(true);
    for (const bad of ["root", "site:", "site:UPPER", "site:a/b", "write", "site:-x"]) expect(Scope.safeParse(bad).success, bad).toBe(false);
  });

  it("grants per the matrix", () => {
    expect(canAccessSite(["admin"], "x", "write")).toBe(true);
    expect(canAccessSite(["read"], "x", "read")).toBe(true);
    expect(canAccessSite(["read"], "x", "write")).toBe(false);
    expect(canAccessSite(["site:a"], "a", "write")).toBe(true);
    expect(canAccessSite(["site:a"], "b", "read")).toBe(false);
    expect(canAccessSite(["site:a", "read"], "b", "read")).toBe(true);
    expect(canAccessSite(["site:a", "read"], "b", "write")).toBe(false);
    expect(canAccessCatalogue(["site:a"], "read")).toBe(true);
    expect(canAccessCatalogue(["site:a"], "write")).toBe(false);
    expect(canAccessCatalogue(["read"], "write")).toBe(false);
    expect(canAccessCatalogue([], "read")).toBe(false);
    expect(visibleSites(["site:a", "site:b"])).toEqual(["a", "b"]);
    expect(visibleSites(["read"])).toBe("all");
    expect(canWriteAnything(["read"])).toBe(false);
    expect(canWriteAnything(["read", "site:a"])).toBe(true);
  });
});

describe("If-Match", () => {
  const tag = etagOf({ id: "abc", revision: 3 });
  it("matches the current strong tag, a list containing it, or *; absent is fine", () => {
    expect(tag).toBe('"abc.3"');
    for (const h of [undefined, "", '"abc.3"', '"x.1", "abc.3"', "*"]) expect(() => checkIfMatch(h, tag), String(h)).not.toThrow();
  });
  it("refuses stale and weak tags with precondition_failed", () => {
    for (const h of ['"abc.2"', 'W/"abc.3"', "abc.3"]) {
      expect(() => checkIfMatch(h, tag), h).toThrow(expect.objectContaining({ code: "precondition_failed", status: 409 }));
    }
  });
});

describe("cursors", () => {
  it("round-trip and refuse garbage or another list's arity", () => {
    const c = encodeCursor(["node-ä", "id-1"]);
    expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(c, 2)).toEqual(["node-ä", "id-1"]);
    expect(decodeCursor(undefined, 2)).toBeUndefined();
    expect(() => decodeCursor(c, 1)).toThrow(/invalid cursor/);
    expect(() => decodeCursor("!!!", 1)).toThrow(/invalid cursor/);
    expect(() => decodeCursor(encodeCursor([{} as any]), 1)).toThrow(/invalid cursor/);
  });
  it("pages: a next cursor only when more rows exist", () => {
    expect(toPage([1, 2, 3], 2, (n) => [n], (n) => n * 10)).toEqual({ items: [10, 20], nextCursor: encodeCursor([2]) });
    expect(toPage([1, 2], 2, (n) => [n], (n) => n)).toEqual({ items: [1, 2], nextCursor: null });
  });
});
