// /v1/artifacts and /v1/images/{image}/manifest are plain Hono sub-apps (streamed bodies, content negotiation); they
// are described here in the admin document's registry with the zod schemas their handlers validate with, so routing
// and behaviour stay theirs. Response schemas are new (the handlers build JSON inline) and `satisfies` ties them to
// the handlers' types.
import { z } from "@hono/zod-openapi";
import type { Manifest } from "../artifacts/manifest.ts";
import { MULTIPART_LIMITS } from "../artifacts/multipart.ts";
import type { GcReport } from "../artifacts/remove.ts";
import type { ArtifactView } from "../artifacts/rows.ts";
import { MAX_SINGLE_PUT_BYTES } from "../artifacts/upload.ts";
import { CompleteBody, GcQuery, ListQuery, PartParam, ShaParam, UploadParam } from "./artifacts.ts";
import { ManifestParam, ManifestQuery } from "./manifest.ts";
import { commonErrors, errorResponse, errors, jsonBody, jsonContent, noContent, type Registry, security } from "./openapi.ts";
import { Timestamp } from "./schemas.ts";

const Artifact = z
  .object({ sha256: z.string(), size: z.number().int(), contentType: z.string(), state: z.enum(["pending", "ready"]), createdAt: Timestamp })
  .openapi("Artifact") satisfies z.ZodType<ArtifactView>;
const ArtifactWithImages = Artifact.extend({ images: z.array(z.object({ name: z.string(), arch: z.string() })) }).openapi("ArtifactWithImages");
const ArtifactResult = z.object({ artifact: Artifact });
const GcResult = z
  .object({
    dryRun: z.boolean(),
    deleted: z.array(z.object({ sha256: z.string(), size: z.number().int(), reason: z.enum(["unreferenced", "stale_upload", "orphan_object"]) })),
    freedBytes: z.number().int(),
  })
  .openapi("ArtifactGcReport") satisfies z.ZodType<GcReport>;
const MultipartLimits = z.object({ minPartBytes: z.number().int(), maxPartBytes: z.number().int(), maxParts: z.number().int() });

// Uploads stream into R2, which needs the length up front; the request Content-Type is stored and served back.
const binaryBody = (description: string) => ({
  body: { description, required: true, content: { "application/octet-stream": { schema: { type: "string" as const, format: "binary" } } } },
  headers: z.object({ "content-length": z.string().regex(/^\d+$/).openapi({ description: "Required: chunked bodies cannot be streamed into R2" }) }),
});

