import { mkdir, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

// What a resumed multipart upload needs: the upload id and the etags of the parts already accepted.
export type UploadState = { api: string; sha256: string; size: number; partSize: number; uploadId: string; parts: Record<string, string> };

export function stateDir(env: Record<string, string | undefined> = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "edgeboot", "uploads");
}

export class StateFile {
  readonly path: string;

  constructor(dir: string, sha256: string) {
    this.path = join(dir, `${sha256}.json`);
  }

  async load(): Promise<UploadState | null> {
    try {
      return JSON.parse(await readFile(this.path, "utf8")) as UploadState;
    } catch {
      return null;
    }
  }

  // Rewritten whole after every part (write + rename), so an interrupted upload resumes from its last good part.
  async save(state: UploadState): Promise<void> {
    await mkdir(join(this.path, ".."), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(state), { mode: 0o600 });
    await rename(tmp, this.path);
  }

  async remove(): Promise<void> {
    await unlink(this.path).catch(() => {});
  }
}
