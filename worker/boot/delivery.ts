// Who may read a secret-bearing file (user-data, vendor-data, per-host files) of a boot session, by the site's
// delivery policy recorded in the session (worker/boot/README.md, "Threat model"):
// - every policy: only while the session is active (not after the host reported done) and within the site's window
//   (sites.host_token_ttl_seconds after the chain);
// - once: each file is served once per session; a second fetch is refused (410 secret_refetch) and is an alert event;
// - bound: only through the relay that issued the chain (its credential) for the address it saw, the host's own
//   static addresses (the OS may already use them when cloud-init fetches), or an address that relay learned for the
//   session's MAC from DHCP (Edgeboot-Client-Mac: the OS's DHCP client may lease another address than iPXE's). That
//   vouch rests on one DHCP packet any LAN host can forge, so what it alone admits is served once per file, as under
//   `once`: a vouched read of a file already served is refused (410 secret_refetch) and is an alert event;
// - open: labs; still recorded.
// Refusals are events (`secret-refetch`, `secret-refused`) written in the request's own waitUntil.
import type { Context } from "hono";
import { relayCredentialHash } from "../auth/relayCredential.ts";
import { insertEventStatement } from "../db/queries/bootEvents.ts";
import { claimSecretFile, markServedStatement, type BootSession } from "../db/queries/bootSessions.ts";
import type { StaticNetwork } from "../db/schema.ts";
import { ApiError } from "../errors.ts";
import { timingSafeEqualHex } from "../lib/crypto.ts";
import { normalizeMac } from "../lib/mac.ts";
import type { BootHostEnv } from "./hostToken.ts";
import { CLIENT_ADDRESS_HEADER, CLIENT_MAC_HEADER } from "../shared/relayHeaders.ts";
import { ClientAddress } from "./query.ts";
import { writeBehind } from "./writeBehind.ts";


export const SECRET_NOCLOUD_FILES: ReadonlySet<string> = new Set(["user-data", "vendor-data"]);
export const isSecretFile = (file: string) => SECRET_NOCLOUD_FILES.has(file) || file.startsWith("files/");

export type SecretGate = { commit(): Promise<void> };
const NO_GATE: SecretGate = { commit: async () => {} };

type HostAddresses = { ipv4?: string | null; network?: StaticNetwork | null };

// Addresses a bound session's reads may come from: the one the relay saw on the chain fetch, and the host's static
// addresses (cloud-init 22.4 applies network config in its local stage, before it fetches user-data).
export function boundAddresses(session: Pick<BootSession, "clientAddress">, host: HostAddresses): Set<string> {
  const out = new Set<string>();
  const add = (v: string | null | undefined) => {
    const parsed = ClientAddress.safeParse((v ?? "").split("/")[0]);
    if (parsed.success) out.add(parsed.data);
  };
  add(session.clientAddress);
  add(host.ipv4);
  for (const a of host.network?.addresses ?? []) add(a);
  return out;
}

