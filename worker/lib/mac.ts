// MAC addresses arrive as aa:bb:.., AA-BB-.., aabb.ccdd.eeff (Cisco) or aabbccddeeff; store one form.
const HEX12 = /^[0-9a-f]{12}$/;

export function normalizeMac(input: string): string | null {
  const hex = input.trim().toLowerCase().replace(/[:\-.]/g, "");
  if (!HEX12.test(hex)) return null;
  const shape = input.trim();
  // Separators, when present, must sit on byte or Cisco word boundaries.
  if (!/^[0-9a-fA-F]{12}$/.test(shape) && !/^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/.test(shape) && !/^([0-9a-fA-F]{4}\.){2}[0-9a-fA-F]{4}$/.test(shape)) {
    return null;
  }
  return hex.match(/../g)!.join(":");
}

export const looksLikeMac = (input: string) => normalizeMac(input) !== null;
