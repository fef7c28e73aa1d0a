// Relay agents (RFC 2131 §4.1: giaddr set) the relay answers: only those with an address in a network the operator
// named (--relay-agent-network). Otherwise any LAN host could set giaddr to an arbitrary address and have the relay
// unicast replies there (a reflector). Pure: CIDR parsing and matching.
export type Network = { base: number; bits: number; text: string };

const OCTET = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const IPV4 = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);

export function ipv4ToInt(ip: string): number | null {
  if (!IPV4.test(ip)) return null;
  return ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
}

const maskOf = (bits: number) => (bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0);

// "10.1.0.0/16" (a bare address is a /32). Host bits must be zero, so a typo does not widen the network unseen.
export function parseNetwork(text: string): Network | string {
  const [addr = "", len, ...rest] = text.trim().split("/");
  const base = ipv4ToInt(addr);
  if (base === null || rest.length) return "must be an IPv4 network like 10.1.0.0/16";
  const bits = len === undefined ? 32 : /^\d{1,2}$/.test(len) ? Number(len) : NaN;
  if (!(bits >= 0 && bits <= 32)) return "prefix length must be 0-32";
  if ((base & ~maskOf(bits)) >>> 0 !== 0) return `has host bits set (did you mean ${intToIpv4((base & maskOf(bits)) >>> 0)}/${bits}?)`;
  return { base, bits, text: `${addr}/${bits}` };
}

export function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

export function inNetworks(ip: string, networks: readonly Network[]): boolean {
  const n = ipv4ToInt(ip);
  if (n === null) return false;
  return networks.some((net) => ((n & maskOf(net.bits)) >>> 0) === net.base);
}
