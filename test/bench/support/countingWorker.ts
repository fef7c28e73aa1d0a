// Bench entry for wrangler dev: the real Worker with its D1 binding wrapped to count statements, rows read and rows
// written (D1's result metadata, test/worker/fleet/countingD1.ts), totals at GET /__bench/d1-stats, plus HTTP
// requests by route class. Counters live in the isolate (wrangler dev runs one). Never deployed.
import worker from "../../../worker/index.ts";
import { countingD1, type StatementCost } from "../../worker/fleet/countingD1.ts";

const totals = { requests: 0, statements: 0, rowsRead: 0, rowsWritten: 0, byRoute: {} as Record<string, number> };
const sink = {
  push(...items: StatementCost[]) {
    for (const s of items) {
      totals.statements++;
      totals.rowsRead += s.rowsRead;
      totals.rowsWritten += s.rowsWritten;
    }
    return 0;
  },
} as unknown as StatementCost[];
// One wrapped env per real env object, so the Worker's per-env and per-binding caches still hit.
const wrapped = new WeakMap<object, Record<string, unknown>>();

const routeOf = (path: string) =>
  path.startsWith("/boot/h/") ? `boot/h/${path.split("/")[4] ?? ""}` : path.startsWith("/boot/") ? "boot/chain" : path.startsWith("/relay/v1/") ? `relay/${path.split("/")[3] ?? ""}` : path.split("/").slice(0, 3).join("/");

export default {
  async fetch(request: Request, env: Record<string, unknown>, ctx: ExecutionContext) {
    const path = new URL(request.url).pathname;
    if (path === "/__bench/d1-stats") return Response.json(totals);
    totals.requests++;
    const route = routeOf(path);
    totals.byRoute[route] = (totals.byRoute[route] ?? 0) + 1;
    let counted = wrapped.get(env);
    // Some bindings (R2) are not own enumerable properties of env, so the Worker's are copied by name.
    if (!counted) {
      counted = { ...env };
      for (const k of ["ARTIFACTS", "ADMIN_TOKEN", "SIGNING_KEYS", "SECRETS_KEY", "PUBLIC_URL"]) if (env[k] !== undefined) counted[k] = env[k];
      counted.DB = countingD1(env.DB as D1Database, sink);
      wrapped.set(env, counted);
    }
    return worker.fetch(request as never, counted as never, ctx);
  },
} satisfies ExportedHandler<Record<string, unknown>>;
