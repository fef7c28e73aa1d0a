// Small byte helpers shared by the DHCP and TFTP codecs.
export function concatBytes(parts: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export const latin1 = (bytes: Uint8Array) => String.fromCharCode(...bytes);
export const ascii = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
export const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
