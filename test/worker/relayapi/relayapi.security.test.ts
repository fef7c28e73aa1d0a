import { eq } from "drizzle-orm";
import { exportJWK, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import { events, relayCommands, relays } from "../../../worker/db/schema.ts";
import { bytesOf, seedArtifact, worker } from "../artifacts/seed.ts";
import { db, seedBootableSite, seedRelay, seedSite } from "./seed.ts";
import { freshStoragePerTest } from "../boot/seed.ts";

freshStoragePerTest();

const api = (path: string, init: RequestInit = {}) => worker.fetch(`http://api.test${path}`, init);
const post = (auth: Record<string, string>, body: unknown) => ({
  method: "POST",
  body: JSON.stringify(body),
  headers: { "content-type": "application/json", ...auth },
});

describe("relay API security", () => {
  it("refuses requests without a credential, with an unknown one and with a revoked relay's", async () => {
    const siteId = await seedSite("sec-auth");
    const revoked = await seedRelay(siteId, "old", { revoked: true });
    for (const headers of [{}, { authorization: "Bearer not-a-real-credential-123456" }, { authorization: "Basic abc" }, revoked.auth]) {
      const res = await api("/relay/v1/sync", { headers });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: { code: "unauthorized" } });
    }
  });

  it("does not accept an admin token as a relay credential", async () => {
    const res = await api("/relay/v1/sync", { headers: { authorization: "Bearer test-root-token-0123456789abcdef" } });
    expect(res.status).toBe(401);
  });

  it("keeps a relay to its own site: snapshot, artifacts, commands and events", async () => {
    const a = await seedBootableSite("sec-a", 70);
    const b = await seedBootableSite("sec-b", 80);
    const snap = (await (await api("/relay/v1/sync", { headers: a.relay.auth })).json()) as { hosts: { hostname: string }[]; prefetch: { sha256: string }[] };
    expect(snap.hosts.map((h) => h.hostname)).toEqual(["node-sec-a"]);
    expect(snap.prefetch.map((p) => p.sha256)).not.toContain(b.kernel);

    // Another site's artifact looks exactly like an unknown one.
    const other = await api(`/relay/v1/artifacts/${b.kernel}`, { headers: a.relay.auth });
    expect(other.status).toBe(404);
    const unreferenced = await seedArtifact(bytesOf(64, 99));
    expect((await api(`/relay/v1/artifacts/${unreferenced}`, { headers: a.relay.auth })).status).toBe(404);

    await db().insert(relayCommands).values({ id: "cmd-b", siteId: b.siteId, kind: "wake", payload: {} });
    const ack = await api("/relay/v1/commands/cmd-b/ack", post(a.relay.auth, { ok: true }));
    expect(ack.status).toBe(404);
    const [cmd] = await db().select().from(relayCommands).where(eq(relayCommands.id, "cmd-b"));
    expect(cmd!.deliveredAt).toBeNull();

    // Same event id from two sites: two events, each in its own site.
    const batch = { events: [{ id: "shared-id", phase: "dhcp-offer", at: Date.now() }] };
    await api("/relay/v1/events", post(a.relay.auth, batch));
    await api("/relay/v1/events", post(b.relay.auth, batch));
    expect(await db().select().from(events).where(eq(events.siteId, a.siteId))).toHaveLength(1);
    expect(await db().select().from(events).where(eq(events.siteId, b.siteId))).toHaveLength(1);
  });

  it("refuses a private key at registration and stores nothing", async () => {
    const { relay } = await seedBootableSite("sec-key", 90);
    const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const res = await api(
      "/relay/v1/register",
      post(relay.auth, { publicKeyJwk: await exportJWK(privateKey), lanAddress: "10.0.0.2", cacheUrl: "http://10.0.0.2/artifacts/", version: "1" }),
    );
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; details: { path: string[]; message: string }[] } };
    expect(body.error.code).toBe("invalid_input");
    expect(body.error.details.some((i) => i.path.includes("d"))).toBe(true);
    const [row] = await db().select().from(relays).where(eq(relays.id, relay.id));
    expect(row!.publicKeyJwk).toBeNull();
  });

  it("refuses keys that are not Ed25519 and malformed registration fields", async () => {
    const { relay } = await seedBootableSite("sec-reg", 100);
    const good = { kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" };
    const base = { publicKeyJwk: good, lanAddress: "10.0.0.2", cacheUrl: "http://10.0.0.2/artifacts/", version: "1" };
    for (const bad of [
      { ...base, publicKeyJwk: { ...good, crv: "X25519" } },
      { ...base, publicKeyJwk: { kty: "RSA", n: "abc", e: "AQAB" } },
      { ...base, lanAddress: "not-an-ip" },
      { ...base, cacheUrl: "ftp://10.0.0.2/" },
      { ...base, version: "has spaces" },
      { ...base, extra: true },
    ]) {
      const res = await api("/relay/v1/register", post(relay.auth, bad));
      expect(res.status, JSON.stringify(bad)).toBe(400);
    }
  });
});
