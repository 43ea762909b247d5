#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Builds the initramfs of a test guest that boots the Debian kernel: busybox (from
# busybox-static), an /init script, kernel modules in load order, and extra files.
#
# usage: make-initramfs.sh [-k KVER] OUTPUT INIT MODULES [FILE[:DEST]]...
#   -k KVER  the kernel whose modules to take; default: the newest version in
#            /lib/modules that has a /boot/vmlinuz-KVER
#   OUTPUT   the initramfs to write (a gzip'd newc cpio archive)
#   INIT     the script to install as /init (it runs as PID 1 under busybox sh)
#   MODULES  module names separated by spaces or commas (may be empty). Each one is
#            resolved with `modprobe -S KVER --show-depends`, so its dependencies come
#            along; .ko.xz, .ko.zst and .ko.gz files are decompressed (busybox insmod
#            reads plain .ko only). The paths, dependencies first, are listed one per
#            line in /etc/modules.order, for /init to insmod in that order.
#   FILE     a file to add at DEST (default: the same path). A dynamically linked
#            executable brings the shared libraries and the loader that ldd lists.
#
# In the guest /bin holds busybox and its applets' links are made by
# `busybox --install -s /bin`, which /init runs first.
set -euo pipefail

usage() {
  echo "usage: $0 [-k KVER] OUTPUT INIT MODULES [FILE[:DEST]]..." >&2
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
[ $# -ge 3 ] || usage
output=$1 init=$2 modules=$3
shift 3

die() {
  echo "make-initramfs: $*" >&2
  exit 1
}

for tool in cpio gzip modprobe; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install cpio gzip kmod)"
done
busybox=/bin/busybox
[ -x "$busybox" ] || die "$busybox is missing (apt-get install busybox-static)"
[ -r "$init" ] || die "no init script $init"

if [ -z "$kver" ]; then
  . "$(dirname "$0")/guest-kernel.sh"
  kver=$(guest_kernel_version)
  [ -n "$kver" ] || die "no kernel in /lib/modules with a /boot/vmlinuz (apt-get install linux-image-amd64)"
fi
[ -d "/lib/modules/$kver" ] || die "no /lib/modules/$kver"

root=$(mktemp -d "${TMPDIR:-/tmp}/initramfs-XXXXXX")
tmp_output=$output.tmp.$$
trap 'rm -rf "$root" "$tmp_output"' EXIT
mkdir -p "$root"/{bin,dev,proc,sys,tmp,etc,run,lib/modules}

# Copy a file to the same path (or DEST) in the image, creating its directory.
add_file() {
  local src=$1 dest=${2:-$1}
  mkdir -p "$root$(dirname "$dest")"
  cp -L "$src" "$root$dest"
}

# Add what a dynamically linked ELF file needs: every path ldd prints.
add_libraries() {
  local out
  out=$(ldd "$1" 2>/dev/null) || return 0
  for lib in $(printf '%s\n' "$out" | grep -o '/[^ ]*'); do
    [ -e "$root$lib" ] || add_file "$lib"
  done
}

add_file "$busybox" /bin/busybox
add_libraries "$busybox"
ln -s busybox "$root/bin/sh"
install -m 0755 "$init" "$root/init"

# Modules: dependencies first, each once.
: > "$root/etc/modules.order"
declare -A seen=()
for module in ${modules//,/ }; do
  deps=$(modprobe -S "$kver" --ignore-install --show-depends "$module") ||
    die "modprobe -S $kver --show-depends $module failed"
  while read -r kind path _; do
    [ "$kind" = insmod ] || continue          # "builtin NAME": nothing to load
    [ -z "${seen[$path]:-}" ] || continue
    seen[$path]=1
    name=$(basename "$path")
    case $name in
      *.ko.xz) command -v xz >/dev/null || die "xz is missing (apt-get install xz-utils)"
               dest=/lib/modules/${name%.xz}; xz -dc "$path" > "$root$dest" ;;
      *.ko.zst) command -v zstd >/dev/null || die "zstd is missing (apt-get install zstd)"
                dest=/lib/modules/${name%.zst}; zstd -qdc "$path" > "$root$dest" ;;
      *.ko.gz) dest=/lib/modules/${name%.gz}; gzip -dc "$path" > "$root$dest" ;;
      *.ko) dest=/lib/modules/$name; cp "$path" "$root$dest" ;;
      *) die "unexpected module file $path" ;;
    esac
    echo "$dest" >> "$root/etc/modules.order"
  done <<< "$deps"
done

for spec in "$@"; do
  src=${spec%%:*}
  dest=$src
  [ "$spec" = "$src" ] || dest=${spec#*:}
  [ -e "$src" ] || die "no file $src"
  add_file "$src" "$dest"
  add_libraries "$src"
done

(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 > "$tmp_output"
mv "$tmp_output" "$output"
