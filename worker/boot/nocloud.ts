// NoCloud seed files behind a host token. cloud-init asks for <seed>meta-data etc.; tiny-cloud asks for
// <seed>/meta-data (its seed URL already ends in "/"), so repeated slashes before the file name are accepted.
import type { Context } from "hono";
import { loadNocloudContext } from "../db/queries/bootHost.ts";
import { insertEventStatement, touchHostIfStale } from "../db/queries/bootEvents.ts";
import type { secrets as secretsTable, StaticNetwork } from "../db/schema.ts";
import { notFound } from "../errors.ts";
import { decryptSecret, secretScope } from "../lib/secretbox.ts";
import { renderDocument, type DocumentField } from "../render/documents.ts";
import { renderStaticNetworkConfig } from "../render/netconfig.ts";
import { renderMetaData } from "../render/nocloud.ts";
import { compileTemplate, secretNames, TemplateError } from "../render/template.ts";
import type { Clock } from "./chain.ts";
import type { BootHostEnv } from "./hostToken.ts";
import { secretGate } from "./delivery.ts";
import { renderError, text } from "./respond.ts";
import { writeBehind } from "./writeBehind.ts";
import { publicKeysOf } from "./sshKeys.ts";
import { hostNameOf, templateContext, type ContextHost } from "./templateContext.ts";
import { apiBase, eventsUrl, seedUrl } from "./urls.ts";

export const NOCLOUD_FILES = ["meta-data", "user-data", "vendor-data", "network-config"] as const;
export type NocloudFile = (typeof NOCLOUD_FILES)[number];

type SecretRow = typeof secretsTable.$inferSelect;

/**
 * Secret scope (worker/boot/README.md, "Template safety"): a template renders only secrets its author's scope could write.
 * - "catalogue": profile templates. Profiles are catalogue objects only `admin` writes, so they reach global, site
 *   and host secrets (the narrowest scope wins: host > site > global).
 * - "site": templates a site's own tokens write (the site's vendor-data; later per-host files). They reach that site's
 *   and its hosts' secrets only, never a global one, whoever wrote them. Enforced here at render and at save
 *   (worker/admin/templates.ts).
 */
export type SecretReach = "catalogue" | "site";

// Only the secrets the template names are decrypted, and only rows in the template's reach.
export async function resolveSecrets(keyB64: string, rows: SecretRow[], names: string[], reach: SecretReach): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const rank = (r: SecretRow) => (r.hostId ? 2 : r.siteId ? 1 : 0);
  const reachable = reach === "catalogue" ? rows : rows.filter((r) => r.siteId !== null);
  for (const name of names) {
    const row = reachable.filter((r) => r.name === name).sort((a, b) => rank(b) - rank(a))[0];
    if (!row) continue; // the template then fails with "secret ... is not set"
    try {
      out[name] = await decryptSecret(keyB64, secretScope(row), row);
    } catch {
      throw new TemplateError(`secret "${name}" could not be decrypted`);
    }
  }
  return out;
}

// resolveSecrets for one render, keeping the values it handed out: a render error's message is masked with them
// (respond.ts renderError).
export function secretsResolver(keyB64: string, rows: SecretRow[]) {
  const resolved: string[] = [];
  const secretsFor = async (names: string[], reach: SecretReach) => {
    const values = await resolveSecrets(keyB64, rows, names, reach);
    resolved.push(...Object.values(values));
    return values;
  };
  return { secretsFor, resolved };
}

// Which template a file renders and the scope of its author.
export function nocloudTemplate(file: Exclude<NocloudFile, "meta-data">, input: Pick<NocloudInput, "site" | "profile">): { field: DocumentField; text: string | null; reach: SecretReach } {
  const { site, profile } = input;
  switch (file) {
    case "user-data":
      return { field: "userData", text: profile?.userData ?? null, reach: "catalogue" };
    case "vendor-data":
      return profile?.vendorData ? { field: "vendorData", text: profile.vendorData, reach: "catalogue" } : { field: "vendorData", text: site.vendorData, reach: "site" };
    case "network-config":
      return { field: "networkConfig", text: profile?.networkConfig ?? null, reach: "catalogue" };
  }
}

