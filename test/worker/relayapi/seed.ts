import { env } from "cloudflare:workers";
import { createDb } from "../../../worker/db/client.ts";
import { hosts, images, profiles, relays, sites, type ImageArtifacts } from "../../../worker/db/schema.ts";
import { sha256Hex } from "../../../worker/lib/crypto.ts";
import { seedArtifact, bytesOf } from "../artifacts/seed.ts";

export const db = () => createDb(env.DB);

let counter = 0;
const uid = (p: string) => `${p}-${++counter}-${crypto.randomUUID().slice(0, 8)}`;

export async function seedSite(slug: string, extra: Partial<typeof sites.$inferInsert> = {}) {
  const id = uid("site");
  await db().insert(sites).values({ id, slug, name: slug, ...extra });
  return id;
}

export async function seedRelay(siteId: string, name = "relay-1", opts: { revoked?: boolean } = {}) {
  const credential = `ebr_${crypto.randomUUID()}${crypto.randomUUID()}`;
  const id = uid("relay");
  await db()
    .insert(relays)
    .values({ id, siteId, name, credentialHash: await sha256Hex(credential), revokedAt: opts.revoked ? Date.now() : null });
  return { id, credential, auth: { authorization: `Bearer ${credential}` } };
}

export async function seedProfile(name: string, image: string | null, extra: Partial<typeof profiles.$inferInsert> = {}) {
  const id = uid("profile");
  await db().insert(profiles).values({ id, name, image, ...extra });
  return id;
}

export async function seedImage(name: string, arch: string, artifacts: ImageArtifacts, version = "1") {
  await db().insert(images).values({ id: uid("image"), name, arch, version, artifacts });
}

export async function seedHost(siteId: string, values: Partial<typeof hosts.$inferInsert>) {
  const id = uid("host");
  await db().insert(hosts).values({ id, siteId, ...values });
  return id;
}

// A site with one relay, one host on a profile whose image has a kernel and two initrds (all uploaded).
export async function seedBootableSite(slug: string, seed: number) {
  const siteId = await seedSite(slug);
  const relay = await seedRelay(siteId);
  const kernel = await seedArtifact(bytesOf(1000, seed));
  const initrd1 = await seedArtifact(bytesOf(2000, seed + 1));
  const initrd2 = await seedArtifact(bytesOf(3000, seed + 2));
  const image = `img-${slug}`;
  await seedImage(image, "x86_64", { kernel, initrd: [initrd1, initrd2] });
  const profileId = await seedProfile(`prof-${slug}`, image);
  await seedHost(siteId, { hostname: `node-${slug}`, mac: `52:54:00:00:00:${(seed % 256).toString(16).padStart(2, "0")}`, arch: "x86_64", profileId });
  return { siteId, relay, image, kernel, initrds: [initrd1, initrd2] };
}
