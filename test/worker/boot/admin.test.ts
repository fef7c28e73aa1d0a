// Operator views of the boot path: dry-run render, explain, and the events timeline.
import { describe, expect, it } from "vitest";
import { seedToken } from "../artifacts/seed.ts";
import { call, freshStoragePerTest, INITRD, KERNEL, ROOT, seedHost, seedImage, seedProfile, seedRelay, seedSecret, seedSite, tokensIn } from "./seed.ts";

freshStoragePerTest();

const MAC = "52:54:00:12:34:56";

async function lab() {
  const site = await seedSite({ slug: "lab", vars: { ntp: "10.0.0.1" } });
  await seedImage({ name: "debian" });
  await seedProfile({ name: "debian-live", image: "debian", cmdline: "console=ttyS0 ntp={{ var.ntp }}", userData: "#cloud-config\ntoken: {{ secret.JOIN }}\nhost: {{ host.hostname }}\n" });
  await seedHost({ id: "host-1", siteId: site.id, hostname: "node-1", mac: MAC, profileId: "prf-debian-live" });
  await seedSecret({ siteId: site.id, hostId: "host-1", name: "JOIN" }, "top-secret-value");
  return site;
}

const get = (path: string, headers: Record<string, string> = ROOT) => call(path, { headers });

describe("GET /v1/sites/:site/hosts/:host/render/:what", () => {
  it("renders the chain the host would get, with a placeholder instead of a working token, and writes nothing", async () => {
    await lab();
    const res = await get("/v1/sites/lab/hosts/node-1/render/ipxe?platform=efi");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(tokensIn(res.body)).toEqual([]);
    expect(res.body).toContain(
      `\nkernel --name kernel http://api.test/boot/h/<host-token>/artifacts/${KERNEL} initrd=initrd0 console=ttyS0 ntp=10.0.0.1 ds=nocloud;dsmode=net;s=http://api.test/boot/h/<host-token>/nocloud/ || goto retry\ninitrd --name initrd0 http://api.test/boot/h/<host-token>/artifacts/${INITRD} || goto retry\n`,
    );
    // Same text as the live chain, token aside.
    const live = await call(`/boot/lab/ipxe?mac=${MAC}`);
    expect(res.body).toBe(live.body.replaceAll(tokensIn(live.body)[0]!, "<host-token>"));
    const events = await get("/v1/sites/lab/events");
    expect(JSON.parse(events.body).items.map((e: { phase: string }) => e.phase)).toEqual(["chain-served"]);
  });

  it("renders NoCloud documents with secret placeholders, never the secret", async () => {
    await lab();
    const ud = await get(`/v1/sites/lab/hosts/${MAC.replace(/:/g, "-")}/render/user-data`);
    expect(ud.status).toBe(200);
    expect(ud.body).toBe("#cloud-config\ntoken: <secret:JOIN>\nhost: node-1\n");
    const md = await get("/v1/sites/lab/hosts/host-1/render/meta-data");
    expect(md.body).toBe('instance-id: "iid-host-1"\nlocal-hostname: "node-1"\nhostname: "node-1"\n');
  });

  it("reports render failures as 500 render_failed, like the machine would get", async () => {
    const site = await lab();
    await seedProfile({ name: "broken", image: "debian", userData: "#cloud-config\ntoken: {{ secret.MISSING }}\n" });
    await seedHost({ id: "host-2", siteId: site.id, hostname: "node-2", mac: "52:54:00:00:00:02", profileId: "prf-broken" });
    const res = await get("/v1/sites/lab/hosts/node-2/render/user-data");
    expect(res.status).toBe(500);
    expect(JSON.parse(res.body).error).toMatchObject({ code: "render_failed", message: 'could not render user-data: secret "MISSING" is not set' });
  });

  it("needs a token that can read the site; 404 for unknown hosts and 400 for unknown documents", async () => {
    await lab();
    await seedSite({ slug: "other" });
    expect((await get("/v1/sites/lab/hosts/node-1/render/ipxe", {})).status).toBe(401);
    expect((await get("/v1/sites/lab/hosts/node-1/render/ipxe", await seedToken(["site:other"]))).status).toBe(403);
    expect((await get("/v1/sites/lab/hosts/node-1/render/ipxe", await seedToken(["read"]))).status).toBe(200);
    expect((await get("/v1/sites/lab/hosts/node-1/render/ipxe", await seedToken(["site:lab"]))).status).toBe(200);
    expect((await get("/v1/sites/lab/hosts/node-9/render/ipxe")).status).toBe(404);
    expect((await get("/v1/sites/nope/hosts/node-1/render/ipxe")).status).toBe(404);
    expect((await get("/v1/sites/lab/hosts/node-1/render/passwd")).status).toBe(400);
  });
});

