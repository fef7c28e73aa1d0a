import { eq } from "drizzle-orm";
import { Hono } from "hono";
import { etagListMatches } from "../shared/byteRange.ts";
import { buildManifest, signManifest } from "../artifacts/manifest.ts";
import { readySizes } from "../artifacts/rows.ts";
import { getSigningKeys } from "../keys/signingKeys.ts";
import { imageArtifactHashes } from "../artifacts/refs.ts";
import { relays } from "../db/schema.ts";
import { notFound } from "../errors.ts";
import { sha256Hex } from "../lib/crypto.ts";
import type { RelayApiEnv } from "./context.ts";
import { RELAY_POLL_SECONDS } from "./health.ts";
import { loadSiteState, usedImages } from "./state.ts";

export const relayArtifactUrl = (base: string, sha256: string) => `${base}/relay/v1/artifacts/${sha256}`;

export const apiBase = (publicUrl: string, requestUrl: string) => (publicUrl || new URL(requestUrl).origin).replace(/\/+$/, "");

// GET /relay/v1/sync: the relay's whole view of its site. Polled; every poll (304 included) refreshes
// last_seen_at, which is how the boot path knows the relay's cache is alive.
export const syncRoute = new Hono<RelayApiEnv>().get("/sync", async (c) => {
  const relay = c.get("relay");
  const db = c.get("db");
  const now = Date.now();
  await db.update(relays).set({ lastSeenAt: now }).where(eq(relays.id, relay.relayId));

  const state = await loadSiteState(db, relay.siteId, now);
  const site = state.site;
  if (!site) throw notFound("site");
  const profileNames = new Map(state.profiles.map((p) => [p.id, p.name]));
  const imgs = usedImages(state);
  const sizes = await readySizes(db, imgs.flatMap((img) => imageArtifactHashes(img.artifacts)));
  const base = apiBase(c.get("env").PUBLIC_URL, c.req.url);

  const snapshot = {
    site: {
      slug: site.slug,
      name: site.name,
      bootAuth: site.bootAuth,
      allowDirect: site.allowDirect,
      unknownHostPolicy: site.unknownHostPolicy,
      discoverRetrySeconds: site.discoverRetrySeconds,
      revision: site.revision,
    },
    relay: { id: relay.relayId, name: relay.relayName },
    hosts: state.hosts.map((h) => ({
      mac: h.mac,
      uuid: h.uuid,
      serial: h.serial,
      hostname: h.hostname,
      arch: h.arch,
      // The relay's DHCP answer reads this from its last snapshot (never waiting on the API).
      ipxeBuild: h.ipxeBuild,
      state: h.state,
      profile: h.profileId ? (profileNames.get(h.profileId) ?? null) : null,
    })),
    prefetch: prefetchList(imgs, sizes),
    commands: state.commands.map((cmd) => ({ id: cmd.id, kind: cmd.kind, payload: cmd.payload, createdAt: cmd.createdAt })),
    pollSeconds: RELAY_POLL_SECONDS,
  };
  // The ETag covers everything the manifests are made of, so a 304 is decided before any signing.
  const etag = `"${await sha256Hex(JSON.stringify({ snapshot, base, images: imgs.map((i) => [i.name, i.arch, i.revision]) }))}"`;
  c.header("etag", etag);
  c.header("cache-control", "no-cache");
  if (etagListMatches(c.req.header("if-none-match") ?? null, etag)) return c.body(null, 304);

  const signer = (await getSigningKeys(c.get("env"))).signer;
  const issuedAt = new Date(now);
  const manifests: string[] = [];
  for (const img of imgs) {
    const built = buildManifest(img, sizes, (sha) => relayArtifactUrl(base, sha), issuedAt);
    // An image with artifacts still missing is not bootable yet; its present artifacts are still prefetched.
    if (built.ok) manifests.push(await signManifest(built.manifest, signer));
  }
  return c.json({ ...snapshot, manifests });
});

function prefetchList(imgs: { name: string; arch: string; artifacts: Record<string, unknown> }[], sizes: ReadonlyMap<string, number>) {
  const seen = new Set<string>();
  const out: { sha256: string; size: number; image: string; arch: string; role: string }[] = [];
  for (const img of imgs) {
    for (const [role, value] of Object.entries(img.artifacts)) {
      for (const sha256 of imageArtifactHashes({ [role]: value })) {
        const size = sizes.get(sha256);
        if (size === undefined || seen.has(sha256)) continue;
        seen.add(sha256);
        out.push({ sha256, size, image: img.name, arch: img.arch, role });
      }
    }
  }
  return out;
}
