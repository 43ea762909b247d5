#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs in the test guest before the vDPA tests (run-test.sh starts it as the program): loads the
# out-of-tree vDPA modules that build-vdpa-modules.sh built, creates the two simulator devices
# with the `vdpa` tool, and runs the test program with VHOST_VDPA_TEST_MAC set.
#
# usage: vdpa-guest-setup.sh MODULE_DIR PROGRAM [ARG]...
#   MODULE_DIR  where the initramfs holds vdpa.ko, vringh.ko, vdpa_sim.ko, vdpa_sim_net.ko,
#               vdpa_sim_blk.ko and vhost_vdpa.ko (their dependencies vhost_iotlb, vhost and
#               irqbypass are Debian's, loaded by /init through run-test.sh -m)
# Creates vdpa0 (mgmtdev vdpasim_net, MAC 52:54:00:12:34:56: /dev/vhost-vdpa-0) and vdpa1
# (mgmtdev vdpasim_blk: /dev/vhost-vdpa-1). A failed step prints a TAP "Bail out!" line.
set -u
mac=52:54:00:12:34:56

bail() {
  echo "Bail out! vdpa-guest-setup: $*"
  exit 1
}

[ $# -ge 2 ] || bail "usage: $0 MODULE_DIR PROGRAM [ARG]..."
dir=$1
shift
for m in vdpa vringh vdpa_sim vdpa_sim_net vdpa_sim_blk vhost_vdpa; do
  insmod "$dir/$m.ko" >&2 || bail "insmod $dir/$m.ko failed"
done
vdpa dev add name vdpa0 mgmtdev vdpasim_net mac "$mac" >&2 || bail "vdpa dev add vdpa0 (vdpasim_net) failed"
vdpa dev add name vdpa1 mgmtdev vdpasim_blk >&2 || bail "vdpa dev add vdpa1 (vdpasim_blk) failed"
for node in /dev/vhost-vdpa-0 /dev/vhost-vdpa-1; do
  i=0
  while [ ! -c "$node" ]; do
    i=$((i + 1))
    [ $i -le 50 ] || bail "no $node"
    sleep 0.1
  done
done
vdpa dev show >&2
export VHOST_VDPA_TEST_MAC=$mac
exec "$@"
