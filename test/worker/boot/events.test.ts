// GET|POST /boot/h/:token/events?phase=: the timeline the machine reports, host state, one-shot intent reverts.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { signHostToken } from "../../../worker/auth/hostTokens.ts";
import { getSigningKeys } from "../../../worker/keys/signingKeys.ts";
import { call, db, eventsOf, hostRow, seedHost, seedImage, seedProfile, seedSite, tokensIn } from "./seed.ts";
import { auditLog } from "../../../worker/db/schema.ts";

const MAC = "52:54:00:12:34:56";

async function lab(host: Record<string, unknown> = {}) {
  const site = await seedSite({ slug: "lab" });
  await seedImage({ name: "debian" });
  await seedProfile({ name: "debian-live", image: "debian" });
  await seedProfile({ name: "installer", image: "debian" });
  await seedHost({ id: "host-1", siteId: site.id, hostname: "node-1", mac: MAC, profileId: "prf-debian-live", ...host });
  const chain = await call(`/boot/lab/ipxe?mac=${MAC}`);
  const events = `/boot/h/${tokensIn(chain.body)[0]}/events`;
  return { site, events, chain };
}

describe("host-reported events", () => {
  it("GET (iPXE's imgfetch) and POST with a small JSON body are recorded with the boot session", async () => {
    const { site, events } = await lab();
    const get = await call(`${events}?phase=booted`);
    expect(get.status).toBe(200);
    expect(get.body).toBe("ok\n");
    const post = await call(`${events}?phase=installing`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ step: "partition", pct: 10 }) });
    expect(post.status).toBe(200);
    const evs = await eventsOf(site.id);
    expect(evs.map((e) => [e.phase, e.source])).toEqual([
      ["chain-served", "worker"],
      ["booted", "host"],
      ["installing", "host"],
    ]);
    expect(evs[2]!.detail).toEqual({ step: "partition", pct: 10 });
    expect(evs[2]!.bootSession).toBe(evs[0]!.bootSession);
    expect((await hostRow("host-1"))!.state).toBe("installing");
  });

  it("the chain's own failure callback marks the host failed", async () => {
    const { events } = await lab();
    expect((await call(`${events}?phase=boot-failed`)).status).toBe(200);
    expect((await hostRow("host-1"))!.state).toBe("failed");
  });

  it("a one-shot intent reverts when the host reports its phase (default: installed), with an audit row", async () => {
    const { site, events, chain } = await lab({ intent: { target: "installer", mode: "once" } });
    expect(chain.body).toContain("profile=installer");
    // Other phases leave it in place.
    await call(`${events}?phase=booted`);
    expect((await hostRow("host-1"))!.intent).toEqual({ target: "installer", mode: "once" });
    const before = (await hostRow("host-1"))!.revision;
    await call(`${events}?phase=installed`);
    const host = await hostRow("host-1");
    expect(host!.intent).toBeNull();
    expect(host!.state).toBe("installed");
    expect(host!.revision).toBe(before + 1);
    const audits = await db().select().from(auditLog);
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ actor: "boot", action: "host.intent.reverted", resourceId: "host-1", siteId: site.id });
    // Back to the host's own profile on the next boot.
    expect((await call(`/boot/lab/ipxe?mac=${MAC}`)).body).toContain("profile=debian-live");
    // A second report changes nothing and writes no second audit row.
    await call(`${events}?phase=installed`);
    expect(await db().select().from(auditLog)).toHaveLength(1);
  });

  it("a one-shot intent with its own revert phase waits for that phase; 'always' never reverts", async () => {
    const { events } = await lab({ intent: { target: "installer", mode: "once", revertOnPhase: "rescued" } });
    await call(`${events}?phase=installed`);
    expect((await hostRow("host-1"))!.intent).not.toBeNull();
    await call(`${events}?phase=rescued`);
    expect((await hostRow("host-1"))!.intent).toBeNull();

    const other = await seedSite({ slug: "lab2" });
    await seedHost({ id: "host-2", siteId: other.id, mac: "52:54:00:00:00:02", intent: { target: "installer", mode: "always" } });
    const chain = await call(`/boot/lab2/ipxe?mac=52:54:00:00:00:02`);
    await call(`/boot/h/${tokensIn(chain.body)[0]}/events?phase=installed`);
    expect((await hostRow("host-2"))!.intent).toEqual({ target: "installer", mode: "always" });
  });

  it("refuses bad phases, non-object or oversized bodies", async () => {
    const { site, events } = await lab();
    for (const q of ["", "?phase=", "?phase=Booted", "?phase=a%20b", `?phase=${"a".repeat(33)}`]) {
      const res = await call(`${events}${q}`);
      expect(res.status, q).toBe(400);
      expect(JSON.parse(res.body).error.code).toBe("invalid_input");
    }
    const notJson = await call(`${events}?phase=x`, { method: "POST", body: "hello" });
    expect(notJson.status).toBe(400);
    const array = await call(`${events}?phase=x`, { method: "POST", body: "[1,2]" });
    expect(array.status).toBe(400);
    const big = await call(`${events}?phase=x`, { method: "POST", body: JSON.stringify({ blob: "x".repeat(5000) }) });
    expect(big.status).toBe(413);
    expect(JSON.parse(big.body).error.code).toBe("too_large");
    expect((await eventsOf(site.id)).map((e) => e.phase)).toEqual(["chain-served"]);
  });

  it("needs a valid token for a host that still exists", async () => {
    const { events } = await lab();
    expect((await call(`/boot/h/not.a.token/events?phase=x`)).status).toBe(401);
    const keys = await getSigningKeys(env);
    const ghost = await signHostToken(keys.signer, { hostId: "host-gone", siteId: "site-lab", mac: null, sid: "s", profileId: null, imageId: null }, { issuer: "edgeboot", nowSeconds: Math.floor(Date.now() / 1000), ttlSeconds: 60 });
    expect((await call(`/boot/h/${ghost}/events?phase=x`)).status).toBe(404);
    expect((await call(`${events}?phase=x`, { method: "DELETE" })).status).toBe(404);
  });
});
