// What the arm64 scenarios (arm64.test.ts, httpboot-arm64.test.ts) add to the lab: the arm64 build of an image,
// the relay's binaries directory with ipxe-arm64.efi, and the wait for the relay to prefetch that build.
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { AdminApi } from "./api.ts";
import type { Arm64Assets } from "./arm64image.ts";
import type { Relay } from "./edgeboot.ts";
import { waitFor } from "./proc.ts";

/** Uploads the arm64 kernel and initrd as an operator would and adds them as `image`'s arm64 build. */
export async function addArm64Build(api: AdminApi, image: string, assets: Arm64Assets): Promise<void> {
  api.uploadArtifact(assets.kernel, assets.kernelSha256);
  api.uploadArtifact(assets.initrd, assets.initrdSha256);
  await api.post("/v1/images", { name: image, arch: "arm64", version: assets.kernelPackage, artifacts: { kernel: assets.kernelSha256, initrd: [assets.initrdSha256] } });
}

/** Debian bookworm's x86 binaries plus trixie's ipxe-arm64.efi (the name --arm64-binary defaults to), for --binaries-dir. */
export function arm64RelayBinaries(workDir: string, assets: Arm64Assets): string {
  const dir = join(workDir, "ipxe");
  mkdirSync(dir);
  for (const f of ["ipxe.efi", "undionly.kpxe"]) copyFileSync(join("/usr/lib/ipxe", f), join(dir, f));
  copyFileSync(assets.ipxeEfi, join(dir, "ipxe-arm64.efi"));
  return dir;
}

/** Steady state: the relay has prefetched the arm64 kernel and initrd on sync (boot.test.ts measures the same way). */
export async function waitForArm64Prefetch(relay: Relay, assets: Arm64Assets): Promise<void> {
  const shas = [assets.kernelSha256, assets.initrdSha256];
  await waitFor("the relay to prefetch the arm64 artifacts", 120_000, () => (shas.every((sha) => existsSync(join(relay.cacheDir, sha))) ? true : undefined), 500);
}
