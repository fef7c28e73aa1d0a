// Host tokens in /boot/h/<token>/...: only EdDSA tokens signed by one of our keys, of our token type, unexpired, and
// naming a boot session this database issued, read anything; what they read follows from that session's row.
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { base64url, exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from "jose";
import { describe, expect, it } from "vitest";
import { HOST_TOKEN_TYPE, newSessionId, signHostToken } from "../../../worker/auth/hostTokens.ts";
import { hosts } from "../../../worker/db/schema.ts";
import { getSigningKeys } from "../../../worker/keys/signingKeys.ts";
import { RELAY_TOKEN_TYPE } from "../../../worker/shared/relayToken.ts";
import { call, db, freshStoragePerTest, seedHost, seedImage, seedProfile, seedSite, tokenScope, tokensIn } from "./seed.ts";

freshStoragePerTest();

const now = () => Math.floor(Date.now() / 1000);
const TEST_KEY = JSON.parse(env.SIGNING_KEYS)[0] as { kid: string; x: string; d: string };
const MAC_A = "52:54:00:00:00:0a";
const MAC_B = "52:54:00:00:00:0b";

async function twoHosts() {
  const site = await seedSite({ slug: "lab", secretDelivery: "open" });
  await seedSite({ slug: "other" });
  await seedImage({ name: "os" });
  await seedProfile({ name: "p", image: "os" });
  await seedHost({ id: "host-a", siteId: site.id, hostname: "node-a", mac: MAC_A, profileId: "prf-p" });
  await seedHost({ id: "host-b", siteId: site.id, hostname: "node-b", mac: MAC_B, profileId: "prf-p" });
  return site;
}

// A real token, from a real chain.
const chainToken = async (mac: string, bindings?: Record<string, unknown>) => tokensIn((await call(`/boot/lab/ipxe?mac=${mac}`, {}, bindings)).body)[0]!;

const metaData = (token: string, bindings?: Record<string, unknown>) => call(`/boot/h/${token}/nocloud/meta-data`, {}, bindings);

// Tokens built by hand, signed with our key unless told otherwise.
async function forge(payload: Record<string, unknown>, header: Record<string, unknown> = {}, exp = now() + 600) {
  const key = (await getSigningKeys(env)).signer;
  return new SignJWT(payload).setProtectedHeader({ alg: "EdDSA", kid: key.kid, typ: HOST_TOKEN_TYPE, ...header }).setExpirationTime(exp).sign(key.key);
}

describe("host tokens", () => {
  it("are short: a session id and an expiry, ~226 characters (was ~625)", async () => {
    await twoHosts();
    const token = await chainToken(MAC_A);
    console.log(`host token length: ${token.length} characters (kid "${TEST_KEY.kid}")`);
    expect(token.length).toBeLessThanOrEqual(250);
    const [header, payload] = token.split(".").slice(0, 2).map((p) => JSON.parse(new TextDecoder().decode(base64url.decode(p!))));
    expect(header).toEqual({ alg: "EdDSA", kid: TEST_KEY.kid, typ: HOST_TOKEN_TYPE });
    expect(Object.keys(payload).sort()).toEqual(["exp", "sid"]);
  });

  it("a valid token reads its own host's data, and only that", async () => {
    await twoHosts();
    const res = await metaData(await chainToken(MAC_A));
    expect(res.status).toBe(200);
    expect(res.body).toContain("node-a");
    expect(res.body).not.toContain("node-b");
  });

  it("cross-host: swapping another host's session id into the payload breaks the signature", async () => {
    await twoHosts();
    const a = await chainToken(MAC_A);
    const b = await chainToken(MAC_B);
    const sidB = (await tokenScope(b)).sid;
    const [h, p, sig] = a.split(".");
    const payload = JSON.parse(new TextDecoder().decode(base64url.decode(p!)));
    const forged = base64url.encode(JSON.stringify({ ...payload, sid: sidB }));
    const res = await metaData(`${h}.${forged}.${sig}`);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).error.code).toBe("unauthorized");
  });

  it("refuses an expired token with 410 session_expired", async () => {
    await twoHosts();
    const sid = (await tokenScope(await chainToken(MAC_A))).sid;
    const res = await metaData(await forge({ sid }, {}, now() - 10));
    expect(res.status).toBe(410);
    expect(JSON.parse(res.body).error.code).toBe("session_expired");
  });

  it("refuses another token type (the relay's), a missing or malformed sid, an entry the session lacks", async () => {
    await twoHosts();
    const sid = (await tokenScope(await chainToken(MAC_A))).sid;
    expect((await metaData(await forge({ sid }))).status).toBe(200);
    for (const t of [
      await forge({ sid }, { typ: RELAY_TOKEN_TYPE }),
      await forge({ sid }, { typ: "JWT" }),
      await forge({}),
      await forge({ sid: "short" }),
      await forge({ sid, e: 5 }),
      await forge({ sid, e: -1 }),
      await forge({ sid: newSessionId() }),
    ]) {
      const res = await metaData(t);
      expect(res.status, t).toBe(401);
    }
  });

  it("refuses alg: none", async () => {
    await twoHosts();
    const sid = (await tokenScope(await chainToken(MAC_A))).sid;
    const unsecured = new UnsecuredJWT({ sid }).setExpirationTime("10m").encode();
    expect((await metaData(unsecured)).status).toBe(401);
    // Same, with a fake signature segment so it passes the shape check and reaches jose.
    const [h, p] = unsecured.split(".");
    const res = await metaData(`${h}.${p}.${"A".repeat(86)}`);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).error.message).toMatch(/malformed host token|algorithm not allowed|invalid signature or format/);
  });

  it("refuses HS256 keyed with the public key (algorithm confusion)", async () => {
    await twoHosts();
    const sid = (await tokenScope(await chainToken(MAC_A))).sid;
    const header = { alg: "HS256", kid: TEST_KEY.kid, typ: HOST_TOKEN_TYPE };
    const body = () => new SignJWT({ sid }).setProtectedHeader(header).setExpirationTime("10m");
    // HS256 signatures are 43 characters: the shape check refuses them before jose.
    for (const t of [
      await body().sign(base64url.decode(TEST_KEY.x)),
      await body().sign(new TextEncoder().encode(TEST_KEY.x)),
      await body().sign(new TextEncoder().encode(JSON.stringify({ kty: "OKP", crv: "Ed25519", x: TEST_KEY.x }))),
    ]) {
      const res = await metaData(t);
      expect(res.status).toBe(401);
    }
    // With a signature segment of Ed25519 length, jose sees it and refuses the algorithm.
    const [h, p] = (await body().sign(base64url.decode(TEST_KEY.x))).split(".");
    const res = await metaData(`${h}.${p}.${"A".repeat(86)}`);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).error.message).toBe("host token refused: algorithm not allowed");
  });

  it("refuses a token signed by a key that is not ours, even with our kid", async () => {
    await twoHosts();
    const sid = (await tokenScope(await chainToken(MAC_A))).sid;
    const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const t = await new SignJWT({ sid }).setProtectedHeader({ alg: "EdDSA", kid: TEST_KEY.kid, typ: HOST_TOKEN_TYPE }).setExpirationTime("10m").sign(privateKey);
    expect((await metaData(t)).status).toBe(401);
  });

  it("a session whose host moved to another site, or was deleted, reads nothing", async () => {
    await twoHosts();
    const a = await chainToken(MAC_A);
    const b = await chainToken(MAC_B);
    await db().update(hosts).set({ siteId: "site-other" }).where(eq(hosts.id, "host-a"));
    expect((await metaData(a)).status).toBe(404);
    await db().delete(hosts).where(eq(hosts.id, "host-b"));
    expect((await metaData(b)).status).toBe(404);
  });

  it("refuses malformed tokens before parsing", async () => {
    await twoHosts();
    for (const t of ["x", "a.b.c", "a".repeat(5000), `${"a".repeat(30)}.${"b".repeat(30)}.${"c".repeat(87)}`]) expect((await metaData(t)).status).toBe(401);
  });

  it("signHostToken is what the chain uses: a token for a session that exists works", async () => {
    await twoHosts();
    const sid = (await tokenScope(await chainToken(MAC_A))).sid;
    const keys = await getSigningKeys(env);
    expect((await metaData(await signHostToken(keys.signer, { sid }, { expSeconds: now() + 60 }))).status).toBe(200);
  });
});

