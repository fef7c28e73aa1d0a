// A relay polls /relay/v1/sync every POLL_SECONDS; missing a few polls means it is not serving, and chains should
// stop pointing at its cache. The boot path reads this with relays.last_seen_at.
export const RELAY_POLL_SECONDS = 15;
export const RELAY_HEALTHY_MS = 4 * RELAY_POLL_SECONDS * 1000;

export const isRelayHealthy = (lastSeenAt: number | null | undefined, now: number) =>
  typeof lastSeenAt === "number" && now - lastSeenAt <= RELAY_HEALTHY_MS;
