import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { IPXE_BUILDS } from "../shared/ipxeBuild.ts";

// Timestamps are unix milliseconds; JSON columns hold zod-validated objects.
const now = sql`(cast(unixepoch('subsecond') * 1000 as integer))`;
const createdAt = () => integer("created_at", { mode: "number" }).notNull().default(now);
const updatedAt = () => integer("updated_at", { mode: "number" }).notNull().default(now);
// Optimistic concurrency: bumped on every update, exposed as the ETag.
const revision = () => integer("revision", { mode: "number" }).notNull().default(1);
const jsonObject = (name: string) => text(name, { mode: "json" }).$type<Record<string, unknown>>().notNull().default(sql`'{}'`);

export const sites = sqliteTable("sites", {
  id: text("id").primaryKey(),
  slug: text("slug").notNull().unique(),
  name: text("name").notNull(),
  // relay: relay credential or relay-signed token; key: static boot key; open: labs only.
  bootAuth: text("boot_auth", { enum: ["relay", "key", "open"] }).notNull().default("relay"),
  bootKeyHash: text("boot_key_hash"),
  unknownHostPolicy: text("unknown_host_policy", { enum: ["discover", "default", "deny"] }).notNull().default("discover"),
  defaultProfileId: text("default_profile_id"),
  discoverRetrySeconds: integer("discover_retry_seconds").notNull().default(30),
  hostTokenTtlSeconds: integer("host_token_ttl_seconds").notNull().default(3600),
  // Relays may hand HTTPS-capable iPXE a direct URL to the API.
  allowDirect: integer("allow_direct", { mode: "boolean" }).notNull().default(false),
  // How secret-bearing files (user-data, vendor-data, per-host files) reach a boot (worker/boot/README.md,
  // "Threat model"): once per boot session, only through the issuing relay for the address it saw, or open (labs).
  secretDelivery: text("secret_delivery", { enum: ["once", "bound", "open"] }).notNull().default("once"),
  vars: jsonObject("vars"),
  vendorData: text("vendor_data"),
  // Named per-host config files (worker/render/files.ts); a profile's file of the same name wins.
  files: text("files", { mode: "json" }).$type<ConfigFiles>().notNull().default(sql`'{}'`),
  // Events older than this are deleted by the hourly retention job (worker/retention.ts), each host's last boot kept.
  eventRetentionDays: integer("event_retention_days").notNull().default(30),
  revision: revision(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

export const relays = sqliteTable(
  "relays",
  {
    id: text("id").primaryKey(),
    siteId: text("site_id").notNull().references(() => sites.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    credentialHash: text("credential_hash").notNull().unique(),
    // Registered by the relay: its Ed25519 public JWK for direct-mode tokens.
    publicKeyJwk: text("public_key_jwk", { mode: "json" }).$type<JsonWebKey>(),
    lanAddress: text("lan_address"),
    cacheUrl: text("cache_url"),
    softwareVersion: text("software_version"),
    lastSeenAt: integer("last_seen_at"),
    revokedAt: integer("revoked_at"),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("relays_site_name").on(t.siteId, t.name)],
);

export type BootIntent = {
  // A profile name, or "local" to boot the local disk.
  target: string;
  mode: "once" | "always";
  // A one-shot intent reverts when the host reports this phase.
  revertOnPhase?: string;
};

export type StaticNetwork = {
  // The NIC's name (renamed to it when the host's MAC is known), or the bond's name.
  interface?: string;
  addresses: string[];
  gateway4?: string;
  gateway6?: string;
  nameservers?: string[];
  searchDomains?: string[];
  // Optional bond of NICs (by MAC) and VLAN on top of the NIC or bond; addresses go on the topmost.
  bond?: { name?: string; interfaces: string[]; mode: "active-backup" | "802.3ad" | "balance-rr" | "balance-xor" | "balance-tlb" | "balance-alb" | "broadcast" };
  vlan?: number;
  mtu?: number;
};

export const hosts = sqliteTable(
  "hosts",
  {
    id: text("id").primaryKey(),
    siteId: text("site_id").notNull().references(() => sites.id, { onDelete: "cascade" }),
    hostname: text("hostname"),
    // Normalised lower-case colon notation (aa:bb:cc:dd:ee:ff).
    mac: text("mac"),
    uuid: text("uuid"),
    serial: text("serial"),
    arch: text("arch"),
    // The iPXE build the relay hands this host's firmware (worker/shared/ipxeBuild.ts); null = the relay's default.
    ipxeBuild: text("ipxe_build", { enum: IPXE_BUILDS }),
    labels: jsonObject("labels").$type<Record<string, string>>(),
    vars: jsonObject("vars"),
    profileId: text("profile_id"),
    intent: text("intent", { mode: "json" }).$type<BootIntent>(),
    network: text("network", { mode: "json" }).$type<StaticNetwork>(),
    ipv4: text("ipv4"),
    state: text("state", { enum: ["discovered", "ready", "booting", "booted", "installing", "installed", "failed"] })
      .notNull()
      .default("ready"),
    lastSeenAt: integer("last_seen_at"),
    lastIdentity: text("last_identity", { mode: "json" }).$type<Record<string, string>>(),
    revision: revision(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex("hosts_site_mac").on(t.siteId, t.mac),
    uniqueIndex("hosts_site_hostname").on(t.siteId, t.hostname),
    index("hosts_site_uuid").on(t.siteId, t.uuid),
    index("hosts_site_serial").on(t.siteId, t.serial),
    index("hosts_hostname").on(t.hostname),
    // The admin list's order (worker/admin/hosts.ts), whole and by state: a page reads ~limit rows at any fleet size.
    index("hosts_site_listing").on(t.siteId, sql`coalesce(${t.hostname}, '')`, t.id),
    index("hosts_site_state_listing").on(t.siteId, t.state, sql`coalesce(${t.hostname}, '')`, t.id),
  ],
);

export type ConfigFileKind = "ignition" | "talos" | "preseed" | "autoinstall" | "text";
export type ConfigFiles = Record<string, { kind: ConfigFileKind; template: string }>;

export type IpxeMenu = {
  title?: string;
  timeoutMs?: number;
  defaultItem?: string;
  // Each item boots a profile by name, or "local".
  items: { key?: string; label: string; target: string }[];
};

export const profiles = sqliteTable("profiles", {
  id: text("id").primaryKey(),
  name: text("name").notNull().unique(),
  description: text("description"),
  // Image name; the image row is chosen by the host's architecture at render time.
  image: text("image"),
  cmdline: text("cmdline").notNull().default(""),
  menu: text("menu", { mode: "json" }).$type<IpxeMenu>(),
  userData: text("user_data"),
  vendorData: text("vendor_data"),
  networkConfig: text("network_config"),
  vars: jsonObject("vars"),
  // Named per-host config files (worker/render/files.ts), served at /boot/h/<token>/files/<name>.
  files: text("files", { mode: "json" }).$type<ConfigFiles>().notNull().default(sql`'{}'`),
  // false: the kernel line carries no ds=nocloud… (installers that read a file of their own, worker/render/kernelArgs.ts).
  nocloud: integer("nocloud", { mode: "boolean" }).notNull().default(true),
  revision: revision(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

// What an assignment rule matches (worker/assign/README.md); every field present must hold.
export type RuleSelector = {
  labels?: Record<string, string>;
  arch?: string;
  // Whole octets, lower-case colon notation ("52:54:00").
  macPrefix?: string;
  // Glob patterns: `*` matches any run of characters; everything else is literal. UUIDs lower-case.
  uuid?: string;
  serial?: string;
};

// Profile assignment rules: a machine with no profile of its own boots the profile of the most specific rule it
// matches, before the site's unknown-host policy (worker/assign/README.md).
export const assignmentRules = sqliteTable(
  "assignment_rules",
  {
    id: text("id").primaryKey(),
    siteId: text("site_id").notNull().references(() => sites.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    description: text("description"),
    profileId: text("profile_id").notNull(),
    selector: text("selector", { mode: "json" }).$type<RuleSelector>().notNull().default(sql`'{}'`),
    revision: revision(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  // site_name: the chain's read of a site's rules and the name lookups; profile: the profile delete guard.
  (t) => [uniqueIndex("assignment_rules_site_name").on(t.siteId, t.name), index("assignment_rules_profile").on(t.profileId)],
);

export type ImageArtifacts = {
  kernel: string;
  initrd: string[];
  rootfs?: string;
  modloop?: string;
  [role: string]: string | string[] | undefined;
};

export const images = sqliteTable(
  "images",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    // x86_64 | arm64 | i386 …, as iPXE's ${buildarch} reports it.
    arch: text("arch").notNull(),
    version: text("version").notNull().default(""),
    artifacts: text("artifacts", { mode: "json" }).$type<ImageArtifacts>().notNull(),
    revision: revision(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex("images_name_arch").on(t.name, t.arch)],
);

// One row: a random token that triggers (migration 0001) replace on every change to profiles or images. The chain
// path reads it in its one batch and reuses profiles it resolved under the same token (worker/boot/catalogueCache.ts).
export const catalogueVersion = sqliteTable("catalogue_version", {
  id: integer("id").primaryKey(),
  token: text("token").notNull(),
});

export const artifacts = sqliteTable("artifacts", {
  sha256: text("sha256").primaryKey(),
  size: integer("size").notNull(),
  contentType: text("content_type").notNull().default("application/octet-stream"),
  // pending while a multipart upload is open; only ready artifacts are served.
  state: text("state", { enum: ["pending", "ready"] }).notNull().default("ready"),
  uploadId: text("upload_id"),
  createdAt: createdAt(),
});

export const secrets = sqliteTable(
  "secrets",
  {
    id: text("id").primaryKey(),
    siteId: text("site_id").references(() => sites.id, { onDelete: "cascade" }),
    hostId: text("host_id").references(() => hosts.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    // AES-GCM: base64 iv + ciphertext; never returned by a read.
    iv: text("iv").notNull(),
    ciphertext: text("ciphertext").notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  // secrets_host: a host's own secrets (NoCloud render, the delete cascade) without scanning every host's.
  (t) => [uniqueIndex("secrets_scope_name").on(t.siteId, t.hostId, t.name), index("secrets_host").on(t.hostId)],
);

export const apiTokens = sqliteTable("api_tokens", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  // SHA-256 of the token; the token itself is shown once.
  tokenHash: text("token_hash").notNull().unique(),
  scopes: text("scopes", { mode: "json" }).$type<string[]>().notNull(),
  expiresAt: integer("expires_at"),
  revokedAt: integer("revoked_at"),
  lastUsedAt: integer("last_used_at"),
  createdBy: text("created_by").notNull(),
  createdAt: createdAt(),
});

export const events = sqliteTable(
  "events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    siteId: text("site_id").notNull().references(() => sites.id, { onDelete: "cascade" }),
    hostId: text("host_id"),
    mac: text("mac"),
    // worker | relay | host
    source: text("source").notNull(),
    phase: text("phase").notNull(),
    bootSession: text("boot_session"),
    detail: jsonObject("detail"),
    // Sender-chosen id (relay event queue): a resend after a lost response is not stored twice.
    externalId: text("external_id"),
    at: integer("at").notNull().default(now),
  },
  (t) => [
    index("events_site_at").on(t.siteId, t.at),
    index("events_host_at").on(t.hostId, t.at),
    uniqueIndex("events_site_external").on(t.siteId, t.externalId),
  ],
);

export const relayCommands = sqliteTable(
  "relay_commands",
  {
    id: text("id").primaryKey(),
    siteId: text("site_id").notNull().references(() => sites.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: ["wake"] }).notNull(),
    payload: jsonObject("payload"),
    createdAt: createdAt(),
    deliveredAt: integer("delivered_at"),
  },
  (t) => [index("relay_commands_site").on(t.siteId, t.deliveredAt)],
);

export const auditLog = sqliteTable(
  "audit_log",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    at: integer("at").notNull().default(now),
    actor: text("actor").notNull(),
    action: text("action").notNull(),
    resource: text("resource").notNull(),
    resourceId: text("resource_id"),
    siteId: text("site_id"),
    detail: jsonObject("detail"),
  },
  (t) => [index("audit_at").on(t.at)],
);

export type SecretDelivery = "once" | "bound" | "open";
export type BootSessionEntry = { profileId: string; imageId: string };

// One row per chain render that hands out host tokens (migration 0002). The token carries only `id` and its expiry.
export const bootSessions = sqliteTable(
  "boot_sessions",
  {
    id: text("id").primaryKey(),
    siteId: text("site_id").notNull().references(() => sites.id, { onDelete: "cascade" }),
    hostId: text("host_id").notNull(),
    mac: text("mac"),
    // The address the relay saw on the chain fetch (Edgeboot-Client-Address), or the caller's own.
    clientAddress: text("client_address"),
    relayId: text("relay_id"),
    // The profile and image of each boot entry the chain offers (one, or one per menu item); a token names its index.
    entries: text("entries", { mode: "json" }).$type<BootSessionEntry[]>().notNull().default(sql`'[]'`),
    // Where this boot's seed and events URLs live: null = the API's /boot, else the issuing relay's LAN base.
    hostRoot: text("host_root"),
    delivery: text("delivery", { enum: ["once", "bound", "open"] }).notNull(),
    state: text("state", { enum: ["active", "done", "superseded"] }).notNull().default("active"),
    // Secret-bearing files served: name → first time (ms).
    served: text("served", { mode: "json" }).$type<Record<string, number>>().notNull().default(sql`'{}'`),
    issuedAt: integer("issued_at").notNull(),
    // Secret-bearing files are readable until then (sites.host_token_ttl_seconds after the chain).
    secretUntil: integer("secret_until").notNull(),
    expiresAt: integer("expires_at").notNull(),
    lastUsedAt: integer("last_used_at"),
    endedAt: integer("ended_at"),
  },
  (t) => [
    index("boot_sessions_host_state").on(t.hostId, t.state),
    index("boot_sessions_site_issued").on(t.siteId, t.issuedAt),
    index("boot_sessions_expires").on(t.expiresAt),
  ],
);
