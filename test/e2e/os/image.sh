#!/bin/sh
# Stage 2 of the diskless Debian image (quick; redone when this recipe changes): the base tree plus the e2e report
# unit, host-specific state removed (hostname, SSH host keys, machine-id: cloud-init and systemd make them per
# boot), DNS through systemd-resolved; packed as root.squashfs. Nothing of cloud-init is changed.
#   image.sh <base dir> <out dir>        (as root)
set -eu
base=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
root="$out/root"
mkdir -p "$out"
rm -rf "$root"
unsquashfs -q -n -d "$root" "$base/base.squashfs"

install -D -m 0755 "$here/report.sh" "$root/usr/local/sbin/edgeboot-report"
install -D -m 0644 "$here/edgeboot-report.service" "$root/etc/systemd/system/edgeboot-report.service"
find "$root/etc/systemd/system" -name edgeboot-report.service -path '*.wants/*' -delete
chroot "$root" systemctl enable edgeboot-report.service systemd-networkd.service systemd-resolved.service
ln -sf ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"
rm -f "$root/etc/hostname" "$root"/etc/ssh/ssh_host_*
: > "$root/etc/machine-id"
# A generated default locale, as Debian's cloud images have: cloud-init's locale module otherwise fails
# ("update-locale: Error: invalid locale settings: LANG=en_US.UTF-8").
sed -i 's/^# *\(en_US.UTF-8 UTF-8\)/\1/' "$root/etc/locale.gen"
chroot "$root" locale-gen >/dev/null
echo LANG=en_US.UTF-8 > "$root/etc/default/locale"

# The root is an overlay on a squashfs in RAM: nothing to grow or resize (cloud-init warns when it tries).
mkdir -p "$root/etc/cloud/cloud.cfg.d"
printf '%s\n' '# diskless: / is an overlay in RAM' 'resize_rootfs: false' 'growpart: {mode: "off"}' > "$root/etc/cloud/cloud.cfg.d/90-diskless.cfg"

cp "$base/vmlinuz" "$base/initrd.img" "$base/packages.txt" "$out/"
rm -f "$out/root.squashfs"
mksquashfs "$root" "$out/root.squashfs" -noappend -comp zstd -Xcompression-level 6 -quiet -no-xattrs
rm -rf "$root"
