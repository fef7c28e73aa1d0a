-- Profile assignment rules per site (worker/assign/README.md): a selector (labels, arch, MAC prefix, UUID and serial
-- patterns) and the profile a matching machine boots when it has no profile of its own. The chain reads a site's
-- rules by (site_id, name) in its one statement; names are unique per site.
CREATE TABLE `assignment_rules` (
	`id` text PRIMARY KEY NOT NULL,
	`site_id` text NOT NULL,
	`name` text NOT NULL,
	`description` text,
	`profile_id` text NOT NULL,
	`selector` text DEFAULT '{}' NOT NULL,
	`revision` integer DEFAULT 1 NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL,
	`updated_at` integer DEFAULT (cast(unixepoch('subsecond') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`site_id`) REFERENCES `sites`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `assignment_rules_site_name` ON `assignment_rules` (`site_id`,`name`);--> statement-breakpoint
CREATE INDEX `assignment_rules_profile` ON `assignment_rules` (`profile_id`);
