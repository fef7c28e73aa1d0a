// Statements for hot paths: the SQL is built by drizzle once per isolate, with sql.placeholder() where request values
// go, then bound per request and run as one D1 batch. Building a query like the chain's read batch costs drizzle
// ~0.7 ms of CPU, several times more than running it; binding costs microseconds. Rows come back through the same
// column decoders drizzle uses (JSON and boolean modes), keyed by the select's field names.
import { fillPlaceholders, type Column } from "drizzle-orm";

export type PreparedSelect<Row> = {
  readonly sql: string;
  readonly params: unknown[];
  readonly fields: Record<string, Column>;
  // Phantom: the row type the fields decode to.
  readonly row?: Row;
};

export function prepareSelect<Row>(query: { toSQL(): { sql: string; params: unknown[] } }, fields: Record<string, Column>): PreparedSelect<Row> {
  const { sql, params } = query.toSQL();
  return { sql, params, fields };
}

function decodeRow<Row>(raw: Record<string, unknown>, fields: Record<string, Column>): Row {
  const row: Record<string, unknown> = {};
  for (const key in fields) {
    const column = fields[key]!;
    const value = raw[column.name];
    row[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return row as Row;
}

type Rows<T> = { [K in keyof T]: T[K] extends PreparedSelect<infer Row> ? Row[] : never };

// One D1 round trip for all the statements; every placeholder they name must have a value (null is a value).
export async function runPrepared<T extends readonly PreparedSelect<unknown>[]>(d1: D1Database, statements: T, values: Record<string, unknown>): Promise<Rows<T>> {
  const results = await d1.batch<Record<string, unknown>>(statements.map((s) => d1.prepare(s.sql).bind(...fillPlaceholders(s.params, values))));
  return results.map((result, i) => result.results.map((raw) => decodeRow(raw, statements[i]!.fields))) as Rows<T>;
}

// A write ready for a D1 batch: SQL text and its values.
export type BoundStatement = { readonly sql: string; readonly params: unknown[] };

// A write statement built once (lazily, on first use) with placeholders; each call binds values to it.
export function preparedWrite<V extends Record<string, unknown>>(build: () => { toSQL(): { sql: string; params: unknown[] } }): (values: V) => BoundStatement {
  let built: { sql: string; params: unknown[] } | null = null;
  return (values) => {
    built ??= build().toSQL();
    return { sql: built.sql, params: fillPlaceholders(built.params, values) };
  };
}

// One D1 round trip, all or nothing.
export const runWrites = (d1: D1Database, statements: BoundStatement[]) => d1.batch(statements.map((s) => d1.prepare(s.sql).bind(...s.params)));
