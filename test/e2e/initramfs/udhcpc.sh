#!/bin/sh
# busybox udhcpc hook: apply the lease (address and default route); no DNS needed, the test uses IP literals.
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    if [ -n "$router" ]; then
      ip route add default via "${router%% *}" dev "$interface"
    fi
    ;;
esac
exit 0
