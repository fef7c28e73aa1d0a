// Fuzzing the two signed formats the LAN edge checks (worker/shared/*): the chain signature (a detached JWS the relay
// verifies on every chain) and the relay boot token (a JWT the API verifies in direct mode). Mutated signatures,
// bodies and tokens must be refused with an error (never a crash, never a hang), and nothing but the exact signed
// bytes may ever verify.
import { generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import { ChainSignatureError, signChain, verifyChain } from "../../worker/shared/chainSignature.ts";
import { JwsError } from "../../worker/shared/ed25519Jws.ts";
import { signRelayBootToken, verifyRelayBootToken } from "../../worker/shared/relayToken.ts";
import { FUZZ_ITERATIONS, mutateText, pick, prng, report } from "./support/fuzz.ts";

const NOW = 1_800_000_000;
const MAC = "52:54:00:12:34:56";
const BODY = "#!ipxe\nkernel http://10.0.0.5:8067/artifacts/aa initrd=initrd console=ttyS0\ninitrd http://10.0.0.5:8067/artifacts/bb\nboot\n";

// Reasons a verify may legitimately refuse: our named errors and jose's (JOSEError and subclasses).
const expectedRefusal = (err: unknown) => err instanceof ChainSignatureError || err instanceof JwsError || (err instanceof Error && /^relay token /.test(err.message));

// Inputs are drawn in order (the seed replays); verifications run 32 at a time, since WebCrypto's verify is async.
async function inBatches(n: number, run: (i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < n; i += 32) {
    const batch: Promise<void>[] = [];
    for (let j = i; j < Math.min(n, i + 32); j++) batch.push(run(j));
    await Promise.all(batch);
  }
}

describe("fuzz the signed formats", () => {
  it(`chain signature: ${FUZZ_ITERATIONS} mutated signatures and bodies are refused; only the signed body verifies`, async () => {
    const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const sig = await signChain(BODY, { site: "lab", mac: MAC, iat: NOW }, privateKey, "k1");
    const getKey = async () => publicKey;
    const rnd = prng(0xc4a1);
    const counts = { inputs: 0, verified: 0 } as Record<string, number> & { inputs: number; verified: number };
    await inBatches(FUZZ_ITERATIONS, async (i) => {
      const which = rnd();
      const body = which < 0.3 ? mutateText(BODY, rnd) : BODY;
      const signature = which >= 0.2 ? (rnd() < 0.05 ? pick(rnd, [null, undefined, "", "..", "a..b", "a.b.c"]) : mutateText(sig, rnd)) : sig;
      counts.inputs++;
      try {
        const binding = await verifyChain(body, signature, getKey, { site: "lab", mac: MAC, nowSeconds: NOW });
        counts.verified++;
        // A non-canonical base64url spelling of the same signature may verify; a changed body never may.
        if (body !== BODY || binding.mac !== MAC) throw new Error(`iteration ${i}: a mutated chain verified`);
      } catch (err) {
        if (!expectedRefusal(err)) throw new Error(`seed 0xc4a1 iteration ${i}: unexpected ${(err as Error)?.stack ?? String(err)}`);
        const reason = err instanceof ChainSignatureError ? err.reason : "jws";
        counts[reason] = (counts[reason] ?? 0) + 1;
      }
    });
    report("chain-signature", counts);
    expect(counts.inputs).toBe(FUZZ_ITERATIONS);
    expect(counts.bad_signature! + counts.malformed!).toBeGreaterThan(FUZZ_ITERATIONS / 2);
  }, 120_000);

  it(`relay boot token: ${FUZZ_ITERATIONS} mutated tokens are refused; only the issued token verifies, for its own MAC`, async () => {
    const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const token = await signRelayBootToken(privateKey, { relayId: "relay-1", site: "lab", mac: MAC, ttlSeconds: 300, nowSeconds: NOW });
    const getKey = async () => publicKey;
    const rnd = prng(0x70c3);
    const counts = { inputs: 0, verified: 0, refused: 0 };
    await inBatches(FUZZ_ITERATIONS, async (i) => {
      const t = rnd() < 0.02 ? pick(rnd, ["", ".", "..", "a.b", "a.b.c.d", "x".repeat(5000)]) : mutateText(token, rnd);
      const mac = rnd() < 0.1 ? "52:54:00:00:00:01" : MAC;
      counts.inputs++;
      try {
        const claims = await verifyRelayBootToken(t, getKey, { site: "lab", mac, nowSeconds: NOW + Math.floor(rnd() * 900) });
        counts.verified++;
        if (claims.mac !== MAC || mac !== MAC || claims.relayId !== "relay-1") throw new Error(`iteration ${i}: a token verified for another MAC or relay`);
      } catch (err) {
        if (!expectedRefusal(err)) throw new Error(`seed 0x70c3 iteration ${i}: unexpected ${(err as Error)?.stack ?? String(err)}`);
        counts.refused++;
      }
    });
    report("relay-token", counts);
    expect(counts.refused).toBeGreaterThan(FUZZ_ITERATIONS / 2);
  }, 120_000);
});
