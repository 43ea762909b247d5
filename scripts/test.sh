#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs every test suite of vhost-glib from a fresh build: installs what the tests need, builds
# (with the gtk-doc reference), runs `meson test`, then the C suites again in an
# AddressSanitizer/UndefinedBehaviorSanitizer build, then each libFuzzer target for a bounded time
# (VHOST_FUZZ_SECONDS, 60 by default), and ends with "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# Seconds per fuzz target. libFuzzer reads 0 as "no limit": refused here, before the builds.
fuzz_seconds=${VHOST_FUZZ_SECONDS:-60}
if ! [[ $fuzz_seconds =~ ^[0-9]+$ ]] || [ $((10#$fuzz_seconds)) -eq 0 ]; then
  echo "VHOST_FUZZ_SECONDS must be a positive number of seconds, not '$fuzz_seconds'" >&2
  exit 1
fi

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

setup() {
  # A fresh build directory $1 with the meson options that follow.
  local dir=$1; shift
  rm -rf "$dir"
  if ! meson setup "$dir" "$@" >"$dir.setup.log" 2>&1; then
    cat "$dir.setup.log"; echo "meson setup $dir failed" >&2; return 1
  fi
  rm -f "$dir.setup.log"
}

compile() {
  # Compile build directory $1: everything, or the targets that follow.
  local dir=$1; shift
  meson compile -C "$dir" "$@" >"$dir.compile.log" 2>&1 || { cat "$dir.compile.log"; echo "build of $dir failed" >&2; return 1; }
  rm -f "$dir.compile.log"
}

build() {
  setup "$@" && compile "$1"
}

fuzz() {
  # Run fuzzer $1 (an executable of _build_fuzz) for $fuzz_seconds on a scratch copy
  # of its corpus: one summary line, and on a failure the report and the input.
  local exe=$1 name=${1##*/fuzz-} work=_build_fuzz/runs/${1##*/} rc runs secs cov artifacts line
  rm -rf "$work"
  mkdir -p "$work"
  cp -r "tests/fuzz/corpus/$name" "$work/corpus"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$exe" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$work/" "$work/corpus" >"$work/log" 2>&1
  rc=$?
  # libFuzzer's "Done N runs" (or, after a crash, its last "#N" status line) and last "cov: N ft: M".
  read -r runs secs < <(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 \2/p' "$work/log")
  [ -n "${runs:-}" ] || runs=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$work/log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$work/log" | tail -n 1)
  artifacts=$(find "$work" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \))
  rm -rf "$work/corpus"
  if [ "$rc" -eq 0 ] && [ -z "$artifacts" ]; then
    line="fuzz-$name: ${runs:-?} runs in ${secs:-?} s, ${cov:-no coverage reported}: passed"
    passed=$((passed + 1))
  else
    # The sanitizer's or libFuzzer's report, without the progress lines.
    grep -v -e '^#[0-9]' -e '^"' "$work/log" >&2
    line="fuzz-$name: ${runs:-?} runs, ${cov:-no coverage reported}: FAILED (exit $rc); input: ${artifacts:-none written}; log: $work/log"
    failed=$((failed + 1)) status=1
  fi
  echo "$line"
  fuzz_summary+="$line"$'\n'
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

# The libFuzzer targets (tests/fuzz/), each for VHOST_FUZZ_SECONDS (60 by default)
# in a clang build with ASan and UBSan; each run counts as one test.
fuzz_summary=
if CC=clang setup _build_fuzz -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false \
     -Dintrospection=disabled -Dinterop_tests=false; then
  fuzzers=$(meson introspect --targets _build_fuzz | /usr/bin/python3 -c '
import json, sys
for t in json.load(sys.stdin):
    if t["type"] == "executable" and t["name"].startswith("fuzz-"):
        print(t["filename"][0])')
  if [ -n "$fuzzers" ] && compile _build_fuzz $(for f in $fuzzers; do basename "$f"; done); then
    for f in $fuzzers; do
      fuzz "$f"
    done
    printf '\nFuzzing, %s s per target:\n%s' "$fuzz_seconds" "$fuzz_summary"
  else
    echo "no fuzz targets built in _build_fuzz" >&2
    failed=$((failed + 1)) status=1
  fi
else
  failed=$((failed + 1)) status=1
fi

echo "$passed passed, $failed failed, $skipped skipped"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
  exit 1
fi
