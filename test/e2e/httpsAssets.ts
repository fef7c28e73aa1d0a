// What the HTTPS scenario needs besides the lab: Debian 13's x64 ipxe.efi (HTTPS built in; bookworm's has none) and a
// private PKI made with openssl: an RSA root CA, an RSA server certificate for the API's test address (an IP SAN:
// iPXE checks IP alternative names), and a second root whose fingerprint iPXE must refuse. RSA because Debian 13's
// iPXE has no ECDSA (relay/README.md, Direct HTTPS).
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { trixieApt, trixieDebs, trixieUpdate } from "../helpers/trixie.ts";
import { workRoot } from "./image.ts";
import { sh } from "./proc.ts";

const cacheRoot = () => process.env.E2E_CACHE_DIR || workRoot;

export interface TrixieIpxe {
  /** Debian trixie's ipxe-amd64.efi (the package's ipxe.efi). */
  efi: string;
  version: string;
}

/** The trixie `ipxe` package's x64 EFI build, extracted once per package version. */
export function trixieIpxe(): TrixieIpxe {
  const apt = trixieApt(join(cacheRoot(), "trixie-apt"));
  let got: ReturnType<typeof trixieDebs>;
  try {
    got = trixieDebs(apt, ["ipxe"]);
  } catch {
    trixieUpdate(apt); // stale lists: the candidate left the mirror
    got = trixieDebs(apt, ["ipxe"]);
  }
  const { deb, version } = got.ipxe!;
  const dir = join(cacheRoot(), `ipxe-trixie-${version.replace(/[^A-Za-z0-9.+~-]/g, "_")}`);
  const efi = join(dir, "ipxe-amd64.efi");
  if (!existsSync(efi)) {
    const tmp = `${dir}.tmp-${process.pid}`;
    mkdirSync(tmp, { recursive: true });
    sh("sh", ["-c", 'dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" ./usr/lib/ipxe/ipxe-amd64.efi', "sh", deb, tmp]);
    mkdirSync(dir, { recursive: true });
    renameSync(join(tmp, "usr/lib/ipxe/ipxe-amd64.efi"), efi);
    rmSync(tmp, { recursive: true, force: true });
  }
  return { efi, version };
}

/** A binaries directory for the relay: trixie's ipxe.efi for UEFI, Debian's (bookworm) undionly.kpxe for BIOS. */
export function relayBinaries(dir: string, ipxe: TrixieIpxe): string {
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(dir)) rmSync(join(dir, f), { force: true });
  copyFileSync(ipxe.efi, join(dir, "ipxe.efi"));
  if (existsSync("/usr/lib/ipxe/undionly.kpxe")) copyFileSync("/usr/lib/ipxe/undionly.kpxe", join(dir, "undionly.kpxe"));
  return dir;
}

export interface TestPki {
  caFile: string;
  keyPath: string;
  certPath: string;
  /** SHA-256 of the root's DER, 64 lower-case hex digits (what --api-trust-sha256 takes). */
  fingerprint: string;
  /** The fingerprint of another root, which did not sign the API's certificate. */
  otherFingerprint: string;
}

const fingerprintOf = (cert: string) =>
  sh("openssl", ["x509", "-in", cert, "-noout", "-fingerprint", "-sha256"]).trim().replace(/^.*=/, "").replace(/:/g, "").toLowerCase();

function makeRoot(dir: string, name: string): { key: string; cert: string } {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  sh("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "30", "-sha256", "-subj", `/CN=edgeboot e2e ${name}`,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  return { key, cert };
}

/** A root CA, a server certificate for `ip` signed by it (RSA 2048, SHA-256), and an unrelated second root. */
export function makeTestPki(dir: string, ip: string): TestPki {
  mkdirSync(dir, { recursive: true });
  const root = makeRoot(dir, "root-ca");
  const other = makeRoot(dir, "other-ca");
  const keyPath = join(dir, "api.key");
  const csr = join(dir, "api.csr");
  const certPath = join(dir, "api.pem");
  const ext = join(dir, "api.ext");
  writeFileSync(ext, `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:${ip}\n`);
  sh("openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", keyPath, "-out", csr, "-subj", `/CN=${ip}`]);
  const leaf = join(dir, "api-leaf.pem");
  sh("openssl", ["x509", "-req", "-in", csr, "-CA", root.cert, "-CAkey", root.key, "-CAcreateserial", "-out", leaf, "-days", "7", "-sha256", "-extfile", ext]);
  // The server sends its whole chain, root included: iPXE holds no copy of a private root, and it matches the trusted
  // fingerprint against the certificates it is sent (crypto/x509.c x509_check_root).
  writeFileSync(certPath, readFileSync(leaf, "utf8") + readFileSync(root.cert, "utf8"));
  return { caFile: root.cert, keyPath, certPath, fingerprint: fingerprintOf(root.cert), otherFingerprint: fingerprintOf(other.cert) };
}

/**
 * An all-ECDSA PKI (P-256 root and server key), the kind Cloudflare's free plan serves: the server sends leaf + root,
 * and `bundle` holds this root and `alsoTrust` for the test's own clients.
 */
export function makeEcdsaPki(dir: string, ip: string, alsoTrust: string): TestPki & { bundle: string } {
  mkdirSync(dir, { recursive: true });
  const ecKey = (file: string) => sh("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", file]);
  const rootKey = join(dir, "root-ec.key");
  const rootCert = join(dir, "root-ec.pem");
  ecKey(rootKey);
  sh("openssl", ["req", "-x509", "-key", rootKey, "-out", rootCert, "-days", "30", "-sha256", "-subj", "/CN=edgeboot e2e ECDSA root",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  const keyPath = join(dir, "api-ec.key");
  const csr = join(dir, "api-ec.csr");
  const leaf = join(dir, "api-ec-leaf.pem");
  const certPath = join(dir, "api-ec.pem");
  const ext = join(dir, "api-ec.ext");
  ecKey(keyPath);
  writeFileSync(ext, `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:${ip}\n`);
  sh("openssl", ["req", "-new", "-key", keyPath, "-out", csr, "-subj", `/CN=${ip}`]);
  sh("openssl", ["x509", "-req", "-in", csr, "-CA", rootCert, "-CAkey", rootKey, "-CAcreateserial", "-out", leaf, "-days", "7", "-sha256", "-extfile", ext]);
  writeFileSync(certPath, readFileSync(leaf, "utf8") + readFileSync(rootCert, "utf8"));
  const bundle = join(dir, "bundle.pem");
  writeFileSync(bundle, readFileSync(rootCert, "utf8") + readFileSync(alsoTrust, "utf8"));
  return { caFile: rootCert, keyPath, certPath, fingerprint: fingerprintOf(rootCert), otherFingerprint: "", bundle };
}
