// Boot bookkeeping (events, last seen) is written after the response and coalesced: the statements of every boot
// request an isolate serves within WINDOW_MS go to D1 as one batch, one write transaction for a boot storm instead of
// one per request. The request that opens a window carries the flush in its waitUntil; the others only add their
// statements. A batch is all or nothing, so a request's writes never half-land. Before it goes out, its events fold
// into multi-row inserts and a relay's repeated last-seen writes shrink to the newest (prepared.ts); every other
// statement runs in arrival order. A failed flush is logged, never surfaced to the machine.
import type { Context } from "hono";
import { dropSuperseded, foldAppends, runWrites, type BoundStatement } from "../db/prepared.ts";

export const WINDOW_MS = 50;
// D1 runs a batch as one statement list; cap it so a storm cannot build an unbounded transaction.
const MAX_STATEMENTS = 100;

type Batch = { statements: BoundStatement[] };
const open = new WeakMap<D1Database, Batch>();

export function writeBehind(c: Context, what: string, d1: D1Database, statements: (BoundStatement | null)[]): void {
  const mine = statements.filter((s) => s !== null);
  if (mine.length === 0) return;
  const current = open.get(d1);
  if (current && current.statements.length + mine.length <= MAX_STATEMENTS) {
    current.statements.push(...mine);
    return;
  }
  const batch: Batch = { statements: mine };
  open.set(d1, batch);
  const flush = new Promise((resolve) => setTimeout(resolve, WINDOW_MS))
    .then(() => {
      if (open.get(d1) === batch) open.delete(d1);
      return runWrites(d1, foldAppends(dropSuperseded(batch.statements)));
    })
    .catch((err) => console.error(`boot bookkeeping failed (${what}, ${batch.statements.length} statements)`, err instanceof Error ? err.message : String(err)));
  try {
    c.executionCtx.waitUntil(flush);
  } catch {
    // No execution context (app.request in a unit test): the promise still settles on its own.
  }
}
