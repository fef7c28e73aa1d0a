// The chain's hot path: one read statement, the decision's profiles reused while the catalogue token is unchanged
// (one read round trip when warm, two when not), then the boot session's write batch before the response, and
// concurrent bookkeeping writes that all land.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { archCandidates, decide, resolvePlan } from "../../../worker/boot/plan.ts";
import { loadChainContext } from "../../../worker/db/queries/bootChain.ts";
import { loadBootProfiles } from "../../../worker/db/queries/bootProfiles.ts";
import { hosts, images, profiles } from "../../../worker/db/schema.ts";
import worker from "../../../worker/index.ts";
import { BASE, call, db, eventsOf, freshStoragePerTest, hostRow, seedHost, seedImage, seedProfile, seedSite, tokensIn } from "./seed.ts";

freshStoragePerTest();

const lookup = (q: { mac?: string; uuid?: string; serial?: string; arch?: string; slug?: string }) => ({
  siteSlug: q.slug ?? "lab",
  mac: q.mac ?? null,
  uuid: q.uuid ?? null,
  serial: q.serial ?? null,
  relayCredentialHash: null,
  relayId: null,
  cacheSeenSince: 0,
});

async function predicts(q: Parameters<typeof lookup>[0], expected: { profile: string; images: string[] } | null) {
  const loaded = await loadChainContext(db(), lookup(q));
  const decision = decide(loaded.site!, loaded.host);
  if (!expected) {
    expect(decision.kind).not.toBe("boot");
    return;
  }
  expect(decision.kind).toBe("boot");
  if (decision.kind !== "boot") return;
  const archs = archCandidates(loaded.host?.arch, q.arch);
  const { profiles: resolved, token } = await loadBootProfiles(db(), decision.ref, archs);
  expect(token).toBe(loaded.catalogueToken);
  const plan = resolvePlan(decision.ref, resolved, archs);
  const boots = plan.kind === "single" ? [plan.boot] : plan.items.flatMap((i) => (i.target === "local" ? [] : [i.target]));
  expect(plan.kind === "single" ? plan.boot.profile.name : plan.profile.name).toBe(expected.profile);
  expect(boots.map((b) => b.image.id)).toEqual(expected.images);
}

describe("the chain reads resolve what decide() picks", () => {
  it("host profile, intent by name, site default, menu items, archs", async () => {
    const site = await seedSite({ slug: "lab", unknownHostPolicy: "default", defaultProfileId: "prf-default" });
    await seedImage({ name: "os", arch: "x86_64" });
    await seedImage({ name: "os", arch: "arm64" });
    await seedImage({ name: "os", arch: "i386" });
    await seedProfile({ name: "default", image: "os" });
    await seedProfile({ name: "mine", image: "os" });
    await seedProfile({ name: "rescue", image: "os" });
    await seedProfile({ name: "menu", menu: { items: [{ label: "a", target: "mine" }, { label: "b", target: "rescue" }, { label: "c", target: "local" }] } });
    await seedHost({ id: "h1", siteId: site.id, mac: "52:54:00:00:00:01", profileId: "prf-mine" });
    await seedHost({ id: "h2", siteId: site.id, mac: "52:54:00:00:00:02", profileId: "prf-mine", intent: { target: "rescue", mode: "once" } });
    await seedHost({ id: "h3", siteId: site.id, mac: "52:54:00:00:00:03", profileId: "prf-menu" });
    await seedHost({ id: "h4", siteId: site.id, uuid: "4c4c4544-0042-3510-8052-b4c04f4e3732", profileId: "prf-rescue", arch: "arm64" });
    await seedHost({ id: "h5", siteId: site.id, mac: "52:54:00:00:00:05", intent: { target: "local", mode: "always" } });

    await predicts({ mac: "52:54:00:00:00:01", arch: "x86_64" }, { profile: "mine", images: ["img-os-x86_64"] });
    await predicts({ mac: "52:54:00:00:00:01", arch: "i386" }, { profile: "mine", images: ["img-os-i386"] });
    await predicts({ mac: "52:54:00:00:00:02" }, { profile: "rescue", images: ["img-os-x86_64"] });
    await predicts({ mac: "52:54:00:00:00:03", arch: "arm64" }, { profile: "menu", images: ["img-os-arm64", "img-os-arm64"] });
    // Matched by UUID (MAC unknown): its own profile and pinned arch.
    await predicts({ mac: "52:54:00:00:00:99", uuid: "4c4c4544-0042-3510-8052-b4c04f4e3732", arch: "x86_64" }, { profile: "rescue", images: ["img-os-arm64"] });
    // Unknown machine on a default-policy site.
    await predicts({ mac: "52:54:00:00:00:aa" }, { profile: "default", images: ["img-os-x86_64"] });
    await predicts({ mac: "52:54:00:00:00:05" }, null);
  });
});

