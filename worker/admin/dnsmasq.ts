import { normalizeMac } from "../lib/mac.ts";

// Reads static DHCP reservations out of a dnsmasq configuration. Pure: text in, entries and per-line errors out.
//
// dnsmasq(8): --dhcp-host=[<hwaddr>][,id:<client_id>|*][,set:<tag>][,tag:<tag>][,<ipaddr>][,<hostname>][,<lease_time>][,ignore]
// "Addresses like 01:02:03:04:05:06 … may include a hardware type prefix (e.g. 06-…)"; "more than one hwaddr may be
// given"; the lease time is a number with an optional s/m/h/d/w suffix, or "infinite". Other directives are skipped.

export type DnsmasqHost = {
  line: number;
  macs: string[];
  ipv4?: string;
  hostname?: string;
  leaseTime?: string;
  tags: string[];
};

export type DnsmasqProblem = { line: number; message: string };

// skipped: lines read but deliberately not imported (with the reason); warnings: imported, with a caveat.
export type DnsmasqParse = { hosts: DnsmasqHost[]; errors: DnsmasqProblem[]; warnings: DnsmasqProblem[]; skipped: DnsmasqProblem[] };

const DIRECTIVE = /^\s*(?:--)?dhcp-host\s*=\s*(.*)$/;
const HW_TYPE = /^[0-9a-f]{1,2}-(?=[0-9a-f]{2}:)/i;
const MAC_LIKE = /^([0-9a-f*]{1,2}[:-]){5}[0-9a-f*]{1,2}$/i;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const LEASE = /^(\d+[smhdw]?|infinite|deprecated)$/i;
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

export function parseDnsmasqHosts(text: string): DnsmasqParse {
  const out: DnsmasqParse = { hosts: [], errors: [], warnings: [], skipped: [] };
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    const m = DIRECTIVE.exec(raw);
    if (!m || /^\s*#/.test(raw)) return;
    // dnsmasq treats a '#' after whitespace as the start of a comment.
    const parsed = parseValue(m[1]!.replace(/\s#.*$/, "").trim(), line);
    if ("error" in parsed) out.errors.push({ line, message: parsed.error });
    else if ("skip" in parsed) out.skipped.push({ line, message: parsed.skip });
    else {
      out.hosts.push(parsed.host);
      if (parsed.host.macs.length > 1) {
        out.warnings.push({ line, message: `several MACs for one host; ${parsed.host.macs[0]} is used, ${parsed.host.macs.slice(1).join(", ")} ignored` });
      }
      if (parsed.host.macs.length === 0) {
        out.warnings.push({ line, message: "no MAC address: the host cannot be matched at boot until it has a MAC (or a UUID or serial)" });
      }
    }
  });
  return out;
}

type ItemResult = { host: DnsmasqHost } | { error: string } | { skip: string };

function parseValue(value: string, line: number): ItemResult {
  if (value === "") return { error: "empty dhcp-host" };
  const host: DnsmasqHost = { line, macs: [], tags: [] };
  let ignore = false;
  let clientId: string | null = null;
  for (const rawItem of value.split(",")) {
    const item = rawItem.trim();
    if (item === "") return { error: "empty item (two commas in a row)" };
    const lower = item.toLowerCase();
    if (lower.startsWith("set:") || lower.startsWith("tag:") || lower.startsWith("net:")) {
      host.tags.push(item.slice(4));
    } else if (lower.startsWith("id:")) {
      // A DHCP client id matches by client, not by hardware; we cannot boot-match on it. "id:*" only tells dnsmasq
      // to ignore client ids for this MAC.
      if (item !== "id:*") clientId = item;
    } else if (lower === "ignore") {
      ignore = true;
    } else if (MAC_LIKE.test(item.replace(HW_TYPE, ""))) {
      const bare = item.replace(HW_TYPE, "");
      if (bare.includes("*")) return { error: `wildcard MAC ${item} cannot name one host` };
      const mac = normalizeMac(bare);
      if (!mac) return { error: `invalid MAC ${item}` };
      host.macs.push(mac);
    } else if (IPV4.test(item)) {
      if (host.ipv4) return { error: `two IPv4 addresses (${host.ipv4}, ${item})` };
      host.ipv4 = item;
    } else if (/^\[[0-9a-f:.]+\]$/i.test(item)) {
      // IPv6 reservations: nothing to store; the host is still imported.
      continue;
    } else if (LEASE.test(item)) {
      host.leaseTime = lower;
    } else if (item.split(".").every((l) => LABEL.test(l)) && item.length <= 253) {
      if (host.hostname) return { error: `two host names (${host.hostname}, ${item})` };
      host.hostname = item.toLowerCase();
    } else {
      return { error: `unrecognised item "${item}"` };
    }
  }
  if (ignore) return { skip: "dhcp-host with \"ignore\" denies a client; not imported" };
  if (clientId && host.macs.length === 0) {
    return { skip: `matches its client by DHCP client id (${clientId}), which a network boot cannot be matched on; not imported (add the MAC to import it)` };
  }
  if (host.macs.length === 0 && !host.hostname) return { error: "no MAC address or host name" };
  return { host };
}
