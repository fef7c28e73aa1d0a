// The site file: one YAML document describing a site, the profiles and images it boots, its hosts, assignment rules and secret
// references. Field schemas come from the admin API (worker/admin/schemas.ts, hostFields.ts), so the file accepts
// and normalises exactly what the API does (MACs, UUIDs, hostname case).
import { z } from "zod";
import { Arch, CatalogueName, Hostname, Labels, Mac, SecretName, Serial, Slug, Uuid, Vars } from "../../admin/schemas.ts";
import { Intent, IpxeBuildField, Network } from "../../admin/hostFields.ts";
import { ROLE_NAME } from "../../artifacts/roles.ts";
import { FILE_KINDS, FILE_NAME } from "../../render/files.ts";
import { RuleName, Selector } from "../../admin/ruleFields.ts";
import { canTie } from "../../assign/conflicts.ts";

export const API_VERSION = "edgeboot/v1";

// An artifact is an uploaded SHA-256, or a local file (relative to the site file) that apply hashes and uploads.
const Artifact = z.string().min(1).describe("sha256 of an uploaded artifact, or a path to a local file (relative to this file) to upload");
const isSha = (v: string) => /^[0-9a-f]{64}$/.test(v);

const Image = z.strictObject({
  name: CatalogueName,
  arch: Arch.default("x86_64"),
  version: z.string().max(128).optional(),
  artifacts: z
    .object({
      kernel: Artifact,
      initrd: z.array(Artifact).max(16).optional(),
      store: Artifact.optional().describe("NixOS: a cpio holding /nix-store.squashfs, loaded after the initrds"),
      rootfs: Artifact.optional().describe("a root filesystem the OS fetches ({{ boot.artifacts.rootfs }})"),
      modloop: Artifact.optional().describe("Alpine: kernel modules squashfs ({{ boot.artifacts.modloop }})"),
      apkovl: Artifact.optional().describe("Alpine: overlay tarball ({{ boot.artifacts.apkovl }})"),
    })
    .catchall(Artifact)
    .refine((a) => Object.keys(a).every((k) => ROLE_NAME.test(k)), "artifact roles are 1-32 of a-z, 0-9, '_' or '-'")
    .describe("artifacts by role (worker/artifacts/README.md); any other role name is one artifact the OS fetches"),
});

const MenuItem = z.strictObject({ key: z.string().regex(/^[a-z0-9]$/).optional(), label: z.string().min(1).max(80), target: z.union([CatalogueName, z.literal("local")]) });
const Profile = z.strictObject({
  name: CatalogueName,
  description: z.string().max(1024).nullable().optional(),
  image: CatalogueName.nullable().optional(),
  cmdline: z.string().max(4096).optional(),
  menu: z
    .strictObject({ title: z.string().max(80).optional(), timeoutMs: z.number().int().min(0).optional(), defaultItem: z.string().optional(), items: z.array(MenuItem).min(1).max(32) })
    .nullable()
    .optional(),
  userData: z.string().nullable().optional(),
  vendorData: z.string().nullable().optional(),
  networkConfig: z.string().nullable().optional(),
  vars: Vars.optional(),
  files: z
    .record(z.string().regex(FILE_NAME), z.strictObject({ kind: z.enum(FILE_KINDS), template: z.string() }))
    .optional()
    .describe("per-host config files served at /boot/h/<token>/files/<name> (ignition, talos, preseed, autoinstall, text)"),
  nocloud: z.boolean().optional().describe("false: no ds=nocloud… on the kernel line"),
});

const Host = z
  .strictObject({
    hostname: Hostname.optional(),
    mac: Mac.optional(),
    uuid: Uuid.nullable().optional(),
    serial: Serial.nullable().optional(),
    arch: Arch.nullable().optional(),
    ipxeBuild: IpxeBuildField.nullable().optional().describe("iPXE build the relay hands this host's UEFI firmware: ipxe | snponly (null: the relay's default)"),
    ipv4: z.ipv4().nullable().optional(),
    labels: Labels.optional(),
    vars: Vars.optional(),
    profile: CatalogueName.nullable().optional(),
    intent: Intent.nullable().optional(),
    network: Network.nullable().optional(),
  })
  .refine((h) => Boolean(h.hostname || h.mac), { message: "a host needs a hostname or a mac", path: ["hostname"] });

