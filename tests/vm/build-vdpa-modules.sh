#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Builds the vDPA modules that the Debian kernel lacks (it is built without CONFIG_VDPA) out
# of tree from linux-source-6.1, for the vDPA guest tests: vdpa, vringh, vdpa_sim,
# vdpa_sim_net, vdpa_sim_blk and vhost_vdpa.
#
# usage: build-vdpa-modules.sh [-k KVER] OUTDIR
#   -k KVER  the kernel to build for; default: the newest version in /lib/modules that has a
#            /boot/vmlinuz-KVER (the kernel that tests/vm/run-test.sh boots)
#   OUTDIR   where the .ko files go (OUTDIR/vdpa.ko, ...); OUTDIR/vdpa-modules.build holds
#            the sources and objects. A stamp file, OUTDIR/modules.stamp, records the kernel and the source
#            tarball: a second run with the same inputs does nothing.
#
# Needs linux-source-6.1 (/usr/src/linux-source-6.1.tar.xz), linux-headers-KVER, gcc, make,
# xz-utils. Only the needed files are extracted from the tarball.
set -euo pipefail

usage() {
  echo "usage: $0 [-k KVER] OUTDIR" >&2
  exit 2
}

kver=
while getopts k: opt; do
  case $opt in
    k) kver=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
outdir=$1

die() {
  echo "build-vdpa-modules: $*" >&2
  exit 1
}

if [ -z "$kver" ]; then
  . "$(dirname "$0")/guest-kernel.sh"
  kver=$(guest_kernel_version)
  [ -n "$kver" ] || die "no kernel in /lib/modules with a /boot/vmlinuz (apt-get install linux-image-amd64)"
fi
tarball=/usr/src/linux-source-6.1.tar.xz
headers=/usr/src/linux-headers-$kver
[ -r "$tarball" ] || die "no $tarball (apt-get install linux-source-6.1)"
[ -e "$headers/Makefile" ] || die "no $headers (apt-get install linux-headers-$kver)"
for tool in make gcc xz tar; do
  command -v "$tool" >/dev/null || die "$tool is missing"
done

modules=(vdpa vringh vdpa_sim vdpa_sim_net vdpa_sim_blk vhost_vdpa)
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
stamp="$kver $(stat -c '%s %Y' "$tarball") $(stat -c '%Y' "$headers/Makefile") $(stat -c %Y "$0")"
all_built=1
for m in "${modules[@]}"; do
  [ -e "$outdir/$m.ko" ] || all_built=
done
if [ -n "$all_built" ] && [ "$(cat "$outdir/modules.stamp" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi
rm -f "$outdir/modules.stamp"

build=$outdir/vdpa-modules.build
rm -rf "$build"
mkdir -p "$build/src"
src=linux-source-6.1
tar -xJf "$tarball" -C "$build/src" \
  "$src/drivers/vdpa/vdpa.c" \
  "$src/drivers/vdpa/vdpa_sim/vdpa_sim.c" \
  "$src/drivers/vdpa/vdpa_sim/vdpa_sim.h" \
  "$src/drivers/vdpa/vdpa_sim/vdpa_sim_net.c" \
  "$src/drivers/vdpa/vdpa_sim/vdpa_sim_blk.c" \
  "$src/drivers/vhost/vringh.c" \
  "$src/drivers/vhost/vdpa.c" \
  "$src/drivers/vhost/vhost.h" ||
  die "cannot extract the vDPA sources from $tarball"

# One flat directory: the two vdpa.c files clash, so the vhost one becomes vhost_vdpa.c.
k=$build/kmod
mkdir -p "$k"
cp "$build/src/$src/drivers/vdpa/vdpa.c" "$k/vdpa.c"
cp "$build/src/$src/drivers/vdpa/vdpa_sim/"vdpa_sim* "$k/"
cp "$build/src/$src/drivers/vhost/vringh.c" "$k/vringh.c"
cp "$build/src/$src/drivers/vhost/vdpa.c" "$k/vhost_vdpa.c"
cp "$build/src/$src/drivers/vhost/vhost.h" "$k/vhost.h"
rm -rf "$build/src"
{
  echo "# The headers' IS_ENABLED() checks must see the options that Debian's config lacks."
  echo "ccflags-y := -DCONFIG_VDPA=1 -DCONFIG_VDPA_MODULE=1 -DCONFIG_VHOST_RING=1 \\"
  echo "  -DCONFIG_VHOST_RING_MODULE=1 -DCONFIG_VHOST_VDPA_MODULE=1"
  echo "obj-m := $(printf '%s.o ' "${modules[@]}")"
} > "$k/Kbuild"

log=$build/make.log
if ! make -C "$headers" M="$k" -j"$(nproc)" modules >"$log" 2>&1; then
  cat "$log" >&2
  die "make failed"
fi
for m in "${modules[@]}"; do
  [ -e "$k/$m.ko" ] || die "make did not produce $m.ko"
  cp "$k/$m.ko" "$outdir/$m.ko"
done
echo "$stamp" > "$outdir/modules.stamp"
