// Host tokens in /boot/h/<token>/...: only EdDSA tokens signed by one of our keys, for our issuer and audience,
// unexpired, and naming a host that still lives in the named site, read anything.
import { env } from "cloudflare:workers";
import { base64url, exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from "jose";
import { describe, expect, it } from "vitest";
import { HOST_TOKEN_AUDIENCE, HOST_TOKEN_TYPE, signHostToken } from "../../../worker/auth/hostTokens.ts";
import { getSigningKeys } from "../../../worker/keys/signingKeys.ts";
import { call, seedHost, seedSite } from "./seed.ts";

const now = () => Math.floor(Date.now() / 1000);
const TEST_KEY = JSON.parse(env.SIGNING_KEYS)[0] as { kid: string; x: string; d: string };

async function twoHosts() {
  const site = await seedSite({ slug: "lab" });
  await seedSite({ slug: "other" });
  await seedHost({ id: "host-a", siteId: site.id, hostname: "node-a", mac: "52:54:00:00:00:0a" });
  await seedHost({ id: "host-b", siteId: site.id, hostname: "node-b", mac: "52:54:00:00:00:0b" });
  return site;
}

async function tokenFor(hostId: string, opts: { siteId?: string; nowSeconds?: number; ttlSeconds?: number; bindings?: { SIGNING_KEYS: string } } = {}) {
  const keys = await getSigningKeys(opts.bindings ?? env);
  return signHostToken(keys.signer, { hostId, siteId: opts.siteId ?? "site-lab", mac: null, sid: "sid-1", profileId: null, imageId: null }, {
    issuer: "edgeboot",
    nowSeconds: opts.nowSeconds ?? now(),
    ttlSeconds: opts.ttlSeconds ?? 600,
  });
}

const metaData = (token: string, bindings?: Record<string, unknown>) => call(`/boot/h/${token}/nocloud/meta-data`, {}, bindings);

const claims = (extra: Record<string, unknown> = {}) => ({ site: "site-lab", sid: "sid-1", ...extra });

describe("host tokens", () => {
  it("a valid token reads its own host's data, and only that", async () => {
    await twoHosts();
    const res = await metaData(await tokenFor("host-a"));
    expect(res.status).toBe(200);
    expect(res.body).toContain('hostname: "node-a"');
    expect(res.body).not.toContain("node-b");
  });

  it("refuses a tampered token (host swapped in the payload)", async () => {
    await twoHosts();
    const [h, p, s] = (await tokenFor("host-a")).split(".");
    const payload = JSON.parse(new TextDecoder().decode(base64url.decode(p!)));
    const forged = base64url.encode(JSON.stringify({ ...payload, sub: "host-b" }));
    const res = await metaData(`${h}.${forged}.${s}`);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).error.code).toBe("unauthorized");
  });

  it("refuses an expired token", async () => {
    await twoHosts();
    const res = await metaData(await tokenFor("host-a", { nowSeconds: now() - 7200, ttlSeconds: 3600 }));
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).error.message).toBe("host token expired");
  });

  it("refuses wrong audience, issuer or type, even when signed by our key", async () => {
    await twoHosts();
    const key = (await getSigningKeys(env)).signer;
    const build = (header: Record<string, unknown>, set: (j: SignJWT) => SignJWT) =>
      set(new SignJWT(claims()).setProtectedHeader({ alg: "EdDSA", kid: key.kid, typ: HOST_TOKEN_TYPE, ...header }).setSubject("host-a").setIssuedAt().setExpirationTime("10m")).sign(key.key);
    const wrongAud = await build({}, (j) => j.setIssuer("edgeboot").setAudience("edgeboot:relay"));
    const wrongIss = await build({}, (j) => j.setIssuer("https://evil.example").setAudience(HOST_TOKEN_AUDIENCE));
    const wrongTyp = await build({ typ: "JWT" }, (j) => j.setIssuer("edgeboot").setAudience(HOST_TOKEN_AUDIENCE));
    const right = await build({}, (j) => j.setIssuer("edgeboot").setAudience(HOST_TOKEN_AUDIENCE));
    expect((await metaData(right)).status).toBe(200);
    for (const t of [wrongAud, wrongIss, wrongTyp]) expect((await metaData(t)).status).toBe(401);
  });

  it("refuses alg: none", async () => {
    await twoHosts();
    const unsecured = new UnsecuredJWT(claims()).setSubject("host-a").setIssuer("edgeboot").setAudience(HOST_TOKEN_AUDIENCE).setIssuedAt().setExpirationTime("10m").encode();
    expect((await metaData(unsecured)).status).toBe(401);
    // Same, with a fake signature segment so it passes the shape check and reaches jose.
    const [h, p] = unsecured.split(".");
    const res = await metaData(`${h}.${p}.${"A".repeat(43)}`);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).error.message).toMatch(/algorithm not allowed|invalid signature or format/);
  });

  it("refuses HS256 keyed with the public key (algorithm confusion)", async () => {
    await twoHosts();
    const header = { alg: "HS256", kid: TEST_KEY.kid, typ: HOST_TOKEN_TYPE };
    const body = () => new SignJWT(claims()).setProtectedHeader(header).setSubject("host-a").setIssuer("edgeboot").setAudience(HOST_TOKEN_AUDIENCE).setIssuedAt().setExpirationTime("10m");
    const asBytes = await body().sign(base64url.decode(TEST_KEY.x));
    const asText = await body().sign(new TextEncoder().encode(TEST_KEY.x));
    const asJwkJson = await body().sign(new TextEncoder().encode(JSON.stringify({ kty: "OKP", crv: "Ed25519", x: TEST_KEY.x })));
    for (const t of [asBytes, asText, asJwkJson]) {
      const res = await metaData(t);
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body).error.message).toBe("host token refused: algorithm not allowed");
    }
  });

  it("refuses a token signed by a key that is not ours, even with our kid", async () => {
    await twoHosts();
    const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const t = await new SignJWT(claims())
      .setProtectedHeader({ alg: "EdDSA", kid: TEST_KEY.kid, typ: HOST_TOKEN_TYPE })
      .setSubject("host-a")
      .setIssuer("edgeboot")
      .setAudience(HOST_TOKEN_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime("10m")
      .sign(privateKey);
    expect((await metaData(t)).status).toBe(401);
  });

  it("a token naming another site than the host's reads nothing", async () => {
    await twoHosts();
    expect((await metaData(await tokenFor("host-a", { siteId: "site-other" }))).status).toBe(404);
    expect((await metaData(await tokenFor("host-gone"))).status).toBe(404);
  });

  it("refuses malformed tokens before parsing", async () => {
    await twoHosts();
    for (const t of ["x", "a.b.c", "a".repeat(5000)]) expect((await metaData(t)).status).toBe(401);
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

    const oldToken = await tokenFor("host-a");
    expect((await metaData(oldToken, rotated)).status).toBe(200);
    const newToken = await tokenFor("host-a", { bindings: rotated });
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
