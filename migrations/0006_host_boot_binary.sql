-- A per-host iPXE build override ("ipxe" | "snponly", worker/shared/ipxeBuild.ts), synced to the relay, which maps it
-- and the firmware's architecture to the binary it serves over TFTP or UEFI HTTP Boot. NULL = the relay's default.
ALTER TABLE `hosts` ADD `ipxe_build` text;
