import type { Recipe } from "./recipe.ts";

// A Debian 12 automated install (debian-installer-12-netboot-amd64, worker/recipes/debian-installer.md): the
// installer reads the host's per-host preseed file; edgeboot adds the progress reports (installing, installed) to
// whatever the operator writes (worker/render/preseedHooks.ts). The root password is a crypt(3) hash kept as a host
// secret (`mkpasswd -m sha-512`), so the file follows the site's secret delivery policy.
export const DEBIAN_PRESEED = `#_preseed_V1
# Debian 12 (bookworm), one host. Network and hostname come from the kernel line (read before this file).
d-i debian-installer/locale string en_US.UTF-8
d-i keyboard-configuration/xkb-keymap select us
d-i netcfg/choose_interface select auto
d-i netcfg/get_hostname string {{ host.hostname }}
d-i netcfg/get_domain string {{ var.domain }}
d-i hw-detect/load_firmware boolean false
d-i mirror/country string manual
d-i mirror/http/hostname string {{ var.mirrorHost }}
d-i mirror/http/directory string {{ var.mirrorDirectory }}
d-i mirror/http/proxy string
d-i passwd/root-password-crypted password {{ secret.rootPasswordHash }}
d-i passwd/make-user boolean false
d-i clock-setup/utc boolean true
d-i time/zone string UTC
d-i clock-setup/ntp boolean true
d-i partman-auto/disk string {{ var.installDisk }}
d-i partman-auto/method string regular
d-i partman-auto/choose_recipe select atomic
d-i partman-partitioning/confirm_write_new_label boolean true
d-i partman/choose_partition select finish
d-i partman/confirm boolean true
d-i partman/confirm_nooverwrite boolean true
tasksel tasksel/first multiselect standard, ssh-server
d-i pkgsel/upgrade select full-upgrade
popularity-contest popularity-contest/participate boolean false
d-i grub-installer/only_debian boolean true
d-i grub-installer/bootdev string {{ var.installDisk }}
d-i finish-install/reboot_in_progress note
`;

// Debian's installer from PXE (worker/recipes/debian-installer.md).
export const debian: Recipe = {
  id: "debian-installer",
  title: "Debian 12 installer (netboot d-i, per-host preseed)",
  image: {
    name: "debian12-installer",
    arch: "x86_64",
    version: "20230607+deb12u15",
    // usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64/ of debian-installer-12-netboot-amd64
    artifacts: { kernel: "linux", initrd: ["initrd.gz"] },
  },
  profile: {
    name: "debian12-preseed",
    description: "Debian 12 automated install; preseed from the per-host file `preseed`, progress reported by edgeboot",
    cmdline: "auto=true priority=critical url={{ boot.files.preseed }} interface=auto hostname={{ host.hostname }} domain={{ var.domain }} --- console=ttyS0,115200n8",
    nocloud: false,
    files: { preseed: { kind: "preseed", template: DEBIAN_PRESEED } },
    vars: { domain: "example.net", mirrorHost: "deb.debian.org", mirrorDirectory: "/debian", installDisk: "/dev/sda" },
  },
  host: { hostname: "debian-1", mac: "52:54:00:de:00:08" },
  secrets: [{ name: "rootPasswordHash", scope: "host", demoValue: "$6$edgebootdemo$Wz0cVqkHcMBD5D0mYpOq1rRQ3o6XrF1G5F6s0VbY2PZ0k5dUQk4nJ8f7h9Yx3aQ0nS2m1bC4dE6fG8hI0jK2l." }],
};
