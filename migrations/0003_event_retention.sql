-- Per-site event retention (worker/retention.ts, run by the cron trigger in wrangler.toml): events older than this
-- many days are deleted, except each host's last boot timeline.
ALTER TABLE `sites` ADD `event_retention_days` integer DEFAULT 30 NOT NULL;
--> statement-breakpoint
-- The admin host list pages by (coalesce(hostname, ''), id) within a site, optionally by state: with these a page
-- reads about `limit` rows however big the site, instead of sorting all of its hosts (20,003 rows per page at 10k).
CREATE INDEX `hosts_site_listing` ON `hosts` (`site_id`, coalesce(`hostname`, ''), `id`);--> statement-breakpoint
CREATE INDEX `hosts_site_state_listing` ON `hosts` (`site_id`, `state`, coalesce(`hostname`, ''), `id`);
--> statement-breakpoint
-- A host's own secrets (NoCloud render, and the cascade when a host is deleted) by host, not a scan of every secret.
CREATE INDEX `secrets_host` ON `secrets` (`host_id`);
