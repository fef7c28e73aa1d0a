import { Hono } from "hono";
import { artifactsRoute } from "./artifacts.ts";
import { requireRelay } from "./auth.ts";
import { commandsRoute } from "./commands.ts";
import type { RelayApiEnv } from "./context.ts";
import { eventsRoute } from "./events.ts";
import { registerRoute } from "./register.ts";
import { syncRoute } from "./sync.ts";

// `/relay/v1`: what a site's relay may do with its credential. Every handler is scoped to the relay's own site.
export const relayApi = new Hono<RelayApiEnv>()
  .use("*", requireRelay)
  .route("/", registerRoute)
  .route("/", syncRoute)
  .route("/", eventsRoute)
  .route("/", commandsRoute)
  .route("/", artifactsRoute);
