import { ApiError } from "../errors.ts";

// Strong ETags for revisioned rows: `"<id>.<revision>"`. The id is part of it so a resource deleted and created again
// under the same name (revision 1 again) never matches an old tag. Representations hold no derived data that can
// change without a revision bump (names used as keys — site slug, profile and image names — are immutable).
export const etagOf = (row: { id: string; revision: number }) => `"${row.id}.${row.revision}"`;

// RFC 9110 §13.1.1: If-Match uses the strong comparison, so weak tags (W/"…") never match; "*" matches any current
// representation. A stale tag is 409 precondition_failed (the API contract lists 409 for stale If-Match).
export function checkIfMatch(header: string | undefined | null, current: string): void {
  if (header === undefined || header === null || header.trim() === "") return;
  const value = header.trim();
  if (value === "*") return;
  const tags = value.split(",").map((t) => t.trim());
  if (tags.includes(current)) return;
  throw new ApiError("precondition_failed", "If-Match does not match the current revision; re-read the resource and retry", {
    ifMatch: value,
    etag: current,
  });
}

// The update lost a race between our read and its guarded write (`WHERE revision = ?`).
export const concurrentChange = () =>
  new ApiError("precondition_failed", "the resource changed while this request was processed; re-read it and retry");
