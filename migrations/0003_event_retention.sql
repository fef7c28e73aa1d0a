-- Per-site event retention (worker/retention.ts, run by the cron trigger in wrangler.toml): events older than this
-- many days are deleted, except each host's last boot timeline.
ALTER TABLE `sites` ADD `event_retention_days` integer DEFAULT 30 NOT NULL;
