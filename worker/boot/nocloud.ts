// NoCloud seed files behind a host token. cloud-init asks for <seed>meta-data etc.; tiny-cloud asks for
// <seed>/meta-data (its seed URL already ends in "/"), so repeated slashes before the file name are accepted.
import type { Context } from "hono";
import { loadNocloudContext } from "../db/queries/bootHost.ts";
import { insertEventStatement, touchHostStatement } from "../db/queries/bootEvents.ts";
import type { secrets as secretsTable, StaticNetwork } from "../db/schema.ts";
import { notFound } from "../errors.ts";
import { decryptSecret, secretScope } from "../lib/secretbox.ts";
import { fallbackHostname, renderMetaData, renderStaticNetworkConfig } from "../render/nocloud.ts";
import { compileTemplate, renderCompiled, secretNames, TemplateError } from "../render/template.ts";
import type { Clock } from "./chain.ts";
import type { BootHostEnv } from "./hostToken.ts";
import { renderError, text } from "./respond.ts";
import { writeBehind } from "./writeBehind.ts";
import { templateContext, type ContextHost } from "./templateContext.ts";
import { apiBase, eventsUrl, seedUrl } from "./urls.ts";

export const NOCLOUD_FILES = ["meta-data", "user-data", "vendor-data", "network-config"] as const;
export type NocloudFile = (typeof NOCLOUD_FILES)[number];

type SecretRow = typeof secretsTable.$inferSelect;

// Only the secrets the template names are decrypted; the narrowest scope (host > site > global) wins.
export async function resolveSecrets(keyB64: string, rows: SecretRow[], names: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const rank = (r: SecretRow) => (r.hostId ? 2 : r.siteId ? 1 : 0);
  for (const name of names) {
    const row = rows.filter((r) => r.name === name).sort((a, b) => rank(b) - rank(a))[0];
    if (!row) continue; // the template then fails with "secret ... is not set"
    try {
      out[name] = await decryptSecret(keyB64, secretScope(row), row);
    } catch {
      throw new TemplateError(`secret "${name}" could not be decrypted`);
    }
  }
  return out;
}

export type NocloudInput = {
  site: Parameters<typeof templateContext>[0]["site"] & { vendorData: string | null };
  host: ContextHost & { network: StaticNetwork | null };
  profile: (NonNullable<Parameters<typeof templateContext>[0]["profile"]> & { userData: string | null; vendorData: string | null; networkConfig: string | null }) | null;
  base: string;
  token: string;
};

// One NoCloud document; shared by the live route and the admin dry-run (which passes placeholder secrets).
export async function renderNocloudDocument(
  file: NocloudFile,
  input: NocloudInput,
  secretsFor: (names: string[]) => Promise<Record<string, string>>,
): Promise<string> {
  const { site, host, profile, base, token } = input;
  const render = async (template: string | null | undefined): Promise<string> => {
    if (!template) return "";
    const tpl = compileTemplate(template);
    const ctx = templateContext({
      site,
      profile,
      host,
      boot: { baseUrl: base, seedUrl: seedUrl(base, token), eventsUrl: eventsUrl(base, token) },
      secrets: await secretsFor(secretNames(tpl)),
    });
    return renderCompiled(tpl, ctx);
  };
  switch (file) {
    case "meta-data":
      return renderMetaData({ hostId: host.id, hostname: host.hostname ?? fallbackHostname(host.mac, host.id) });
    case "user-data":
      return render(profile?.userData);
    case "vendor-data":
      return render(profile?.vendorData ?? site.vendorData);
    case "network-config":
      // Static addressing of the host first, else the profile's template; empty = cloud-init's fallback (DHCP).
      return host.network ? renderStaticNetworkConfig(host.network, host.mac) : render(profile?.networkConfig);
  }
}

export async function serveNocloud(c: Context<BootHostEnv>, now: Clock): Promise<Response> {
  const file = c.req.path.slice(c.req.path.indexOf("/nocloud/") + "/nocloud/".length).replace(/^\/+/, "");
  if (!(NOCLOUD_FILES as readonly string[]).includes(file)) throw notFound("nocloud file", { file });
  const claims = c.get("hostToken");
  const env = c.get("env");
  const db = c.get("db");
  const data = await loadNocloudContext(db, claims);
  if (!data) throw notFound("host");
  const { host, site, profile } = data;
  const at = now();
  const record = (phase: string, detail: Record<string, unknown>) =>
    writeBehind(c, "nocloud", db.$client, [
      insertEventStatement({ siteId: site.id, hostId: host.id, mac: claims.mac, source: "worker", phase, bootSession: claims.sid, detail, at }),
      touchHostStatement(host.id, at),
    ]);

  const base = apiBase(env.PUBLIC_URL, c.req.url);
  let body: string;
  try {
    body = await renderNocloudDocument(file as NocloudFile, { site, host, profile, base, token: c.req.param("token") ?? "" }, (names) =>
      resolveSecrets(env.SECRETS_KEY, data.secrets, names),
    );
  } catch (err) {
    const failed = renderError(err, file);
    if (!failed) throw err;
    record("render-failed", { what: file, message: failed.message });
    throw failed;
  }
  record(`nocloud-${file}`, {});
  return text(body);
}