describe("bookkeeping writes", () => {
  it("a machine re-chaining within a minute keeps its row unless its identity or state changes; every chain is an event", async () => {
    const site = await seedSite({ slug: "lab" });
    await seedImage({ name: "os" });
    await seedProfile({ name: "p", image: "os" });
    await seedHost({ id: "h1", siteId: site.id, mac: "52:54:00:00:03:01", profileId: "prf-p" });
    const path = "/boot/lab/ipxe?mac=52:54:00:00:03:01&arch=x86_64&platform=efi";
    expect((await call(path)).status).toBe(200);
    const first = await hostRow("h1");
    expect(first?.state).toBe("booting");
    expect(first?.lastSeenAt).toBeGreaterThan(0);
    expect((await call(path)).status).toBe(200);
    expect((await hostRow("h1"))?.lastSeenAt).toBe(first?.lastSeenAt);
    // Another reported identity (the same machine now boots in BIOS mode) is written at once.
    expect((await call("/boot/lab/ipxe?mac=52:54:00:00:03:01&arch=x86_64&platform=pcbios")).status).toBe(200);
    const moved = await hostRow("h1");
    expect(moved?.lastIdentity).toMatchObject({ platform: "pcbios" });
    expect(moved?.lastSeenAt).toBeGreaterThanOrEqual(first!.lastSeenAt!);
    // So is a state change: the host reported booted, the next chain makes it booting again.
    await db().update(hosts).set({ state: "booted" }).where(eq(hosts.id, "h1"));
    expect((await call("/boot/lab/ipxe?mac=52:54:00:00:03:01&arch=x86_64&platform=pcbios")).status).toBe(200);
    expect((await hostRow("h1"))?.state).toBe("booting");
    expect((await eventsOf(site.id)).filter((e) => e.phase === "chain-served")).toHaveLength(4);
  });

  it("concurrent chains all land in the timeline", async () => {
    const site = await seedSite({ slug: "lab" });
    await seedImage({ name: "os" });
    await seedProfile({ name: "p", image: "os" });
    const macs = Array.from({ length: 12 }, (_, i) => `52:54:00:00:01:${i.toString(16).padStart(2, "0")}`);
    for (const [i, mac] of macs.entries()) await seedHost({ id: `h${i}`, siteId: site.id, mac, profileId: "prf-p" });
    const results = await Promise.all(macs.map((mac) => call(`/boot/lab/ipxe?mac=${mac}`)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    const events = await eventsOf(site.id);
    expect(events.filter((e) => e.phase === "chain-served").map((e) => e.hostId).sort()).toEqual(macs.map((_, i) => `h${i}`).sort());
  });
});

// A D1 binding that counts round trips (batches and single statement runs) and passes everything through.
function countingD1() {
  const real = env.DB;
  const counter = { calls: 0, statements: 0 };
  const countRuns = (stmt: D1PreparedStatement): D1PreparedStatement =>
    new Proxy(stmt, {
      get(target, key) {
        const value = Reflect.get(target, key, target);
        if (typeof value !== "function") return value;
        if (key === "bind") return (...args: unknown[]) => countRuns(value.apply(target, args));
        if (["all", "first", "run", "raw"].includes(String(key))) return (...args: unknown[]) => (counter.calls++, counter.statements++, value.apply(target, args));
        return value.bind(target);
      },
    });
  const binding = new Proxy(real, {
    get(target, key) {
      const value = Reflect.get(target, key, target);
      if (key === "prepare") return (query: string) => countRuns(value.call(target, query));
      if (key === "batch") return (stmts: D1PreparedStatement[]) => (counter.calls++, (counter.statements += stmts.length), value.call(target, stmts));
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { counter, binding };
}

// D1 round trips and statements made before the response, all statements including the waitUntil ones, and the body.
async function chainRoundTrips(path: string, bindings: Record<string, unknown>, counter: { calls: number; statements: number }) {
  counter.calls = 0;
  counter.statements = 0;
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`${BASE}${path}`) as never, bindings as never, ctx);
  const before = counter.calls;
  const statementsBefore = counter.statements;
  const body = await res.text();
  await waitOnExecutionContext(ctx);
  expect(res.status).toBe(200);
  return { roundTrips: before, statementsBefore, statements: counter.statements, body };
}

describe("catalogue reuse", () => {
  it("a warm chain reads in one D1 round trip (cold: two) and writes its session in one more; any profile or image write is seen by the next chain", async () => {
    const site = await seedSite({ slug: "lab" });
    await seedImage({ name: "os" });
    await seedProfile({ name: "p", image: "os", cmdline: "console=ttyS0 first" });
    await seedHost({ id: "h1", siteId: site.id, mac: "52:54:00:00:02:01", profileId: "prf-p" });
    const { counter, binding } = countingD1();
    const bindings = { ...(env as unknown as Record<string, unknown>), DB: binding };
    const path = "/boot/lab/ipxe?mac=52:54:00:00:02:01";

    const cold = await chainRoundTrips(path, bindings, counter);
    expect(cold.roundTrips).toBe(3);
    expect(cold.body).toContain("console=ttyS0 first");
    const warm = await chainRoundTrips(path, bindings, counter);
    expect(warm.roundTrips).toBe(2);
    // Read: 1 statement. Write batch: supersede earlier sessions, insert the session, the event (the host row is
    // rewritten only when its identity or state changed or a minute passed). Nothing after the response.
    expect(warm.statementsBefore).toBe(4);
    expect(warm.statements).toBe(4);
    console.log(`chain D1 (boot decision): cold ${cold.roundTrips} round trips / ${cold.statements} statements; warm ${warm.roundTrips} / ${warm.statements}`);

    // An operator edit replaces the catalogue token: the very next chain reads the new profile.
    await db().update(profiles).set({ cmdline: "console=ttyS0 second" }).where(eq(profiles.id, "prf-p"));
    const edited = await chainRoundTrips(path, bindings, counter);
    expect(edited.roundTrips).toBe(3);
    expect(edited.body).toContain("console=ttyS0 second");
    expect(edited.body).not.toContain("first");

    // Images too: a new artifact set for the same image name and arch.
    await db().update(images).set({ artifacts: { kernel: "cc".repeat(32), initrd: ["dd".repeat(32)] } }).where(eq(images.name, "os"));
    const reimaged = await chainRoundTrips(path, bindings, counter);
    expect(reimaged.body).toContain("cc".repeat(32));
    expect((await chainRoundTrips(path, bindings, counter)).roundTrips).toBe(2);
  });

  it("a chain without a token (discover) reads in one round trip and writes its bookkeeping after the response", async () => {
    await seedSite({ slug: "lab" });
    const { counter, binding } = countingD1();
    const bindings = { ...(env as unknown as Record<string, unknown>), DB: binding };
    const first = await chainRoundTrips("/boot/lab/ipxe?mac=52:54:00:00:02:09", bindings, counter);
    // The read, and the bookkeeping batch (discovered event + the new host row), which starts as the response goes out
    // and is carried by the request's own waitUntil.
    expect(first.roundTrips).toBe(2);
    expect(first.statements).toBe(3);
    // A machine looping in discover: the read only (its row was written a moment ago).
    const again = await chainRoundTrips("/boot/lab/ipxe?mac=52:54:00:00:02:09", bindings, counter);
    expect(again.roundTrips).toBe(1);
    expect(again.statements).toBe(1);
    console.log(`chain D1 (discover): first ${first.roundTrips} round trips (1 awaited), ${first.statements} statements; repeat ${again.roundTrips} / ${again.statements}`);
  });

  it("behind a host token a boot writes only what changed: no host row within a minute of the chain, no secret read for meta-data, no intent revert without an intent", async () => {
    const site = await seedSite({ slug: "lab" });
    await seedImage({ name: "os" });
    await seedProfile({ name: "p", image: "os", userData: "#cloud-config\nruncmd: [[true]]\n" });
    await seedHost({ id: "h1", siteId: site.id, mac: "52:54:00:00:02:11", hostname: "n1", profileId: "prf-p" });
    const { counter, binding } = countingD1();
    const bindings = { ...(env as unknown as Record<string, unknown>), DB: binding };
    const chain = await chainRoundTrips("/boot/lab/ipxe?mac=52:54:00:00:02:11", bindings, counter);
    const token = tokensIn(chain.body)[0]!;
    const cost = async (path: string, init: RequestInit = {}) => {
      counter.statements = 0;
      const ctx = createExecutionContext();
      const res = await worker.fetch(new Request(`${BASE}${path}`, init) as never, bindings as never, ctx);
      await res.text();
      await waitOnExecutionContext(ctx);
      expect(res.status).toBe(200);
      return counter.statements;
    };
    // Session; host, site, profile; the event.
    const meta = await cost(`/boot/h/${token}/nocloud/meta-data`);
    expect(meta).toBe(5);
    // Session; host, site, profile, secrets; the once claim; the event.
    const user = await cost(`/boot/h/${token}/nocloud/user-data`);
    expect(user).toBe(7);
    const before = await hostRow("h1");
    // Session; host; the event, the host's state and last seen, the session's end.
    const booted = await cost(`/boot/h/${token}/events?phase=booted`, { method: "POST" });
    expect(booted).toBe(5);
    expect((await hostRow("h1"))?.state).toBe("booted");
    expect((await hostRow("h1"))?.lastSeenAt).toBeGreaterThanOrEqual(before!.lastSeenAt!);
    console.log(`host-token D1 statements per request: meta-data ${meta}, user-data ${user}, booted ${booted} (was 7, 8, 7)`);

    // With a one-shot intent the report carries the revert and its audit row.
    await db().update(hosts).set({ intent: { target: "p", mode: "once", revertOnPhase: "booted" } }).where(eq(hosts.id, "h1"));
    const again = tokensIn((await chainRoundTrips("/boot/lab/ipxe?mac=52:54:00:00:02:11", bindings, counter)).body)[0]!;
    expect(await cost(`/boot/h/${again}/events?phase=booted`, { method: "POST" })).toBe(7);
    expect((await hostRow("h1"))?.intent).toBeNull();
  });

  it("every insert, update and delete on profiles and images replaces the token", async () => {
    const token = async () => (await env.DB.prepare("select token from catalogue_version where id = 1").first<{ token: string }>())?.token;
    const seen = new Set([await token()]);
    const expectNew = async () => {
      const t = await token();
      expect(t).toMatch(/^[0-9a-f]{24}$/);
      expect(seen.has(t)).toBe(false);
      seen.add(t);
    };
    await seedImage({ name: "os" });
    await expectNew();
    await seedProfile({ name: "p", image: "os" });
    await expectNew();
    await db().update(profiles).set({ description: "x" }).where(eq(profiles.id, "prf-p"));
    await expectNew();
    await db().update(images).set({ version: "2" }).where(eq(images.name, "os"));
    await expectNew();
    await db().delete(profiles).where(eq(profiles.id, "prf-p"));
    await expectNew();
    await db().delete(images).where(eq(images.name, "os"));
    await expectNew();
  });
});
