import { env } from "cloudflare:workers";
import { createLocalJWKSet, type JWSHeaderParameters } from "jose";
import { describe, expect, it } from "vitest";
import { verifyChain } from "../../../worker/shared/chainSignature.ts";
import type { JwsHeader } from "../../../worker/shared/ed25519Jws.ts";
import { call, eventsOf, freshStoragePerTest, hostRow, INITRD, KERNEL, seedHost, seedImage, seedProfile, seedRelay, seedSite, tokenScope, tokensIn, withoutTokens } from "./seed.ts";

freshStoragePerTest();

const MAC = "52:54:00:12:34:56";
const LOCAL = ["imgfree", "iseq ${platform} pcbios && sanboot --no-describe --drive 0x80 ||", "exit 1", ""];

async function labWithHost(hostFields: Record<string, unknown> = {}, siteFields: Record<string, unknown> = {}) {
  const site = await seedSite({ slug: "lab", ...siteFields });
  await seedImage({ name: "debian" });
  const profile = await seedProfile({ name: "debian-live", image: "debian", cmdline: "console=ttyS0 hostname={{ host.hostname }}" });
  await seedHost({ id: "host-1", siteId: site.id, hostname: "node-1", mac: MAC, profileId: profile.id, ...hostFields });
  return { site, profile };
}

const singleBoot = (art: (sha: string) => string) => [
  "#!ipxe",
  "# edgeboot site=lab host=node-1 profile=debian-live image=debian 1.0 x86_64",
  "set attempt:int32 0",
  ":retry",
  "iseq ${attempt} 3 && goto failed ||",
  "inc attempt",
  "imgfree",
  `kernel --name kernel ${art(KERNEL)} initrd=initrd0 console=ttyS0 hostname=node-1 ds=nocloud;dsmode=net;s=http://api.test/boot/h/TOKEN/nocloud/ || goto retry`,
  `initrd --name initrd0 ${art(INITRD)} || goto retry`,
  "boot || goto retry",
  ":failed",
  "echo edgeboot: debian-live did not boot after 3 attempts, falling back to the local disk",
  "imgfetch http://api.test/boot/h/TOKEN/events?phase=boot-failed ||",
  "goto local",
  ":local",
  ...LOCAL,
].join("\n");

