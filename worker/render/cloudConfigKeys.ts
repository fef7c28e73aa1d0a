// Top-level keys a `#cloud-config` document may use: the union of the module keys in cloud-init's own JSON schema
// (cloudinit/config/schemas/schema-cloud-config-v1.json) of 22.4.2 (Debian 12) and 25.1.4 (Debian 13), plus the
// datasource keys cloud-init reads from user-data. An unknown key is refused at save time: it is almost always a typo
// that cloud-init would ignore with only a log line.
export const CLOUD_CONFIG_KEYS: ReadonlySet<string> = new Set([
  "allow_public_ssh_keys", "ansible", "apk_repos", "apt", "apt_pipelining", "apt_reboot_if_required", "apt_update", "apt_upgrade",
  "authkey_hash", "autoinstall", "bootcmd", "byobu_by_default", "ca-certs", "ca_certs", "chef", "chpasswd", "cloud_config_modules",
  "cloud_final_modules", "cloud_init_modules", "create_hostname_file", "device_aliases", "disable_ec2_metadata", "disable_root",
  "disable_root_opts", "disk_setup", "drivers", "fan", "final_message", "fqdn", "fs_setup", "groups", "growpart", "grub-dpkg",
  "grub_dpkg", "hostname", "keyboard", "landscape", "launch-index", "locale", "locale_configfile", "lxd", "manage_etc_hosts",
  "manage_resolv_conf", "mcollective", "merge_how", "merge_type", "migrate", "mount_default_fields", "mounts", "no_ssh_fingerprints",
  "ntp", "output", "package_reboot_if_required", "package_update", "package_upgrade", "packages", "password", "phone_home",
  "power_state", "prefer_fqdn_over_hostname", "preserve_hostname", "puppet", "random_seed", "reporting", "resize_rootfs",
  "resolv_conf", "rh_subscription", "rsyslog", "runcmd", "salt_minion", "snap", "spacewalk", "ssh", "ssh_authorized_keys",
  "ssh_deletekeys", "ssh_fp_console_blacklist", "ssh_genkeytypes", "ssh_import_id", "ssh_key_console_blacklist", "ssh_keys",
  "ssh_publish_hostkeys", "ssh_pwauth", "ssh_quiet_keygen", "swap", "system_info", "timezone", "ubuntu_advantage", "ubuntu_pro",
  "updates", "user", "users", "vendor_data", "version", "wireguard", "write_files", "yum_repo_dir", "yum_repos", "zypper",
  "datasource", "datasource_list", "manual_cache_clean",
]);

// `#alpine-config`: the keys tiny-cloud's lib/tiny-cloud/user-data/alpine-config reads (see TINY-CLOUD.md).
export const ALPINE_CONFIG_KEYS: ReadonlySet<string> = new Set([
  "user", "bootcmd", "write_files", "ntp", "apk", "package_update", "package_upgrade", "packages", "ssh_authorized_keys", "runcmd",
  "autoinstall",
]);