export function documentArtifactRoutes(registry: Registry) {
  const tags = ["artifacts"];
  const missingUpload = errorResponse("No such pending multipart upload (aborted, completed or never created)");
  const inProgress = errorResponse("A multipart upload of this artifact is in progress");
  registry.registerPath({ method: "get", path: "/artifacts", tags, security, summary: "List artifacts by SHA-256 with the images using them", request: { query: ListQuery }, responses: { 200: jsonContent(z.object({ artifacts: z.array(ArtifactWithImages), nextCursor: z.string().nullable() }), "Artifacts"), ...commonErrors } });
  registry.registerPath({ method: "post", path: "/artifacts/gc", tags, security, summary: "Delete unreferenced artifacts, stale uploads and orphan objects (admin; ?dryRun=1 only reports)", request: { query: GcQuery }, responses: { 200: jsonContent(GcResult, "What was (or would be) deleted"), ...commonErrors } });
  registry.registerPath({ method: "get", path: "/artifacts/{sha256}", tags, security, summary: "Artifact metadata (bytes are served by /boot and /relay/v1, not here)", request: { params: ShaParam }, responses: { 200: jsonContent(z.object({ artifact: ArtifactWithImages }), "The artifact"), ...commonErrors, 404: errorResponse("Unknown artifact, or its upload is not completed (state and uploadId in details)") } });
  // HEAD answers carry no body, so its errors are status codes only.
  registry.registerPath({
    method: "head",
    path: "/artifacts/{sha256}",
    tags,
    security,
    summary: "Whether a ready artifact exists (GET without a body)",
    request: { params: ShaParam },
    responses: { 200: { description: "Ready" }, 401: { description: "Not authenticated" }, 403: { description: "Not allowed" }, 404: { description: "Unknown or not completed" } },
  });
  registry.registerPath({
    method: "put",
    path: "/artifacts/{sha256}",
    tags,
    security,
    summary: `Upload an artifact in one request (admin; up to ${MAX_SINGLE_PUT_BYTES} bytes); idempotent`,
    request: { params: ShaParam, ...binaryBody("The artifact's bytes; their SHA-256 must be the one in the URL. Any Content-Type is accepted and stored with the artifact") },
    responses: {
      201: jsonContent(ArtifactResult, "Stored"),
      200: jsonContent(ArtifactResult, "Already stored"),
      ...commonErrors,
      400: errorResponse("Invalid input, missing Content-Length (bad_request), or bytes not matching the SHA-256 (hash_mismatch)"),
      409: inProgress,
      413: errorResponse("Body larger than a single PUT allows; use a multipart upload"),
    },
  });
  registry.registerPath({ method: "delete", path: "/artifacts/{sha256}", tags, security, summary: "Delete an artifact (admin)", request: { params: ShaParam }, responses: { ...noContent, ...commonErrors, 404: errors[404], 409: errorResponse("Still referenced by images (listed in details)") } });
  registry.registerPath({
    method: "post",
    path: "/artifacts/{sha256}/uploads",
    tags,
    security,
    summary: "Start a multipart upload (admin); the request Content-Type is stored with the artifact",
    request: { params: ShaParam },
    responses: {
      201: jsonContent(z.object({ exists: z.literal(false), sha256: z.string(), uploadId: z.string(), limits: MultipartLimits }), "Upload started"),
      200: jsonContent(z.object({ exists: z.literal(true), artifact: Artifact }), "Already stored: nothing to upload"),
      ...commonErrors,
      409: inProgress,
    },
  });
  registry.registerPath({
    method: "put",
    path: "/artifacts/{sha256}/uploads/{uploadId}/parts/{partNumber}",
    tags,
    security,
    summary: "Upload one part (admin); keep the etag for complete",
    request: { params: PartParam, ...binaryBody(`One part: at least ${MULTIPART_LIMITS.minPartBytes} bytes except the last`) },
    responses: {
      200: jsonContent(z.object({ partNumber: z.number().int(), etag: z.string() }), "Part stored"),
      ...commonErrors,
      400: errorResponse("Invalid input or missing Content-Length (bad_request)"),
      404: missingUpload,
      413: errorResponse(`Part larger than ${MULTIPART_LIMITS.maxPartBytes} bytes`),
    },
  });
  registry.registerPath({
    method: "post",
    path: "/artifacts/{sha256}/uploads/{uploadId}/complete",
    tags,
    security,
    summary: "Complete a multipart upload (admin); the assembled bytes are checked against the SHA-256",
    request: { params: UploadParam, ...jsonBody(CompleteBody) },
    responses: {
      201: jsonContent(ArtifactResult, "Stored"),
      200: jsonContent(ArtifactResult, "Already stored"),
      ...commonErrors,
      400: errorResponse("Invalid input, duplicate or unknown parts, parts too small, or bytes not matching the SHA-256 (hash_mismatch)"),
      404: missingUpload,
    },
  });
  registry.registerPath({ method: "delete", path: "/artifacts/{sha256}/uploads/{uploadId}", tags, security, summary: "Abort a multipart upload (admin)", request: { params: UploadParam }, responses: { ...noContent, ...commonErrors, 404: missingUpload } });
}

const ManifestView = z
  .object({
    image: z.string(),
    arch: z.string(),
    version: z.string(),
    artifacts: z.array(z.object({ role: z.string(), sha256: z.string(), size: z.number().int(), url: z.string() })),
    issuedAt: Timestamp,
  })
  .openapi("Manifest") satisfies z.ZodType<Manifest>;

export function documentManifestRoute(registry: Registry) {
  registry.registerPath({
    method: "get",
    path: "/images/{image}/manifest",
    tags: ["images"],
    security,
    summary: "The image's artifacts signed as a compact JWS (EdDSA, key in /.well-known/jwks.json); Accept: application/jose for the bare JWS",
    request: { params: ManifestParam, query: ManifestQuery },
    responses: {
      200: {
        description: "The manifest and its JWS",
        content: { "application/json": { schema: z.object({ manifest: ManifestView, jws: z.string() }) }, "application/jose": { schema: z.string() } },
      },
      ...commonErrors,
      404: errors[404],
      409: errorResponse("The image names artifacts that are not uploaded (missing in details)"),
    },
  });
}
