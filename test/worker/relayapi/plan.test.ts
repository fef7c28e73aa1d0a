import { describe, expect, it } from "vitest";
import { siteImages, type PlanProfile } from "../../../worker/relayapi/plan.ts";

const images = [
  { name: "alpine", arch: "x86_64" },
  { name: "alpine", arch: "arm64" },
  { name: "debian", arch: "x86_64" },
  { name: "debian", arch: "arm64" },
  { name: "rescue", arch: "x86_64" },
  { name: "unused", arch: "x86_64" },
];
const profiles: PlanProfile[] = [
  { id: "p-alpine", name: "alpine", image: "alpine", menu: null },
  { id: "p-debian", name: "debian", image: "debian", menu: null },
  { id: "p-menu", name: "menu", image: null, menu: { items: [{ label: "Rescue", target: "rescue" }, { label: "Disk", target: "local" }] } },
  { id: "p-rescue", name: "rescue", image: "rescue", menu: null },
  { id: "p-unused", name: "unused", image: "unused", menu: null },
];
const names = (list: { name: string; arch: string }[]) => list.map((i) => `${i.name}/${i.arch}`).sort();

describe("siteImages", () => {
  it("follows hosts' profiles and intents, restricted to the hosts' architectures", () => {
    const result = siteImages({
      defaultProfileId: null,
      hosts: [
        { profileId: "p-alpine", arch: "arm64", intent: null },
        { profileId: null, arch: "x86_64", intent: { target: "debian", mode: "once" } },
        { profileId: "p-alpine", arch: "x86_64", intent: { target: "local", mode: "always" } },
      ],
      profiles,
      images,
    });
    expect(names(result)).toEqual(["alpine/arm64", "alpine/x86_64", "debian/x86_64"]);
  });

  it("takes every architecture for the default profile and for hosts of unknown architecture", () => {
    expect(names(siteImages({ defaultProfileId: "p-debian", hosts: [], profiles, images }))).toEqual(["debian/arm64", "debian/x86_64"]);
    expect(names(siteImages({ defaultProfileId: null, hosts: [{ profileId: "p-alpine", arch: null, intent: null }], profiles, images }))).toEqual([
      "alpine/arm64",
      "alpine/x86_64",
    ]);
  });

  it("follows menu items to further profiles, and allArches widens everything", () => {
    const hosts = [{ profileId: "p-menu", arch: "x86_64", intent: null }];
    expect(names(siteImages({ defaultProfileId: null, hosts, profiles, images }))).toEqual(["rescue/x86_64"]);
    const wide = siteImages({ defaultProfileId: null, hosts: [{ profileId: "p-debian", arch: "x86_64", intent: null }], profiles, images, allArches: true });
    expect(names(wide)).toEqual(["debian/arm64", "debian/x86_64"]);
  });

  it("ignores unknown profiles and hosts without any", () => {
    expect(siteImages({ defaultProfileId: "missing", hosts: [{ profileId: null, arch: "x86_64", intent: { target: "ghost", mode: "once" } }], profiles, images })).toEqual([]);
  });
});
