// From a site file and the API's current state to an ordered list of changes: uploads, images, profiles, the site,
// hosts, secrets (creates and updates in dependency order), then prunes. Every update and delete carries the ETag of
// the state it was computed from, so apply refuses to overwrite a change made in between.
import { stat } from "node:fs/promises";
import { isAbsolute, resolve as resolvePath, dirname } from "node:path";
import { enc, type Api } from "../api.ts";
import { CliError } from "../errors.ts";
import { Progress } from "../upload/progress.ts";
import { hashFile } from "../upload/uploader.ts";
import { changedFields, defined, type FieldChange } from "./compare.ts";
import { fieldName, invalid, type Loaded } from "./load.ts";
import { referenceProblems } from "./refs.ts";
import { isSha, type SiteFileHost, type SiteFileRule } from "./schema.ts";

type Row = Record<string, any>;
export type Kind = "artifact" | "image" | "profile" | "site" | "host" | "rule" | "secret";
export type SecretRef = { fromEnv?: string; fromFile?: string; line: number; field: string };

export type Change =
  | { op: "upload"; kind: "artifact"; key: string; file: string; sha256: string; size: number }
  | { op: "create"; kind: Kind; key: string; method: "POST"; path: string; body: Row; fields: FieldChange[]; at?: Where }
  // followUp: the second half of a create (a new profile's menu), shown with the create.
  // Rules are replaced whole (PUT); everything else is patched.
  | { op: "update"; kind: Kind; key: string; method: "PATCH" | "PUT"; path: string; body: Row; fields: FieldChange[]; etag: string | null; before: Row | null; followUp?: boolean; at?: Where }
  | { op: "delete"; kind: Kind; key: string; method: "DELETE"; path: string; etag: string | null; before: Row }
  | { op: "secret"; kind: "secret"; key: string; method: "PUT"; path: string; ref: SecretRef; exists: boolean };

// Where a create or update comes from in the site file, so an API refusal during apply names the line.
export type Where = { line: number; field: string; lines: Record<string, number> };
export type Plan = { file: string; site: string; changes: Change[] };

const etag = (r: Row) => `"${r.id}.${r.revision}"`;
const hostKey = (h: { hostname?: string | null; mac?: string | null }) => h.hostname ?? h.mac!;

export type PlanOptions = { prune?: boolean; rotateSecrets?: boolean };

