import { exportJWK, generateKeyPair, importJWK } from "jose";
import { describe, expect, it } from "vitest";
import { ChainSignatureError, signChain, verifyChain } from "../../worker/shared/chainSignature.ts";
import { signRelayBootToken, verifyRelayBootToken } from "../../worker/shared/relayToken.ts";

const now = 1_800_000_000;

describe("chain signature", () => {
  it("verifies a round trip and refuses tampering, other MACs, other sites and stale signatures", async () => {
    const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const body = "#!ipxe\necho hello\n";
    const sig = await signChain(body, { site: "lab", mac: "52:54:00:00:00:01", iat: now }, privateKey, "k1");
    const getKey = async () => publicKey;
    const expected = { site: "lab", mac: "52:54:00:00:00:01", nowSeconds: now + 10 };
    await expect(verifyChain(body, sig, getKey, expected)).resolves.toMatchObject({ site: "lab" });
    const reason = async (p: Promise<unknown>) => p.then(() => "ok", (e: ChainSignatureError) => e.reason);
    expect(await reason(verifyChain(body + "shell\n", sig, getKey, expected))).toBe("bad_signature");
    expect(await reason(verifyChain(body, sig, getKey, { ...expected, mac: "52:54:00:00:00:02" }))).toBe("wrong_mac");
    expect(await reason(verifyChain(body, sig, getKey, { ...expected, site: "other" }))).toBe("wrong_site");
    expect(await reason(verifyChain(body, sig, getKey, { ...expected, nowSeconds: now + 3600 }))).toBe("stale");
    expect(await reason(verifyChain(body, "garbage", getKey, expected))).toBe("malformed");
    expect(await reason(verifyChain(body, null, getKey, expected))).toBe("malformed");
  });
});

describe("relay boot token", () => {
  it("binds site, MAC and time", async () => {
    const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const pub = (await importJWK(await exportJWK(publicKey), "EdDSA")) as CryptoKey;
    const token = await signRelayBootToken(privateKey, { relayId: "r1", site: "lab", mac: "aa:bb:cc:dd:ee:ff", ttlSeconds: 120, nowSeconds: now });
    const getKey = async () => pub;
    await expect(verifyRelayBootToken(token, getKey, { site: "lab", mac: "aa:bb:cc:dd:ee:ff", nowSeconds: now + 60 })).resolves.toMatchObject({ relayId: "r1" });
    await expect(verifyRelayBootToken(token, getKey, { site: "lab", mac: "aa:bb:cc:dd:ee:00", nowSeconds: now + 60 })).rejects.toThrow(/MAC/);
    await expect(verifyRelayBootToken(token, getKey, { site: "other", mac: "aa:bb:cc:dd:ee:ff", nowSeconds: now + 60 })).rejects.toThrow();
    await expect(verifyRelayBootToken(token, getKey, { site: "lab", mac: "aa:bb:cc:dd:ee:ff", nowSeconds: now + 121 })).rejects.toThrow();
    const other = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    await expect(verifyRelayBootToken(token, async () => other.publicKey, { site: "lab", mac: "aa:bb:cc:dd:ee:ff", nowSeconds: now + 60 })).rejects.toThrow();
  });
});