// Before rendering: refuse what the policy refuses. The returned gate's commit() runs after a successful render and
// before the answer: under `once` it claims the file atomically (of two racing fetches, one wins).
export async function secretGate(c: Context<BootHostEnv>, file: string, host: HostAddresses, at: number): Promise<SecretGate> {
  if (!isSecretFile(file)) return NO_GATE;
  const session = c.get("bootSession");
  const claims = c.get("hostToken");
  const db = c.get("db").$client;
  const alert = (phase: "secret-refetch" | "secret-refused", err: ApiError, extra: Record<string, unknown> = {}) => {
    writeBehind(c, phase, db, [
      insertEventStatement({
        siteId: session.siteId,
        hostId: session.hostId,
        mac: session.mac,
        source: "worker",
        phase,
        bootSession: session.id,
        detail: { alert: true, file, code: err.code, reason: err.message, delivery: session.delivery, ...requester(c), ...extra },
        at,
      }),
    ]);
    return err;
  };

  if (session.state === "done") throw alert("secret-refused", new ApiError("boot_done", `${file} is closed: this boot already reported done`, { file }));
  if (at >= session.secretUntil) {
    throw alert("secret-refused", new ApiError("secret_window_closed", `${file} is readable only within the site's window after the chain (hostTokenTtlSeconds)`, { file }));
  }
  // Under `bound`, a read admitted only by the relay's DHCP vouch (not the chain's address, not a static one).
  let vouched = false;
  if (session.delivery === "bound") {
    const hash = await relayCredentialHash(c.req.header("authorization"));
    if (!hash || !session.relayCredentialHash || !timingSafeEqualHex(hash, session.relayCredentialHash)) {
      throw alert("secret-refused", new ApiError("delivery_bound", `${file} is delivered only through the relay that issued this boot's chain`, { file }));
    }
    const seen = ClientAddress.safeParse(c.req.header(CLIENT_ADDRESS_HEADER) ?? "");
    const vouchedMac = normalizeMac(c.req.header(CLIENT_MAC_HEADER) ?? "");
    const sameMachine = session.mac !== null && vouchedMac === session.mac;
    const atChainAddress = seen.success && boundAddresses(session, host).has(seen.data);
    if (!seen.success || !(atChainAddress || sameMachine)) {
      throw alert("secret-refused", new ApiError("delivery_bound", `${file} is delivered only to the address this boot's chain was fetched from`, { file }));
    }
    vouched = !atChainAddress;
    if (vouched && session.served[file] !== undefined) {
      const err = new ApiError("secret_refetch", `${file} was already served to this boot session; a read from an address the relay vouches for by DHCP alone is served only once`, { file });
      throw alert("secret-refetch", err, { firstServedAt: session.served[file], via: "vouch" });
    }
    // The chain's own address may read again (a client's retry), but a repeated read is still an alert: the first
    // one may have been someone else's vouched read.
    if (!vouched && session.served[file] !== undefined && c.req.method === "GET") {
      alert("secret-refetch", new ApiError("secret_refetch", `${file} was served again to this boot session (bound: the chain's own address may re-read)`, { file }), { firstServedAt: session.served[file], refused: false });
    }
  }
  if (session.delivery === "once" && session.served[file] !== undefined) {
    throw alert("secret-refetch", new ApiError("secret_refetch", `${file} was already served to this boot session; a second fetch is refused`, { file }), { firstServedAt: session.served[file] });
  }
  // HEAD carries no body: nothing to claim or record.
  if (c.req.method !== "GET") return NO_GATE;
  return {
    async commit() {
      if (session.delivery === "once" || vouched) {
        const claimed = await claimSecretFile(db, session.id, file, at).catch((err: unknown) => {
          // D1 unreachable: nothing was marked served, so the client's retry (on a 5xx) can still have the file.
          console.error("secret claim failed", err instanceof Error ? err.message : String(err));
          throw new ApiError("unavailable", "the boot API cannot reach its database; retry", { file });
        });
        if (!claimed) {
          throw alert("secret-refetch", new ApiError("secret_refetch", `${file} was already served to this boot session; a second fetch is refused`, { file }), { race: true, ...(vouched ? { via: "vouch" } : {}) });
        }
        return;
      }
      writeBehind(c, "served", db, [markServedStatement(claims.sid, file, at)]);
    },
  };
}

// Who asked, as far as the API can tell: the relay's view when a relay forwarded it, else Cloudflare's.
function requester(c: Context): Record<string, string> {
  const out: Record<string, string> = {};
  const relayed = c.req.header(CLIENT_ADDRESS_HEADER);
  const direct = c.req.header("cf-connecting-ip");
  if (relayed) out.relayedFor = relayed.slice(0, 64);
  if (direct) out.from = direct.slice(0, 64);
  // Whether a bearer credential came with it (checked against the issuing relay only under `bound`).
  out.credential = c.req.header("authorization") ? "presented" : "none";
  return out;
}
