// Secret-bearing files are bound to the boot they were issued for: replay after the boot is done or superseded,
// refetch under `once`, the wrong relay or address under `bound`, reads past the site's window and another host's
// token all fail with clear codes, and the operator sees alert events. Real Worker, real D1.
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { bootSessions } from "../../../worker/db/schema.ts";
import { call, callAt, db, eventsOf, freshStoragePerTest, seedHost, seedImage, seedProfile, seedRelay, seedSecret, seedSite, tokenScope, tokensIn } from "./seed.ts";

freshStoragePerTest();

const MAC_A = "52:54:00:aa:00:01";
const MAC_B = "52:54:00:aa:00:02";
const USER_DATA = "#cloud-config\nwrite_files:\n  - path: /etc/edgeboot/join\n    content: {{ secret.JOIN }}\n";

async function lab(site: Record<string, unknown> = {}) {
  const s = await seedSite({ slug: "lab", ...site });
  await seedImage({ name: "os" });
  await seedProfile({ name: "p", image: "os", userData: USER_DATA, vendorData: "#cloud-config\nruncmd: [true]\n" });
  await seedHost({ id: "host-a", siteId: s.id, hostname: "node-a", mac: MAC_A, profileId: "prf-p", network: { addresses: ["10.0.0.50/24"], gateway4: "10.0.0.1" } });
  await seedHost({ id: "host-b", siteId: s.id, hostname: "node-b", mac: MAC_B, profileId: "prf-p" });
  await seedSecret({ siteId: null, hostId: "host-a", name: "JOIN" }, "join-secret-of-a");
  await seedSecret({ siteId: null, hostId: "host-b", name: "JOIN" }, "join-secret-of-b");
  return s;
}

const chain = async (mac: string, headers: Record<string, string> = {}) => {
  const res = await call(`/boot/lab/ipxe?mac=${mac}`, { headers });
  expect(res.status, res.body).toBe(200);
  return { body: res.body, token: tokensIn(res.body)[0]! };
};
const file = (token: string, name: string, headers: Record<string, string> = {}) => call(`/boot/h/${token}/nocloud/${name}`, { headers });
const code = (res: { body: string }) => JSON.parse(res.body).error.code as string;
const alerts = async (siteId: string) => (await eventsOf(siteId)).filter((e) => e.phase === "secret-refetch" || e.phase === "secret-refused");

describe("delivery policy once (the default)", () => {
  it("serves each secret-bearing file once per boot session; a second fetch is 410 secret_refetch and an alert event", async () => {
    const site = await lab();
    const { token } = await chain(MAC_A);
    expect((await tokenScope(token)).delivery).toBe("once");
    const first = await file(token, "user-data");
    expect(first.status).toBe(200);
    expect(first.body).toContain("join-secret-of-a");

    const again = await file(token, "user-data");
    expect(again.status).toBe(410);
    expect(code(again)).toBe("secret_refetch");
    expect(again.body).not.toContain("join-secret");
    // Each file on its own; meta-data and network-config carry no secrets and stay readable.
    expect((await file(token, "vendor-data")).status).toBe(200);
    expect((await file(token, "vendor-data")).status).toBe(410);
    for (let i = 0; i < 3; i++) {
      expect((await file(token, "meta-data")).status).toBe(200);
      expect((await file(token, "network-config")).status).toBe(200);
    }
    const seen = await alerts(site.id);
    expect(seen.map((e) => [e.phase, e.detail.file, e.hostId])).toEqual([
      ["secret-refetch", "user-data", "host-a"],
      ["secret-refetch", "vendor-data", "host-a"],
    ]);
    expect(seen[0]!.detail).toMatchObject({ alert: true, code: "secret_refetch", delivery: "once" });
    const [session] = await db().select().from(bootSessions).where(eq(bootSessions.id, (await tokenScope(token)).sid));
    expect(Object.keys(session!.served).sort()).toEqual(["user-data", "vendor-data"]);
  });

  it("of racing fetches exactly one gets the file", async () => {
    await lab();
    const { token } = await chain(MAC_A);
    const results = await Promise.all(Array.from({ length: 6 }, () => file(token, "user-data")));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 410).every((r) => code(r) === "secret_refetch")).toBe(true);
  });

  it("a new chain is a new boot session: its token reads the files again; the old token is 410 session_superseded everywhere", async () => {
    const site = await lab();
    const { token: old } = await chain(MAC_A);
    expect((await file(old, "user-data")).status).toBe(200);
    const { token: fresh } = await chain(MAC_A);
    expect((await file(fresh, "user-data")).status).toBe(200);
    for (const path of ["nocloud/user-data", "nocloud/meta-data", "events?phase=booted"]) {
      const res = await call(`/boot/h/${old}/${path}`);
      expect(res.status, path).toBe(410);
      expect(code(res)).toBe("session_superseded");
    }
    expect((await tokenScope(old)).state).toBe("superseded");
    expect((await eventsOf(site.id)).filter((e) => e.phase === "booted")).toHaveLength(0);
    // The old token's secret-bearing read is the machine's alarm when someone else chained for it (a replayed
    // direct-boot URL): an alert naming the file; meta-data and events are not secret-bearing, so no alert for them.
    expect((await alerts(site.id)).map((e) => [e.phase, e.detail.code, e.detail.file])).toEqual([["secret-refused", "session_superseded", "user-data"]]);
    expect((await call(`/boot/h/${old}/files/preseed`)).status).toBe(410);
  });
});

