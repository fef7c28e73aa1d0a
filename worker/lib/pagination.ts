import { type SQL, sql } from "drizzle-orm";
import { z } from "zod";
import { ApiError } from "../errors.ts";

export const MAX_PAGE = 500;

// `?limit=&cursor=` for every list; the cursor is opaque (base64url JSON of the last row's sort key).
export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(100),
  cursor: z.string().min(1).max(1024).optional(),
});

export type Page<T> = { items: T[]; nextCursor: string | null };
export type CursorKey = (string | number)[];

const CursorSchema = z.array(z.union([z.string().max(512), z.number()])).min(1).max(4);

export function encodeCursor(key: CursorKey): string {
  const bytes = new TextEncoder().encode(JSON.stringify(key));
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// `arity` is the length of this list's sort key, so a cursor from another list is refused rather than misread.
export function decodeCursor(cursor: string | undefined, arity: number): CursorKey | undefined {
  if (cursor === undefined) return undefined;
  try {
    const bin = atob(cursor.replace(/-/g, "+").replace(/_/g, "/"));
    const key = CursorSchema.parse(JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (ch) => ch.charCodeAt(0)))));
    if (key.length !== arity) throw new Error("arity");
    return key;
  } catch {
    throw new ApiError("invalid_input", "invalid cursor; pass back the nextCursor of the previous page unchanged", { cursor });
  }
}

// Rows strictly after the cursor in (col1, col2, …) order; SQLite row values compare lexicographically.
export function afterKey(columns: SQL[], key: CursorKey | undefined, direction: "asc" | "desc" = "asc"): SQL | undefined {
  if (!key) return undefined;
  const cols = sql.join(columns, sql`, `);
  const vals = sql.join(key.map((v) => sql`${v}`), sql`, `);
  // The implied bound on the first column lets SQLite seek the index to the cursor; with the row value alone it
  // walks the index from the start and filters, so page k of a list read k pages of rows (issue 17).
  const first = sql`${columns[0]!}`;
  return direction === "asc" ? sql`${first} >= ${key[0]} and (${cols}) > (${vals})` : sql`${first} <= ${key[0]} and (${cols}) < (${vals})`;
}

// Callers fetch limit + 1 rows: the extra row only says whether another page exists.
export function toPage<R, T>(rows: R[], limit: number, keyOf: (row: R) => CursorKey, view: (row: R) => T): Page<T> {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { items: page.map(view), nextCursor: rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null };
}
