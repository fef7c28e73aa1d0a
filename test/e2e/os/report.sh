#!/bin/sh
# Runs once cloud-init is done (edgeboot-report.service): prints what the OS really applied on the serial console
# between markers the e2e suite parses, then powers off so every boot is bounded. Reads only; changes nothing.
exec >/dev/ttyS0 2>&1
section() {
	name=$1
	shift
	echo "==== EDGEBOOT-OS BEGIN $name ===="
	"$@" 2>&1
	echo "==== EDGEBOOT-OS END $name ===="
}
echo "EDGEBOOT-OS report start"
timeout 300 cloud-init status --wait >/dev/null 2>&1
# The e2e profile's runcmd starts a later phase report after cloud-final, which leaves /run/edgeboot-ready.done
# (curl's exit code); wait for it a bounded time.
i=0
while [ $i -lt 60 ] && [ ! -e /run/edgeboot-ready.done ]; do sleep 0.5; i=$((i + 1)); done
section status cloud-init status --long
section result cat /run/cloud-init/result.json
section instance-id cat /run/cloud-init/.instance-id
section hostnamectl hostnamectl
section hostname hostname
section addr ip -j addr
section route4 ip -j -4 route
section route6 ip -j -6 route
section dns resolvectl dns
section resolv.conf cat /etc/resolv.conf
section networkd sh -c 'for f in /etc/systemd/network/* /etc/network/interfaces /etc/netplan/*; do [ -e "$f" ] && echo "## $f" && cat "$f"; done; networkctl list --no-legend'
section net-source sh -c 'grep -E "network config|Applying network|renderer" /var/log/cloud-init.log | cut -c1-300'
people() { getent passwd | awk -F: '$3 >= 1000 && $3 < 60000 { print $1 }'; }
section passwd sh -c 'getent passwd | awk -F: "\$3 >= 1000 && \$3 < 60000"'
section sudoers sh -c 'cat /etc/sudoers.d/*'
for u in $(people); do section "sudo-l $u" sudo -l -U "$u"; done
section authorized-keys sh -c 'cat /home/*/.ssh/authorized_keys'
section files sh -c 'for f in /etc/edgeboot/*; do echo "$f $(stat -c %a:%U "$f") $(sha256sum < "$f" | cut -c1-64)"; done'
section runcmd cat /run/edgeboot-runcmd
section ready-phase sh -c 'cat /run/edgeboot-ready.done /run/edgeboot-ready.out'
section warnings sh -c 'grep -E "WARNING|ERROR|Traceback" /var/log/cloud-init.log | grep -v "^$" || true'
section units sh -c 'systemctl --failed --no-legend --plain || true'
echo "EDGEBOOT-OS report done"
systemctl poweroff --no-block
