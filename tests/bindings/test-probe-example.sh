#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs a language's probe example (Vala, GJS, C, asynchronous Python) against tools/vhost-user-blk
# serving an 8 MiB RAM disk with 3 queues: it must print the features, 3 queues and 16384 sectors.
# With --driver, it must also print that a VhostDriver made from its properties gave back
# the bytes written into its memory.
# Usage: test-probe-example.sh [--driver] VHOST_USER_BLK COMMAND...
set -euo pipefail
driver=
if [ "$1" = --driver ]; then driver=1; shift; fi
blk=$1; shift
dir=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT

"$blk" --socket-path "$dir/blk.sock" --ram 8M --num-queues 3 >"$dir/blk.log" 2>&1 &
pid=$!
for _ in $(seq 200); do
  [ -S "$dir/blk.sock" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$dir/blk.log"; echo "vhost-user-blk exited" >&2; exit 1; }
  sleep 0.05
done
[ -S "$dir/blk.sock" ] || { echo "no socket from vhost-user-blk" >&2; exit 1; }

out=$("$@" "$dir/blk.sock")
echo "$out"
fail() { echo "FAIL: $*" >&2; exit 1; }
grep -Eq '^features 0x0000000[0-9a-f]{9} .*\bversion-1\b' <<<"$out" || fail "no features line with version-1"
grep -q 'protocol-features' <<<"$out" || fail "PROTOCOL_FEATURES not named"
grep -qx 'queues 3' <<<"$out" || fail "not 3 queues"
grep -qx 'capacity 16384 sectors' <<<"$out" || fail "not 16384 sectors"
[ -z "$driver" ] || grep -Eqx 'driver memory: vhost at 0x[0-9a-f]+' <<<"$out" || fail "no driver memory line"
echo "PASS"
