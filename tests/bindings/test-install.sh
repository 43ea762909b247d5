#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Builds vhost-glib into a fresh prefix outside the loader's paths and checks that what was
# installed works from there with no LD_LIBRARY_PATH: the programs (their RPATH), the typelib (the
# library's absolute path in it, with only GI_TYPELIB_PATH set), the PyGObject overrides, the
# vapi with its .deps and the pkg-config file.
# Usage: test-install.sh MESON SOURCE_DIR
set -euo pipefail
meson=$1 src=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
prefix=$dir/prefix
fail() { echo "FAIL: $*" >&2; exit 1; }

nice -n 10 "$meson" setup "$dir/build" "$src" --prefix "$prefix" -Dtests=false -Dinterop_tests=false \
  -Dgtk_doc=false >"$dir/setup.log" 2>&1 || { cat "$dir/setup.log"; fail "meson setup"; }
nice -n 10 "$meson" compile -C "$dir/build" >"$dir/compile.log" 2>&1 || { cat "$dir/compile.log"; fail "meson compile"; }
"$meson" install -C "$dir/build" >"$dir/install.log" 2>&1 || { cat "$dir/install.log"; fail "meson install"; }
libdir=$(find "$prefix" -name 'libvhost-glib-1.0.so.0' -printf '%h\n' | head -n 1)
[ -n "$libdir" ] || fail "no libvhost-glib-1.0.so.0 under $prefix"
typelibdir=$libdir/girepository-1.0
clean_env=(env -i PATH=/usr/bin:/bin)

# The programs find the library through their RPATH.
out=$("${clean_env[@]}" "$prefix/bin/vhost-user-blk" --help) || fail "installed vhost-user-blk --help"
grep -q "Serves a virtio-blk device" <<<"$out" || fail "vhost-user-blk --help printed: $out"
"${clean_env[@]}" "$prefix/bin/vhost-user-probe" --help >/dev/null || fail "installed vhost-user-probe --help"

# The typelib finds the library with only GI_TYPELIB_PATH set.
out=$("${clean_env[@]}" GI_TYPELIB_PATH="$typelibdir" /usr/bin/python3 -c '
import gi
gi.require_version("Vhost", "1.0")
from gi.repository import Vhost
print(Vhost.UserMaster.new("/run/x.sock").get_socket_path())
') || fail "python3 with GI_TYPELIB_PATH=$typelibdir"
[ "$out" = /run/x.sock ] || fail "the installed typelib gave: $out"

# The overrides, where PyGObject finds them with the prefix's Python path.
overrides=$(find "$prefix" -path '*/gi/overrides/Vhost.py' | head -n 1)
[ -n "$overrides" ] || fail "no gi/overrides/Vhost.py under $prefix"
out=$("${clean_env[@]}" GI_TYPELIB_PATH="$typelibdir" PYTHONPATH="${overrides%/gi/overrides/Vhost.py}" /usr/bin/python3 -c '
import gi
gi.require_version("Vhost", "1.0")
from gi.repository import Vhost
print(int(Vhost.Features.VERSION_1), Vhost.UserMaster.connect_backend.__name__)
') || fail "the installed overrides"
[ "$out" = "4294967296 connect_backend" ] || fail "the installed overrides gave: $out"

# Vala and C find the bindings and the headers.
vapi=$(find "$prefix" -name 'vhost-glib-1.0.vapi' | head -n 1)
[ -n "$vapi" ] || fail "no vhost-glib-1.0.vapi"
[ "$(cat "${vapi%.vapi}.deps")" = "$(printf 'gio-2.0\ngio-unix-2.0')" ] || fail "vhost-glib-1.0.deps"
PKG_CONFIG_PATH=$libdir/pkgconfig pkg-config --cflags vhost-glib-1.0 | grep -q -- "-I$prefix/include/vhost-glib-1.0" ||
  fail "pkg-config --cflags vhost-glib-1.0"
echo "PASS: installed to $prefix"
