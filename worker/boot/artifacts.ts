// GET|HEAD /boot/h/:token/artifacts/:sha256[/<name>]: the artifacts of the host's boot session, streamed from R2 by
// the artifacts module. Only hashes of the image the token was issued for are served. The optional file name is
// ignored for lookup: it is there for boot tools that want one in the URL (live-boot's fetch= takes only
// .squashfs/.iso/.tgz/.tar).
import type { Context } from "hono";
import { serveArtifact } from "../artifacts/serve.ts";
import { insertEventStatement, touchHostStatement } from "../db/queries/bootEvents.ts";
import { loadTokenImage } from "../db/queries/bootHost.ts";
import { ApiError, notFound } from "../errors.ts";
import type { Clock } from "./chain.ts";
import type { BootHostEnv } from "./hostToken.ts";
import { writeBehind } from "./writeBehind.ts";

// Same rule as the relay cache's route (relay/cache/http.ts).
const FILE_NAME = /^[A-Za-z0-9._-]{1,128}$/;

export async function serveHostArtifact(c: Context<BootHostEnv>, now: Clock): Promise<Response> {
  const sha256 = c.req.param("sha256") ?? "";
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw notFound("artifact", { sha256 });
  const name = c.req.param("name");
  if (name !== undefined && !FILE_NAME.test(name)) {
    throw new ApiError("invalid_input", "the artifact file name is 1-128 of A-Z a-z 0-9 . _ -", { field: "name", name: name.slice(0, 140) });
  }
  const claims = c.get("hostToken");
  const db = c.get("db");
  const found = await loadTokenImage(db, claims);
  if (!found) throw notFound("host");
  const roles = Object.entries(found.image?.artifacts ?? {}).filter(([, v]) => v === sha256 || (Array.isArray(v) && v.includes(sha256)));
  if (roles.length === 0) throw new ApiError("forbidden", "this artifact is not part of the image this boot token was issued for", { sha256 });

  const res = await serveArtifact(c.get("env"), sha256, c.req.raw);
  if (c.req.method === "GET" && (res.status === 200 || res.status === 206)) {
    const at = now();
    writeBehind(c, "artifact", db.$client, [
      insertEventStatement({
          siteId: claims.siteId,
          hostId: claims.hostId,
          mac: claims.mac,
          source: "worker",
          phase: "artifact-fetched",
          bootSession: claims.sid,
          detail: { sha256, role: roles.map(([role]) => role).join(","), status: res.status, range: c.req.header("range") ?? null, scheme: new URL(c.req.url).protocol.replace(/:$/, "") },
          at,
        }),
        touchHostStatement(claims.hostId, at),
    ]);
  }
  return res;
}
