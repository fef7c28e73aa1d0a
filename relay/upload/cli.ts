// `npm run upload -- <file> [options]`: upload an artifact (kernel, initrd, rootfs …) to the edgeboot API, and
// optionally put it into an image. Resumable: run the same command again after an interruption.
import { parseArgs } from "node:util";
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { artifactApi, UploadApiError, type ArtifactApi } from "./api.ts";
import { stateDir } from "./state.ts";
import { MiB, PART_MAX, PART_MIN, uploadFile } from "./uploader.ts";

const HELP = `Usage: npm run upload -- <file> [options]

Uploads <file> as a content-addressed artifact (sha256), skipping it if the API has it already. Files up to
--part-size go in one PUT; larger ones as a multipart upload with parts sent in parallel, resumable (state in
$XDG_CACHE_HOME/edgeboot/uploads, default ~/.cache/edgeboot/uploads).

Options:
  --api URL            API base URL               [EDGEBOOT_API_URL]
  --token TOKEN        admin token (prefer the variable: a flag shows in ps)   [EDGEBOOT_TOKEN]
  --image NAME         put the artifact into this image …
  --arch ARCH          … for this architecture (x86_64, arm64, …; default x86_64)
  --role ROLE          … in this role: kernel, initrd (appended), rootfs, modloop, …
  --content-type TYPE  stored and served with the artifact (default application/octet-stream)
  --part-size SIZE     multipart part size, e.g. 64M (5M-95M; default 64M)
  --concurrency N      parts in flight (1-16; default 4)
  --help
`;

const size = z
  .string()
  .regex(/^\d+[kKmM]?$/, "must be a size like 64M")
  .transform((s) => Number.parseInt(s, 10) * ({ k: 1024, m: MiB }[s.slice(-1).toLowerCase()] ?? 1))
  .pipe(z.number().min(PART_MIN, "must be at least 5M").max(PART_MAX, "must be at most 95M"));

const Args = z
  .object({
    file: z.string().min(1, "give the file to upload"),
    api: z.url({ protocol: /^https?$/, message: "--api (EDGEBOOT_API_URL) must be an http(s) URL" }),
    token: z.string().min(16, "--token (EDGEBOOT_TOKEN) is required"),
    image: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, "--image must be an image name").optional(),
    arch: z.string().regex(/^[a-z0-9_]{1,32}$/, "--arch is like x86_64 or arm64").default("x86_64"),
    role: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, "--role is like kernel, initrd, rootfs").optional(),
    contentType: z.string().regex(/^[\w.+-]+\/[\w.+-]+$/, "--content-type must be a MIME type").optional(),
    partSize: size.default(64 * MiB),
    concurrency: z.coerce.number().int().min(1).max(16).default(4),
  })
  .refine((a) => (a.image === undefined) === (a.role === undefined), "--image and --role go together");

export async function main(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  let parsed;
  try {
    const str = { type: "string" } as const;
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { api: str, token: str, image: str, arch: str, role: str, "content-type": str, "part-size": str, concurrency: str, help: { type: "boolean" } },
    });
  } catch (err) {
    process.stderr.write(`upload: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  if (v.help) return void process.stdout.write(HELP), 0;
  const args = Args.safeParse({
    file: parsed.positionals[0] ?? "",
    api: v.api ?? env.EDGEBOOT_API_URL ?? "",
    token: v.token ?? env.EDGEBOOT_TOKEN ?? "",
    image: v.image,
    arch: v.arch,
    role: v.role,
    contentType: v["content-type"],
    partSize: v["part-size"],
    concurrency: v.concurrency,
  });
  if (!args.success) {
    process.stderr.write(`upload: ${args.error.issues.map((i) => i.message).join("; ")}\n`);
    return 2;
  }
  const a = args.data;
  const api = artifactApi({ apiUrl: a.api, token: a.token });
  const log = (line: string) => void process.stderr.write(`${line}\n`);
  try {
    const out = await uploadFile(api, { file: a.file, partSize: a.partSize, concurrency: a.concurrency, stateDir: stateDir(env), contentType: a.contentType, log });
    log(out.result === "exists" ? `already uploaded: ${out.sha256}` : `uploaded: ${out.sha256}`);
    if (a.image && a.role) await placeInImage(api, a.image, a.arch, a.role, out.sha256, log);
    process.stdout.write(`${out.sha256}\n`);
    return 0;
  } catch (err) {
    log(`upload failed: ${explain(err)}`);
    return 1;
  }
}

// kernel/rootfs/… replace the role; initrd appends (an image boots its initrds in order).
async function placeInImage(api: ArtifactApi, image: string, arch: string, role: string, sha256: string, log: (l: string) => void) {
  let current;
  try {
    current = await api.getImage(image, arch);
  } catch (err) {
    if (!(err instanceof UploadApiError && err.status === 404)) throw err;
    if (role !== "kernel") throw new Error(`image ${image} (${arch}) does not exist yet; create it by uploading its kernel with --role kernel`);
    await api.createImage(image, arch, { kernel: sha256, initrd: [] });
    return log(`created image ${image} (${arch}) with kernel ${sha256}`);
  }
  const artifacts = { ...current.image.artifacts };
  if (role === "initrd") {
    const list = Array.isArray(artifacts.initrd) ? (artifacts.initrd as string[]) : [];
    if (list.includes(sha256)) return log(`image ${image} (${arch}) already has this initrd`);
    artifacts.initrd = [...list, sha256];
  } else artifacts[role] = sha256;
  await api.patchImage(image, arch, artifacts, current.etag);
  log(`image ${image} (${arch}): ${role} = ${sha256}`);
}

function explain(err: unknown): string {
  if (err instanceof UploadApiError) {
    if (err.code === "hash_mismatch") return "the API computed a different SHA-256: the file changed during the upload? Run again.";
    if (err.status === 401) return `${err.message} — check --token / EDGEBOOT_TOKEN`;
    if (err.status === 403) return `${err.message} — uploads need an admin token`;
    if (err.status === 0) return `${err.message} — is --api / EDGEBOOT_API_URL right and the API up?`;
    return err.message;
  }
  const e = err as NodeJS.ErrnoException;
  if (e.code === "ENOENT") return `no such file: ${e.path}`;
  if (e.code === "EISDIR") return `${e.path} is a directory`;
  return e.message ?? String(err);
}

const isEntry = (() => {
  try {
    return !!process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
})();
if (isEntry) process.exitCode = await main(process.argv.slice(2), process.env);