describe("GET /v1/sites/:site/hosts/:host/explain", () => {
  it("says which profile, image, intent and artifact URLs apply, and why", async () => {
    const site = await lab();
    await seedRelay({ id: "relay-1", siteId: site.id, cacheUrl: "http://10.0.0.2:8080", lastSeenAt: Date.now() });
    await seedProfile({ name: "rescue", image: "debian" });
    await call(`/boot/lab/ipxe?mac=${MAC}`); // nothing changes for explain
    const { env } = await import("cloudflare:workers");
    await env.DB.prepare(`update hosts set intent = '{"target":"rescue","mode":"once"}' where id = 'host-1'`).run();
    const res = await get("/v1/sites/lab/hosts/node-1/explain?arch=i386");
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body);
    expect(body).toMatchObject({
      host: { id: "host-1", hostname: "node-1", mac: MAC },
      archCandidates: ["i386", "x86_64"],
      decision: { kind: "boot", source: "intent", why: "boot intent (once): rescue", intent: { target: "rescue", mode: "once" } },
      artifactsVia: "relay-cache",
      boot: {
        profile: { id: "prf-rescue", name: "rescue" },
        image: { id: "img-debian-x86_64", name: "debian", arch: "x86_64" },
        artifacts: { kernel: `http://10.0.0.2:8080/artifacts/${KERNEL}`, initrd: [`http://10.0.0.2:8080/artifacts/${INITRD}`], seed: "http://api.test/boot/h/<host-token>/nocloud/" },
        error: null,
      },
      menu: null,
      error: null,
    });
  });

  it("explains a render problem instead of failing", async () => {
    const site = await lab();
    await seedHost({ id: "host-2", siteId: site.id, hostname: "node-2", arch: "arm64", profileId: "prf-debian-live" });
    const body = JSON.parse((await get("/v1/sites/lab/hosts/node-2/explain")).body);
    expect(body.boot).toBeNull();
    expect(body.error).toMatchObject({ code: "not_bootable", message: 'image "debian" has no build for arm64' });
  });
});

describe("GET /v1/sites/:site/events", () => {
  it("lists the timeline newest first, filtered by host, phase and time, with a cursor", async () => {
    const site = await lab();
    await seedHost({ id: "host-2", siteId: site.id, hostname: "node-2", mac: "52:54:00:00:00:02", profileId: "prf-debian-live" });
    const chain = await call(`/boot/lab/ipxe?mac=${MAC}`);
    const events = `/boot/h/${tokensIn(chain.body)[0]}/events`;
    for (const phase of ["booted", "installing", "installed"]) await call(`${events}?phase=${phase}`);
    await call(`/boot/lab/ipxe?mac=52:54:00:00:00:02`);

    const all = JSON.parse((await get("/v1/sites/lab/events")).body);
    expect(all.items.map((e: { phase: string }) => e.phase)).toEqual(["chain-served", "installed", "installing", "booted", "chain-served"]);
    expect(all.nextCursor).toBeNull();

    const mine = JSON.parse((await get("/v1/sites/lab/events?host=node-1&limit=2")).body);
    expect(mine.items.map((e: { phase: string }) => e.phase)).toEqual(["installed", "installing"]);
    expect(mine.items[0]).toMatchObject({ hostId: "host-1", source: "host", mac: MAC });
    const next = JSON.parse((await get(`/v1/sites/lab/events?host=node-1&limit=2&cursor=${mine.nextCursor}`)).body);
    expect(next.items.map((e: { phase: string }) => e.phase)).toEqual(["booted", "chain-served"]);
    expect(next.nextCursor).toBeNull();

    const served = JSON.parse((await get("/v1/sites/lab/events?phase=chain-served")).body);
    expect(served.items).toHaveLength(2);
    const future = JSON.parse((await get(`/v1/sites/lab/events?since=${new Date(Date.now() + 60_000).toISOString()}`)).body);
    expect(future.items).toEqual([]);
  });

  it("validates its query and scope", async () => {
    await lab();
    expect((await get("/v1/sites/lab/events?since=yesterday")).status).toBe(400);
    expect((await get("/v1/sites/lab/events?limit=0")).status).toBe(400);
    expect((await get("/v1/sites/lab/events?cursor=garbage")).status).toBe(400);
    expect((await get("/v1/sites/lab/events?host=nobody")).status).toBe(404);
    expect((await get("/v1/sites/lab/events", await seedToken(["site:other"]))).status).toBe(403);
  });
});
