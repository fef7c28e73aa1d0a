import type { Db } from "../db/client.ts";
import { images, type ImageArtifacts } from "../db/schema.ts";

// An image names artifacts by role: a hash, or a list of hashes (initrd). Anything else is ignored.
export function imageArtifactHashes(artifacts: ImageArtifacts | Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const value of Object.values(artifacts)) {
    if (typeof value === "string") out.push(value);
    else if (Array.isArray(value)) for (const v of value) if (typeof v === "string") out.push(v);
  }
  return out;
}

export type ImageRef = { name: string; arch: string };

// Images are few (one row per name × arch), so reading them all beats a JSON query per artifact.
export async function imagesByArtifact(db: Db): Promise<Map<string, ImageRef[]>> {
  const rows = await db.select({ name: images.name, arch: images.arch, artifacts: images.artifacts }).from(images);
  const refs = new Map<string, ImageRef[]>();
  for (const row of rows) {
    for (const sha of new Set(imageArtifactHashes(row.artifacts))) {
      const list = refs.get(sha) ?? [];
      list.push({ name: row.name, arch: row.arch });
      refs.set(sha, list);
    }
  }
  return refs;
}