describe("every policy", () => {
  it("after the boot reported done (phone_home booted), secret-bearing files are 410 boot_done; events still work", async () => {
    const site = await lab({ secretDelivery: "open" });
    const { token } = await chain(MAC_A);
    expect((await file(token, "user-data")).status).toBe(200);
    const booted = await call(`/boot/h/${token}/events?phase=booted`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "instance_id=iid-host-a&hostname=node-a" });
    expect(booted.status).toBe(200);
    expect((await tokenScope(token)).state).toBe("done");
    const replay = await file(token, "user-data");
    expect(replay.status).toBe(410);
    expect(code(replay)).toBe("boot_done");
    expect(replay.body).not.toContain("join-secret");
    expect((await file(token, "meta-data")).status).toBe(200);
    // An installer may still report later phases on the same token.
    expect((await call(`/boot/h/${token}/events?phase=installed`)).status).toBe(200);
    expect((await alerts(site.id)).map((e) => [e.phase, e.detail.code])).toEqual([["secret-refused", "boot_done"]]);
  });

  it("secret-bearing files close after the site's window (hostTokenTtlSeconds); events stay open", async () => {
    await lab({ secretDelivery: "open", hostTokenTtlSeconds: 600 });
    const { token } = await chain(MAC_A);
    const late = Date.now() + 601_000;
    const res = await callAt(late, `/boot/h/${token}/nocloud/user-data`);
    expect(res.status).toBe(410);
    expect(code(res)).toBe("secret_window_closed");
    expect((await callAt(late, `/boot/h/${token}/nocloud/meta-data`)).status).toBe(200);
    expect((await callAt(late, `/boot/h/${token}/events?phase=installing`)).status).toBe(200);
  });

  it("a host token (readable off the wire) cannot forge edgeboot's own events or alerts", async () => {
    const site = await lab();
    const { token } = await chain(MAC_A);
    const post = (phase: string, body: unknown) => call(`/boot/h/${token}/events?phase=${phase}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    for (const phase of ["secret-refetch", "secret-refused", "mac-rebind", "chain-served", "chain-refused", "nocloud-user-data", "file-preseed", "dhcp-offer", "tftp-sent", "artifact-fetched", "discovered"]) {
      const res = await post(phase, {});
      expect(res.status, phase).toBe(400);
      expect(res.body, phase).toContain("phase:");
    }
    const alert = await post("installing", { alert: true, code: "secret_refetch" });
    expect(alert.status).toBe(400);
    expect(JSON.parse(alert.body).error.details.field).toBe("body.alert");
    const form = await call(`/boot/h/${token}/events?phase=booted`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "alert=true" });
    expect(form.status).toBe(400);
    expect((await eventsOf(site.id)).filter((e) => e.source === "host")).toEqual([]);
    // The machine's own phases still work.
    expect((await post("installing", { step: "partition" })).status).toBe(200);
  });

  it("a render error never carries a secret value: not in the 500 body, not in the render-failed event", async () => {
    // A preseed whose debconf owner is a secret: the placeholder passed the save-time check, the real value (set
    // later; a secret PUT re-checks nothing) fails, and the preseed check quotes the owner it refuses.
    const site = await seedSite({ slug: "lab", secretDelivery: "open" });
    await seedImage({ name: "os" });
    await seedProfile({ name: "p", image: "os", files: { preseed: { kind: "preseed", template: "{{ secret.owner }} passwd/root-password password x\n" } } });
    await seedHost({ id: "host-a", siteId: site.id, hostname: "node-a", mac: MAC_A, profileId: "prf-p" });
    await seedSecret({ siteId: null, hostId: "host-a", name: "owner" }, "Hunter2Secret Tail");
    const { token } = await chain(MAC_A);
    const res = await call(`/boot/h/${token}/files/preseed`);
    expect(res.status, res.body).toBe(500);
    expect(JSON.parse(res.body).error.code).toBe("render_failed");
    expect(res.body).toContain("<secret>");
    expect(res.body).not.toMatch(/Hunter2Secret|Tail/);
    const failed = (await eventsOf(site.id)).filter((e) => e.phase === "render-failed");
    expect(failed).toHaveLength(1);
    expect(JSON.stringify(failed[0]!.detail)).not.toMatch(/Hunter2Secret|Tail/);
  });

  it("a host's token never reads another host's secrets", async () => {
    await lab({ secretDelivery: "open" });
    const a = await chain(MAC_A);
    const b = await chain(MAC_B);
    const ua = await file(a.token, "user-data");
    const ub = await file(b.token, "user-data");
    expect(ua.body).toContain("join-secret-of-a");
    expect(ua.body).not.toContain("join-secret-of-b");
    expect(ub.body).toContain("join-secret-of-b");
    expect(ub.body).not.toContain("join-secret-of-a");
  });
});

describe("delivery policy bound", () => {
  async function boundLab() {
    const site = await lab({ secretDelivery: "bound", bootAuth: "relay" });
    const relay = await seedRelay({ siteId: site.id, id: "relay-1", cacheUrl: "http://10.0.0.2:8080/artifacts/", lastSeenAt: Date.now() });
    const other = await seedRelay({ siteId: site.id, id: "relay-2", cacheUrl: "http://10.0.0.3:8080/artifacts/", lastSeenAt: Date.now() - 60_000 });
    const via = (r: { credential: string }, address: string) => ({ authorization: `Bearer ${r.credential}`, "edgeboot-client-address": address });
    return { site, relay, other, via };
  }

  it("seed and events URLs point at the issuing relay's LAN base; the session records relay and address", async () => {
    const { relay, via } = await boundLab();
    const { body, token } = await chain(MAC_A, via(relay, "10.0.0.77"));
    expect(body).toContain(`s=http://10.0.0.2:8080/h/${token}/nocloud/`);
    expect(body).toContain(`imgfetch http://10.0.0.2:8080/h/${token}/events?phase=boot-failed`);
    expect(await tokenScope(token)).toMatchObject({ delivery: "bound", relayId: "relay-1", clientAddress: "10.0.0.77", hostRoot: "http://10.0.0.2:8080" });
  });

  it("refuses a read not through the issuing relay, or for another address, with 403 delivery_bound and an alert", async () => {
    const { site, relay, other, via } = await boundLab();
    const { token } = await chain(MAC_A, via(relay, "10.0.0.77"));
    const cases: [string, Record<string, string>][] = [
      ["no relay (straight to the API)", {}],
      ["another relay of the site", via(other, "10.0.0.77")],
      ["the issuing relay, another address", via(relay, "10.0.0.66")],
      ["the issuing relay, no address", { authorization: `Bearer ${relay.credential}` }],
      ["a forged address header without the relay", { "edgeboot-client-address": "10.0.0.77" }],
    ];
    for (const [why, headers] of cases) {
      const res = await file(token, "user-data", headers);
      expect(res.status, why).toBe(403);
      expect(code(res), why).toBe("delivery_bound");
      expect(res.body).not.toContain("join-secret");
    }
    expect((await alerts(site.id)).map((e) => e.detail.code)).toEqual(Array(cases.length).fill("delivery_bound"));
    // The right path works, repeatedly (a client's retry), also from the host's static address; each repeat is an
    // alert that does not refuse (refused: false).
    expect((await file(token, "user-data", via(relay, "10.0.0.77"))).body).toContain("join-secret-of-a");
    expect((await file(token, "user-data", via(relay, "::ffff:10.0.0.77"))).status).toBe(200);
    expect((await file(token, "user-data", via(relay, "10.0.0.50"))).status).toBe(200);
    const repeats = (await alerts(site.id)).filter((e) => e.phase === "secret-refetch");
    expect(repeats.map((e) => [e.detail.file, e.detail.refused])).toEqual([["user-data", false], ["user-data", false]]);
    // The OS's DHCP client leased another address: the issuing relay vouches it learned the session's MAC there.
    // A vouch rests on one DHCP packet anyone can forge: what it alone admits is served once per file.
    const vouch = (address: string, mac: string, r = relay) => ({ ...via(r, address), "edgeboot-client-mac": mac });
    const vendor = await file(token, "vendor-data", vouch("10.0.0.91", MAC_A.toUpperCase()));
    expect(vendor.status, vendor.body).toBe(200);
    for (const [why, res] of [
      ["a second vouched address", await file(token, "vendor-data", vouch("10.0.0.92", MAC_A))],
      ["the same vouched address again", await file(token, "vendor-data", vouch("10.0.0.91", MAC_A))],
      ["a vouched read of a file the chain's address already read", await file(token, "user-data", vouch("10.0.0.93", MAC_A))],
    ] as const) {
      expect(res.status, why).toBe(410);
      expect(code(res), why).toBe("secret_refetch");
      expect(res.body).not.toContain("join-secret");
    }
    expect((await alerts(site.id)).filter((e) => e.detail.via === "vouch").map((e) => e.detail.relayedFor)).toEqual(["10.0.0.92", "10.0.0.91", "10.0.0.93"]);
    const otherMac = await file(token, "user-data", vouch("10.0.0.91", MAC_B));
    expect(otherMac.status).toBe(403);
    // Another relay cannot vouch.
    expect((await file(token, "user-data", vouch("10.0.0.91", MAC_A, other))).status).toBe(403);
    // Meta-data carries no secret: any path.
    expect((await file(token, "meta-data")).status).toBe(200);
  });

  it("a revoked relay's sessions read no secrets", async () => {
    const { relay, via } = await boundLab();
    const { token } = await chain(MAC_A, via(relay, "10.0.0.77"));
    await env.DB.prepare("update relays set revoked_at = ? where id = 'relay-1'").bind(Date.now()).run();
    const res = await file(token, "user-data", via(relay, "10.0.0.77"));
    expect(res.status).toBe(403);
  });

  it("a chain that cannot be bound (no relay address) gets once, and its event says why", async () => {
    const { site, relay } = await boundLab();
    const { token } = await chain(MAC_A, { authorization: `Bearer ${relay.credential}` });
    expect((await tokenScope(token)).delivery).toBe("once");
    const served = (await eventsOf(site.id)).find((e) => e.phase === "chain-served");
    expect(served!.detail).toMatchObject({ delivery: "once", deliveryNote: expect.stringMatching(/Edgeboot-Client-Address/) });
  });

  it("a bad Edgeboot-Client-Address is refused naming the header", async () => {
    const { relay, via } = await boundLab();
    const res = await call(`/boot/lab/ipxe?mac=${MAC_A}`, { headers: via(relay, "not-an-ip") });
    expect(res.status).toBe(400);
    expect(res.body).toMatch(/invalid_input: Edgeboot-Client-Address: /);
  });
});

