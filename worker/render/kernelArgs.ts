// The kernel arguments edgeboot adds to every boot entry, in one place (a later rule, such as moving them behind a
// `---`, changes only this file), and the length budget of the whole line.

// x86 Linux keeps COMMAND_LINE_SIZE = 2048 bytes including the terminating NUL; iPXE's EFI loader hands the kernel
// "<image name> <args>" (src/image/efi_image.c), and our image name is "kernel". A longer line would be cut off
// silently by the kernel, so it is refused instead.
export const COMMAND_LINE_SIZE = 2048;
export const KERNEL_IMAGE_NAME = "kernel";
export const MAX_KERNEL_ARGS = COMMAND_LINE_SIZE - 1 - (KERNEL_IMAGE_NAME.length + 1);

/**
 * NoCloud seed: `ds=nocloud;dsmode=net;s=<seed>/`. cloud-init 22.4 takes `ds=nocloud` as a local seed unless
 * `dsmode=net` says otherwise (its network stage would then exit "in local mode"), 24.1+ deprecates `nocloud-net`,
 * and tiny-cloud brings up its ephemeral network only for `ds=nocloud;…s=http…`. The seed ends in "/" (cloud-init
 * appends file names) and comes last, so "everything after ;s=" parsers read it whole. cloud-init splits these
 * pairs on ";", so the URL never contains one (host tokens are base64url, the base is an origin).
 * Static addressing: `network-config=<base64 of gzip of JSON v1>`, read by cloud-init at init-local with precedence
 * over the datasource (cloudinit/net/cmdline.py read_kernel_cmdline_config), for every version.
 */
export function edgebootArgs(a: { seedUrl: string; networkConfig: string | null; nocloud?: boolean }): string[] {
  // A profile with `nocloud: false` (an installer reading its own file, say) has no cloud-init to read either.
  if (a.nocloud === false) return [];
  const args = [`ds=nocloud;dsmode=net;s=${a.seedUrl}`];
  if (a.networkConfig) args.push(`network-config=${a.networkConfig}`);
  return args;
}

/**
 * edgeboot's arguments go before the first `---` of the operator's line: the Debian installer copies what follows
 * `---` into the installed system's boot loader configuration (Debian Installation Guide, bookworm, §5.3 "Boot
 * Parameters", debian.org/releases/bookworm/amd64/ch05s03.en.html: "specify this option after the `---`, so that it
 * is copied into the bootloader configuration for the installed system"), and a token URL has no business there.
 * Without `---` they go last.
 */
export function placeArgs(line: string, ours: string[]): string {
  if (!ours.length) return line;
  const tokens = line.split(" ").filter(Boolean);
  const sep = tokens.indexOf("---");
  if (sep < 0) return [...tokens, ...ours].join(" ");
  return [...tokens.slice(0, sep), ...ours, ...tokens.slice(sep)].join(" ");
}

export const byteLength = (s: string) => new TextEncoder().encode(s).length;
