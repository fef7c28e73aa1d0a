// A D1 binding that records every statement's SQL, bound values and result metadata (rows_read, rows_written), so a
// test can pass it to the real Worker entry and see what one request cost in D1. D1's raw() carries no meta, so a
// SELECT's raw() is costed by an all() of the same statement first; a write's raw() is served from all() and mapped to
// arrays the way drizzle maps batch results (drizzle-orm/d1 d1ToRawMapping).
export type StatementCost = { sql: string; params: unknown[]; rowsRead: number; rowsWritten: number };

type Bound = { inner: D1PreparedStatement; sql: string; params: unknown[] };

export function countingD1(d1: D1Database, log: StatementCost[]): D1Database {
  const record = (b: Bound, meta: D1Meta) => log.push({ sql: b.sql, params: b.params, rowsRead: meta.rows_read, rowsWritten: meta.rows_written });
  const wrap = (b: Bound): D1PreparedStatement => {
    const all = async <T>() => {
      const res = await b.inner.all<T>();
      record(b, res.meta);
      return res;
    };
    const stmt = {
      __bound: b,
      bind: (...params: unknown[]) => wrap({ inner: b.inner.bind(...params), sql: b.sql, params }),
      all,
      run: all,
      first: async (column?: string) => {
        const row = (await all<Record<string, unknown>>()).results[0];
        return row === undefined ? null : column === undefined ? row : row[column];
      },
      raw: async (opts?: { columnNames?: boolean }) => {
        // A join's rows as objects lose columns that share a name (hosts.id, sites.id …), shifting the values
        // drizzle maps by position: a plain SELECT is read twice, all() for its cost, raw() for its values. A write
        // (… RETURNING) must run once, so it keeps the object mapping.
        if (/^\s*select\b/i.test(b.sql)) {
          await all();
          return opts?.columnNames ? b.inner.raw({ columnNames: true }) : b.inner.raw();
        }
        const rows = (await all<Record<string, unknown>>()).results;
        const values = rows.map((r) => Object.values(r));
        return opts?.columnNames ? [rows[0] ? Object.keys(rows[0]) : [], ...values] : values;
      },
    };
    return stmt as unknown as D1PreparedStatement;
  };
  const wrapped = {
    prepare: (sql: string) => wrap({ inner: d1.prepare(sql), sql, params: [] }),
    batch: async (statements: D1PreparedStatement[]) => {
      const bound = statements.map((s) => (s as unknown as { __bound: Bound }).__bound);
      const results = await d1.batch(bound.map((b) => b.inner));
      results.forEach((r, i) => record(bound[i]!, r.meta));
      return results;
    },
    exec: (sql: string) => d1.exec(sql),
    dump: () => d1.dump(),
    withSession: () => {
      throw new Error("countingD1: sessions are not wrapped");
    },
  };
  return wrapped as unknown as D1Database;
}

export const totals = (log: StatementCost[]) => ({
  statements: log.length,
  rowsRead: log.reduce((a, s) => a + s.rowsRead, 0),
  rowsWritten: log.reduce((a, s) => a + s.rowsWritten, 0),
});

// EXPLAIN QUERY PLAN of a recorded statement, one line per plan row, indented by depth.
export async function queryPlan(d1: D1Database, s: StatementCost): Promise<string[]> {
  const { results } = await d1.prepare(`EXPLAIN QUERY PLAN ${s.sql}`).bind(...s.params).all<{ id: number; parent: number; detail: string }>();
  const depth = new Map<number, number>([[0, -1]]);
  return results.map((r) => {
    const d = (depth.get(r.parent) ?? -1) + 1;
    depth.set(r.id, d);
    return `${"  ".repeat(d)}${r.detail}`;
  });
}
