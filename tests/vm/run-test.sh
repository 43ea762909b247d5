#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs a test program inside a Linux guest (the Debian kernel on qemu-system-x86_64 with TCG)
# and prints its standard output, a TAP stream, for `meson test` (protocol: 'tap').
#
# usage: run-test.sh [-m MODULES] [-f FILE[:DEST]]... [-t SECONDS] [-M MiB] [-c CPUS] -- PROGRAM [ARG]...
#   -m MODULES  kernel modules to load in the guest, separated by spaces or commas; their
#               dependencies come along (make-initramfs.sh)
#   -f FILE     an extra file for the initramfs, at DEST (default: the same path); a dynamic
#               executable brings its shared libraries
#   -t SECONDS  the longest the program may run in the guest (default 120); the guest as a
#               whole gets 60 s more to boot and power off
#   -M MiB      guest memory (default 1024)
#   -c CPUS     guest CPUs (default 2)
#   PROGRAM     a host path; it goes into the initramfs at the same path with its shared
#               libraries (an rpath into the build tree keeps working) and runs in /tmp
#
# The guest's /init (guest-init.sh) writes the program's standard output to the second serial
# port, which this script re-emits line by line; the kernel console (the first serial port,
# with the program's standard error) is printed to standard error when the run fails. These
# environment variables are passed on to the program: G_DEBUG, G_MESSAGES_DEBUG, G_SLICE,
# MALLOC_PERTURB_, ASAN_OPTIONS, UBSAN_OPTIONS, LSAN_OPTIONS, and those named in
# VM_TEST_ENV (space-separated). QEMU gets SIGKILL if this script dies (setpriv --pdeathsig).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
modules= timeout=120 mem=1024 cpus=2
files=()
usage() {
  sed -n '/^# usage:/,/^# QEMU gets/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
while getopts m:f:t:M:c: opt; do
  case $opt in
    m) modules="$modules $OPTARG" ;;
    f) files+=("$OPTARG") ;;
    t) timeout=$OPTARG ;;
    M) mem=$OPTARG ;;
    c) cpus=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage
# meson gives build-tree paths relative to the build directory: the guest needs absolute ones.
program=$(realpath -e -- "$1" 2>/dev/null) || program=$1
shift
set -- "$program" "$@"
for i in "${!files[@]}"; do
  src=${files[$i]%%:*}
  [ "$src" = "${files[$i]}" ] && dest=$(realpath -m -- "$src") || dest=${files[$i]#*:}
  files[$i]=$(realpath -m -- "$src"):$dest
done

bail() {
  echo "Bail out! $*"
  exit 1
}

for tool in qemu-system-x86_64 setpriv; do
  command -v "$tool" >/dev/null || bail "$tool is missing (.ci/install-deps.sh installs qemu-system-x86 and util-linux)"
done
[ -x "$program" ] || bail "no program $program"

. "$(dirname "$0")/guest-kernel.sh"
kver=$(guest_kernel_version)
[ -n "$kver" ] || bail "no kernel in /boot with modules in /lib/modules (apt-get install linux-image-amd64)"
[ -r "/boot/vmlinuz-$kver" ] || bail "/boot/vmlinuz-$kver is not readable"

work=$(mktemp -d "${TMPDIR:-/tmp}/vm-test-XXXXXX")
qemu_pid=
cleanup() {
  [ -z "$qemu_pid" ] || kill -KILL "$qemu_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# What the guest runs: the command line, the environment, the time limit.
mkdir -p "$work/etc"
{
  printf 'cd /tmp &&'
  printf ' %q' "$@"
  printf '\n'
} > "$work/etc/run"
: > "$work/etc/env"
for name in G_DEBUG G_MESSAGES_DEBUG G_SLICE MALLOC_PERTURB_ ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS ${VM_TEST_ENV:-}; do
  if [ -n "${!name+set}" ]; then
    printf 'export %s=%q\n' "$name" "${!name}" >> "$work/etc/env"
  fi
done
echo "$timeout" > "$work/etc/timeout"

initrd=$work/initrd.gz
if ! "$here/make-initramfs.sh" -k "$kver" "$initrd" "$here/guest-init.sh" "$modules" \
     "$program" "${files[@]}" "$work/etc/run:/etc/vm-test/run" "$work/etc/env:/etc/vm-test/env" \
     "$work/etc/timeout:/etc/vm-test/timeout" >"$work/make-initramfs.log" 2>&1; then
  cat "$work/make-initramfs.log" >&2
  bail "make-initramfs.sh failed"
fi

console=$work/console.log tap=$work/tap.log
: > "$console"
: > "$tap"
setpriv --pdeathsig KILL -- qemu-system-x86_64 -accel tcg -cpu max -nodefaults -display none -no-reboot \
  -m "$mem" -smp "$cpus" -kernel "/boot/vmlinuz-$kver" -initrd "$initrd" \
  -append "console=ttyS0 quiet panic=-1 oops=panic" \
  -serial "file:$console" -serial "file:$tap" </dev/null >"$work/qemu.log" 2>&1 &
qemu_pid=$!

limit=$(( (timeout + 60) * 10 ))
for (( i = 0; i < limit; i++ )); do
  kill -0 "$qemu_pid" 2>/dev/null || break
  sleep 0.1
done
timed_out=
if kill -0 "$qemu_pid" 2>/dev/null; then
  kill -KILL "$qemu_pid" 2>/dev/null || true
  timed_out=1
fi
qemu_status=0
wait "$qemu_pid" || qemu_status=$?
qemu_pid=

# The TAP stream, without the serial line's carriage returns.
tr -d '\r' < "$tap"
[ -z "$(tail -c 1 "$tap")" ] || echo

exit_status=$(tr -d '\r' < "$console" | sed -n 's/^.*VHOST-VM-EXIT: \([0-9]*\).*$/\1/p' | tail -n 1)
reason=
if [ -n "$timed_out" ]; then
  reason="the guest did not power off within $((timeout + 60)) s"
elif [ -z "$exit_status" ]; then
  reason="the guest stopped without reporting an exit status (QEMU exited with $qemu_status)"
elif [ "$exit_status" = 137 ]; then
  reason="$program did not finish within $timeout s in the guest"
elif [ "$exit_status" != 0 ]; then
  reason="$program exited with status $exit_status in the guest"
fi
if [ -n "$reason" ]; then
  {
    echo "---- QEMU ----"
    cat "$work/qemu.log"
    echo "---- guest console ----"
    tr -d '\r' < "$console" | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g'
    echo "----"
  } >&2
  bail "$reason"
fi
