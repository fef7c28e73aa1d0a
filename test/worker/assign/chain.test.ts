// Assignment rules on the boot path: GET /boot/:site/ipxe for an unknown machine matched by MAC prefix and a known
// host matched by labels; the host's own profile and a boot intent come first; /explain and the dry run show the rule
// that matched and why each other rule did not.
import { describe, expect, it } from "vitest";
import { call, eventsOf, freshStoragePerTest, hostRow, ROOT, seedHost, seedImage, seedProfile, seedSite, tokenScope, tokensIn } from "../boot/seed.ts";

freshStoragePerTest();

const json = (method: string, body: unknown) => ({ method, headers: { ...ROOT, "content-type": "application/json" }, body: JSON.stringify(body) });

async function rule(site: string, name: string, profile: string, selector: Record<string, unknown>) {
  const res = await call(`/v1/sites/${site}/rules`, json("POST", { name, profile, selector }));
  if (res.status !== 201) throw new Error(`rule ${name}: ${res.status} ${res.body}`);
}

const bootedProfile = async (body: string) => (await tokenScope(tokensIn(body)[0]!)).profileId;

async function lab(policy: "discover" | "default" | "deny" = "discover") {
  await seedImage({ name: "os" });
  for (const name of ["qemu-live", "worker", "db", "rack1-worker", "own", "fallback"]) await seedProfile({ name, image: "os", cmdline: `console=ttyS0 profile=${name}` });
  const site = await seedSite({ slug: "lab", unknownHostPolicy: policy, defaultProfileId: policy === "default" ? "prf-fallback" : null });
  await rule("lab", "qemu", "qemu-live", { macPrefix: "52:54:00" });
  await rule("lab", "workers", "worker", { labels: { role: "worker" } });
  await rule("lab", "databases", "db", { labels: { role: "db" } });
  await rule("lab", "rack1-workers", "rack1-worker", { labels: { role: "worker", rack: "r1" } });
  return site;
}

describe("assignment rules on the chain", () => {
  it("an unknown machine matched by MAC prefix boots the rule's profile and is recorded; other MACs follow the policy", async () => {
    const site = await lab("discover");
    const res = await call("/boot/lab/ipxe?mac=52:54:00:aa:bb:cc&arch=x86_64");
    expect(res.status, res.body).toBe(200);
    expect(res.body).toContain("profile=qemu-live");
    const claims = await tokenScope(tokensIn(res.body)[0]!);
    expect(claims.profileId).toBe("prf-qemu-live");
    expect(await hostRow(claims.hostId)).toMatchObject({ mac: "52:54:00:aa:bb:cc", state: "booting", profileId: null });
    const [event] = await eventsOf(site.id);
    expect(event!.detail).toMatchObject({ decision: "boot", source: "rule", rule: "qemu", profile: "qemu-live", why: 'unknown machine; assignment rule "qemu" (macPrefix=52:54:00)' });

    const other = await call("/boot/lab/ipxe?mac=02:00:00:aa:bb:cc&arch=x86_64");
    expect(other.status).toBe(200);
    expect(other.body).toContain("is not assigned to a profile yet");
    expect(tokensIn(other.body)).toEqual([]);
  });

  it("a rule comes before the site's default profile; unknown machines never match label rules", async () => {
    await lab("default");
    const ruled = await call("/boot/lab/ipxe?mac=52:54:00:00:00:01");
    expect(await bootedProfile(ruled.body)).toBe("prf-qemu-live");
    const fallback = await call("/boot/lab/ipxe?mac=02:00:00:00:00:01");
    expect(await bootedProfile(fallback.body)).toBe("prf-fallback");
  });

  it("unknown machines by UUID pattern, serial pattern and reported arch, as iPXE sends them", async () => {
    await lab();
    await seedImage({ name: "os", arch: "arm64" });
    await rule("lab", "dell", "db", { uuid: "4C4C4544-*" });
    await rule("lab", "hp", "worker", { serial: "CZ2*" });
    await rule("lab", "arm", "fallback", { arch: "arm64" });
    // iPXE's ${uuid} is upper-case; the query normalises it before the pattern (lower-case) is applied.
    const dell = await call("/boot/lab/ipxe?mac=02:00:00:00:00:61&uuid=4C4C4544-0042-3510-8052-B4C04F4E3732&arch=x86_64");
    expect(await bootedProfile(dell.body)).toBe("prf-db");
    const hp = await call("/boot/lab/ipxe?mac=02:00:00:00:00:62&serial=CZ23010ABC&arch=x86_64");
    expect(await bootedProfile(hp.body)).toBe("prf-worker");
    const arm = await call("/boot/lab/ipxe?mac=02:00:00:00:00:63&arch=arm64");
    expect(await bootedProfile(arm.body)).toBe("prf-fallback");
    // Serials compare case-sensitively: cz2… is not CZ2*.
    const lower = await call("/boot/lab/ipxe?mac=02:00:00:00:00:64&serial=cz23010abc&arch=x86_64");
    expect(tokensIn(lower.body)).toEqual([]);
  });

  it("a known host without a profile is matched by its labels; the most specific rule wins", async () => {
    const site = await lab();
    await seedHost({ id: "h-w", siteId: site.id, hostname: "w1", mac: "02:00:00:00:00:11", labels: { role: "worker", rack: "r2" } });
    await seedHost({ id: "h-r1", siteId: site.id, hostname: "w2", mac: "02:00:00:00:00:12", labels: { role: "worker", rack: "r1" } });
    // Labels (2 × 2 = weight 4) and a MAC prefix (weight 4, 6 digits of precision): the prefix is more specific.
    await seedHost({ id: "h-q", siteId: site.id, hostname: "w3", mac: "52:54:00:00:00:13", labels: { role: "worker" } });
    expect(await bootedProfile((await call("/boot/lab/ipxe?mac=02:00:00:00:00:11")).body)).toBe("prf-worker");
    expect(await bootedProfile((await call("/boot/lab/ipxe?mac=02:00:00:00:00:12")).body)).toBe("prf-rack1-worker");
    expect(await bootedProfile((await call("/boot/lab/ipxe?mac=52:54:00:00:00:13")).body)).toBe("prf-qemu-live");
    const events = await eventsOf(site.id);
    expect(events.map((e) => (e.detail as { why: string }).why)).toEqual([
      'host has no profile; assignment rule "workers" (labels.role=worker)',
      'host has no profile; assignment rule "rack1-workers" (labels.rack=r1, labels.role=worker)',
      'host has no profile; assignment rule "qemu" (macPrefix=52:54:00)',
    ]);
  });

  it("the host's own profile overrides every rule, and a boot intent comes before both", async () => {
    const site = await lab();
    await seedHost({ id: "h-own", siteId: site.id, hostname: "own", mac: "52:54:00:00:00:21", labels: { role: "worker", rack: "r1" }, profileId: "prf-own" });
    const own = await call("/boot/lab/ipxe?mac=52:54:00:00:00:21");
    expect(await bootedProfile(own.body)).toBe("prf-own");
    await seedHost({ id: "h-int", siteId: site.id, hostname: "int", mac: "52:54:00:00:00:22", labels: { role: "db" }, intent: { target: "fallback", mode: "always" } });
    expect(await bootedProfile((await call("/boot/lab/ipxe?mac=52:54:00:00:00:22")).body)).toBe("prf-fallback");
    const events = await eventsOf(site.id);
    expect(events.map((e) => (e.detail as { source: string }).source)).toEqual(["host", "intent"]);
  });
});

