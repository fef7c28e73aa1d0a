import { bodyLimit } from "hono/body-limit";
import { ApiError } from "../errors.ts";
import { auditAdmin } from "./audit.ts";
import { hostsAdmin } from "./hosts.ts";
import { hostsImportAdmin } from "./hostsImport.ts";
import { imagesAdmin } from "./images.ts";
import { adminRouter } from "./openapi.ts";
import { documentArtifactRoutes, documentManifestRoute } from "./openapiArtifacts.ts";
import { documentSiteToolRoutes } from "./openapiSiteTools.ts";
import { profilesAdmin } from "./profiles.ts";
import { relaysAdmin } from "./relays.ts";
import { rulesAdmin } from "./rules.ts";
import { assignmentAdmin } from "./assignment.ts";
import { secretsAdmin } from "./secrets.ts";
import { sitesAdmin } from "./sites.ts";
import { tokensAdmin } from "./tokens.ts";

// JSON admin bodies are small; artifact uploads (their own sub-app) stream and are not limited here.
export const ADMIN_BODY_LIMIT = 1024 * 1024;

// `/v1` routes owned here, documented at /v1/openapi.json. Bearer auth is applied to /v1/* by app.ts.
export const adminApi = adminRouter();
const limitBody = bodyLimit({
  maxSize: ADMIN_BODY_LIMIT,
  onError: () => {
    throw new ApiError("too_large", `request body is larger than ${ADMIN_BODY_LIMIT} bytes`, { max: ADMIN_BODY_LIMIT });
  },
});
for (const path of ["/sites", "/sites/*", "/profiles", "/profiles/*", "/images", "/images/*", "/tokens", "/tokens/*", "/secrets", "/secrets/*"]) {
  adminApi.use(path, limitBody);
}
adminApi
  .route("/", sitesAdmin)
  .route("/", relaysAdmin)
  .route("/", rulesAdmin)
  .route("/", assignmentAdmin)
  // Before /hosts/{host} routes: "import" is also a valid hostname.
  .route("/", hostsImportAdmin)
  .route("/", hostsAdmin)
  .route("/", profilesAdmin)
  .route("/", imagesAdmin)
  .route("/", tokensAdmin)
  .route("/", secretsAdmin)
  .route("/", auditAdmin);

// The plain-Hono /v1 sub-apps (mounted in app.ts) are described in the same document.
documentArtifactRoutes(adminApi.openAPIRegistry);
documentManifestRoute(adminApi.openAPIRegistry);
documentSiteToolRoutes(adminApi.openAPIRegistry);

adminApi.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
  type: "http",
  scheme: "bearer",
  description: "The root token (Worker secret ADMIN_TOKEN) or a token from POST /v1/tokens",
});
adminApi.doc31("/openapi.json", (c) => ({
  openapi: "3.1.0",
  info: { title: "edgeboot admin API", version: "1" },
  servers: [{ url: `${new URL(c.req.url).origin}/v1` }],
}));
