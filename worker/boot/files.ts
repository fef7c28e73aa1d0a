// Per-host config files behind a host token: /boot/h/<token>/files/<name>. The profile's file of that name wins over
// the site's; each renders with the host's context, its author's secret reach (nocloud.ts SecretReach) and the escaping
// of its kind (render/files.ts). A file naming secrets passes the boot session's delivery policy (delivery.ts) as
// user-data does; one without secrets is served like meta-data. Every serve is an event `file-<name>`; a render that
// fails is a 500 render_failed naming the file and the reason, and an event `render-failed`. A preseed also reports
// the installer's progress itself (render/preseedHooks.ts).
import type { Context } from "hono";
import { insertEventStatement, touchHostIfStale } from "../db/queries/bootEvents.ts";
import { loadNocloudContext } from "../db/queries/bootHost.ts";
import type { ConfigFileKind, ConfigFiles } from "../db/schema.ts";
import { notFound } from "../errors.ts";
import { CONTENT_TYPES, FILE_NAME, renderFile } from "../render/files.ts";
import { withProgressHooks } from "../render/preseedHooks.ts";
import { compileTemplate, secretNames } from "../render/template.ts";
import type { Clock } from "./chain.ts";
import { secretGate } from "./delivery.ts";
import type { BootHostEnv } from "./hostToken.ts";
import { secretsResolver, type NocloudInput, type SecretReach } from "./nocloud.ts";
import { renderError } from "./respond.ts";
import { templateContext } from "./templateContext.ts";
import { apiBase, eventsUrl, fileUrl, seedUrl } from "./urls.ts";
import { writeBehind } from "./writeBehind.ts";

export type FileInput = Omit<NocloudInput, "site" | "profile"> & {
  site: NocloudInput["site"] & { files: ConfigFiles };
  profile: (NonNullable<NocloudInput["profile"]> & { files: ConfigFiles }) | null;
};

// The file a host sees under a name, and the scope of its author: profiles are admin-written (catalogue), a site's
// files are written by its own tokens (site).
export function pickFile(name: string, input: Pick<FileInput, "site" | "profile">): { kind: ConfigFileKind; template: string; reach: SecretReach } | null {
  const own = (files: ConfigFiles | undefined) => (files && Object.hasOwn(files, name) ? files[name]! : null);
  const fromProfile = own(input.profile?.files);
  if (fromProfile) return { ...fromProfile, reach: "catalogue" };
  const fromSite = own(input.site.files);
  return fromSite ? { ...fromSite, reach: "site" } : null;
}

// Every file URL the host can read, for `{{ boot.files.<name> }}` in files and on the kernel line.
export function fileUrls(input: { site: { files?: ConfigFiles }; profile: { files?: ConfigFiles } | null; base: string; token: string; hostRoot?: string | null }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of [...Object.keys(input.site.files ?? {}), ...Object.keys(input.profile?.files ?? {})]) out[name] = fileUrl(input.base, input.token, name, input.hostRoot);
  return out;
}

// One file for one host; shared by the live route and the admin dry-run (which passes placeholder secrets).
export async function renderHostFile(
  file: { kind: ConfigFileKind; template: string; reach: SecretReach },
  input: FileInput,
  secretsFor: (names: string[], reach: SecretReach) => Promise<Record<string, string>>,
): Promise<string> {
  const { site, host, profile, base, token, hostRoot } = input;
  const events = eventsUrl(base, token, hostRoot);
  const ctx = templateContext({
    site,
    profile,
    host,
    boot: { baseUrl: base, seedUrl: seedUrl(base, token, hostRoot), eventsUrl: events, files: fileUrls(input) },
    secrets: await secretsFor(secretNames(compileTemplate(file.template)), file.reach),
  });
  const out = renderFile(file.kind, file.template, ctx);
  // The installer's progress reaches the timeline without hand-written hooks (render/preseedHooks.ts).
  return file.kind === "preseed" ? withProgressHooks(out, events) : out;
}

export async function serveFile(c: Context<BootHostEnv>, now: Clock): Promise<Response> {
  const name = c.req.param("name") ?? "";
  if (!FILE_NAME.test(name)) throw notFound("file", { file: name });
  const claims = c.get("hostToken");
  const env = c.get("env");
  const db = c.get("db");
  const data = await loadNocloudContext(db, claims);
  if (!data) throw notFound("host");
  const { host, site, profile } = data;
  const file = pickFile(name, { site, profile });
  if (!file) throw notFound("file", { file: name });
  const at = now();
  const what = `files/${name}`;
  const record = (phase: string, detail: Record<string, unknown>) =>
    writeBehind(c, "file", db.$client, [
      insertEventStatement({ siteId: site.id, hostId: host.id, mac: claims.mac, source: "worker", phase, bootSession: claims.sid, detail, at }),
      touchHostIfStale(host, at),
    ]);
  // Only a file that names secrets is held to the delivery policy (a preseed without any can be fetched again).
  const gate = secretNames(compileTemplate(file.template)).length ? await secretGate(c, what, host, at) : null;
  let body: string;
  const { secretsFor, resolved } = secretsResolver(env.SECRETS_KEY, data.secrets);
  try {
    const input: FileInput = { site, host, profile, base: apiBase(env.PUBLIC_URL, c.req.url), token: c.req.param("token") ?? "", hostRoot: c.get("bootSession").hostRoot };
    body = await renderHostFile(file, input, secretsFor);
  } catch (err) {
    const failed = renderError(err, what, resolved);
    if (!failed) throw err;
    record("render-failed", { what, message: failed.message });
    throw failed;
  }
  await gate?.commit();
  record(`file-${name}`, { kind: file.kind });
  return new Response(body, { status: 200, headers: { "content-type": CONTENT_TYPES[file.kind], "cache-control": "no-store" } });
}