describe("signing keys: JWKS and rotation", () => {
  it("publishes public halves only", async () => {
    const res = await call("/.well-known/jwks.json");
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ keys: [{ kty: "OKP", crv: "Ed25519", x: TEST_KEY.x, kid: TEST_KEY.kid, alg: "EdDSA", use: "sig" }] });
    expect(res.body).not.toContain('"d"');
    expect(res.body).not.toContain(TEST_KEY.d);
  });

  it("the first key signs; an older key still verifies until its tokens expire", async () => {
    await twoHosts();
    const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const fresh = { ...(await exportJWK(privateKey)), kid: "test-key-2" };
    const rotated = { ...env, SIGNING_KEYS: JSON.stringify([fresh, ...JSON.parse(env.SIGNING_KEYS)]) };

    const oldToken = await chainToken(MAC_A);
    expect((await metaData(oldToken, rotated)).status).toBe(200);
    const newToken = await chainToken(MAC_B, rotated);
    expect(JSON.parse(new TextDecoder().decode(base64url.decode(newToken.split(".")[0]!))).kid).toBe("test-key-2");
    expect((await metaData(newToken, rotated)).status).toBe(200);
    // Before the rotation the new key is unknown.
    expect((await metaData(newToken)).status).toBe(401);

    const jwks = JSON.parse((await call("/.well-known/jwks.json", {}, rotated)).body);
    expect(jwks.keys.map((k: { kid: string }) => k.kid)).toEqual(["test-key-2", TEST_KEY.kid]);
    expect(JSON.stringify(jwks)).not.toContain('"d"');
  });

  it("a broken SIGNING_KEYS secret is a clear 500, not a crash", async () => {
    const res = await call("/.well-known/jwks.json", {}, { ...env, SIGNING_KEYS: '[{"kty":"oct","k":"abc"}]' });
    expect(res.status).toBe(500);
    expect(JSON.parse(res.body).error.message).toMatch(/SIGNING_KEYS must be a non-empty array of Ed25519 private JWKs/);
  });
});