describe("GET /boot/:site/ipxe: per-host chain", () => {
  it("renders the host's profile with per-host token URLs, signed for site + MAC", async () => {
    await labWithHost();
    const res = await call(`/boot/lab/ipxe?mac=52-54-00-12-34-56&arch=x86_64&platform=efi`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(withoutTokens(res.body)).toBe(singleBoot((sha) => `http://api.test/boot/h/TOKEN/artifacts/${sha}`));

    // One boot session, one token, bound to this host, site, profile and image.
    const tokens = new Set(tokensIn(res.body));
    expect(tokens.size).toBe(1);
    const scope = await tokenScope([...tokens][0]!);
    expect(scope).toMatchObject({ hostId: "host-1", siteId: "site-lab", mac: MAC, profileId: "prf-debian-live", imageId: "img-debian-x86_64", state: "active", delivery: "once" });
    // Secret-bearing files for the site's window (hostTokenTtlSeconds); the token for the boot's life (max age).
    expect(scope.secretUntil - scope.issuedAt).toBe(3600_000);
    expect(scope.exp * 1000).toBeGreaterThanOrEqual(scope.issuedAt + 7 * 86_400_000 - 1000);

    // The relay checks the body against the API's JWKS, bound to the site slug and the MAC it asked for.
    const jwks = await (await call("/.well-known/jwks.json")).body;
    const jwkSet = createLocalJWKSet(JSON.parse(jwks));
    const getKey = async (header: JwsHeader) => (await jwkSet(header as JWSHeaderParameters)) as CryptoKey;
    const binding = await verifyChain(res.body, res.headers.get("edgeboot-chain-signature"), getKey, { site: "lab", mac: MAC, nowSeconds: Math.floor(Date.now() / 1000) });
    expect(binding.mac).toBe(MAC);
    await expect(verifyChain(`${res.body}#`, res.headers.get("edgeboot-chain-signature"), getKey, { site: "lab", mac: MAC, nowSeconds: Math.floor(Date.now() / 1000) })).rejects.toThrow();
  });

  it("records the chain in the timeline and the host's last seen identity, after the response", async () => {
    const { site } = await labWithHost();
    const before = Date.now();
    await call(`/boot/lab/ipxe?mac=${MAC}&uuid=4C4C4544-0042-3510-8052-B4C04F4E3732&serial=%20SN123%20&arch=x86_64&platform=efi`);
    const [event, ...rest] = await eventsOf(site.id);
    expect(rest).toEqual([]);
    expect(event).toMatchObject({ hostId: "host-1", mac: MAC, source: "worker", phase: "chain-served" });
    expect(event!.detail).toMatchObject({ decision: "boot", profile: "debian-live", image: { name: "debian", version: "1.0", arch: "x86_64" }, source: "host", via: "worker" });
    expect(event!.bootSession).toBe(event!.detail.sid);
    const host = await hostRow("host-1");
    expect(host!.state).toBe("booting");
    expect(host!.lastSeenAt).toBeGreaterThanOrEqual(before);
    expect(host!.lastIdentity).toEqual({ auth: "open", mac: MAC, uuid: "4c4c4544-0042-3510-8052-b4c04f4e3732", serial: "SN123", arch: "x86_64", platform: "efi" });
  });

  it("points kernels and initrds at the site relay's cache when a relay with a cache was seen recently", async () => {
    const { site } = await labWithHost();
    await seedRelay({ id: "relay-old", siteId: site.id, cacheUrl: "http://10.0.0.9:8080", lastSeenAt: Date.now() - 10 * 60_000 });
    await seedRelay({ id: "relay-1", siteId: site.id, cacheUrl: "http://10.0.0.2:8080/", lastSeenAt: Date.now() - 5_000 });
    const res = await call(`/boot/lab/ipxe?mac=${MAC}&arch=x86_64`);
    expect(res.status).toBe(200);
    expect(withoutTokens(res.body)).toBe(singleBoot((sha) => `http://10.0.0.2:8080/artifacts/${sha}`));
  });

  it("ignores a stale or revoked relay cache", async () => {
    const { site } = await labWithHost();
    await seedRelay({ id: "relay-stale", siteId: site.id, cacheUrl: "http://10.0.0.9:8080", lastSeenAt: Date.now() - 10 * 60_000 });
    await seedRelay({ id: "relay-revoked", siteId: site.id, cacheUrl: "http://10.0.0.8:8080", lastSeenAt: Date.now(), revokedAt: Date.now() });
    const res = await call(`/boot/lab/ipxe?mac=${MAC}&arch=x86_64`);
    expect(withoutTokens(res.body)).toBe(singleBoot((sha) => `http://api.test/boot/h/TOKEN/artifacts/${sha}`));
  });

  it("uses PUBLIC_URL for URLs when set", async () => {
    await labWithHost();
    const res = await call(`/boot/lab/ipxe?mac=${MAC}`, {}, { ...env, PUBLIC_URL: "https://boot.example.net/" });
    expect(res.body).toMatch(/ ds=nocloud;(dsmode=net;)?s=https:\/\/boot\.example\.net\/boot\/h\//);
  });

  it("renders a profile menu: one section per item, retry loops, the default item and a local-disk item", async () => {
    const site = await seedSite({ slug: "lab" });
    await seedImage({ name: "debian" });
    await seedImage({ name: "inst", artifacts: { kernel: "cc".repeat(32), initrd: ["dd".repeat(32), "ee".repeat(32)] } });
    await seedProfile({ name: "debian-live", image: "debian", cmdline: "console=ttyS0" });
    await seedProfile({ name: "installer", image: "inst", cmdline: "auto=true priority=critical" });
    const chooser = await seedProfile({
      name: "chooser",
      menu: {
        title: "Pick ${evil} || now",
        timeoutMs: 5000,
        defaultItem: "debian-live",
        items: [
          { key: "i", label: "Boot installer", target: "installer" },
          { label: "Boot Debian", target: "debian-live" },
          { label: "#1 local disk", target: "local" },
        ],
      },
    });
    await seedHost({ id: "host-1", siteId: site.id, hostname: "node-1", mac: MAC, profileId: chooser.id });
    const res = await call(`/boot/lab/ipxe?mac=${MAC}&arch=x86_64&platform=pcbios`);
    expect(res.status).toBe(200);
    const art = (sha: string) => `http://api.test/boot/h/TOKEN/artifacts/${sha}`;
    const seed = "ds=nocloud;dsmode=net;s=http://api.test/boot/h/TOKEN/nocloud/";
    expect(withoutTokens(res.body)).toBe(
      [
        "#!ipxe",
        "# edgeboot site=lab host=node-1 profile=chooser menu",
        "menu Pick $\\{evil} \\|| now",
        "item --key i m0 Boot installer",
        "item m1 Boot Debian",
        "item local \\#1 local disk",
        "choose --timeout 5000 --default m1 selected || goto local",
        "goto ${selected}",
        ":m0",
        "set attempt:int32 0",
        ":m0_retry",
        "iseq ${attempt} 3 && goto m0_failed ||",
        "inc attempt",
        "imgfree",
        `kernel --name kernel ${art("cc".repeat(32))} initrd=initrd0 initrd=initrd1 auto=true priority=critical ${seed} || goto m0_retry`,
        `initrd --name initrd0 ${art("dd".repeat(32))} || goto m0_retry`,
        `initrd --name initrd1 ${art("ee".repeat(32))} || goto m0_retry`,
        "boot || goto m0_retry",
        ":m0_failed",
        "echo edgeboot: installer did not boot after 3 attempts, falling back to the local disk",
        "imgfetch http://api.test/boot/h/TOKEN/events?phase=boot-failed ||",
        "goto local",
        ":m1",
        "set attempt:int32 0",
        ":m1_retry",
        "iseq ${attempt} 3 && goto m1_failed ||",
        "inc attempt",
        "imgfree",
        `kernel --name kernel ${art(KERNEL)} initrd=initrd0 console=ttyS0 ${seed} || goto m1_retry`,
        `initrd --name initrd0 ${art(INITRD)} || goto m1_retry`,
        "boot || goto m1_retry",
        ":m1_failed",
        "echo edgeboot: debian-live did not boot after 3 attempts, falling back to the local disk",
        "imgfetch http://api.test/boot/h/TOKEN/events?phase=boot-failed ||",
        "goto local",
        ":local",
        ...LOCAL,
      ].join("\n"),
    );
    // Each item has its own token (its profile and image), all in one boot session.
    const scopes = await Promise.all([...new Set(tokensIn(res.body))].map(tokenScope));
    expect(scopes.map((c) => c.profileId).sort()).toEqual(["prf-debian-live", "prf-installer"]);
    expect(new Set(scopes.map((c) => c.sid)).size).toBe(1);
  });

  it("boots a once intent's profile instead of the host's, and keeps doing so until the host reports the phase", async () => {
    const { site } = await labWithHost({ intent: { target: "rescue", mode: "once", revertOnPhase: "rescued" } });
    await seedImage({ name: "rescue-img" });
    await seedProfile({ name: "rescue", image: "rescue-img", cmdline: "rescue" });
    const first = await call(`/boot/lab/ipxe?mac=${MAC}`);
    expect(first.body).toContain("# edgeboot site=lab host=node-1 profile=rescue image=rescue-img 1.0 x86_64\n");
    expect((await tokenScope(tokensIn(first.body)[0]!)).profileId).toBe("prf-rescue");
    // Time alone never reverts it.
    const again = await call(`/boot/lab/ipxe?mac=${MAC}`);
    expect(again.body).toContain("profile=rescue ");
    const [event] = await eventsOf(site.id);
    expect(event!.detail).toMatchObject({ source: "intent", intent: { target: "rescue", mode: "once", revertOnPhase: "rescued" } });
  });

  it("boots the local disk for a 'local' intent", async () => {
    await labWithHost({ intent: { target: "local", mode: "always" } });
    const res = await call(`/boot/lab/ipxe?mac=${MAC}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("edgeboot-chain-signature")).toBeTruthy();
    expect(res.body).toBe(
      ["#!ipxe", "# edgeboot site=lab host=node-1 local disk", "echo edgeboot: boot intent (always): local; booting from the local disk", ...LOCAL].join("\n"),
    );
  });

  it("matches MAC first, then UUID, then serial", async () => {
    const site = await seedSite({ slug: "lab" });
    await seedImage({ name: "debian" });
    for (const name of ["by-mac", "by-uuid", "by-serial"]) await seedProfile({ name, image: "debian" });
    const uuid = "4c4c4544-0042-3510-8052-b4c04f4e3732";
    await seedHost({ id: "h-serial", siteId: site.id, serial: "SN1", profileId: "prf-by-serial" });
    await seedHost({ id: "h-uuid", siteId: site.id, uuid, profileId: "prf-by-uuid" });
    await seedHost({ id: "h-mac", siteId: site.id, mac: MAC, profileId: "prf-by-mac" });
    const profileOf = async (query: string) => (await tokenScope(tokensIn((await call(`/boot/lab/ipxe?${query}`)).body)[0]!)).profileId;
    expect(await profileOf(`mac=${MAC}&uuid=${uuid}&serial=SN1`)).toBe("prf-by-mac");
    expect(await profileOf(`mac=52:54:00:00:00:01&uuid=${uuid.toUpperCase()}&serial=SN1`)).toBe("prf-by-uuid");
    expect(await profileOf(`mac=52:54:00:00:00:01&uuid=&serial=SN1`)).toBe("prf-by-serial");
  });

  it("picks the image for the reported architecture; BIOS iPXE (i386) falls back to x86_64; a host's arch pins it", async () => {
    const site = await seedSite({ slug: "lab" });
    await seedImage({ name: "debian", arch: "x86_64" });
    await seedImage({ name: "debian", arch: "arm64", artifacts: { kernel: "a6".repeat(32), initrd: [] } });
    const profile = await seedProfile({ name: "debian-live", image: "debian" });
    await seedHost({ id: "h1", siteId: site.id, mac: MAC, profileId: profile.id });
    await seedHost({ id: "h2", siteId: site.id, mac: "52:54:00:00:00:02", profileId: profile.id, arch: "arm64" });
    const imageOf = async (query: string) => (await tokenScope(tokensIn((await call(`/boot/lab/ipxe?${query}`)).body)[0]!)).imageId;
    expect(await imageOf(`mac=${MAC}&arch=arm64&platform=efi`)).toBe("img-debian-arm64");
    expect(await imageOf(`mac=${MAC}&arch=i386&platform=pcbios`)).toBe("img-debian-x86_64");
    expect(await imageOf(`mac=${MAC}`)).toBe("img-debian-x86_64");
    expect(await imageOf(`mac=52:54:00:00:00:02&arch=x86_64`)).toBe("img-debian-arm64");
    // No initrd: no initrd= on the kernel line and no initrd command.
    const arm = await call(`/boot/lab/ipxe?mac=${MAC}&arch=arm64`);
    expect(arm.body).toMatch(/\nkernel --name kernel \S+\/artifacts\/(a6){32} ds=nocloud;dsmode=net;s=\S+ \|\| goto retry\nboot \|\| goto retry\n/);
  });
});

describe("GET /boot/:site/ipxe: unknown machines", () => {
  it("discover: records the machine once and returns a script that waits and asks again", async () => {
    const site = await seedSite({ slug: "lab", unknownHostPolicy: "discover", discoverRetrySeconds: 30 });
    const url = "/boot/lab/ipxe?mac=52:54:00:AA:BB:CC&arch=x86_64&platform=pcbios";
    const res = await call(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("edgeboot-chain-signature")).toBeTruthy();
    expect(res.body).toBe(
      [
        "#!ipxe",
        "# edgeboot site=lab host=52:54:00:aa:bb:cc unassigned",
        ":wait",
        "echo edgeboot: this machine (52:54:00:aa:bb:cc) is not assigned to a profile yet; waiting for an operator, retrying in 30 s",
        "sleep 30",
        "chain --replace --autofree ?mac=52%3A54%3A00%3Aaa%3Abb%3Acc&arch=x86_64&platform=pcbios || goto wait",
        "",
      ].join("\n"),
    );
    const events1 = await eventsOf(site.id);
    expect(events1.map((e) => e.phase)).toEqual(["discovered"]);
    const hostId = events1[0]!.hostId!;
    const host = await hostRow(hostId);
    expect(host).toMatchObject({ siteId: site.id, mac: "52:54:00:aa:bb:cc", state: "discovered", profileId: null });
    // The retry finds the recorded machine: same script, no second host, no second event.
    const again = await call(url);
    expect(again.body).toBe(res.body);
    expect((await eventsOf(site.id)).length).toBe(1);
  });

  it("discover: keeps the boot key in the re-chain URL so the retry authenticates", async () => {
    await seedSite({ slug: "lab", bootAuth: "key", bootKey: "k-secret-1234567890" });
    const res = await call("/boot/lab/ipxe?mac=52:54:00:aa:bb:cc&k=k-secret-1234567890");
    expect(res.body).toContain("chain --replace --autofree ?mac=52%3A54%3A00%3Aaa%3Abb%3Acc&k=k-secret-1234567890 || goto wait\n");
  });

  it("default: boots the site's default profile and records the machine", async () => {
    await seedImage({ name: "debian" });
    const profile = await seedProfile({ name: "debian-live", image: "debian" });
    const site = await seedSite({ slug: "lab", unknownHostPolicy: "default", defaultProfileId: profile.id });
    const res = await call("/boot/lab/ipxe?mac=52:54:00:aa:bb:cc");
    expect(res.status).toBe(200);
    const claims = await tokenScope(tokensIn(res.body)[0]!);
    expect(claims.profileId).toBe(profile.id);
    const host = await hostRow(claims.hostId);
    expect(host).toMatchObject({ mac: "52:54:00:aa:bb:cc", state: "booting", profileId: null });
    const [event] = await eventsOf(site.id);
    expect(event).toMatchObject({ phase: "chain-served", hostId: claims.hostId });
    expect(event!.detail).toMatchObject({ source: "site-default" });
  });

  it("deny (and default without a default profile): exit to the local disk, nothing recorded but the event", async () => {
    const site = await seedSite({ slug: "lab", unknownHostPolicy: "deny" });
    const res = await call("/boot/lab/ipxe?mac=52:54:00:aa:bb:cc");
    expect(res.status).toBe(200);
    expect(res.body).toBe(
      ["#!ipxe", "# edgeboot site=lab host=52:54:00:aa:bb:cc local disk", "echo edgeboot: unknown machine; site policy deny; booting from the local disk", ...LOCAL].join("\n"),
    );
    const [event] = await eventsOf(site.id);
    expect(event).toMatchObject({ phase: "chain-served", hostId: null, mac: "52:54:00:aa:bb:cc" });

    await seedSite({ slug: "lab2", unknownHostPolicy: "default" });
    const noDefault = await call("/boot/lab2/ipxe?mac=52:54:00:aa:bb:cc");
    expect(noDefault.body).toContain("echo edgeboot: unknown machine; site policy default, but the site has no default profile; booting from the local disk\n");
  });
});
