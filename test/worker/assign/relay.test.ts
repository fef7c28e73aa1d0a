// A rule's profile is part of what a site can boot: the relay's sync prefetches its image (restricted to the rule's
// arch, if any) and the relay may fetch its artifacts, before any machine it assigns has been seen.
import { describe, expect, it } from "vitest";
import { assignmentRules } from "../../../worker/db/schema.ts";
import { siteImages } from "../../../worker/relayapi/plan.ts";
import { bytesOf, seedArtifact, worker } from "../artifacts/seed.ts";
import { freshStoragePerTest } from "../boot/seed.ts";
import { db, seedImage, seedProfile, seedRelay, seedSite } from "../relayapi/seed.ts";

freshStoragePerTest();

const api = (path: string, auth: Record<string, string>) => worker.fetch(`http://api.test${path}`, { headers: auth });
type Sync = { prefetch: { sha256: string; image: string }[]; manifests: string[] };

describe("assignment rules and the relay", () => {
  it("sync prefetches a rule's image and the relay may read its artifacts; without the rule it may not", async () => {
    const siteId = await seedSite("rl");
    const relay = await seedRelay(siteId);
    const kernel = await seedArtifact(bytesOf(1000, 71));
    await seedImage("ruled", "x86_64", { kernel, initrd: [] });
    const profileId = await seedProfile("ruled-live", "ruled");

    const before = (await (await api("/relay/v1/sync", relay.auth)).json()) as Sync;
    expect(before.prefetch).toEqual([]);
    expect((await api(`/relay/v1/artifacts/${kernel}`, relay.auth)).status).toBe(404);

    await db().insert(assignmentRules).values({ id: "r1", siteId, name: "qemu", profileId, selector: { macPrefix: "52:54:00" } });
    const after = (await (await api("/relay/v1/sync", relay.auth)).json()) as Sync;
    expect(after.prefetch.map((p) => [p.sha256, p.image])).toEqual([[kernel, "ruled"]]);
    expect(after.manifests).toHaveLength(1);
    expect((await api(`/relay/v1/artifacts/${kernel}`, relay.auth)).status).toBe(200);
  });

  it("a rule with an arch constraint reaches only that arch's build", () => {
    const profiles = [{ id: "p", name: "live", image: "os", menu: null }];
    const images = [
      { name: "os", arch: "x86_64" },
      { name: "os", arch: "arm64" },
    ];
    const names = (rules: { profileId: string; selector: { arch?: string } }[]) => siteImages({ defaultProfileId: null, hosts: [], rules, profiles, images }).map((i) => i.arch);
    expect(names([{ profileId: "p", selector: { arch: "arm64" } }])).toEqual(["arm64"]);
    expect(names([{ profileId: "p", selector: {} }])).toEqual(["x86_64", "arm64"]);
    expect(names([])).toEqual([]);
  });
});
