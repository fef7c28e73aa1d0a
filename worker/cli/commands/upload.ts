// `edgeboot upload <file>…`: content-addressed artifacts (kernel, initrd, rootfs …), resumable, with a progress bar;
// optionally placed into an image. The work is in ../upload/ (loaded when the command runs).
import type { Command } from "commander";
import type { Env } from "../config.ts";
import { session } from "../session.ts";

export function uploadCommand(program: Command, env: Env): void {
  program
    .command("upload")
    .argument("<file...>", "files to upload (kernel, initrd, rootfs …)")
    .description(
      "upload artifacts by SHA-256, skipping those the API has; files over --part-size go as a parallel multipart upload that a second run resumes (state in $XDG_CACHE_HOME/edgeboot/uploads). Prints each sha256 on stdout",
    )
    .option("--image <name>", "put the artifact into this image …")
    .option("--arch <arch>", "… for this architecture (default x86_64)")
    .option("--role <role>", "… in this role: kernel, initrd (appended), store, rootfs, modloop, apkovl, or any other name (worker/artifacts/README.md)")
    .option("--content-type <type>", "stored and served with the artifact")
    .option("--part-size <size>", "multipart part size, 5M-95M (default 64M)")
    .option("--concurrency <n>", "parts in flight, 1-16 (default 4)")
    .action(async (files: string[], o: Record<string, string | undefined>, cmd: Command) => {
      const s = await session(cmd, env);
      const { runUpload } = await import("../upload/command.ts");
      await runUpload(files, o, s, env);
    });
}

