import { toHex } from "../lib/crypto.ts";

// Streams an R2 object through the runtime's DigestStream: constant memory whatever the size.
export async function hashObject(bucket: R2Bucket, key: string): Promise<string | null> {
  const object = await bucket.get(key);
  if (!object) return null;
  const digest = new crypto.DigestStream("SHA-256");
  await object.body.pipeTo(digest);
  return toHex(await digest.digest);
}
