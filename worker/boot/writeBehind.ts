// Boot bookkeeping (events, last seen) written after the response, per request: each request's statements go to D1
// as one batch (all or nothing, so a request's event and its host row never disagree) in that request's own
// waitUntil. Nothing is shared between requests, so one request's failure can never drop another's writes. A failed
// batch is retried once, then logged with the request's id; the machine is never told (its response is gone).
import type { Context } from "hono";
import { runWrites, type BoundStatement } from "../db/prepared.ts";

export const RETRY_DELAY_MS = 50;

// cf-ray names the request in Cloudflare's logs too; a random id stands in where there is none (local, tests).
export const requestIdOf = (c: Context) => c.req.header("cf-ray") ?? crypto.randomUUID();

export async function writeWithRetry(d1: D1Database, statements: BoundStatement[], label: string): Promise<boolean> {
  try {
    await runWrites(d1, statements);
    return true;
  } catch (first) {
    await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
    try {
      await runWrites(d1, statements);
      return true;
    } catch (err) {
      const why = (e: unknown) => (e instanceof Error ? e.message : String(e));
      console.error(`boot bookkeeping lost after a retry (${label}, ${statements.length} statements): ${why(err)} (first attempt: ${why(first)})`);
      return false;
    }
  }
}

export function writeBehind(c: Context, what: string, d1: D1Database, statements: (BoundStatement | null)[]): void {
  const mine = statements.filter((s) => s !== null);
  if (mine.length === 0) return;
  const done = writeWithRetry(d1, mine, `${what}, request ${requestIdOf(c)}`);
  try {
    c.executionCtx.waitUntil(done);
  } catch {
    // No execution context (app.request in a unit test): the promise still settles on its own.
  }
}
