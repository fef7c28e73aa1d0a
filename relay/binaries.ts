// The iPXE binaries directory, served read-only over TFTP and HTTP Boot. Request paths are normalised (PROTOCOLS.md §5:
// leading '/', backslashes, no '..', printable ASCII only) and then resolved with realpath: the real file must lie
// under the directory itself or under an operator-listed symlink root (Debian links ipxe.efi -> /boot/ipxe.efi).
import { constants } from "node:fs";
import { open, readdir, realpath, type FileHandle } from "node:fs/promises";
import { join, sep } from "node:path";

export type OpenedBinary = { fh: FileHandle; size: number; name: string };
export type OpenResult = { ok: true; file: OpenedBinary } | { ok: false; reason: "bad_path" | "not_found" | "forbidden" };

const SEGMENT = /^[A-Za-z0-9_+-][A-Za-z0-9._+-]*$/;
const MAX_PATH = 255;

// Pure: the relative path a request names, or null when it must be refused before touching the disk.
export function normalizeBinaryPath(requested: string): string | null {
  if (requested.length === 0 || requested.length > MAX_PATH) return null;
  if (!/^[\x21-\x7e]+$/.test(requested)) return null; // printable ASCII, no spaces (pixiecore accepts 0x20-0x7E)
  const parts = requested.replace(/\\/g, "/").split("/");
  while (parts[0] === "") parts.shift(); // "/ipxe.efi" and "//ipxe.efi" name the root's file
  if (parts.length === 0 || parts.length > 8) return null;
  for (const part of parts) if (!SEGMENT.test(part) || part === "." || part === "..") return null;
  return parts.join("/");
}

const within = (root: string, path: string) => path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);

export class BinaryCatalog {
  readonly dir: string;
  #roots: string[] = [];
  #rootsResolved = false;
  #names = new Set<string>();
  #scannedAt = 0;
  #ready: Promise<void>;
  #symlinkRoots: string[];
  #privateDirs: string[];
  #privateResolved: string[] = [];
  #listeners: Array<(names: string[]) => void> = [];

  // `privateDirs`: never served, even when they lie inside the binaries dir (the relay's state dir holds its private
  // key, relay-key.jwk; a binaries dir set to or above it served that key over HTTP Boot and TFTP to the whole LAN).
  constructor(dir: string, symlinkRoots: string[] = [], privateDirs: string[] = []) {
    this.dir = dir;
    this.#symlinkRoots = symlinkRoots;
    this.#privateDirs = privateDirs;
    this.#ready = this.rescan();
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  // Top-level names, refreshed on every rescan; the proxy decision reads this synchronously.
  has(name: string): boolean {
    return this.#names.has(name);
  }

  names(): string[] {
    return [...this.#names].sort();
  }

  async rescan(): Promise<void> {
    const roots: string[] = [];
    for (const r of [this.dir, ...this.#symlinkRoots]) {
      try {
        roots.push(await realpath(r));
      } catch {
        // A missing symlink root just allows nothing.
      }
    }
    const privateDirs: string[] = [];
    for (const d of this.#privateDirs) privateDirs.push(await realpath(d).catch(() => d));
    this.#roots = roots;
    this.#privateResolved = privateDirs;
    this.#rootsResolved = true;
    const names = new Set<string>();
    let entries: string[] = [];
    try {
      entries = await readdir(this.dir);
    } catch {
      entries = [];
    }
    for (const name of entries) {
      if (normalizeBinaryPath(name) !== name) continue;
      const opened = await this.open(name, { rescanOnMiss: false });
      if (opened.ok) {
        names.add(name);
        await opened.file.fh.close();
      }
    }
    const changed = names.size !== this.#names.size || [...names].some((n) => !this.#names.has(n));
    this.#names = names;
    this.#scannedAt = Date.now();
    if (changed) for (const listener of this.#listeners) listener(this.names());
  }

  // Called when a rescan finds another set of names (the proxyDHCP worker thread keeps a copy of has()).
  onChange(listener: (names: string[]) => void): void {
    this.#listeners.push(listener);
  }

  async open(requested: string, opts: { rescanOnMiss?: boolean } = {}): Promise<OpenResult> {
    const rel = normalizeBinaryPath(requested);
    if (rel === null) return { ok: false, reason: "bad_path" };
    if (!this.#rootsResolved) await this.#ready;
    let real: string;
    try {
      real = await realpath(join(this.dir, rel));
    } catch {
      // A file added after the last scan shows up in has() on the next rescan (at most every 10 s).
      if (opts.rescanOnMiss !== false && Date.now() - this.#scannedAt > 10_000) void this.rescan();
      return { ok: false, reason: "not_found" };
    }
    if (!this.#roots.some((root) => within(root, real))) return { ok: false, reason: "forbidden" };
    if (this.#privateResolved.some((dir) => within(dir, real))) return { ok: false, reason: "forbidden" };
    let fh: FileHandle;
    try {
      // O_NOFOLLOW: the real path has no symlink left; one swapped in since realpath() fails here instead.
      fh = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      return { ok: false, reason: "not_found" };
    }
    const st = await fh.stat();
    if (!st.isFile()) {
      await fh.close();
      return { ok: false, reason: "not_found" };
    }
    return { ok: true, file: { fh, size: st.size, name: rel } };
  }
}
