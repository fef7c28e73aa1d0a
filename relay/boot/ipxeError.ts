// iPXE's ${errno} in words, for the direct-HTTPS fallback. An iPXE error number is (POSIX code << 24) | file id
// (bits 23-13) | per-file instance | platform code (`include/errno.h`); the file says which layer failed
// (`include/ipxe/errfile.h`). Values are those of Debian trixie's iPXE (git 20250501).
export type HttpsFailure = "untrusted-certificate" | "tls" | "http-status" | "unreachable" | "other";

const FILE_MASK = 0x00ffe000;
const FILES: Record<number, HttpsFailure> = {
  0x0016e000: "untrusted-certificate", // crypto/x509.c
  0x002ee000: "untrusted-certificate", // crypto/validator.c (cross-signed certificate or OCSP check)
  0x0000e000: "untrusted-certificate", // crypto/asn1.c
  0x0027e000: "tls", // crypto/rsa.c
  0x000de000: "tls", // net/tls.c
  0x000c6000: "http-status", // net/tcp/httpcore.c
  0x000a6000: "unreachable", // net/tcp.c
};
// POSIX codes that mean "no connection" from any layer: ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, ENOTCONN, ETIMEDOUT.
const UNREACHABLE = new Set([0x0e, 0x17, 0x28, 0x38, 0x4c]);
const ENOTSUP = 0x3c;

export const HTTPS_FAILURE_TEXT: Record<HttpsFailure, string> = {
  "untrusted-certificate":
    "iPXE did not trust the API certificate: its root is not a fingerprint this iPXE trusts (relay --api-trust-sha256), a certificate is outside its validity (check the machine clock), or the chain is incomplete",
  tls: "the TLS handshake with the API failed: this iPXE needs TLS 1.2 and an RSA certificate (no ECDSA) with a cipher it has",
  "http-status": "the API refused the direct request (HTTP error status)",
  unreachable: "the API could not be reached from this machine",
  other: "the direct HTTPS request failed",
};

/** Parses iPXE's `${errno}` ("%#lx": 0x216eb3c, or 0) and names the layer that failed. */
export function classifyIpxeError(text: string): { errno: number; failure: HttpsFailure } | null {
  if (!/^(0x[0-9a-fA-F]{1,8}|0)$/.test(text)) return null;
  const errno = Number(text);
  const posix = (errno >>> 24) & 0x7f;
  const file = FILES[errno & FILE_MASK];
  // ENOTSUP from certificate parsing is a key or signature algorithm this build lacks (an ECDSA certificate), not trust.
  const failure = UNREACHABLE.has(posix) ? "unreachable" : posix === ENOTSUP && file === "untrusted-certificate" ? "tls" : (file ?? "other");
  return { errno, failure };
}

/** iPXE's own page for an error number: https://ipxe.org/err/<8 hex digits>. */
export const ipxeErrorUrl = (errno: number) => `https://ipxe.org/err/${errno.toString(16).padStart(8, "0")}`;
