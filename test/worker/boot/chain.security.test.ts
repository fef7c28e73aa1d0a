// Who may fetch a chain: relay credential, relay-signed token (direct mode), site boot key, open.
import { describe, expect, it } from "vitest";
import { signRelayBootToken } from "../../../worker/shared/relayToken.ts";
import { call, eventsOf, freshStoragePerTest, relayKeyPair, seedHost, seedImage, seedProfile, seedRelay, seedSite } from "./seed.ts";

freshStoragePerTest();

const MAC_A = "52:54:00:00:00:0a";
const MAC_B = "52:54:00:00:00:0b";
const now = () => Math.floor(Date.now() / 1000);

async function relaySite(fields: Record<string, unknown> = {}) {
  const site = await seedSite({ slug: "lab", bootAuth: "relay", ...fields });
  await seedImage({ name: "debian" });
  const profile = await seedProfile({ name: "debian-live", image: "debian" });
  await seedHost({ id: "host-a", siteId: site.id, hostname: "node-a", mac: MAC_A, profileId: profile.id });
  await seedHost({ id: "host-b", siteId: site.id, hostname: "node-b", mac: MAC_B, profileId: profile.id });
  return site;
}

const expectRefused = (res: { status: number; body: string; headers: Headers }, status: number, code: string) => {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
  expect(res.headers.get("edgeboot-error")).toBe(code);
  expect(res.headers.get("edgeboot-chain-signature")).toBeNull();
  // Still a script iPXE can show: the reason, then back to the firmware.
  expect(res.body).toMatch(new RegExp(`^#!ipxe\\necho edgeboot: ${code}: .+\\nexit 1\\n$`));
};

describe("bootAuth relay: relay credential", () => {
  it("accepts the site's relay credential with the MAC the relay saw, and records the relay as seen", async () => {
    const site = await relaySite();
    const relay = await seedRelay({ id: "relay-1", siteId: site.id });
    const res = await call(`/boot/lab/ipxe?mac=${MAC_A}`, { headers: { authorization: `Bearer ${relay.credential}` } });
    expect(res.status).toBe(200);
    expect(res.body).toContain("host=node-a");
    const [event] = await eventsOf(site.id);
    expect(event!.hostId).toBe("host-a");
  });

  it("refuses no credential, an unknown or revoked credential, and another site's relay", async () => {
    const site = await relaySite();
    const other = await seedSite({ slug: "other", bootAuth: "relay" });
    const otherRelay = await seedRelay({ id: "relay-other", siteId: other.id });
    const revoked = await seedRelay({ id: "relay-revoked", siteId: site.id, revokedAt: Date.now() });
    const bare = await call(`/boot/lab/ipxe?mac=${MAC_A}`);
    expectRefused(bare, 401, "unauthorized");
    // The first direct fetch a newcomer tries: the answer says why and what to change.
    expect(bare.body).toContain("site lab has bootAuth relay");
    expect(bare.body).toContain("set the site's bootAuth to key (and pass k=) or open");
    expectRefused(await call(`/boot/lab/ipxe?mac=${MAC_A}`, { headers: { authorization: "Bearer ebr_not-a-real-credential-000" } }), 401, "unauthorized");
    expectRefused(await call(`/boot/lab/ipxe?mac=${MAC_A}`, { headers: { authorization: `Bearer ${revoked.credential}` } }), 401, "unauthorized");
    expectRefused(await call(`/boot/lab/ipxe?mac=${MAC_A}`, { headers: { authorization: `Bearer ${otherRelay.credential}` } }), 403, "forbidden");
    // A site boot key is no substitute for the relay on a relay site.
    expectRefused(await call(`/boot/lab/ipxe?mac=${MAC_A}&k=whatever-key`), 401, "unauthorized");
    expect(await eventsOf(site.id)).toEqual([]);
  });

  it("a claimed UUID or serial never reaches a host that has a MAC: the relay-learned MAC is the identity", async () => {
    // PXE broadcasts its UUID (DHCP option 97) to the LAN, and serials are printed on labels: anyone can claim them.
    const site = await relaySite();
    const relay = await seedRelay({ id: "relay-1", siteId: site.id });
    const uuid = "4c4c4544-0042-3510-8052-b3c04f4a4a31";
    await seedHost({ id: "host-c", siteId: site.id, hostname: "node-c", mac: "52:54:00:00:00:0c", uuid, serial: "SN-C", profileId: "prf-debian-live" });
    const auth = { headers: { authorization: `Bearer ${relay.credential}` } };
    for (const claim of [`uuid=${uuid.toUpperCase()}`, "serial=SN-C", `uuid=${uuid}&serial=SN-C`]) {
      const res = await call(`/boot/lab/ipxe?mac=52:54:00:00:00:99&${claim}`, auth);
      expect(res.status, claim).toBe(200);
      expect(res.body, claim).not.toContain("node-c");
      expect(res.body, claim).not.toMatch(/\/h\/[A-Za-z0-9_-]+\./);
    }
    // A record without a MAC is still found by its UUID (the operator chose that identity), and its own MAC by MAC.
    await seedHost({ id: "host-d", siteId: site.id, hostname: "node-d", uuid: "4c4c4544-0042-3510-8052-b3c04f4a4a32", profileId: "prf-debian-live" });
    expect((await call("/boot/lab/ipxe?mac=52:54:00:00:00:98&uuid=4c4c4544-0042-3510-8052-b3c04f4a4a32", auth)).body).toContain("host=node-d");
    expect((await call(`/boot/lab/ipxe?mac=52:54:00:00:00:0c&uuid=${uuid}`, auth)).body).toContain("host=node-c");
  });

  it("requires the MAC from a relay", async () => {
    const site = await relaySite();
    const relay = await seedRelay({ id: "relay-1", siteId: site.id });
    expectRefused(await call(`/boot/lab/ipxe?serial=SN1`, { headers: { authorization: `Bearer ${relay.credential}` } }), 400, "invalid_input");
  });
});

