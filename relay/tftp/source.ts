// Where DATA block bytes come from. Boot binaries are small (iPXE is ~0.1-1 MB) and fetched by many machines at
// once, so files up to 32 MiB are read once into memory and shared while unchanged (keyed by inode, size, mtime);
// bigger files are read block by block with positional reads.
import { readSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";

export type BlockSource = { size: number; read(offset: number, length: number): Uint8Array; close(): void };

const MEMORY_LIMIT = 32 * 1024 * 1024;
const CACHE_BUDGET = 128 * 1024 * 1024;
const cache = new Map<string, Buffer>(); // insertion order = least recently used first
let cached = 0;

function remember(key: string, data: Buffer): void {
  cache.set(key, data);
  cached += data.length;
  for (const [k, v] of cache) {
    if (cached <= CACHE_BUDGET) break;
    cache.delete(k);
    cached -= v.length;
  }
}

export async function openBlockSource(fh: FileHandle, size: number): Promise<BlockSource> {
  const st = await fh.stat();
  if (size <= MEMORY_LIMIT) {
    const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
    let data = cache.get(key);
    if (data) {
      cache.delete(key);
      cache.set(key, data);
    } else {
      data = await fh.readFile();
      remember(key, data);
    }
    // Not awaited: the bytes are in memory, and the first packet should not wait a thread-pool round trip.
    void fh.close().catch(() => {});
    const bytes = data;
    return { size: bytes.length, read: (offset, length) => bytes.subarray(offset, offset + length), close() {} };
  }
  let open = true;
  return {
    size,
    read(offset, length) {
      const buf = Buffer.allocUnsafe(length);
      const n = length > 0 ? readSync(fh.fd, buf, 0, length, offset) : 0;
      return buf.subarray(0, n);
    },
    close() {
      if (open) void fh.close().catch(() => {});
      open = false;
    },
  };
}
