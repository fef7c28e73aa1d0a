// SSH public keys for meta-data `public-keys` (tiny-cloud installs them for its default user). They come from the
// variable `sshAuthorizedKeys` (a key or a list of keys), layered like every var: site < profile < host. A variable,
// not a new field, so an operator sets fleet-wide keys on the site and adds or replaces them per host; cloud-init
// users get the same list in user-data with {{ var.sshAuthorizedKeys | json }}.
export const SSH_KEYS_VAR = "sshAuthorizedKeys";

// One OpenSSH public key line: type, base64 body, optional comment; no line breaks or control characters.
const KEY_LINE = /^(?:[a-z0-9@.-]+ )?(?:ssh-(?:ed25519|rsa|dss)|ecdsa-sha2-nistp(?:256|384|521)|sk-(?:ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)(?:-cert-v01@openssh\.com)? [A-Za-z0-9+/]+={0,3}(?: [^\x00-\x1f\x7f]*)?$/;

/** Problems with a `sshAuthorizedKeys` value, for save-time checks ([] when fine or absent). */
export function sshKeysProblems(value: unknown): string[] {
  if (value === undefined) return [];
  const keys = typeof value === "string" ? [value] : Array.isArray(value) ? value : null;
  if (!keys || keys.length > 64) return [`${SSH_KEYS_VAR} must be an SSH public key or a list of at most 64`];
  return keys.flatMap((k, i) => (typeof k === "string" && k.length <= 16384 && KEY_LINE.test(k) ? [] : [`${SSH_KEYS_VAR}[${i}] is not one OpenSSH public key line`]));
}

/** The keys for meta-data; a value that is not keys yields none (it was refused at save). */
export function publicKeysOf(vars: Record<string, unknown>): string[] {
  const value = vars[SSH_KEYS_VAR];
  if (sshKeysProblems(value).length) return [];
  return typeof value === "string" ? [value] : ((value as string[] | undefined) ?? []);
}
