#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The README's first command: installs the dependencies, builds vhost-glib, and shows its main job:
# tools/vhost-user-blk serves a disk image, vhost-user-probe shows what it offers, and a Python
# script (PyGObject: Vhost.UserMaster + Vhost.Driver) writes and reads blocks through it; the
# image file on the host then holds what Python wrote.
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
blk=
cleanup() {
  [ -n "$blk" ] && kill "$blk" 2>/dev/null && wait "$blk" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
run_python() {
  GI_TYPELIB_PATH="$root/_build_demo/introspection" PYTHONPATH="$root/bindings/python" LD_LIBRARY_PATH="$root/_build_demo/vhost-glib" \
    /usr/bin/python3 "$@"
}

truncate -s 64M "$work/disk.img"
echo "== tools/vhost-user-blk serves a 64 MiB image file on $work/blk.sock (2 queues, io_uring)"
"$root/_build_demo/tools/vhost-user-blk" --blk-file="$work/disk.img" --socket-path="$work/blk.sock" \
  --num-queues=2 --serial=demo-disk 2>"$work/blk.log" &
blk=$!
for _ in $(seq 100); do [ -S "$work/blk.sock" ] && break; sleep 0.1; done
[ -S "$work/blk.sock" ] || { cat "$work/blk.log"; echo "vhost-user-blk did not start" >&2; exit 1; }

echo "== tools/vhost-user-probe: what the back-end offers"
"$root/_build_demo/tools/vhost-user-probe" --socket-path="$work/blk.sock" --type=blk

echo "== bindings/python/examples/blk-io.py (PyGObject: Vhost.UserMaster + Vhost.Driver writes and reads blocks)"
run_python "$root/bindings/python/examples/blk-io.py" "$work/blk.sock"

echo "== SIGTERM: vhost-user-blk exits cleanly and removes its socket"
kill -TERM "$blk"
wait "$blk" && echo "vhost-user-blk exited with status 0"
blk=
[ -e "$work/blk.sock" ] && { echo "the socket file is still there" >&2; exit 1; }
echo "its log:"
sed 's/^/  /' "$work/blk.log"
echo "== the image file on the host: md5 of its first 64 KiB is $(head -c 65536 "$work/disk.img" | md5sum | cut -d' ' -f1)"
