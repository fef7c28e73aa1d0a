// Benchmark entry for wrangler dev: the real Worker, plus /__bench/one-query (a peer route) and /__bench/chain-cpu, which measures the CPU of a chain
// render inside workerd. It runs the chain route's own steps (parseChainRequest → admitChain → composeChain: query
// validation, auth, decision, plan, template + cmdline checks, host token signing, chain signing) N times against
// rows read once from the local D1, timed with performance.now() in batches. The loop does no I/O, so its wall time
// is CPU time of the isolate (on a loaded machine it also holds time the OS gave to other processes: an upper bound);
// the D1 round trips, routing and row mapping are not included. Never deployed.
import { admitChain, composeChain, parseChainRequest } from "../../worker/boot/chain.ts";
import { archCandidates } from "../../worker/boot/plan.ts";
import { createDb } from "../../worker/db/client.ts";
import { loadChainContext } from "../../worker/db/queries/bootChain.ts";
import { loadBootProfiles } from "../../worker/db/queries/bootProfiles.ts";
import { parseEnv } from "../../worker/env.ts";
import worker from "../../worker/index.ts";

const ioBoundary = () => new Promise((r) => setTimeout(r, 0));

async function chainCpu(request: Request, rawEnv: unknown): Promise<Response> {
  const parsed = parseEnv(rawEnv);
  if (!parsed.ok) return new Response(parsed.message, { status: 500 });
  const url = new URL(request.url);
  const n = Math.min(Math.max(Number(url.searchParams.get("n") ?? 1000), 1), 20_000);
  const site = url.searchParams.get("site") ?? "";
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) if (k !== "n" && k !== "site") query[k] = v;
  const chainUrl = `${url.origin}/boot/${site}/ipxe?${new URLSearchParams(query)}`;

  const db = createDb(parsed.env.DB);
  const at = Date.now();
  const first = await parseChainRequest(site, query, undefined, at);
  const loaded = await loadChainContext(db, first.lookup);
  const admitted = await admitChain(first, loaded, at);
  const profiles = admitted.decision.kind === "boot" ? (await loadBootProfiles(db, admitted.decision.ref, archCandidates(admitted.known?.arch, first.q.arch))).profiles : null;

  const once = async () => {
    const req = await parseChainRequest(site, query, undefined, at);
    const a = await admitChain(req, loaded, at);
    return composeChain(parsed.env, req, a, profiles, loaded.cacheUrl, chainUrl, at, crypto.randomUUID());
  };
  const sample = await once(); // warm-up: key import, template compile, JIT
  for (let i = 0; i < 50; i++) await once();

  // performance.now() is coarse here (1 ms), so time batches of renders and take the median of batch means.
  const BATCH = 20;
  const samples: number[] = [];
  await ioBoundary();
  const start = performance.now();
  for (let done = 0; done < n; done += BATCH) {
    const t = performance.now();
    for (let i = 0; i < BATCH; i++) await once();
    samples.push((performance.now() - t) / BATCH);
  }
  const total = performance.now() - start;
  await ioBoundary();
  samples.sort((a, b) => a - b);
  const q = (p: number) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]!;
  return Response.json({
    n: samples.length * BATCH,
    batch: BATCH,
    medianMs: q(0.5),
    p90Ms: q(0.9),
    p99Ms: q(0.99),
    meanMs: total / (samples.length * BATCH),
    // Production workerd freezes timers between I/O; if that ever applies here, the mean over the loop still holds.
    timersAdvanced: samples.some((s) => s > 0),
    bytes: sample.body.length,
  });
}

// A second peer for throughput: a text route that makes exactly one D1 query, the floor for any route reading D1.
async function oneQuery(rawEnv: unknown): Promise<Response> {
  const parsed = parseEnv(rawEnv);
  if (!parsed.ok) return new Response(parsed.message, { status: 500 });
  await parsed.env.DB.prepare("select id from sites limit 1").all();
  return new Response("ok\n", { headers: { "content-type": "text/plain; charset=utf-8" } });
}

export default {
  fetch(request: Request, env: unknown, ctx: ExecutionContext) {
    const path = new URL(request.url).pathname;
    if (path === "/__bench/chain-cpu") return chainCpu(request, env);
    if (path === "/__bench/one-query") return oneQuery(env);
    return worker.fetch(request as never, env as never, ctx);
  },
};
