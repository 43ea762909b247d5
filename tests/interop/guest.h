/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Linux guests for interop tests: the Debian kernel, an initramfs from tests/vm/make-initramfs.sh,
 * qemu-system-x86_64 with TCG and shareable memory, results read from the serial console. */
#pragma once

#include <glib.h>

#include "peer.h"

G_BEGIN_DECLS

/* What the guest's /init prints, then the words of its result ("PASS key=value..."). */
#define VHOST_GUEST_RESULT_MARKER "VHOST-TEST-RESULT: "

/* The start of every /init: busybox applets, proc, sysfs, devtmpfs, the console, the
 * `result WORDS...` function (prints the marker and powers off), and the modules of
 * /etc/modules.order loaded in order. */
#define VHOST_GUEST_INIT_PRELUDE                                                              \
  "#!/bin/sh\n"                                                                                \
  "/bin/busybox --install -s /bin\n"                                                           \
  "export PATH=/bin\n"                                                                         \
  "mount -t proc proc /proc\n"                                                                 \
  "mount -t sysfs sysfs /sys\n"                                                                \
  "mount -t devtmpfs devtmpfs /dev\n"                                                          \
  "exec </dev/console >/dev/console 2>&1\n"                                                    \
  "result () { echo \"" VHOST_GUEST_RESULT_MARKER "$*\"; poweroff -f; sleep 60; }\n"           \
  "for m in $(cat /etc/modules.order); do insmod \"$m\" || result FAIL insmod \"$m\"; done\n"

/* Lines of /init that wait up to 30 s until the shell test `test` holds, and
 * fail with `what` if it does not. */
#define VHOST_GUEST_WAIT_FOR(test, what)                                                      \
  "n=0\n"                                                                                     \
  "while ! " test "; do\n"                                                                   \
  "  n=$((n + 1)); [ $n -le 600 ] || result FAIL " what "\n"                                  \
  "  sleep 0.05\n"                                                                            \
  "done\n"

/* The modules of virtio devices on PCI, in load order. */
#define VHOST_GUEST_VIRTIO_PCI_MODULES \
  "virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci"

/* The same for virtio-net. */
#define VHOST_GUEST_VIRTIO_NET_MODULES VHOST_GUEST_VIRTIO_PCI_MODULES " failover net_failover virtio_net"

/* The newest kernel with both its modules and a /boot/vmlinuz. */
char *vhost_guest_find_kernel (void);

/* Build `initrd` in `dir` for kernel `kver`: `init_script` as /init and `modules`
 * (names; dependencies resolved). */
void vhost_guest_make_initramfs (const char *dir,
                                 const char *kver,
                                 const char *initrd,
                                 const char *init_script,
                                 const char *modules);

/* The same with extra files: `files` (NULL-terminated, may be NULL) as make-initramfs.sh
 * takes them, "PATH" or "PATH:DEST" (with the shared libraries a dynamically linked one needs). */
void vhost_guest_make_initramfs_with_files (const char *dir,
                                            const char *kver,
                                            const char *initrd,
                                            const char *init_script,
                                            const char *modules,
                                            const char *const *files);

/* Boot `kver` with `initrd` on `smp` CPUs and 512 MiB of shareable memory (memfd), with
 * the extra QEMU arguments `devices` (NULL-terminated: -chardev, -device...). QEMU is
 * killed if the test process dies. */
VhostPeer *vhost_guest_start (const char *dir,
                              const char *kver,
                              const char *initrd,
                              guint smp,
                              const char *const *devices);

/* The same with the guest's memory given as `memory`, the value of QEMU's -object
 * (its id must be "mem"), `kernel_args` (nullable) added to the kernel's command
 * line, and the peer called `name` (its log is `name`.log). */
VhostPeer *vhost_guest_start_with_memory (const char *dir,
                                          const char *name,
                                          const char *kver,
                                          const char *initrd,
                                          guint smp,
                                          const char *memory,
                                          const char *kernel_args,
                                          const char *const *devices);

/* Wait up to `timeout_ms` for the guest to power off. Fails the test (with the console)
 * unless the guest reported PASS and QEMU exited 0. Returns the words after PASS. */
char **vhost_guest_wait_result (VhostPeer *guest, guint timeout_ms);

/* Wait up to `timeout_ms` for `text` on the serial console, for a guest that tells
 * the test to go on with its part. Fails the test (with the console) if QEMU exits
 * first or the time runs out. */
void vhost_guest_wait_console (VhostPeer *guest, const char *text, guint timeout_ms);

/* Assert that the file at `path` holds `size` bytes whose md5 is `md5`. */
void vhost_guest_assert_file_md5 (const char *path, gsize size, const char *md5);

/* The serial console so far, without carriage returns and ANSI escape sequences. */
char *vhost_guest_get_console (VhostPeer *guest);

/* The value of `key=value` among the result's words, or NULL. */
const char *vhost_guest_result_value (char **words, const char *key);

G_END_DECLS
