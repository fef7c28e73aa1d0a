// `edgeboot upload` at work: option checks, the upload (./uploader.ts) with CLI errors, placing into an image.
import { z } from "zod";
import type { Env } from "../config.ts";
import { CliError, usage } from "../errors.ts";
import type { Session } from "../session.ts";
import { artifactApi, UploadApiError, type ArtifactApi } from "./api.ts";
import { stateDir } from "./state.ts";
import { MiB, PART_MAX, PART_MIN, uploadFile } from "./uploader.ts";

const size = z
  .string()
  .regex(/^\d+[kKmM]?$/, "--part-size must be a size like 64M")
  .transform((s) => Number.parseInt(s, 10) * ({ k: 1024, m: MiB }[s.slice(-1).toLowerCase()] ?? 1))
  .pipe(z.number().min(PART_MIN, "--part-size must be at least 5M").max(PART_MAX, "--part-size must be at most 95M"));
const Options = z
  .object({
    image: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, "--image must be an image name").optional(),
    arch: z.string().regex(/^[a-z0-9_]{1,32}$/, "--arch is like x86_64 or arm64").default("x86_64"),
    role: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, "--role is like kernel, initrd, store, rootfs, modloop, apkovl (1-32 of a-z, 0-9, _ or -, starting with a letter)").optional(),
    contentType: z.string().regex(/^[\w.+-]+\/[\w.+-]+$/, "--content-type must be a MIME type").optional(),
    partSize: size.default(64 * MiB),
    concurrency: z.coerce.number().int("--concurrency is a whole number").min(1, "--concurrency is 1-16").max(16, "--concurrency is 1-16").default(4),
  })
  .refine((a) => (a.image === undefined) === (a.role === undefined), "--image and --role go together");

export async function runUpload(files: string[], o: Record<string, string | undefined>, s: Session, env: Env): Promise<void> {
  const parsed = Options.safeParse(o);
  if (!parsed.success) throw usage(parsed.error.issues.map((i) => i.message).join("; "));
  const a = parsed.data;
  if (a.image && files.length > 1 && a.role !== "initrd") throw usage("with --image, several files only make sense as --role initrd");
  const api = artifactApi({ apiUrl: s.target.api, token: s.target.token });
  const log = (line: string) => void process.stderr.write(`${line}\n`);
  for (const file of files) {
    const out = await uploadArtifact(api, file, { partSize: a.partSize, concurrency: a.concurrency, contentType: a.contentType, env, log });
    if (a.image && a.role) await placeInImage(api, a.image, a.arch, a.role, out, log).catch(explainUpload);
    process.stdout.write(`${out}\n`);
  }
}

export async function uploadArtifact(api: ArtifactApi, file: string, o: { partSize?: number; concurrency?: number; contentType?: string; env: Env; log: (l: string) => void }): Promise<string> {
  try {
    const out = await uploadFile(api, { file, partSize: o.partSize ?? 64 * MiB, concurrency: o.concurrency ?? 4, stateDir: stateDir(o.env), contentType: o.contentType, log: o.log });
    o.log(out.result === "exists" ? `already uploaded: ${file} ${out.sha256}` : `uploaded: ${file} ${out.sha256}`);
    return out.sha256;
  } catch (err) {
    return explainUpload(err);
  }
}

// The uploader's failures as CliErrors: the API's code and message, plus what to do about the usual ones.
function explainUpload(err: unknown): never {
  if (err instanceof CliError) throw err;
  if (err instanceof UploadApiError) {
    if (err.code === "hash_mismatch") throw new CliError(err.code, "the API computed a different SHA-256: did the file change during the upload? Run again.", err.details, err.status);
    if (err.status === 0) throw new CliError("unreachable", `${err.message}; check --api / EDGEBOOT_API and that the API is up`);
    const hint = err.status === 401 ? " (check EDGEBOOT_TOKEN or the context's token)" : err.status === 403 ? " (uploads need an admin token)" : "";
    throw new CliError(err.code ?? `http_${err.status}`, `${err.message}${hint}`, err.details, err.status);
  }
  const e = err as NodeJS.ErrnoException;
  if (e.code === "ENOENT") throw new CliError("no_file", `no such file: ${e.path}`);
  if (e.code === "EISDIR") throw new CliError("no_file", `${e.path} is a directory`);
  throw new CliError("upload_failed", e.message ?? String(err));
}

// kernel/rootfs/… replace the role; initrd appends (an image boots its initrds in order).
async function placeInImage(api: ArtifactApi, image: string, arch: string, role: string, sha256: string, log: (l: string) => void) {
  let current;
  try {
    current = await api.getImage(image, arch);
  } catch (err) {
    if (!(err instanceof UploadApiError && err.status === 404)) throw err;
    if (role !== "kernel") throw usage(`image ${image} (${arch}) does not exist yet; create it by uploading its kernel with --role kernel`);
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