describe("assignment rules in /explain and the dry run", () => {
  it("shows the rule that matched, the rule it outranked, and the failed constraints of the others", async () => {
    const site = await lab();
    await seedHost({ id: "h-x", siteId: site.id, hostname: "node-1", mac: "02:00:00:00:00:31", arch: "x86_64", labels: { role: "worker", rack: "r1" } });
    const res = await call("/v1/sites/lab/hosts/node-1/explain", { headers: ROOT });
    expect(res.status, res.body).toBe(200);
    const explain = JSON.parse(res.body);
    expect(explain.decision).toMatchObject({ kind: "boot", source: "rule", rule: "rack1-workers" });
    expect(explain.boot.profile.name).toBe("rack1-worker");
    expect(explain.rules).toEqual({
      matched: "rack1-workers",
      decided: true,
      why: 'rule "rack1-workers" is the most specific matching rule',
      items: [
        { name: "qemu", profile: "qemu-live", specificity: 4006, result: "no-match", why: "MAC 02:00:00:00:00:31 does not start with 52:54:00", failed: [{ constraint: "macPrefix", want: "52:54:00", have: "02:00:00:00:00:31", why: "MAC 02:00:00:00:00:31 does not start with 52:54:00" }] },
        { name: "rack1-workers", profile: "rack1-worker", specificity: 4000, result: "matched", why: "every constraint holds; most specific match", failed: [] },
        { name: "databases", profile: "db", specificity: 2000, result: "no-match", why: 'label role is "worker"', failed: [{ constraint: "labels.role", want: "db", have: "worker", why: 'label role is "worker"' }] },
        { name: "workers", profile: "worker", specificity: 2000, result: "outranked", why: 'matches, but rule "rack1-workers" is more specific (4000 > 2000)', failed: [] },
      ],
    });

    // The dry run renders the rule's profile, as the chain does.
    const dry = await call("/v1/sites/lab/hosts/node-1/render/ipxe", { headers: ROOT });
    expect(dry.status, dry.body).toBe(200);
    expect(dry.body).toContain("profile=rack1-worker");
    const live = await call("/boot/lab/ipxe?mac=02:00:00:00:00:31");
    expect(live.body.replace(/\/h\/[^/\s]+\//g, "/h/T/")).toBe(dry.body.replace(/\/h\/[^/\s]+\//g, "/h/T/"));
  });

  it("says the rules were not consulted when the host has its own profile, and still names the match", async () => {
    const site = await lab();
    await seedHost({ id: "h-o", siteId: site.id, hostname: "node-2", mac: "52:54:00:00:00:41", profileId: "prf-own" });
    const explain = JSON.parse((await call("/v1/sites/lab/hosts/node-2/explain", { headers: ROOT })).body);
    expect(explain.decision).toMatchObject({ source: "host", rule: null });
    expect(explain.rules).toMatchObject({ matched: "qemu", decided: false, why: "not consulted: the host's own profile comes first" });
  });

  it("no rule matching: the policy applies and every rule says why", async () => {
    const site = await lab("deny");
    await seedHost({ id: "h-n", siteId: site.id, hostname: "node-3", mac: "02:00:00:00:00:51", labels: { role: "web" } });
    const explain = JSON.parse((await call("/v1/sites/lab/hosts/node-3/explain", { headers: ROOT })).body);
    expect(explain.decision).toMatchObject({ kind: "deny", rule: null });
    expect(explain.rules.matched).toBeNull();
    expect(explain.rules.why).toBe("no rule matches; the site's unknown-host policy applies");
    expect(explain.rules.items.map((i: { result: string }) => i.result)).toEqual(["no-match", "no-match", "no-match", "no-match"]);
    expect(explain.rules.items.find((i: { name: string }) => i.name === "rack1-workers").failed.map((f: { constraint: string }) => f.constraint)).toEqual(["labels.rack", "labels.role"]);
  });
});
