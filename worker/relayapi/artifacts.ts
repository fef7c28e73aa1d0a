import { Hono } from "hono";
import { z } from "zod";
import { zv } from "../artifacts/http.ts";
import { serveArtifact } from "../artifacts/serve.ts";
import { Sha256 } from "../artifacts/store.ts";
import { ApiError } from "../errors.ts";
import type { RelayApiEnv } from "./context.ts";
import { siteMayRead } from "./state.ts";

// GET|HEAD /relay/v1/artifacts/:sha256: the relay cache's upstream. Only artifacts of images its site can boot.
export const artifactsRoute = new Hono<RelayApiEnv>().get("/artifacts/:sha256", zv("param", z.object({ sha256: Sha256 })), async (c) => {
  const relay = c.get("relay");
  const { sha256 } = c.req.valid("param");
  if (!(await siteMayRead(c.get("db"), relay.siteId, sha256, Date.now()))) {
    // Same answer as an unknown hash: a relay learns nothing about other sites' artifacts.
    throw new ApiError("not_found", "artifact not found", { sha256 });
  }
  return serveArtifact(c.get("env"), sha256, c.req.raw);
});
