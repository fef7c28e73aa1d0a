import { and, eq, inArray } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { auditIfChanged } from "../db/queries/audit.ts";
import { artifacts } from "../db/schema.ts";

export type ArtifactRow = typeof artifacts.$inferSelect;

export type ArtifactView = {
  sha256: string;
  size: number;
  contentType: string;
  state: "pending" | "ready";
  createdAt: string;
};

export const toView = (row: ArtifactRow): ArtifactView => ({
  sha256: row.sha256,
  size: row.size,
  contentType: row.contentType,
  state: row.state,
  createdAt: new Date(row.createdAt).toISOString(),
});

export async function findArtifact(db: Db, sha256: string): Promise<ArtifactRow | undefined> {
  const [row] = await db.select().from(artifacts).where(eq(artifacts.sha256, sha256)).limit(1);
  return row;
}

export const pendingUpload = (sha256: string, uploadId: string) =>
  and(eq(artifacts.sha256, sha256), eq(artifacts.state, "pending"), eq(artifacts.uploadId, uploadId));

// Audit rows go into the same D1 batch, right after the change they describe, and only if it changed a row.
export const auditArtifact = (db: Db, actor: string, action: string, sha256: string | null, detail: Record<string, unknown>) =>
  auditIfChanged(db, { actor, action, resource: "artifact", resourceId: sha256, detail });

// sha256 → size for the given hashes that are ready (D1 allows 100 bound parameters per statement).
export async function readySizes(db: Db, hashes: Iterable<string>): Promise<Map<string, number>> {
  const list = [...new Set(hashes)];
  const sizes = new Map<string, number>();
  for (let i = 0; i < list.length; i += 90) {
    const rows = await db
      .select({ sha256: artifacts.sha256, size: artifacts.size })
      .from(artifacts)
      .where(and(inArray(artifacts.sha256, list.slice(i, i + 90)), eq(artifacts.state, "ready")));
    for (const r of rows) sizes.set(r.sha256, r.size);
  }
  return sizes;
}
