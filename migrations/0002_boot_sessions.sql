-- Boot sessions: one row per chain render that hands out host tokens (worker/boot/README.md, "Boot sessions").
-- A host token carries only the session id and its expiry; everything it may read follows from this row.
ALTER TABLE `sites` ADD `secret_delivery` text DEFAULT 'once' NOT NULL;--> statement-breakpoint
CREATE TABLE `boot_sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`site_id` text NOT NULL,
	`host_id` text NOT NULL,
	`mac` text,
	`client_address` text,
	`relay_id` text,
	`entries` text DEFAULT '[]' NOT NULL,
	`host_root` text,
	`delivery` text NOT NULL,
	`state` text DEFAULT 'active' NOT NULL,
	`served` text DEFAULT '{}' NOT NULL,
	`issued_at` integer NOT NULL,
	`secret_until` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`last_used_at` integer,
	`ended_at` integer,
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `boot_sessions_host_state` ON `boot_sessions` (`host_id`,`state`);--> statement-breakpoint
CREATE INDEX `boot_sessions_site_issued` ON `boot_sessions` (`site_id`,`issued_at`);--> statement-breakpoint
CREATE INDEX `boot_sessions_expires` ON `boot_sessions` (`expires_at`);
