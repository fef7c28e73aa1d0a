// Statements for hot paths: the SQL is built by drizzle once per isolate, with sql.placeholder() where request values
// go, then bound per request and run as one D1 batch. Building the chain's reads cost drizzle ~0.7 ms of CPU per
// request, several times more than running them; binding costs microseconds. Rows come back through the same column
// decoders drizzle uses (JSON and boolean modes), keyed by the select's field names.
import { fillPlaceholders, sql, type Column, type SQL } from "drizzle-orm";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";

// A field is a table column (decoded the way drizzle decodes it) or, for a hand-written statement, the name of a
// result column passed through as the driver returns it.
type Field = Column | { readonly name: string; mapFromDriverValue?: undefined };

export type PreparedSelect<Row> = {
  readonly sql: string;
  readonly params: unknown[];
  readonly fields: Record<string, Field>;
  // Phantom: the row type the fields decode to.
  readonly row?: Row;
};

export function prepareSelect<Row>(query: { toSQL(): { sql: string; params: unknown[] } }, fields: Record<string, Field>): PreparedSelect<Row> {
  const { sql, params } = query.toSQL();
  return { sql, params, fields };
}

// Hand-written SQL (drizzle's sql`` template, table and column references kept) with result columns passed through.
export function prepareRaw<Row extends Record<string, unknown>>(query: SQL, columns: { [K in keyof Row]: string }): PreparedSelect<Row> {
  const fields: Record<string, Field> = {};
  for (const key in columns) fields[key] = { name: columns[key] };
  return prepareSelect<Row>({ toSQL: () => new SQLiteAsyncDialect().sqlToQuery(query) }, fields);
}

function decodeRow<Row>(raw: Record<string, unknown>, fields: Record<string, Field>): Row {
  const row: Record<string, unknown> = {};
  for (const key in fields) {
    const field = fields[key]!;
    const value = raw[field.name];
    row[key] = value === null || value === undefined ? null : field.mapFromDriverValue ? field.mapFromDriverValue(value) : value;
  }
  return row as Row;
}

// A row as one JSON value, for folding several reads into one statement: json_object(<column name>, <column>, …),
// chunked with json_patch because D1 allows at most 32 arguments per SQL function.
export function jsonObjectOf(fields: Record<string, Column>): SQL {
  const pairs = Object.values(fields).map((c) => `'${c.name}', "${c.name}"`);
  const chunks: string[] = [];
  for (let i = 0; i < pairs.length; i += 16) chunks.push(`json_object(${pairs.slice(i, i + 16).join(", ")})`);
  return sql.raw(chunks.reduce((acc, chunk) => `json_patch(${acc}, ${chunk})`));
}

// Rows from a JSON array (json_group_array) or a single JSON object column, through the column decoders.
export function decodeJsonRows<Row>(json: unknown, fields: Record<string, Column>): Row[] {
  if (typeof json !== "string") return [];
  const parsed = JSON.parse(json) as Record<string, unknown> | Record<string, unknown>[];
  return (Array.isArray(parsed) ? parsed : [parsed]).map((raw) => decodeRow<Row>(raw, fields));
}

type Rows<T> = { [K in keyof T]: T[K] extends PreparedSelect<infer Row> ? Row[] : never };

// One D1 round trip for all the statements; every placeholder they name must have a value (null is a value).
export async function runPrepared<T extends readonly PreparedSelect<unknown>[]>(d1: D1Database, statements: T, values: Record<string, unknown>): Promise<Rows<T>> {
  const bound = statements.map((s) => d1.prepare(s.sql).bind(...fillPlaceholders(s.params, values)));
  // A lone statement skips the batch wrapper (a transaction around it), measurably cheaper per call.
  const results = bound.length === 1 ? [await bound[0]!.all<Record<string, unknown>>()] : await d1.batch<Record<string, unknown>>(bound);
  return results.map((result, i) => result.results.map((raw) => decodeRow(raw, statements[i]!.fields))) as Rows<T>;
}

// A write ready for a D1 batch: SQL text and its values.
export type BoundStatement = { readonly sql: string; readonly params: unknown[] };

type BuiltSql = { sql: string; params: unknown[] };

// A write statement built once (lazily, on first use) with placeholders; each call binds values to it.
export function preparedWrite<V extends Record<string, unknown>>(build: () => { toSQL(): BuiltSql }): (values: V) => BoundStatement {
  let built: BuiltSql | null = null;
  return (values) => {
    built ??= build().toSQL();
    return { sql: built.sql, params: fillPlaceholders(built.params, values) };
  };
}

// One D1 round trip, all or nothing.
export const runWrites = (d1: D1Database, statements: BoundStatement[]) => d1.batch(statements.map((s) => d1.prepare(s.sql).bind(...s.params)));