describe("delivery policy open, and the admin setting", () => {
  it("open serves refetches (labs) and still records what was served", async () => {
    await lab({ secretDelivery: "open" });
    const { token } = await chain(MAC_A);
    expect((await file(token, "user-data")).status).toBe(200);
    expect((await file(token, "user-data")).status).toBe(200);
    expect(Object.keys((await tokenScope(token)).served)).toEqual(["user-data"]);
  });

  it("secretDelivery is set and shown through the admin sites route; a bad value names the field", async () => {
    const root = { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" };
    const created = await call("/v1/sites", { method: "POST", headers: root, body: JSON.stringify({ slug: "lan", name: "LAN" }) });
    expect(created.status).toBe(201);
    expect(JSON.parse(created.body).secretDelivery).toBe("once");
    const patched = await call("/v1/sites/lan", { method: "PATCH", headers: { ...root, "if-match": created.headers.get("etag")! }, body: JSON.stringify({ secretDelivery: "bound" }) });
    expect(patched.status, patched.body).toBe(200);
    expect(JSON.parse(patched.body).secretDelivery).toBe("bound");
    const bad = await call("/v1/sites/lan", { method: "PATCH", headers: { ...root, "if-match": patched.headers.get("etag")! }, body: JSON.stringify({ secretDelivery: "twice" }) });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(JSON.parse(bad.body).error.details)).toContain("secretDelivery");
  });
});
