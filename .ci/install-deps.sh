#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Installs, with apt-get, everything that building vhost-glib and running all of its tests need.
set -euo pipefail

packages=(
  meson ninja-build pkg-config gcc
  libglib2.0-dev gobject-introspection libgirepository1.0-dev gir1.2-glib-2.0
  gtk-doc-tools libjson-glib-dev liburing-dev libmnl-dev iproute2
  python3 python3-gi python3-pytest valac gjs
  valgrind clang libclang-rt-dev
  qemu-system-x86 qemu-system-gui qemu-utils
  linux-image-amd64 busybox-static cpio xz-utils kmod
  dpdk dpdk-dev librte-net-vhost23 librte-net-virtio23 librte-mempool-ring23
  make linux-source-6.1 linux-headers-amd64
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages are installed"
  exit 0
fi

log=$(mktemp)
if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log"
  echo "install-deps: apt-get failed for: ${missing[*]}" >&2
  exit 1
fi
rm -f "$log"
echo "install-deps: installed ${missing[*]}"
