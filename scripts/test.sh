#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs every test suite of vhost-glib from a fresh build: installs what the tests need, builds
# (with the gtk-doc reference), runs `meson test`, then the C suites again in an
# AddressSanitizer/UndefinedBehaviorSanitizer build, and ends with "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

"$root/.ci/install-deps.sh" || exit 1

passed=0 failed=0 skipped=0
count() {
  # Add the results of one meson test log (one JSON object per line) to the totals.
  read -r p f s < <(/usr/bin/python3 - "$1" <<'PY'
import json, sys
p = f = s = 0
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL"):
        p += 1
    elif r == "SKIP":
        s += 1
    else:
        f += 1
print(p, f, s)
PY
  )
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

build() {
  local dir=$1; shift
  rm -rf "$dir"
  if ! meson setup "$dir" "$@" >"$dir.setup.log" 2>&1; then
    cat "$dir.setup.log"; echo "meson setup $dir failed" >&2; return 1
  fi
  rm -f "$dir.setup.log"
  meson compile -C "$dir" >"$dir.compile.log" 2>&1 || { cat "$dir.compile.log"; echo "build of $dir failed" >&2; return 1; }
  rm -f "$dir.compile.log"
}

status=0
if build _build_ci -Dgtk_doc=true; then
  meson test -C _build_ci --print-errorlogs --num-processes 2 || status=1
  count _build_ci/meson-logs/testlog.json
else
  failed=$((failed + 1)) status=1
fi

# The C suites again under ASan and UBSan, the real peers included (introspection, and
# with it the Python suite, does not load with libasan).
if build _build_asan -Db_sanitize=address,undefined -Db_lundef=false -Dintrospection=disabled; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    meson test -C _build_asan --suite unit --suite interop --suite vm --print-errorlogs --num-processes 2 || status=1
  count _build_asan/meson-logs/testlog.json
else
  failed=$((failed + 1)) status=1
fi

echo "$passed passed, $failed failed, $skipped skipped"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
  exit 1
fi