describe("bootAuth relay: relay-signed direct token (&t=)", () => {
  async function direct(allowDirect = true) {
    const site = await relaySite({ allowDirect });
    const keys = await relayKeyPair();
    await seedRelay({ id: "relay-1", siteId: site.id, publicKeyJwk: keys.publicJwk });
    const sign = (mac: string, opts: { site?: string; nowSeconds?: number; ttlSeconds?: number; relayId?: string } = {}) =>
      signRelayBootToken(keys.privateKey, { relayId: opts.relayId ?? "relay-1", site: opts.site ?? "lab", mac, ttlSeconds: opts.ttlSeconds ?? 300, nowSeconds: opts.nowSeconds ?? now() });
    return { site, sign };
  }

  it("accepts a fresh token bound to this site and MAC", async () => {
    const { sign } = await direct();
    const res = await call(`/boot/lab/ipxe?mac=${MAC_A}&t=${await sign(MAC_A)}`);
    expect(res.status).toBe(200);
    expect(res.body).toContain("host=node-a");
  });

  it("a token for MAC A does not fetch MAC B's chain", async () => {
    const { sign } = await direct();
    expectRefused(await call(`/boot/lab/ipxe?mac=${MAC_B}&t=${await sign(MAC_A)}`), 403, "forbidden");
  });

  it("refuses expired, other-site, tampered and unknown-relay tokens", async () => {
    const { sign } = await direct();
    expectRefused(await call(`/boot/lab/ipxe?mac=${MAC_A}&t=${await sign(MAC_A, { nowSeconds: now() - 3600 })}`), 401, "unauthorized");
    expectRefused(await call(`/boot/lab/ipxe?mac=${MAC_A}&t=${await sign(MAC_A, { site: "other" })}`), 401, "unauthorized");
    const token = await sign(MAC_A);
    const tampered = `${token.slice(0, -4)}${token.slice(-4) === "AAAA" ? "BBBB" : "AAAA"}`;
    expectRefused(await call(`/boot/lab/ipxe?mac=${MAC_A}&t=${tampered}`), 401, "unauthorized");
    expectRefused(await call(`/boot/lab/ipxe?mac=${MAC_A}&t=${await sign(MAC_A, { relayId: "relay-nope" })}`), 401, "unauthorized");
    expectRefused(await call(`/boot/lab/ipxe?mac=${MAC_A}&t=not.a.token`), 401, "unauthorized");
  });

  it("is refused when the site does not allow direct boot", async () => {
    const { sign } = await direct(false);
    expectRefused(await call(`/boot/lab/ipxe?mac=${MAC_A}&t=${await sign(MAC_A)}`), 403, "forbidden");
  });
});

describe("bootAuth key and open", () => {
  it("key: the right key boots; a missing or wrong key is refused", async () => {
    const site = await seedSite({ slug: "lab", bootAuth: "key", bootKey: "bk_right-key-0123456789" });
    await seedImage({ name: "debian" });
    const profile = await seedProfile({ name: "debian-live", image: "debian" });
    await seedHost({ id: "host-a", siteId: site.id, mac: MAC_A, profileId: profile.id });
    expect((await call(`/boot/lab/ipxe?mac=${MAC_A}&k=bk_right-key-0123456789`)).status).toBe(200);
    expectRefused(await call(`/boot/lab/ipxe?mac=${MAC_A}`), 401, "unauthorized");
    expectRefused(await call(`/boot/lab/ipxe?mac=${MAC_A}&k=bk_wrong-key-0123456789`), 401, "unauthorized");
  });

  it("key: a site without a configured key refuses every key", async () => {
    await seedSite({ slug: "lab", bootAuth: "key" });
    expectRefused(await call(`/boot/lab/ipxe?mac=${MAC_A}&k=anything`), 401, "unauthorized");
  });

  it("open: no credentials needed; a presented bad relay credential is still refused", async () => {
    const site = await seedSite({ slug: "lab", bootAuth: "open", unknownHostPolicy: "deny" });
    expect((await call(`/boot/lab/ipxe?mac=${MAC_A}`)).status).toBe(200);
    expectRefused(await call(`/boot/lab/ipxe?mac=${MAC_A}`, { headers: { authorization: "Bearer ebr_not-a-real-credential-000" } }), 401, "unauthorized");
    expect((await eventsOf(site.id)).length).toBe(1);
  });
});
