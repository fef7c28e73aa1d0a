// Boot session rows: one per chain with tokens; the host's next chain supersedes the earlier ones; the cron deletes
// sessions past their maximum age (their tokens are dead by then anyway).
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BOOT_SESSION_MAX_AGE_MS } from "../../../worker/boot/chain.ts";
import { pruneBootSessions } from "../../../worker/db/queries/bootSessions.ts";
import { bootSessions } from "../../../worker/db/schema.ts";
import { call, db, freshStoragePerTest, seedHost, seedImage, seedProfile, seedSite, tokenScope, tokensIn } from "./seed.ts";

freshStoragePerTest();

const MAC = "52:54:00:5e:00:01";

async function lab() {
  const site = await seedSite({ slug: "lab" });
  await seedImage({ name: "os" });
  await seedProfile({ name: "p", image: "os" });
  await seedHost({ id: "host-1", siteId: site.id, mac: MAC, profileId: "prf-p" });
  await seedHost({ id: "host-2", siteId: site.id, mac: "52:54:00:5e:00:02", profileId: "prf-p" });
  return site;
}

const chainToken = async (mac = MAC) => tokensIn((await call(`/boot/lab/ipxe?mac=${mac}`)).body)[0]!;

describe("boot sessions", () => {
  it("a host has one live session; its other host's sessions are untouched", async () => {
    await lab();
    const first = await tokenScope(await chainToken());
    const other = await tokenScope(await chainToken("52:54:00:5e:00:02"));
    const second = await tokenScope(await chainToken());
    const rows = Object.fromEntries((await db().select().from(bootSessions)).map((r) => [r.id, r.state]));
    expect(rows).toEqual({ [first.sid]: "superseded", [other.sid]: "active", [second.sid]: "active" });
  });

  it("a chain sending the host to its disk ends its sessions too", async () => {
    await lab();
    const token = await chainToken();
    await env.DB.prepare(`update hosts set intent = '{"target":"local","mode":"always"}' where id = 'host-1'`).run();
    expect((await call(`/boot/lab/ipxe?mac=${MAC}`)).body).toContain("local disk");
    expect((await tokenScope(token)).state).toBe("superseded");
  });

  it("pruning deletes only sessions past their maximum age, in bounded chunks", async () => {
    await lab();
    for (let i = 0; i < 5; i++) await chainToken(i % 2 ? MAC : "52:54:00:5e:00:02");
    await chainToken();
    expect(await pruneBootSessions(env.DB, Date.now())).toBe(0);
    const later = Date.now() + BOOT_SESSION_MAX_AGE_MS + 1000;
    expect(await pruneBootSessions(env.DB, later, { chunk: 2 })).toBe(6);
    expect(await db().select().from(bootSessions)).toEqual([]);
  });
});

describe("GET /v1/sites/:site/sessions", () => {
  const ROOT = { authorization: `Bearer ${env.ADMIN_TOKEN}` };

  it("lists what each chain handed out and what came of it, newest first, by host and state, paged; never a token", async () => {
    await lab();
    const old = await chainToken();
    expect((await call(`/boot/h/${old}/nocloud/meta-data`)).status).toBe(200);
    await chainToken("52:54:00:5e:00:02");
    const current = await chainToken();
    const res = await call("/v1/sites/lab/sessions?host=host-1", { headers: ROOT });
    expect(res.status).toBe(200);
    const { items, nextCursor } = JSON.parse(res.body);
    expect(items.map((s: { id: string; state: string }) => [s.id, s.state])).toEqual([
      [(await tokenScope(current)).sid, "active"],
      [(await tokenScope(old)).sid, "superseded"],
    ]);
    expect(items[0]).toMatchObject({ hostId: "host-1", mac: MAC, delivery: "once", entries: [{ profileId: "prf-p", imageId: "img-os-x86_64" }], served: {} });
    expect(nextCursor).toBeNull();
    expect(res.body).not.toContain(current);

    const page1 = JSON.parse((await call("/v1/sites/lab/sessions?limit=2", { headers: ROOT })).body);
    expect(page1.items).toHaveLength(2);
    const page2 = JSON.parse((await call(`/v1/sites/lab/sessions?limit=2&cursor=${page1.nextCursor}`, { headers: ROOT })).body);
    expect(page2.items).toHaveLength(1);
    expect(JSON.parse((await call("/v1/sites/lab/sessions?state=superseded", { headers: ROOT })).body).items).toHaveLength(1);
    expect((await call("/v1/sites/lab/sessions")).status).toBe(401);
    expect((await call("/v1/sites/lab/sessions?state=gone", { headers: ROOT })).status).toBe(400);
  });
});