// A profile assignment rule of the site (worker/assign/README.md); ties are refused here before the API would.
const Rule = z.strictObject({
  name: RuleName,
  profile: CatalogueName,
  selector: Selector,
  description: z.string().max(1024).nullable().optional(),
});

// A reference, never a value: the value comes from the environment or a file when apply writes the secret.
const Secret = z
  .strictObject({
    name: SecretName,
    host: z.string().min(1).optional().describe("hostname or MAC of one of this file's hosts; absent = a site secret"),
    fromEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name").optional(),
    fromFile: z.string().min(1).optional().describe("path relative to this file; one trailing newline is dropped"),
  })
  .refine((s) => (s.fromEnv === undefined) !== (s.fromFile === undefined), { message: "a secret takes exactly one of fromEnv or fromFile (values never go in the site file)", path: ["fromEnv"] });

const Site = z.strictObject({
  slug: Slug,
  name: z.string().min(1).max(128),
  bootAuth: z.enum(["relay", "key", "open"]).optional(),
  unknownHostPolicy: z.enum(["discover", "default", "deny"]).optional(),
  defaultProfile: CatalogueName.nullable().optional(),
  discoverRetrySeconds: z.number().int().min(5).max(3600).optional(),
  hostTokenTtlSeconds: z.number().int().min(60).max(7 * 86400).optional(),
  allowDirect: z.boolean().optional(),
  secretDelivery: z.enum(["once", "bound", "open"]).optional().describe("how secret-bearing files are delivered per boot session (worker/boot/README.md)"),
  eventRetentionDays: z.number().int().min(1).max(3650).optional(),
  vars: Vars.optional(),
  vendorData: z.string().nullable().optional(),
});

export const SiteFile = z
  .strictObject({
    apiVersion: z.literal(API_VERSION),
    site: Site,
    images: z.array(Image).default([]),
    profiles: z.array(Profile).default([]),
    hosts: z.array(Host).default([]),
    rules: z.array(Rule).max(100).default([]),
    secrets: z.array(Secret).default([]),
  })
  .superRefine((f, ctx) => {
    const dup = <T>(list: T[], key: (t: T) => string | undefined, path: string, field: string) => {
      const seen = new Set<string>();
      list.forEach((item, i) => {
        const k = key(item);
        if (k === undefined) return;
        if (seen.has(k)) ctx.addIssue({ code: "custom", message: `${k} appears twice`, path: [path, i, field] });
        seen.add(k);
      });
    };
    dup(f.images, (i) => `${i.name} (${i.arch})`, "images", "name");
    dup(f.profiles, (p) => p.name, "profiles", "name");
    dup(f.hosts, (h) => h.hostname, "hosts", "hostname");
    dup(f.hosts, (h) => h.mac, "hosts", "mac");
    dup(f.secrets, (s) => `${s.host ?? ""}/${s.name}`, "secrets", "name");
    dup(f.rules, (r) => r.name, "rules", "name");
    f.rules.forEach((r, i) => {
      const tie = f.rules.find((o, j) => j < i && canTie(o.selector, r.selector));
      if (tie) ctx.addIssue({ code: "custom", message: `ties with rule ${tie.name}: equal specificity and a machine could match both (worker/assign/README.md)`, path: ["rules", i, "selector"] });
    });
    f.secrets.forEach((s, i) => {
      const ref = s.host?.toLowerCase();
      if (ref !== undefined && !f.hosts.some((h) => h.hostname === ref || h.mac === ref.replace(/-/g, ":"))) {
        ctx.addIssue({ code: "custom", message: `host "${s.host}" is not one of this file's hosts`, path: ["secrets", i, "host"] });
      }
    });
  });

export type SiteFile = z.output<typeof SiteFile>;
export type SiteFileImage = SiteFile["images"][number];
export type SiteFileProfile = SiteFile["profiles"][number];
export type SiteFileHost = SiteFile["hosts"][number];
export type SiteFileSecret = SiteFile["secrets"][number];
export type SiteFileRule = SiteFile["rules"][number];
export { isSha };

// Published for editors (yaml-language-server: `# yaml-language-server: $schema=…/site.schema.json`).
export function siteFileJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(SiteFile, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  return { ...schema, title: "edgeboot site file" };
}
