// Who may fetch a site's chain (`sites.boot_auth`): a relay of the site (credential header, or a relay-signed `&t=`
// token when the site allows direct HTTPS), the site's static boot key (`&k=`), or anyone on an open lab site.
// A relay credential is accepted on every site it belongs to; it is the strongest of the three.
import { ApiError } from "../errors.ts";
import { sha256Hex, timingSafeEqualHex } from "../lib/crypto.ts";
import { verifyDirectToken, type BootRelay } from "./relayCredential.ts";

export type BootAuthSite = {
  id: string;
  slug: string;
  bootAuth: "relay" | "key" | "open";
  bootKeyHash: string | null;
  allowDirect: boolean;
};

export type BootAuthInput = {
  credentialHash: string | null;
  token: string | undefined;
  key: string | undefined;
  // The relay row found by credential hash or by the token's kid (one lookup in the chain's read batch).
  relay: BootRelay | null;
  mac: string | null;
  nowSeconds: number;
};

export type BootAuthResult = { method: "relay" | "relay-token" | "key" | "open"; relayId: string | null };

export async function authenticateBoot(site: BootAuthSite, input: BootAuthInput): Promise<BootAuthResult> {
  if (input.credentialHash) {
    const relay = input.relay;
    if (!relay || relay.credentialHash !== input.credentialHash || relay.revokedAt !== null) {
      throw new ApiError("unauthorized", "unknown or revoked relay credential");
    }
    if (relay.siteId !== site.id) throw new ApiError("forbidden", "this relay belongs to another site");
    if (!input.mac) throw new ApiError("invalid_input", "a relay must pass the MAC address it saw (mac=)");
    return { method: "relay", relayId: relay.id };
  }

  if (input.token) {
    if (!site.allowDirect) throw new ApiError("forbidden", "this site does not allow direct boot tokens");
    if (!input.mac) throw new ApiError("invalid_input", "a relay boot token needs the MAC address it is bound to (mac=)");
    const relay = input.relay;
    if (!relay || relay.revokedAt !== null || relay.siteId !== site.id || !relay.publicKeyJwk) {
      throw new ApiError("unauthorized", "relay boot token from an unknown, revoked or unregistered relay");
    }
    try {
      await verifyDirectToken(input.token, { ...relay, publicKeyJwk: relay.publicKeyJwk }, {
        site: site.slug,
        mac: input.mac,
        nowSeconds: input.nowSeconds,
      });
    } catch (err) {
      const message = err instanceof Error ? err.message : "";
      if (/another MAC/.test(message)) throw new ApiError("forbidden", "relay boot token is bound to another MAC");
      throw new ApiError("unauthorized", "relay boot token refused (signature, expiry or audience)");
    }
    return { method: "relay-token", relayId: relay.id };
  }

  if (site.bootAuth === "key") {
    if (!input.key) throw new ApiError("unauthorized", "this site requires its boot key (k=)");
    const hash = await sha256Hex(input.key);
    if (!site.bootKeyHash || !timingSafeEqualHex(hash, site.bootKeyHash)) throw new ApiError("unauthorized", "boot key does not match");
    return { method: "key", relayId: null };
  }
  if (site.bootAuth === "open") return { method: "open", relayId: null };
  // The default for new sites, so the first direct curl of a chain lands here: say how to get past it.
  throw new ApiError(
    "unauthorized",
    `site ${site.slug} has bootAuth relay: its chains are fetched by its relays (relay credential or relay boot token); to fetch one directly, set the site's bootAuth to key (and pass k=) or open`,
    { bootAuth: "relay" },
  );
}
