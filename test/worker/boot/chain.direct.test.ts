// A chain a machine fetches itself with a relay-signed token (direct HTTPS, relay/README.md "Direct mode") names the
// API's own artifact URLs, never the relay's plain-HTTP cache; a relay-carried chain keeps the cache. The
// chain-served event says how the caller came (auth method and scheme).
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../../worker/index.ts";
import { signRelayBootToken } from "../../../worker/shared/relayToken.ts";
import { eventsOf, freshStoragePerTest, INITRD, KERNEL, relayKeyPair, seedHost, seedImage, seedProfile, seedRelay, seedSite } from "./seed.ts";

freshStoragePerTest();

const MAC = "52:54:00:00:00:0a";
const CACHE = "http://10.0.0.3:8067/artifacts/";

async function get(url: string, headers: Record<string, string> = {}) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(url, { headers }) as never, env as never, ctx);
  const body = await res.text();
  await waitOnExecutionContext(ctx);
  return { status: res.status, body };
}

async function lab() {
  const site = await seedSite({ slug: "lab", bootAuth: "relay", allowDirect: true });
  await seedImage({ name: "debian" });
  const profile = await seedProfile({ name: "debian-live", image: "debian" });
  await seedHost({ id: "host-a", siteId: site.id, hostname: "node-a", mac: MAC, profileId: profile.id });
  const keys = await relayKeyPair();
  // A live relay with a registered cache: relay-carried chains point their artifacts there.
  const relay = await seedRelay({ id: "relay-1", siteId: site.id, publicKeyJwk: keys.publicJwk, cacheUrl: CACHE, lastSeenAt: Date.now() });
  const token = await signRelayBootToken(keys.privateKey, { relayId: "relay-1", site: "lab", mac: MAC, ttlSeconds: 300, nowSeconds: Math.floor(Date.now() / 1000) });
  return { site, relay, token };
}

describe("direct HTTPS chains keep their artifacts on HTTPS", () => {
  it("a relay-token chain fetched over https names /boot/h/<token>/artifacts on the API, not the relay cache", async () => {
    const { site, token } = await lab();
    const res = await get(`https://api.test/boot/lab/ipxe?mac=${MAC}&t=${token}`);
    expect(res.status).toBe(200);
    expect(res.body).not.toContain("10.0.0.3");
    expect(res.body).toMatch(new RegExp(`^kernel --name kernel https://api\\.test/boot/h/[^/\\s]+/artifacts/${KERNEL} `, "m"));
    expect(res.body).toMatch(new RegExp(`^initrd --name initrd0 https://api\\.test/boot/h/[^/\\s]+/artifacts/${INITRD} `, "m"));
    const [event] = await eventsOf(site.id);
    expect(event).toMatchObject({ phase: "chain-served", detail: { auth: "relay-token", scheme: "https", via: "worker" } });
  });

  it("a relay-carried chain keeps the relay cache, and its event says auth relay and the scheme the relay used", async () => {
    const { site, relay } = await lab();
    const res = await get(`http://api.test/boot/lab/ipxe?mac=${MAC}`, { authorization: `Bearer ${relay.credential}` });
    expect(res.status).toBe(200);
    expect(res.body).toContain(`${CACHE}${KERNEL}`);
    const [event] = await eventsOf(site.id);
    expect(event).toMatchObject({ phase: "chain-served", detail: { auth: "relay", scheme: "http", via: "relay-cache" } });
  });
});
