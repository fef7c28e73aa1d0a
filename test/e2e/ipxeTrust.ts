// Where Debian 13's ipxe.efi takes its TLS root of trust from, checked without the lab: OVMF loads ipxe.efi from a
// virtual FAT disk (iPXE then runs `autoexec.ipxe` from that disk), QEMU's user-mode network reaches an HTTPS server
// of the test on the host (guest 10.0.2.2 = host loopback), and the serial console says what iPXE did. Trust offered
// to the firmware goes in as UEFI's TlsCaCertificates, which OVMF fills from fw_cfg `etc/edk2/https/cacerts` (an
// EFI_SIGNATURE_LIST of X.509 certificates).
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sh, startDaemon } from "./proc.ts";

const EFI_CERT_X509_GUID = "a5c059a1-94e4-4aa7-87b5-ab155c2bf072";

// A GUID in UEFI's byte order (the first three fields little-endian).
function guidBytes(guid: string): Buffer {
  const hex = guid.replace(/-/g, "");
  const b = Buffer.from(hex, "hex");
  return Buffer.concat([Buffer.from(b.subarray(0, 4)).reverse(), Buffer.from(b.subarray(4, 6)).reverse(), Buffer.from(b.subarray(6, 8)).reverse(), b.subarray(8)]);
}

/** One EFI_SIGNATURE_LIST (UEFI spec 32.4.1) holding a PEM certificate as EFI_CERT_X509. */
export function edk2CaCerts(pemFile: string): Buffer {
  const derFile = `${pemFile}.der`;
  sh("openssl", ["x509", "-in", pemFile, "-outform", "DER", "-out", derFile]);
  const der = readFileSync(derFile);
  const signatureSize = 16 + der.length; // owner GUID + the certificate
  const header = Buffer.alloc(12);
  header.writeUInt32LE(28 + signatureSize, 0); // SignatureListSize
  header.writeUInt32LE(0, 4); // SignatureHeaderSize
  header.writeUInt32LE(signatureSize, 8); // SignatureSize
  return Buffer.concat([guidBytes(EFI_CERT_X509_GUID), header, Buffer.alloc(16), der]);
}

/** Boots `efi` under OVMF with `script` as autoexec.ipxe; resolves with the serial console once QEMU exits. */
export async function runIpxeScript(opts: { workDir: string; name: string; efi: string; script: string; firmwareCaCerts?: Buffer; timeoutMs: number }): Promise<string> {
  const dir = join(opts.workDir, opts.name);
  const fat = join(dir, "fat");
  mkdirSync(join(fat, "EFI", "BOOT"), { recursive: true });
  copyFileSync(opts.efi, join(fat, "EFI", "BOOT", "BOOTX64.EFI"));
  writeFileSync(join(fat, "autoexec.ipxe"), opts.script);
  const vars = join(dir, "vars.fd");
  copyFileSync("/usr/share/OVMF/OVMF_VARS_4M.fd", vars);
  const serial = join(dir, "serial.log");
  writeFileSync(serial, "");
  const args = [
    "-accel", "tcg", "-m", "512", "-display", "none", "-monitor", "none", "-no-reboot", "-serial", `file:${serial}`,
    "-drive", "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd",
    "-drive", `if=pflash,format=raw,file=${vars}`,
    "-drive", `id=d0,if=none,format=raw,file=fat:rw:${fat}`, "-device", "virtio-blk-pci,drive=d0,bootindex=0",
    "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0,romfile=",
  ];
  if (opts.firmwareCaCerts) {
    const certs = join(dir, "cacerts.bin");
    writeFileSync(certs, opts.firmwareCaCerts);
    args.push("-fw_cfg", `name=etc/edk2/https/cacerts,file=${certs}`);
  }
  const qemu = startDaemon({ name: opts.name, cmd: "qemu-system-x86_64", args, log: join(dir, "qemu.log") });
  const timer = setTimeout(() => void qemu.stop(), opts.timeoutMs);
  await qemu.exited;
  clearTimeout(timer);
  return readFileSync(serial, "utf8").replace(/\x1b\[[0-9;]*[A-Za-z]/g, "");
}
