// GET|POST /boot/h/:token/events?phase=: the timeline the machine reports, host state, one-shot intent reverts.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { newSessionId, signHostToken } from "../../../worker/auth/hostTokens.ts";
import { getSigningKeys } from "../../../worker/keys/signingKeys.ts";
import { call, callAt, db, eventsOf, freshStoragePerTest, hostRow, seedHost, seedImage, seedProfile, seedSite, tokensIn } from "./seed.ts";
import { auditLog, hosts } from "../../../worker/db/schema.ts";

freshStoragePerTest();

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
      const error = JSON.parse(res.body).error;
      expect(error.code).toBe("invalid_input");
      // The message names the field: a cloud-init or installer log shows only the message.
      expect(error.message, q).toMatch(/^phase: /);
      expect(error.details.fields).toEqual(["phase"]);
    }
    const notJson = await call(`${events}?phase=x`, { method: "POST", body: "hello" });
    expect(notJson.status).toBe(400);
    const array = await call(`${events}?phase=x`, { method: "POST", body: "[1,2]" });
    expect(array.status).toBe(400);
    const big = await call(`${events}?phase=x`, { method: "POST", body: JSON.stringify({ blob: "x".repeat(9000) }) });
    expect(big.status).toBe(413);
    expect(JSON.parse(big.body).error.code).toBe("too_large");
    expect((await eventsOf(site.id)).map((e) => e.phase)).toEqual(["chain-served"]);
  });

  it("needs a valid token for a host that still exists", async () => {
    const { events } = await lab();
    expect((await call(`/boot/h/not.a.token/events?phase=x`)).status).toBe(401);
    // A genuine token whose host was deleted since.
    const keys = await getSigningKeys(env);
    const chain = await call(`/boot/lab/ipxe?mac=${MAC}`);
    const current = `/boot/h/${tokensIn(chain.body)[0]}/events`;
    expect((await call(`${current}?phase=x`, { method: "DELETE" })).status).toBe(404);
    await db().delete(hosts).where(eq(hosts.id, "host-1"));
    expect((await call(`${current}?phase=x`)).status).toBe(404);
    // A well-signed token naming a session this database never issued.
    const stranger = await signHostToken(keys.signer, { sid: newSessionId() }, { expSeconds: Math.floor(Date.now() / 1000) + 60 });
    const res = await call(`/boot/h/${stranger}/events?phase=x`);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).error.message).toMatch(/no boot session/);
    // The first chain's token was superseded by the second chain.
    expect((await call(`${events}?phase=x`)).status).toBe(410);
  });

  it("cloud-init's phone_home (a form POST, post: all) records booted with its fields as detail", async () => {
    const { site, events } = await lab();
    // What cc_phone_home.py sends for `phone_home: {url: "<eventsUrl>?phase=booted", post: all}`: every key, with
    // "N/A" for a missing one, the key files as read (trailing newline), form-encoded by requests.
    const form = new URLSearchParams({
      pub_key_dsa: "N/A",
      pub_key_rsa: `ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQ${"C".repeat(540)}= root@node-1\n`,
      pub_key_ecdsa: `ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBB${"x".repeat(80)}= root@node-1\n`,
      pub_key_ed25519: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHb2Zq+9H/3bKnT2m2KJtRb8V7o1nq4b3Q7b3Q7b3Q7b root@node-1\n",
      instance_id: "iid-host-1",
      hostname: "node-1",
      fqdn: "node-1.lab.example",
    });
    const res = await call(`${events}?phase=booted`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form.toString() });
    expect(res.status).toBe(200);
    const booted = (await eventsOf(site.id)).find((e) => e.phase === "booted");
    expect(booted!.source).toBe("host");
    expect(booted!.detail).toMatchObject({ instance_id: "iid-host-1", hostname: "node-1", fqdn: "node-1.lab.example", pub_key_dsa: "N/A" });
    expect(booted!.detail.pub_key_ed25519).toMatch(/^ssh-ed25519 \S+ root@node-1$/);
    expect((await hostRow("host-1"))!.state).toBe("booted");
  });

  it("form bodies are bounded and validated like JSON ones", async () => {
    const { site, events } = await lab();
    const post = (body: string) => call(`${events}?phase=x`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });
    const twice = await post("a=1&a=2");
    expect(twice.status).toBe(400);
    expect(JSON.parse(twice.body).error.message).toMatch(/appears twice/);
    const badName = await post("bad%20name=1");
    expect(badName.status).toBe(400);
    expect(JSON.parse(badName.body).error.message).toMatch(/^bad name: /);
    const many = await post(Array.from({ length: 33 }, (_, i) => `f${i}=1`).join("&"));
    expect(many.status).toBe(400);
    expect((await post(`v=${"x".repeat(2049)}`)).status).toBe(400);
    expect((await post(`v=${"x".repeat(9000)}`)).status).toBe(413);
    expect((await eventsOf(site.id)).map((e) => e.phase)).toEqual(["chain-served"]);
  });

  it("a token keeps reporting for the life of its boot: an install past an hour still reports installed and the once intent reverts", async () => {
    const { events } = await lab({ intent: { target: "installer", mode: "once" } });
    // The same Worker with its clock three hours on (past the site's one-hour window): the session is the boot.
    const later = Date.now() + 3 * 3600_000;
    expect((await callAt(later, `${events}?phase=installing`)).status).toBe(200);
    expect((await callAt(later + 1000, `${events}?phase=installed`)).status).toBe(200);
    expect((await hostRow("host-1"))!.intent).toBeNull();
    // Past the maximum age (7 days), the token is done for.
    const expired = await callAt(Date.now() + 8 * 86_400_000, `${events}?phase=late`);
    expect(expired.status).toBe(410);
    expect(JSON.parse(expired.body).error.code).toBe("session_expired");
  });
});
