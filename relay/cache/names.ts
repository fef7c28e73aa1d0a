// On-disk layout: `<dir>/<sha256>` holds only whole, verified artifacts; fills write `<dir>/.tmp-<sha256>-<nonce>`
// and rename when verified, so a crash (kill -9 included) can leave only temp files, removed at start.
export const SHA256_RE = /^[0-9a-f]{64}$/;
export const TMP_PREFIX = ".tmp-";

export const isSha256 = (s: string) => SHA256_RE.test(s);
export const isTempName = (name: string) => name.startsWith(TMP_PREFIX);
