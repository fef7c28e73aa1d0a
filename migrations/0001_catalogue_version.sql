CREATE TABLE `catalogue_version` (
	`id` integer PRIMARY KEY NOT NULL,
	`token` text NOT NULL
);
--> statement-breakpoint
-- Hand-written below (drizzle-kit has no triggers): every change to profiles or images replaces the token, so a
-- cached resolution is reused only while the catalogue it came from is unchanged. Random, not a counter: a wiped or
-- restored database can never bring back a token that named other contents.
INSERT INTO `catalogue_version` (`id`, `token`) VALUES (1, lower(hex(randomblob(12))));--> statement-breakpoint
CREATE TRIGGER `profiles_insert_version` AFTER INSERT ON `profiles` BEGIN
  INSERT OR REPLACE INTO `catalogue_version` (`id`, `token`) VALUES (1, lower(hex(randomblob(12))));
END;--> statement-breakpoint
CREATE TRIGGER `profiles_update_version` AFTER UPDATE ON `profiles` BEGIN
  INSERT OR REPLACE INTO `catalogue_version` (`id`, `token`) VALUES (1, lower(hex(randomblob(12))));
END;--> statement-breakpoint
CREATE TRIGGER `profiles_delete_version` AFTER DELETE ON `profiles` BEGIN
  INSERT OR REPLACE INTO `catalogue_version` (`id`, `token`) VALUES (1, lower(hex(randomblob(12))));
END;--> statement-breakpoint
CREATE TRIGGER `images_insert_version` AFTER INSERT ON `images` BEGIN
  INSERT OR REPLACE INTO `catalogue_version` (`id`, `token`) VALUES (1, lower(hex(randomblob(12))));
END;--> statement-breakpoint
CREATE TRIGGER `images_update_version` AFTER UPDATE ON `images` BEGIN
  INSERT OR REPLACE INTO `catalogue_version` (`id`, `token`) VALUES (1, lower(hex(randomblob(12))));
END;--> statement-breakpoint
CREATE TRIGGER `images_delete_version` AFTER DELETE ON `images` BEGIN
  INSERT OR REPLACE INTO `catalogue_version` (`id`, `token`) VALUES (1, lower(hex(randomblob(12))));
END;
