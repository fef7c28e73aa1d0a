// The machine-facing API (/boot): read-mostly, authenticated by site policy (chain) or by the host token in the path.
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "../context.ts";
import { ApiError } from "../errors.ts";
import { serveHostArtifact } from "./artifacts.ts";
import { serveChain, type Clock } from "./chain.ts";
import { EVENT_BODY_MAX, recordHostEvent } from "./events.ts";
import { requireHostToken, type BootHostEnv } from "./hostToken.ts";
import { serveFile } from "./files.ts";
import { serveNocloud } from "./nocloud.ts";

// `now` is the clock seam (ms) for token expiry and event times.
export function bootRoutes(options: { now?: Clock } = {}) {
  const now = options.now ?? Date.now;
  const limit = bodyLimit({
    maxSize: EVENT_BODY_MAX,
    onError: () => {
      throw new ApiError("too_large", `event body is larger than ${EVENT_BODY_MAX} bytes`);
    },
  });
  const host = new Hono<BootHostEnv>()
    .use("/h/:token/*", requireHostToken(now))
    .get("/h/:token/nocloud/*", (c) => serveNocloud(c, now))
    .get("/h/:token/files/:name", (c) => serveFile(c, now))
    .on(["GET", "POST"], "/h/:token/events", limit, (c) => recordHostEvent(c, now))
    .on(["GET", "HEAD"], "/h/:token/artifacts/:sha256/:name?", (c) => serveHostArtifact(c, now));
  return new Hono<AppEnv>().get("/:site/ipxe", (c) => serveChain(c, now)).route("/", host);
}
