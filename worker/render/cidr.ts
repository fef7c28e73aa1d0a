// Which address prefix a gateway sits in, pure (inputs are checked by zod at save: cidrv4/cidrv6, ipv4/ipv6).

function v4(text: string): bigint | null {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) < 256)) return null;
  return parts.reduce((n, p) => (n << 8n) | BigInt(p), 0n);
}

function v6(text: string): bigint | null {
  let t = text.split("%")[0]!;
  // A dotted IPv4 tail (::ffff:10.0.0.1) is two groups.
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  if (dotted) {
    const n = v4(dotted[2]!);
    if (n === null) return null;
    t = `${dotted[1]}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const halves = t.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if ((halves.length === 2 && fill < 1) || (halves.length === 1 && fill !== 0)) return null;
  const all = [...head, ...Array<string>(halves.length === 2 ? fill : 0).fill("0"), ...tail];
  if (!all.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return null;
  return all.reduce((n, g) => (n << 16n) | BigInt(`0x${g}`), 0n);
}

/** Whether `ip` lies inside `cidr` (same family), e.g. 10.0.0.1 in 10.0.0.50/24. False when either does not parse. */
export function inPrefix(ip: string, cidr: string): boolean {
  const [addr = "", lenText = ""] = cidr.split("/");
  const six = addr.includes(":");
  if (six !== ip.includes(":")) return false;
  const bits = six ? 128n : 32n;
  const a = six ? v6(addr) : v4(addr);
  const b = six ? v6(ip) : v4(ip);
  const len = /^\d{1,3}$/.test(lenText) ? BigInt(lenText) : -1n;
  if (a === null || b === null || len < 0n || len > bits) return false;
  const shift = bits - len;
  return a >> shift === b >> shift;
}
