# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by the tests/vm scripts: the kernel the test guests boot.

# Print the newest kernel version that has both modules in /lib/modules and a
# /boot/vmlinuz; print nothing if there is none.
guest_kernel_version() {
  local v found=
  for v in $(ls /lib/modules 2>/dev/null | sort -V); do
    [ -e "/boot/vmlinuz-$v" ] && found=$v
  done
  echo "$found"
}
