// Host tokens of the real length for renders that must not hand one out: the admin dry run and save-time checks.
// They are minted exactly as composeChain (chain.ts) mints them — same signer, a fresh session id, the entry index,
// the session's expiry — so the kernel line is as long as the live chain's and fails exactly when it would. No
// session row stands behind them, so they open nothing; the dry run still shows a placeholder in their place.
import { newSessionId, signHostToken } from "../auth/hostTokens.ts";
import type { Env } from "../env.ts";
import { getSigningKeys } from "../keys/signingKeys.ts";
import { BOOT_SESSION_MAX_AGE_MS } from "./chain.ts";
import type { ResolvedBoot } from "./plan.ts";

export type PreviewMinter = { mint: (boot: ResolvedBoot) => Promise<string>; minted: string[] };

export async function previewMinter(env: Pick<Env, "SIGNING_KEYS">, at: number): Promise<PreviewMinter> {
  const keys = await getSigningKeys(env);
  const sid = newSessionId();
  const expSeconds = Math.floor((at + BOOT_SESSION_MAX_AGE_MS) / 1000);
  const minted: string[] = [];
  return {
    minted,
    mint: async () => {
      const token = await signHostToken(keys.signer, { sid, entry: minted.length }, { expSeconds });
      minted.push(token);
      return token;
    },
  };
}

/** The text with every minted token replaced by a placeholder. */
export function hideTokens(text: string, minted: string[], placeholder: string): string {
  let out = text;
  for (const token of minted) out = out.split(token).join(placeholder);
  return out;
}
