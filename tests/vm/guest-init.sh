#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# /init of the test guests that run-test.sh boots: loads the modules, runs the command in
# /etc/vm-test/run with its standard output on the second serial port (the TAP stream the
# host reads), reports the exit status on the console, and powers off.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
exec </dev/null >/dev/console 2>&1

finish () {
  echo "VHOST-VM-EXIT: $1"
  sync
  poweroff -f
  sleep 60
}

for m in $(cat /etc/modules.order); do
  insmod "$m" || { echo "VHOST-VM-ERROR: insmod $m failed"; finish 125; }
done
# configfs may be a module (a dependency of target_core_mod, for one): mount it after loading.
grep -qw configfs /proc/filesystems && mount -t configfs configfs /sys/kernel/config
# No IPv6 chatter (router and neighbour solicitations) on the interfaces the tests create.
for f in /proc/sys/net/ipv6/conf/default/disable_ipv6 /proc/sys/net/ipv6/conf/all/disable_ipv6; do
  [ -e "$f" ] && echo 1 > "$f"
done
ip link set lo up 2>/dev/null
stty -F /dev/ttyS1 raw -echo 2>/dev/null

. /etc/vm-test/env
timeout=$(cat /etc/vm-test/timeout)
echo "VHOST-VM-START"
timeout -s KILL "$timeout" sh /etc/vm-test/run >/dev/ttyS1
finish $?
