// The variables a template sees: fixed fields of host, site and profile, the layered `var` (site < profile < host,
// top-level keys), boot URLs of this session, and (user-data, vendor-data, network-config only) the host's secrets.
import type { HostRow, ProfileRow, SiteRow } from "../db/queries/bootChain.ts";
import type { StaticNetwork } from "../db/schema.ts";
import { fallbackHostname } from "../render/nocloud.ts";
import type { TemplateContext } from "../render/template.ts";

export type ContextHost = Pick<HostRow, "id" | "hostname" | "mac" | "uuid" | "serial" | "arch" | "ipv4"> & {
  labels?: Record<string, string> | null;
  vars?: Record<string, unknown> | null;
  // Static addressing: not a template field; the chain turns it into `network-config=`, NoCloud into documents.
  network?: StaticNetwork | null;
};

// The name a host goes by in every document: its hostname, else the generated one meta-data also uses.
export const hostNameOf = (host: Pick<ContextHost, "hostname" | "mac" | "id">) => host.hostname ?? fallbackHostname(host.mac, host.id);

// Unset fields are left out, so a template naming them fails ("not set") instead of rendering an empty string.
function defined(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== null && v !== undefined) out[k] = v;
  return out;
}

export function templateContext(input: {
  site: Pick<SiteRow, "id" | "slug" | "name" | "vars">;
  profile: Pick<ProfileRow, "id" | "name" | "vars"> | null;
  host: ContextHost;
  boot: { baseUrl: string; seedUrl?: string; eventsUrl?: string; artifacts?: Record<string, string>; files?: Record<string, string> };
  secrets?: Record<string, string>;
}): TemplateContext {
  const { site, profile, host } = input;
  return {
    host: defined({ ...host, hostname: hostNameOf(host), labels: host.labels ?? {}, vars: undefined, network: undefined }),
    site: { id: site.id, slug: site.slug, name: site.name },
    profile: profile ? { id: profile.id, name: profile.name } : {},
    var: { ...(site.vars ?? {}), ...(profile?.vars ?? {}), ...(host.vars ?? {}) },
    boot: defined(input.boot),
    secret: input.secrets ?? {},
  };
}
