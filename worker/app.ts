import { Hono } from "hono";
import type { AppEnv } from "./context.ts";
import { createDb } from "./db/client.ts";
import { parseEnv } from "./env.ts";
import { ApiError, errorBody, handleError } from "./errors.ts";

export function createApp() {
  const app = new Hono<AppEnv>();

  // Per-request services built once here and read with c.get(...).
  app.use("*", async (c, next) => {
    const parsed = parseEnv(c.env);
    if (!parsed.ok) throw new ApiError("internal", `worker misconfigured: ${parsed.message}`);
    c.set("env", parsed.env);
    c.set("db", createDb(parsed.env.DB));
    await next();
  });

  app.get("/healthz", (c) => c.text("ok\n"));

  app.notFound((c) => c.json(errorBody(new ApiError("not_found", "no such route")), 404));
  app.onError(handleError);
  return app;
}
