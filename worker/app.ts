import { Hono } from "hono";
import { adminApi } from "./admin/index.ts";
import { artifactsAdmin } from "./admin/artifacts.ts";
import { manifestAdmin } from "./admin/manifest.ts";
import { wakeAdmin } from "./admin/wake.ts";
import { renderAdmin } from "./admin/render.ts";
import { eventsAdmin } from "./admin/events.ts";
import { bootSessionsAdmin } from "./admin/bootSessions.ts";
import { bootRoutes } from "./boot/routes.ts";
import { jwksRoutes } from "./keys/jwks.ts";
import { bearerAuth } from "./auth/bearer.ts";
import { relayApi } from "./relayapi/index.ts";
import { uiRoutes } from "./ui/index.ts";
import type { AppEnv } from "./context.ts";
import { dbFor } from "./db/client.ts";
import { parseEnv } from "./env.ts";
import { ApiError, errorBody, handleError } from "./errors.ts";

// `now` is the boot path's clock seam (tests of token lifetimes); the deployed Worker uses Date.now.
export function createApp(options: { now?: () => number } = {}) {
  const app = new Hono<AppEnv>();

  // Per-request services built once here and read with c.get(...).
  app.use("*", async (c, next) => {
    const parsed = parseEnv(c.env);
    if (!parsed.ok) throw new ApiError("internal", `worker misconfigured: ${parsed.message}`);
    c.set("env", parsed.env);
    c.set("db", dbFor(parsed.env.DB));
    await next();
  });

  app.get("/healthz", (c) => c.text("ok\n"));

  // Every /v1 route needs a bearer token; handlers check scopes. The API description stays public.
  app.use("/v1/*", bearerAuth({ publicPaths: ["/v1/openapi.json"] }));
  app.route("/v1", adminApi);

  app.route("/v1", artifactsAdmin);
  app.route("/v1", manifestAdmin);
  app.route("/v1", wakeAdmin);
  app.route("/v1", renderAdmin);
  app.route("/v1", eventsAdmin);
  app.route("/v1", bootSessionsAdmin);
  app.route("/boot", bootRoutes({ now: options.now }));
  app.route("/", jwksRoutes);
  app.route("/relay/v1", relayApi);
  // The status page for operators; it reads and acts through the routes above.
  app.route("/ui", uiRoutes(app));
  app.get("/", (c) => c.redirect("/ui", 302));

  app.notFound((c) => c.json(errorBody(new ApiError("not_found", "no such route")), 404));
  app.onError(handleError);
  return app;
}
