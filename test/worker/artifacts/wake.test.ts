import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { seedHost, seedRelay, seedSite } from "../relayapi/seed.ts";
import { ADMIN, api, seedToken } from "./seed.ts";
import { freshStoragePerTest } from "../boot/seed.ts";

freshStoragePerTest();

const wake = (site: string, host: string, headers: Record<string, string> = ADMIN) =>
  api(`/v1/sites/${site}/hosts/${encodeURIComponent(host)}/wake`, { method: "POST", headers });

describe("POST /v1/sites/:site/hosts/:host/wake", () => {
  it("queues a wake command for the site's relay (by hostname or MAC), audited", async () => {
    const siteId = await seedSite("wake-a");
    const relay = await seedRelay(siteId);
    const hostId = await seedHost(siteId, { hostname: "sleepy", mac: "52:54:00:aa:bb:cc" });
    const res = await wake("wake-a", "sleepy");
    expect(res.status).toBe(202);
    const body = (await res.json()) as { command: { id: string; payload: unknown }; relayHealthy: boolean };
    expect(body).toMatchObject({ command: { kind: "wake", payload: { mac: "52:54:00:aa:bb:cc", hostname: "sleepy" } }, relayHealthy: false });
    expect((await wake("wake-a", "52-54-00-AA-BB-CC")).status).toBe(202);

    const snapshot = (await (await api("/relay/v1/sync", { headers: relay.auth })).json()) as { commands: { id: string; kind: string }[] };
    expect(snapshot.commands).toHaveLength(2);
    expect(snapshot.commands[0]).toMatchObject({ id: body.command.id, kind: "wake" });
    const audit = await env.DB.prepare("select * from audit_log where action = 'host.wake' and resource_id = ?").bind(hostId).all();
    expect(audit.results).toHaveLength(2);
  });

  it("says why it cannot: unknown site or host, no MAC, no relay", async () => {
    const withRelay = await seedSite("wake-b");
    await seedRelay(withRelay);
    await seedHost(withRelay, { hostname: "no-mac" });
    const noRelay = await seedSite("wake-c");
    await seedHost(noRelay, { hostname: "lonely", mac: "52:54:00:00:00:99" });
    expect((await wake("wake-nope", "x")).status).toBe(404);
    expect((await wake("wake-b", "ghost")).status).toBe(404);
    expect((await wake("wake-b", "no-mac")).status).toBe(409);
    const res = await wake("wake-c", "lonely");
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: { code: "conflict", message: expect.stringMatching(/relay/) } });
  });

  it("needs write access to that site", async () => {
    const siteId = await seedSite("wake-d");
    await seedRelay(siteId);
    await seedHost(siteId, { hostname: "target", mac: "52:54:00:00:00:98" });
    expect((await wake("wake-d", "target", {})).status).toBe(401);
    expect((await wake("wake-d", "target", await seedToken(["read"]))).status).toBe(403);
    expect((await wake("wake-d", "target", await seedToken(["site:other"]))).status).toBe(403);
    expect((await wake("wake-d", "target", await seedToken(["site:wake-d"]))).status).toBe(202);
  });
});
