// The chain's read batch predicts the profile in SQL (one D1 round trip); concurrent bookkeeping writes all land.
import { describe, expect, it } from "vitest";
import { archCandidates, decide, resolvePlan } from "../../../worker/boot/plan.ts";
import { holdsProfile, loadChainContext } from "../../../worker/db/queries/bootChain.ts";
import { call, db, eventsOf, seedHost, seedImage, seedProfile, seedSite } from "./seed.ts";

const lookup = (q: { mac?: string; uuid?: string; serial?: string; arch?: string; slug?: string }) => ({
  siteSlug: q.slug ?? "lab",
  mac: q.mac ?? null,
  uuid: q.uuid ?? null,
  serial: q.serial ?? null,
  relayCredentialHash: null,
  relayId: null,
  cacheSeenSince: 0,
  requestArch: q.arch ?? null,
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
  expect(holdsProfile(loaded.profiles, decision.ref)).toBe(true);
  const archs = archCandidates(loaded.host?.arch, q.arch);
  const plan = resolvePlan(decision.ref, loaded.profiles, archs);
  const boots = plan.kind === "single" ? [plan.boot] : plan.items.flatMap((i) => (i.target === "local" ? [] : [i.target]));
  expect(plan.kind === "single" ? plan.boot.profile.name : plan.profile.name).toBe(expected.profile);
  expect(boots.map((b) => b.image.id)).toEqual(expected.images);
}

describe("the chain read batch predicts what decide() picks", () => {
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
