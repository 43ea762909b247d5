#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The README's first command: installs the dependencies, builds vhost-glib, and shows what it does
# so far: Python front-ends probe qemu-storage-daemon's vhost-user-blk export, then write and read
# blocks through it with Vhost.Driver.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

"$root/.ci/install-deps.sh"
echo "== building into _build_demo"
if [ ! -d _build_demo ]; then
  meson setup _build_demo -Dinterop_tests=false >/dev/null
fi
meson compile -C _build_demo >/dev/null

work=$(mktemp -d)
qsd=
cleanup() {
  [ -n "$qsd" ] && kill "$qsd" 2>/dev/null && wait "$qsd" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

truncate -s 64M "$work/disk.img"
echo "== qemu-storage-daemon exports a 64 MiB image as vhost-user-blk on $work/blk.sock"
qemu-storage-daemon \
  --blockdev "driver=file,node-name=f,filename=$work/disk.img" \
  --blockdev driver=raw,node-name=d,file=f \
  --export "type=vhost-user-blk,id=e,node-name=d,addr.type=unix,addr.path=$work/blk.sock,writable=on,num-queues=2" \
  >"$work/qsd.log" 2>&1 &
qsd=$!
for _ in $(seq 100); do [ -S "$work/blk.sock" ] && break; sleep 0.1; done

echo "== bindings/python/examples/probe.py (PyGObject, Vhost.UserMaster)"
GI_TYPELIB_PATH="$root/_build_demo/vhost-glib" LD_LIBRARY_PATH="$root/_build_demo/vhost-glib" \
  /usr/bin/python3 "$root/bindings/python/examples/probe.py" "$work/blk.sock"

echo "== bindings/python/examples/blk-io.py (Vhost.UserMaster + Vhost.Driver: writes and reads blocks)"
GI_TYPELIB_PATH="$root/_build_demo/vhost-glib" LD_LIBRARY_PATH="$root/_build_demo/vhost-glib" \
  /usr/bin/python3 "$root/bindings/python/examples/blk-io.py" "$work/blk.sock"
