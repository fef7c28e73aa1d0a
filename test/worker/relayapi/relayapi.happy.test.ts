import { env } from "cloudflare:workers";
import { compactVerify, createLocalJWKSet, generateKeyPair, exportJWK } from "jose";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { events, relayCommands, relays } from "../../../worker/db/schema.ts";
import { getSigningKeys } from "../../../worker/keys/signingKeys.ts";
import { bytesOf, worker } from "../artifacts/seed.ts";
import { db, seedBootableSite } from "./seed.ts";
import { freshStoragePerTest } from "../boot/seed.ts";

freshStoragePerTest();

const api = (path: string, init: RequestInit = {}) => worker.fetch(`http://api.test${path}`, init);
const json = (body: unknown) => ({ method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
const withAuth = (auth: Record<string, string>, init: RequestInit = {}) => ({ ...init, headers: { ...(init.headers as Record<string, string>), ...auth } });

async function publicJwk() {
  const { publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  return exportJWK(publicKey);
}

describe("relay API: register", () => {
  it("stores the relay's public key, LAN address, cache URL and version and marks it seen", async () => {
    const { relay } = await seedBootableSite("reg", 10);
    const jwk = await publicJwk();
    const res = await api(
      "/relay/v1/register",
      withAuth(relay.auth, json({ publicKeyJwk: jwk, lanAddress: "192.168.10.2", cacheUrl: "http://192.168.10.2:8080/artifacts/", version: "0.1.0" })),
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ relay: { id: relay.id, site: "reg" }, pollSeconds: expect.any(Number) });
    const [row] = await db().select().from(relays).where(eq(relays.id, relay.id));
    expect(row).toMatchObject({ lanAddress: "192.168.10.2", cacheUrl: "http://192.168.10.2:8080/artifacts/", softwareVersion: "0.1.0" });
    expect(row!.publicKeyJwk).toEqual({ kty: "OKP", crv: "Ed25519", x: jwk.x });
    expect(row!.lastSeenAt).toBeGreaterThan(Date.now() - 10_000);
  });
});

describe("relay API: sync", () => {
  it("returns the site snapshot with hosts, prefetch list and signed manifests, then 304 with the ETag", async () => {
    const site = await seedBootableSite("sync", 20);
    const res = await api("/relay/v1/sync", withAuth(site.relay.auth));
    expect(res.status).toBe(200);
    const etag = res.headers.get("etag");
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
    const body = (await res.json()) as Record<string, any>;
    expect(body.site).toMatchObject({ slug: "sync", allowDirect: false, bootAuth: "relay" });
    expect(body.hosts).toEqual([expect.objectContaining({ hostname: "node-sync", mac: "52:54:00:00:00:14", profile: "prof-sync", arch: "x86_64" })]);
    expect(body.prefetch.map((p: { sha256: string }) => p.sha256)).toEqual([site.kernel, ...site.initrds]);
    expect(body.prefetch[0]).toMatchObject({ size: 1000, role: "kernel", image: site.image, arch: "x86_64" });
    expect(body.commands).toEqual([]);

    // The manifest verifies with the API's public key set (what /.well-known/jwks.json serves).
    const jwks = createLocalJWKSet((await getSigningKeys(env)).jwks as never);
    expect(body.manifests).toHaveLength(1);
    const { payload, protectedHeader } = await compactVerify(body.manifests[0], jwks);
    expect(protectedHeader).toMatchObject({ alg: "EdDSA", kid: "test-key-1", typ: "edgeboot-manifest+jws" });
    const manifest = JSON.parse(new TextDecoder().decode(payload));
    expect(manifest).toMatchObject({ image: site.image, arch: "x86_64", version: "1" });
    expect(manifest.artifacts).toEqual([
      { role: "kernel", sha256: site.kernel, size: 1000, url: `http://api.test/relay/v1/artifacts/${site.kernel}` },
      { role: "initrd", sha256: site.initrds[0], size: 2000, url: `http://api.test/relay/v1/artifacts/${site.initrds[0]}` },
      { role: "initrd", sha256: site.initrds[1], size: 3000, url: `http://api.test/relay/v1/artifacts/${site.initrds[1]}` },
    ]);

    await db().update(relays).set({ lastSeenAt: 0 }).where(eq(relays.id, site.relay.id));
    const again = await api("/relay/v1/sync", withAuth(site.relay.auth, { headers: { "if-none-match": etag! } }));
    expect(again.status).toBe(304);
    const [row] = await db().select().from(relays).where(eq(relays.id, site.relay.id));
    expect(row!.lastSeenAt).toBeGreaterThan(Date.now() - 10_000);
  });

  it("changes the ETag when a command is queued and stops listing it once acknowledged", async () => {
    const site = await seedBootableSite("cmd", 30);
    const first = await api("/relay/v1/sync", withAuth(site.relay.auth));
    const etag = first.headers.get("etag")!;
    await db().insert(relayCommands).values({ id: "cmd-1", siteId: site.siteId, kind: "wake", payload: { mac: "52:54:00:00:00:1e" } });
    const withCmd = await api("/relay/v1/sync", withAuth(site.relay.auth, { headers: { "if-none-match": etag } }));
    expect(withCmd.status).toBe(200);
    expect(((await withCmd.json()) as { commands: unknown[] }).commands).toEqual([
      { id: "cmd-1", kind: "wake", payload: { mac: "52:54:00:00:00:1e" }, createdAt: expect.any(Number) },
    ]);
    const ack = await api("/relay/v1/commands/cmd-1/ack", withAuth(site.relay.auth, json({ ok: true })));
    expect(ack.status).toBe(200);
    const ackAgain = await api("/relay/v1/commands/cmd-1/ack", withAuth(site.relay.auth, json({ ok: true })));
    expect(ackAgain.status).toBe(200);
    const [cmd] = await db().select().from(relayCommands).where(eq(relayCommands.id, "cmd-1"));
    expect(cmd!.deliveredAt).not.toBeNull();
    const after = (await (await api("/relay/v1/sync", withAuth(site.relay.auth))).json()) as { commands: unknown[] };
    expect(after.commands).toEqual([]);
  });

  it("does not hand out commands older than the command TTL", async () => {
    const site = await seedBootableSite("oldcmd", 40);
    await db().insert(relayCommands).values({ id: "cmd-old", siteId: site.siteId, kind: "wake", payload: {}, createdAt: Date.now() - 3600_000 });
    const body = (await (await api("/relay/v1/sync", withAuth(site.relay.auth))).json()) as { commands: unknown[] };
    expect(body.commands).toEqual([]);
  });
});

describe("relay API: events", () => {
  it("stores a batch once, even when it is sent twice, linked to hosts by MAC", async () => {
    const site = await seedBootableSite("ev", 50);
    const batch = {
      events: [
        { id: "e-1", phase: "dhcp-offer", at: Date.now() - 1000, mac: "52-54-00-00-00-32", detail: { arch: 7 } },
        { id: "e-2", phase: "cache-hit", at: Date.now(), detail: { sha256: "a".repeat(64) } },
      ],
    };
    const first = await api("/relay/v1/events", withAuth(site.relay.auth, json(batch)));
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ received: 2, stored: 2, duplicates: 0 });
    const resend = await api("/relay/v1/events", withAuth(site.relay.auth, json(batch)));
    expect(await resend.json()).toEqual({ received: 2, stored: 0, duplicates: 2 });
    const rows = await db().select().from(events).where(eq(events.siteId, site.siteId));
    expect(rows).toHaveLength(2);
    const offer = rows.find((r) => r.externalId === "e-1")!;
    expect(offer).toMatchObject({ source: "relay", phase: "dhcp-offer", mac: "52:54:00:00:00:32" });
    expect(offer.hostId).not.toBeNull();
    expect(offer.detail).toMatchObject({ arch: 7, relay: "relay-1" });
  });
});

describe("relay API: artifacts", () => {
  it("streams an artifact of the site's images with Range support", async () => {
    const site = await seedBootableSite("art", 60);
    const res = await api(`/relay/v1/artifacts/${site.kernel}`, withAuth(site.relay.auth));
    expect(res.status).toBe(200);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytesOf(1000, 60));
    const part = await api(`/relay/v1/artifacts/${site.kernel}`, withAuth(site.relay.auth, { headers: { range: "bytes=0-9" } }));
    expect(part.status).toBe(206);
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(bytesOf(1000, 60).slice(0, 10));
    const head = await api(`/relay/v1/artifacts/${site.kernel}`, withAuth(site.relay.auth, { method: "HEAD" }));
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe("1000");
  });
});
