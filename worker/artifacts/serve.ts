import { eq } from "drizzle-orm";
import { createDb } from "../db/client.ts";
import { artifacts } from "../db/schema.ts";
import type { Env } from "../env.ts";
import { ApiError, errorBody } from "../errors.ts";
import { decideRange, etagListMatches } from "../shared/byteRange.ts";
import { artifactKey, etagFor, IMMUTABLE_CACHE_CONTROL, Sha256 } from "./store.ts";

// Streams one ready artifact from R2 (never buffered): Range → 206, If-None-Match → 304, HEAD without touching R2.
// Shared by the machine-facing and relay-facing routes, which do their own authentication first.
export async function serveArtifact(env: Env, sha256: string, request: Request): Promise<Response> {
  const isHead = request.method === "HEAD";
  if (!Sha256.safeParse(sha256).success) return errorResponse(new ApiError("not_found", "artifact not found", { sha256 }), isHead);

  const [row] = await createDb(env.DB)
    .select({ size: artifacts.size, contentType: artifacts.contentType, state: artifacts.state })
    .from(artifacts)
    .where(eq(artifacts.sha256, sha256))
    .limit(1);
  // Pending rows belong to open multipart uploads whose bytes are not verified yet: never served.
  if (!row || row.state !== "ready") return errorResponse(new ApiError("not_found", "artifact not found", { sha256 }), isHead);

  const etag = etagFor(sha256);
  const headers = new Headers({
    etag,
    "cache-control": IMMUTABLE_CACHE_CONTROL,
    "accept-ranges": "bytes",
  });
  if (etagListMatches(request.headers.get("if-none-match"), etag)) return new Response(null, { status: 304, headers });

  headers.set("content-type", row.contentType);
  // If-Range with another validator means "send everything" (RFC 9110 §13.1.5).
  const ifRange = request.headers.get("if-range");
  const rangeHeader = ifRange !== null && ifRange.trim() !== etag ? null : request.headers.get("range");
  const decision = decideRange(rangeHeader, row.size);
  if (decision.kind === "unsatisfiable") {
    const refused = new Headers({ "content-range": `bytes */${row.size}`, "accept-ranges": "bytes" });
    return errorResponse(new ApiError("range_not_satisfiable", "range not satisfiable", { size: row.size }), isHead, refused);
  }
  const range = decision.kind === "partial" ? decision.range : { offset: 0, length: row.size };
  const status = decision.kind === "partial" ? 206 : 200;
  headers.set("content-length", String(range.length));
  if (decision.kind === "partial") headers.set("content-range", `bytes ${range.offset}-${range.offset + range.length - 1}/${row.size}`);
  if (isHead) return new Response(null, { status, headers });

  // R2 refuses zero-length ranges; an empty artifact needs no read at all.
  if (range.length === 0) return new Response(null, { status, headers });
  const object = await env.ARTIFACTS.get(artifactKey(sha256), decision.kind === "partial" ? { range } : {});
  if (!object) {
    // A ready row without its object breaks an invariant; say so loudly but answer like any missing artifact.
    console.error("artifact row without R2 object", sha256);
    return errorResponse(new ApiError("not_found", "artifact not found", { sha256 }), false);
  }
  return new Response(object.body, { status, headers });
}

function errorResponse(err: ApiError, isHead: boolean, headers = new Headers()): Response {
  headers.set("content-type", "application/json");
  return new Response(isHead ? null : JSON.stringify(errorBody(err)), { status: err.status, headers });
}
