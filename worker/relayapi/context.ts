import type { AppEnv } from "../context.ts";

// The relay a request came from, resolved from its credential; every /relay/v1 query is scoped by siteId.
export type RelayIdentity = { relayId: string; relayName: string; siteId: string; siteSlug: string };

export type RelayApiEnv = {
  Bindings: AppEnv["Bindings"];
  Variables: AppEnv["Variables"] & { relay: RelayIdentity };
};
