import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema.ts";

export type Db = ReturnType<typeof createDb>;

export function createDb(d1: D1Database) {
  return drizzle(d1, { schema });
}

// drizzle derives its relational config from the whole schema on every drizzle() call (~12 µs in workerd); the client
// holds no per-request state, so one per binding serves every request of the isolate.
const perBinding = new WeakMap<D1Database, Db>();

export function dbFor(d1: D1Database): Db {
  let db = perBinding.get(d1);
  if (!db) perBinding.set(d1, (db = createDb(d1)));
  return db;
}
