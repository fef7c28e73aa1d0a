// Shared by the Worker (serveArtifact) and the relay cache: pure, no runtime state.
// Byte ranges (RFC 9110 §14): one range per request; multi-range requests are answered with the whole body,
// which the RFC allows ("a server MAY ignore the Range header field").
export type ByteRange = { offset: number; length: number };

export type RangeDecision =
  | { kind: "full" }
  | { kind: "partial"; range: ByteRange }
  | { kind: "unsatisfiable" };

export function decideRange(header: string | null, size: number): RangeDecision {
  if (header === null) return { kind: "full" };
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  // Unknown units, lists and garbage: ignore the header (§14.2: "a server MAY ignore").
  if (!m) return { kind: "full" };
  const [, first = "", last = ""] = m;
  if (first === "" && last === "") return { kind: "full" };
  if (first === "") {
    // Suffix range: the last N bytes.
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: "unsatisfiable" };
    const length = Math.min(suffix, size);
    return { kind: "partial", range: { offset: size - length, length } };
  }
  const start = Number(first);
  if (start >= size) return { kind: "unsatisfiable" };
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  if (end < start) return { kind: "full" }; // §14.1.1: an invalid range-spec makes the header ignorable.
  return { kind: "partial", range: { offset: start, length: end - start + 1 } };
}

// If-None-Match (RFC 9110 §13.1.2): weak comparison, "*" matches any current representation.
export function etagListMatches(header: string | null, etag: string): boolean {
  if (header === null) return false;
  if (header.trim() === "*") return true;
  return header.split(",").some((candidate) => candidate.trim().replace(/^W\//, "") === etag);
}
