import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { collectGarbage } from "../../../worker/artifacts/remove.ts";
import { artifactKey } from "../../../worker/artifacts/store.ts";
import { createDb } from "../../../worker/db/client.ts";
import { seedImage } from "../relayapi/seed.ts";
import { ADMIN, api, artifactRow, bytesOf, r2Has, seedArtifact, sha256Hex } from "./seed.ts";
import { freshStoragePerTest } from "../boot/seed.ts";

freshStoragePerTest();

type Report = { dryRun: boolean; deleted: { sha256: string; reason: string }[]; freedBytes: number };

describe("artifact garbage collection", () => {
  it("reports in a dry run, then deletes unreferenced artifacts and keeps referenced ones", async () => {
    const kept = await seedArtifact(bytesOf(100, 71));
    const keptInitrd = await seedArtifact(bytesOf(100, 72));
    const garbage = await seedArtifact(bytesOf(300, 73));
    await seedImage("gc-img", "x86_64", { kernel: kept, initrd: [keptInitrd] });

    const dry = (await (await api("/v1/artifacts/gc?dryRun=1", { method: "POST", headers: ADMIN })).json()) as Report;
    expect(dry.dryRun).toBe(true);
    expect(dry.deleted).toContainEqual({ sha256: garbage, size: 300, reason: "unreferenced" });
    expect(dry.deleted.map((d) => d.sha256)).not.toContain(kept);
    expect(await r2Has(garbage)).toBe(true);

    const res = await api("/v1/artifacts/gc", { method: "POST", headers: ADMIN });
    expect(res.status).toBe(200);
    const report = (await res.json()) as Report;
    expect(report.dryRun).toBe(false);
    expect(report.deleted.map((d) => d.sha256)).toContain(garbage);
    expect(await r2Has(garbage)).toBe(false);
    expect(await artifactRow(garbage)).toBeNull();
    for (const sha of [kept, keptInitrd]) {
      expect(await r2Has(sha)).toBe(true);
      expect(await artifactRow(sha)).not.toBeNull();
    }
  });

  it("removes abandoned uploads and old objects that never got a row, but not fresh ones", async () => {
    const db = createDb(env.DB);
    const stale = await seedArtifact(bytesOf(10, 74), { state: "pending" });
    await env.DB.prepare("update artifacts set created_at = ? where sha256 = ?").bind(Date.now() - 48 * 3600_000, stale).run();
    const orphanBytes = bytesOf(10, 75);
    const orphan = await sha256Hex(orphanBytes);
    await env.ARTIFACTS.put(artifactKey(orphan), orphanBytes);

    const now = (await collectGarbage(db, env.ARTIFACTS, { dryRun: true, now: Date.now(), actor: "test" })).deleted.map((d) => d.sha256);
    expect(now).toContain(stale);
    expect(now).not.toContain(orphan);
    // Two hours later the orphan is past its grace period.
    const later = await collectGarbage(db, env.ARTIFACTS, { dryRun: false, now: Date.now() + 2 * 3600_000, actor: "test" });
    expect(later.deleted).toContainEqual({ sha256: orphan, size: 10, reason: "orphan_object" });
    expect(later.deleted).toContainEqual({ sha256: stale, size: 10, reason: "stale_upload" });
    expect(await r2Has(orphan)).toBe(false);
    expect(await artifactRow(stale)).toBeNull();
  });

  it("refuses a malformed dryRun flag", async () => {
    expect((await api("/v1/artifacts/gc?dryRun=maybe", { method: "POST", headers: ADMIN })).status).toBe(400);
  });
});