export type NocloudInput = {
  site: Parameters<typeof templateContext>[0]["site"] & { vendorData: string | null };
  host: ContextHost & { network: StaticNetwork | null };
  profile: (NonNullable<Parameters<typeof templateContext>[0]["profile"]> & { userData: string | null; vendorData: string | null; networkConfig: string | null }) | null;
  base: string;
  token: string;
  // Where seed and events URLs point for this boot (urls.ts): null = the API, else the issuing relay's LAN base.
  hostRoot?: string | null;
};

// One NoCloud document; shared by the live route and the admin dry-run (which passes placeholder secrets).
export async function renderNocloudDocument(
  file: NocloudFile,
  input: NocloudInput,
  secretsFor: (names: string[], reach: SecretReach) => Promise<Record<string, string>>,
): Promise<string> {
  const { site, host, profile, base, token, hostRoot } = input;
  if (file === "meta-data") {
    const publicKeys = publicKeysOf(templateContext({ site, profile, host, boot: { baseUrl: base } }).var ?? {});
    return renderMetaData({ hostId: host.id, hostname: hostNameOf(host), publicKeys, network: host.network });
  }
  // Static addressing of the host first (the same v1 config as the kernel's network-config=), else the profile's
  // template; empty = cloud-init's fallback (DHCP).
  if (file === "network-config" && host.network) return renderStaticNetworkConfig(host.network, host.mac);
  const { field, text: template, reach } = nocloudTemplate(file, input);
  if (!template) return "";
  const ctx = templateContext({
    site,
    profile,
    host,
    boot: { baseUrl: base, seedUrl: seedUrl(base, token, hostRoot), eventsUrl: eventsUrl(base, token, hostRoot) },
    secrets: await secretsFor(secretNames(compileTemplate(template)), reach),
  });
  return renderDocument(field, template, ctx);
}

export async function serveNocloud(c: Context<BootHostEnv>, now: Clock): Promise<Response> {
  const file = c.req.path.slice(c.req.path.indexOf("/nocloud/") + "/nocloud/".length).replace(/^\/+/, "");
  if (!(NOCLOUD_FILES as readonly string[]).includes(file)) throw notFound("nocloud file", { file });
  const claims = c.get("hostToken");
  const env = c.get("env");
  const db = c.get("db");
  const data = await loadNocloudContext(db, claims, file !== "meta-data");
  if (!data) throw notFound("host");
  const { host, site, profile } = data;
  const at = now();
  const record = (phase: string, detail: Record<string, unknown>) =>
    writeBehind(c, "nocloud", db.$client, [
      insertEventStatement({ siteId: site.id, hostId: host.id, mac: claims.mac, source: "worker", phase, bootSession: claims.sid, detail, at }),
      touchHostIfStale(host, at),
    ]);

  const base = apiBase(env.PUBLIC_URL, c.req.url);
  // Secret-bearing files follow the boot session's delivery policy (delivery.ts): refused before rendering, claimed after.
  const gate = await secretGate(c, file, host, at);
  let body: string;
  const { secretsFor, resolved } = secretsResolver(env.SECRETS_KEY, data.secrets);
  try {
    body = await renderNocloudDocument(file as NocloudFile, { site, host, profile, base, token: c.req.param("token") ?? "", hostRoot: c.get("bootSession").hostRoot }, secretsFor);
  } catch (err) {
    const failed = renderError(err, file, resolved);
    if (!failed) throw err;
    record("render-failed", { what: file, message: failed.message });
    throw failed;
  }
  await gate.commit();
  record(`nocloud-${file}`, {});
  return text(body);
}