export async function makePlan(api: Api, loaded: Loaded, opts: PlanOptions = {}): Promise<Plan> {
  const { file } = loaded;
  const slug = file.site.slug;
  const sitePath = `/v1/sites/${enc(slug)}`;
  const baseDir = dirname(resolvePath(loaded.path));
  const changes: Change[] = [];

  const currentSite = await api.get(sitePath).then(
    (r) => r.body as Row,
    (err) => {
      if (err instanceof CliError && err.status === 404) return null;
      throw err;
    },
  );
  const [images, profiles, hosts, rules, secrets] = await Promise.all([
    api.list("/v1/images"),
    api.list("/v1/profiles"),
    currentSite ? api.list(`${sitePath}/hosts`) : Promise.resolve([] as Row[]),
    currentSite ? api.list(`${sitePath}/rules`) : Promise.resolve([] as Row[]),
    currentSite ? api.list(`/v1/secrets?site=${enc(slug)}`) : Promise.resolve([] as Row[]),
  ]);

  // Every name the file points at must exist in the file or the API, before anything is uploaded or written.
  const refs = referenceProblems(file, { images, profiles }, loaded.at);
  if (refs.length) throw invalid(loaded.path, refs);
  // The entry's line, and each of its fields' lines, for the API's `details.field`.
  const where = (p: (string | number)[], entry: object = {}): Where => ({
    line: loaded.lineOf(p),
    field: fieldName(p),
    lines: Object.fromEntries(Object.keys(entry).map((k) => [k, loaded.lineOf([...p, k])])),
  });

  // Artifacts: local paths are hashed (and uploaded when the API lacks them); hashes must already be uploaded.
  const hashes = new Map<string, string>();
  const resolveArtifact = async (value: string, where: (string | number)[]): Promise<string> => {
    if (isSha(value)) return value;
    const path = isAbsolute(value) ? value : resolvePath(baseDir, value);
    const known = hashes.get(path);
    if (known) return known;
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch {
      throw invalid(loaded.path, [{ ...loaded.at(where), field: fieldName(where), message: `no such file ${value} (an artifact is a sha256 or a path relative to the site file)` }]);
    }
    const sha256 = await hashFile(path, new Progress(`hashing ${value}`, size));
    hashes.set(path, sha256);
    const present = await api.request("HEAD", `/v1/artifacts/${sha256}`).then(
      () => true,
      (err) => {
        if (err instanceof CliError && err.status === 404) return false;
        throw err;
      },
    );
    if (!present) changes.push({ op: "upload", kind: "artifact", key: value, file: path, sha256, size });
    return sha256;
  };

  for (const [i, img] of file.images.entries()) {
    const a = img.artifacts;
    const { kernel, initrd, ...single } = a;
    const others: Row = {};
    // Every other role (store, rootfs, modloop, apkovl, any name) is one artifact.
    for (const [role, v] of Object.entries(single)) if (v !== undefined) others[role] = await resolveArtifact(v, ["images", i, "artifacts", role]);
    const artifacts = defined({
      kernel: await resolveArtifact(kernel, ["images", i, "artifacts", "kernel"]),
      initrd: await Promise.all((initrd ?? []).map((v, j) => resolveArtifact(v, ["images", i, "artifacts", "initrd", j]))),
      ...others,
    });
    const key = `${img.name} (${img.arch})`;
    const desired = defined({ version: img.version, artifacts });
    const current = images.find((r) => r.name === img.name && r.arch === img.arch);
    if (!current) {
      changes.push({ op: "create", kind: "image", key, method: "POST", path: "/v1/images", body: { name: img.name, arch: img.arch, ...desired }, fields: changedFields(desired, {}), at: where(["images", i], img) });
    } else {
      const fields = changedFields(desired, current);
      if (fields.length) changes.push({ op: "update", kind: "image", key, method: "PATCH", path: `/v1/images/${enc(img.name)}?arch=${enc(img.arch)}`, body: pick(desired, fields), fields, etag: etag(current), before: current, at: where(["images", i], img) });
    }
  }

  // Profiles: a menu may name profiles this file creates, so new profiles are created without their menu first.
  const menus: Change[] = [];
  for (const [i, p] of file.profiles.entries()) {
    const { name, ...rest } = p;
    const desired = defined(rest as Row);
    const current = profiles.find((r) => r.name === name);
    const path = `/v1/profiles/${enc(name)}`;
    if (!current) {
      const { menu, ...first } = desired;
      changes.push({ op: "create", kind: "profile", key: name, method: "POST", path: "/v1/profiles", body: { name, ...first }, fields: changedFields(desired, {}), at: where(["profiles", i], p) });
      if (menu) menus.push({ op: "update", kind: "profile", key: name, method: "PATCH", path, body: { menu }, fields: [], etag: null, before: null, followUp: true, at: where(["profiles", i, "menu"]) });
    } else {
      const fields = changedFields(desired, current);
      if (fields.length) changes.push({ op: "update", kind: "profile", key: name, method: "PATCH", path, body: pick(desired, fields), fields, etag: etag(current), before: current, at: where(["profiles", i], p) });
    }
  }
  changes.push(...menus);

  // The site, then its own secrets, then what may name them: a site's vendor-data may only use secrets that exist
  // (the API checks at save), so vendor-data and site updates come after the site's secrets.
  const { slug: _, ...siteSettings } = file.site;
  const desiredSite = defined(siteSettings as Row);
  const afterSiteSecrets: Change[] = [];
  if (!currentSite) {
    const { vendorData, ...first } = desiredSite;
    const namesSecrets = typeof vendorData === "string" && /\{\{[^}]*\bsecret\./.test(vendorData);
    changes.push({ op: "create", kind: "site", key: slug, method: "POST", path: "/v1/sites", body: { slug, ...(namesSecrets ? first : desiredSite) }, fields: changedFields(desiredSite, {}), at: where(["site"], file.site) });
    if (namesSecrets) afterSiteSecrets.push({ op: "update", kind: "site", key: slug, method: "PATCH", path: sitePath, body: { vendorData }, fields: [], etag: null, before: null, followUp: true, at: where(["site", "vendorData"]) });
  } else {
    const fields = changedFields(desiredSite, currentSite);
    if (fields.length) afterSiteSecrets.push({ op: "update", kind: "site", key: slug, method: "PATCH", path: sitePath, body: pick(desiredSite, fields), fields, etag: etag(currentSite), before: currentSite, at: where(["site"], file.site) });
  }

  // Secrets: values are never readable, so an existing secret is rewritten only with --rotate-secrets.
  const fileHostRef = (ref: string) => {
    const h = file.hosts.find((x) => x.hostname === ref.toLowerCase() || x.mac === ref.toLowerCase().replace(/-/g, ":"));
    return h ? hostKey(h) : ref;
  };
  const wanted = new Set<string>();
  const secretChanges = (level: "site" | "host"): Change[] => {
    const out: Change[] = [];
    for (const [i, s] of file.secrets.entries()) {
      if ((s.host === undefined) !== (level === "site")) continue;
      const host = s.host === undefined ? null : fileHostRef(s.host);
      const exists = secrets.some((r) => r.name === s.name && (r.host ?? null) === host);
      wanted.add(`${host ?? ""}/${s.name}`);
      if (exists && !opts.rotateSecrets) continue;
      const q = new URLSearchParams({ site: slug, ...(host ? { host } : {}) });
      const field = s.fromEnv ? "fromEnv" : "fromFile";
      out.push({
        op: "secret",
        kind: "secret",
        key: host ? `${s.name} (host ${host})` : s.name,
        method: "PUT",
        path: `/v1/secrets/${enc(s.name)}?${q}`,
        ref: defined({ fromEnv: s.fromEnv, fromFile: s.fromFile === undefined ? undefined : resolvePath(baseDir, s.fromFile), line: loaded.lineOf(["secrets", i, field]), field: `secrets[${i}].${field}` }) as SecretRef,
        exists,
      });
    }
    return out;
  };
  changes.push(...secretChanges("site"), ...afterSiteSecrets);

  // Hosts are matched by hostname, then by MAC: a discovered machine (MAC only) is named by the file's entry.
  const matched = new Set<string>();
  const findHost = (h: SiteFileHost) => (h.hostname ? hosts.find((r) => r.hostname === h.hostname) : undefined) ?? (h.mac ? hosts.find((r) => r.mac === h.mac) : undefined);
  for (const [i, h] of file.hosts.entries()) {
    const desired = defined(h as Row);
    const current = findHost(h);
    if (!current) {
      changes.push({ op: "create", kind: "host", key: hostKey(h), method: "POST", path: `${sitePath}/hosts`, body: desired, fields: changedFields(desired, {}), at: where(["hosts", i], h) });
      continue;
    }
    matched.add(current.id);
    const fields = changedFields(desired, current);
    if (fields.length) {
      changes.push({ op: "update", kind: "host", key: hostKey(h), method: "PATCH", path: `${sitePath}/hosts/${enc(hostKey(current))}`, body: pick(desired, fields), fields, etag: etag(current), before: current, at: where(["hosts", i], h) });
    }
  }

  changes.push(...secretChanges("host"));
  changes.push(...ruleChanges(file.rules, rules, `${sitePath}/rules`, opts.prune ?? false, (i) => where(["rules", i], file.rules[i])));

  if (opts.prune) {
    for (const r of secrets) {
      if (wanted.has(`${r.host ?? ""}/${r.name}`)) continue;
      const q = new URLSearchParams({ site: slug, ...(r.host ? { host: r.host } : {}) });
      changes.push({ op: "delete", kind: "secret", key: r.host ? `${r.name} (host ${r.host})` : r.name, method: "DELETE", path: `/v1/secrets/${enc(r.name)}?${q}`, etag: null, before: r });
    }
    for (const r of hosts) {
      if (matched.has(r.id)) continue;
      changes.push({ op: "delete", kind: "host", key: hostKey(r), method: "DELETE", path: `${sitePath}/hosts/${enc(hostKey(r))}`, etag: etag(r), before: r });
    }
  }
  return { file: loaded.path, site: slug, changes };
}

// Assignment rules, after the profiles they name and the site: pruned ones first, then replacements, then creates,
// so a selector moving from one rule to another is not refused as a tie with a rule about to change. A replacement is
// a whole rule (PUT): a description the file leaves out is kept as it is.
function ruleChanges(wanted: SiteFileRule[], current: Row[], path: string, prune: boolean, where: (i: number) => Where): Change[] {
  const deletes: Change[] = [];
  const updates: Change[] = [];
  const creates: Change[] = [];
  if (prune) {
    for (const r of current) if (!wanted.some((w) => w.name === r.name)) deletes.push({ op: "delete", kind: "rule", key: r.name, method: "DELETE", path: `${path}/${enc(r.name)}`, etag: etag(r), before: r });
  }
  for (const [i, w] of wanted.entries()) {
    const desired = defined({ profile: w.profile, selector: w.selector, description: w.description });
    const r = current.find((c) => c.name === w.name);
    if (!r) {
      creates.push({ op: "create", kind: "rule", key: w.name, method: "POST", path, body: { name: w.name, ...desired }, fields: changedFields(desired, {}), at: where(i) });
      continue;
    }
    const fields = changedFields(desired, r);
    if (fields.length) {
      const body = { profile: w.profile, selector: w.selector, description: w.description === undefined ? r.description : w.description };
      updates.push({ op: "update", kind: "rule", key: w.name, method: "PUT", path: `${path}/${enc(w.name)}`, body, fields, etag: etag(r), before: r, at: where(i) });
    }
  }
  return [...deletes, ...updates, ...creates];
}

const pick = (o: Row, fields: FieldChange[]) => Object.fromEntries(fields.map((f) => [f.field, o[f.field]]));
