-- Named per-host config files (Ignition, Talos, preseed, autoinstall, text) on profiles and sites, served at
-- /boot/h/<token>/files/<name> (worker/boot/files.ts); and a profile flag that leaves ds=nocloud… off the kernel line.
ALTER TABLE `profiles` ADD `files` text DEFAULT '{}' NOT NULL;
--> statement-breakpoint
ALTER TABLE `profiles` ADD `nocloud` integer DEFAULT true NOT NULL;
--> statement-breakpoint
ALTER TABLE `sites` ADD `files` text DEFAULT '{}' NOT NULL;
