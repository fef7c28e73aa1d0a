CREATE TABLE `api_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`token_hash` text NOT NULL,
	`scopes` text NOT NULL,
	`expires_at` integer,
	`revoked_at` integer,
	`last_used_at` integer,
	`created_by` text NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_tokens_token_hash_unique` ON `api_tokens` (`token_hash`);--> statement-breakpoint
CREATE TABLE `artifacts` (
	`sha256` text PRIMARY KEY NOT NULL,
	`size` integer NOT NULL,
	`content_type` text DEFAULT 'application/octet-stream' NOT NULL,
	`state` text DEFAULT 'ready' NOT NULL,
	`upload_id` text,
	`created_at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `audit_log` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL,
	`actor` text NOT NULL,
	`action` text NOT NULL,
	`resource` text NOT NULL,
	`resource_id` text,
	`site_id` text,
	`detail` text DEFAULT '{}' NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audit_at` ON `audit_log` (`at`);--> statement-breakpoint
CREATE TABLE `events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`site_id` text NOT NULL,
	`host_id` text,
	`mac` text,
	`source` text NOT NULL,
	`phase` text NOT NULL,
	`boot_session` text,
	`detail` text DEFAULT '{}' NOT NULL,
	`external_id` text,
	`at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `events_site_at` ON `events` (`site_id`,`at`);--> statement-breakpoint
CREATE INDEX `events_host_at` ON `events` (`host_id`,`at`);--> statement-breakpoint
CREATE UNIQUE INDEX `events_site_external` ON `events` (`site_id`,`external_id`);--> statement-breakpoint
CREATE TABLE `hosts` (
	`id` text PRIMARY KEY NOT NULL,
	`site_id` text NOT NULL,
	`hostname` text,
	`mac` text,
	`uuid` text,
	`serial` text,
	`arch` text,
	`labels` text DEFAULT '{}' NOT NULL,
	`vars` text DEFAULT '{}' NOT NULL,
	`profile_id` text,
	`intent` text,
	`network` text,
	`ipv4` text,
	`state` text DEFAULT 'ready' NOT NULL,
	`last_seen_at` integer,
	`last_identity` text,
	`revision` integer DEFAULT 1 NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL,
	`updated_at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `hosts_site_mac` ON `hosts` (`site_id`,`mac`);--> statement-breakpoint
CREATE UNIQUE INDEX `hosts_site_hostname` ON `hosts` (`site_id`,`hostname`);--> statement-breakpoint
CREATE INDEX `hosts_site_uuid` ON `hosts` (`site_id`,`uuid`);--> statement-breakpoint
CREATE INDEX `hosts_site_serial` ON `hosts` (`site_id`,`serial`);--> statement-breakpoint
CREATE INDEX `hosts_hostname` ON `hosts` (`hostname`);--> statement-breakpoint
CREATE TABLE `images` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`arch` text NOT NULL,
	`version` text DEFAULT '' NOT NULL,
	`artifacts` text NOT NULL,
	`revision` integer DEFAULT 1 NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL,
	`updated_at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `images_name_arch` ON `images` (`name`,`arch`);--> statement-breakpoint
CREATE TABLE `profiles` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`description` text,
	`image` text,
	`cmdline` text DEFAULT '' NOT NULL,
	`menu` text,
	`user_data` text,
	`vendor_data` text,
	`network_config` text,
	`vars` text DEFAULT '{}' NOT NULL,
	`revision` integer DEFAULT 1 NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL,
	`updated_at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `profiles_name_unique` ON `profiles` (`name`);--> statement-breakpoint
CREATE TABLE `relay_commands` (
	`id` text PRIMARY KEY NOT NULL,
	`site_id` text NOT NULL,
	`kind` text NOT NULL,
	`payload` text DEFAULT '{}' NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL,
	`delivered_at` integer,
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `relay_commands_site` ON `relay_commands` (`site_id`,`delivered_at`);--> statement-breakpoint
CREATE TABLE `relays` (
	`id` text PRIMARY KEY NOT NULL,
	`site_id` text NOT NULL,
	`name` text NOT NULL,
	`credential_hash` text NOT NULL,
	`public_key_jwk` text,
	`lan_address` text,
	`cache_url` text,
	`software_version` text,
	`last_seen_at` integer,
	`revoked_at` integer,
	`created_at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `relays_credential_hash_unique` ON `relays` (`credential_hash`);--> statement-breakpoint
CREATE UNIQUE INDEX `relays_site_name` ON `relays` (`site_id`,`name`);--> statement-breakpoint
CREATE TABLE `secrets` (
	`id` text PRIMARY KEY NOT NULL,
	`site_id` text,
	`host_id` text,
	`name` text NOT NULL,
	`iv` text NOT NULL,
	`ciphertext` text NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL,
	`updated_at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`host_id`) REFERENCES `hosts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `secrets_scope_name` ON `secrets` (`site_id`,`host_id`,`name`);--> statement-breakpoint
CREATE TABLE `sites` (
	`id` text PRIMARY KEY NOT NULL,
	`slug` text NOT NULL,
	`name` text NOT NULL,
	`boot_auth` text DEFAULT 'relay' NOT NULL,
	`boot_key_hash` text,
	`unknown_host_policy` text DEFAULT 'discover' NOT NULL,
	`default_profile_id` text,
	`discover_retry_seconds` integer DEFAULT 30 NOT NULL,
	`host_token_ttl_seconds` integer DEFAULT 3600 NOT NULL,
	`allow_direct` integer DEFAULT false NOT NULL,
	`vars` text DEFAULT '{}' NOT NULL,
	`vendor_data` text,
	`revision` integer DEFAULT 1 NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL,
	`updated_at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `sites_slug_unique` ON `sites` (`slug`);