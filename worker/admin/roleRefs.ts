// `{{ boot.artifacts.<role> }}` on a profile's kernel line must name a role every row of its image has (one hash),
// checked from both sides at save time: a profile naming a role its image lacks, and an image (a new arch, or a
// PATCH of its artifacts) losing a role a profile names. 400 naming the field, nothing stored. The boot path refuses
// the same case with 409 not_bootable (boot/renderChain.ts) for rows written before this check.
import { eq } from "drizzle-orm";
import { missingRoles, singleRoles } from "../artifacts/roles.ts";
import type { Db } from "../db/client.ts";
import { images, profiles } from "../db/schema.ts";
import { ApiError } from "../errors.ts";
import { compileTemplate } from "../render/template.ts";

const refsOf = (cmdline: string): string[] => {
  try {
    return compileTemplate(cmdline).refs;
  } catch {
    return []; // syntax errors are reported by the template check, under the same field
  }
};

/** Profile save: the effective image and cmdline (after the patch). */
export async function requireImageRoles(db: Db, profile: { image?: string | null; cmdline?: string }): Promise<void> {
  if (!profile.image || !profile.cmdline) return;
  const refs = refsOf(profile.cmdline);
  if (!refs.some((r) => r.startsWith("boot.artifacts."))) return;
  const rows = await db.select({ arch: images.arch, artifacts: images.artifacts }).from(images).where(eq(images.name, profile.image));
  for (const row of rows) {
    const missing = missingRoles(refs, row.artifacts);
    if (missing.length) {
      throw new ApiError(
        "invalid_input",
        `cmdline names {{ boot.artifacts.${missing[0]} }}, which image "${profile.image}" (${row.arch}) does not have (it has ${singleRoles(row.artifacts).join(", ")})`,
        { field: "cmdline", image: profile.image, arch: row.arch, missing },
      );
    }
  }
}

/** Image save (create or PATCH of artifacts): every profile of that image name keeps the roles its cmdline names. */
export async function requireRolesKept(db: Db, image: { name: string; arch: string }, artifacts: Record<string, unknown>): Promise<void> {
  const users = await db.select({ name: profiles.name, cmdline: profiles.cmdline }).from(profiles).where(eq(profiles.image, image.name));
  for (const p of users) {
    const missing = missingRoles(refsOf(p.cmdline), artifacts);
    if (missing.length) {
      throw new ApiError(
        "invalid_input",
        `profile "${p.name}" names {{ boot.artifacts.${missing[0]} }} on its kernel line, and this ${image.arch} row of image "${image.name}" would not have it`,
        { field: "artifacts", image: image.name, arch: image.arch, profile: p.name, missing },
      );
    }
  }
}
