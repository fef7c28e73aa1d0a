#!/bin/sh
# Stage 1 of the diskless Debian image (slow: downloads and installs packages; cached by package versions):
# mmdebstrap from the machine's own apt sources, the initramfs rebuilt with live-boot (fetches the squashfs root
# over HTTP into RAM with `fetch=`). Writes vmlinuz, initrd.img, base.squashfs (the whole tree) and packages.txt.
#   base.sh <out dir> <suite> [apt sources file]        (as root)
set -eu
out=$1
suite=$2
sources=${3:-/etc/apt/sources.list.d/debian.sources}
root="$out/root"
mkdir -p "$out"
rm -rf "$root"

packages="systemd-sysv,systemd-resolved,udev,dbus,cloud-init,linux-image-cloud-amd64,live-boot,initramfs-tools,busybox"
packages="$packages,iproute2,sudo,openssh-server,curl,procps,netbase"
# No ifupdown: cloud-init then renders for systemd-networkd (its eni renderer wins whenever ifupdown is there).

mmdebstrap --variant=minbase --include="$packages" \
	--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
	--dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
	--customize-hook='chroot "$1" update-initramfs -u -k all' \
	--customize-hook='chroot "$1" dpkg-query -W -f "\${Package} \${Version}\n" > "'"$out"'/packages.txt"' \
	"$suite" "$root" "$sources"

kver=$(ls "$root/boot" | sed -n 's/^vmlinuz-//p' | sort -V | tail -n 1)
cp "$root/boot/vmlinuz-$kver" "$out/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$out/initrd.img"
rm -f "$out/base.squashfs"
mksquashfs "$root" "$out/base.squashfs" -noappend -comp zstd -Xcompression-level 3 -quiet -no-xattrs -wildcards -e 'boot/*'
rm -rf "$root"
