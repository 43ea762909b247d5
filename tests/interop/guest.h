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

/* The modules of virtio devices on PCI, in load order. */
#define VHOST_GUEST_VIRTIO_PCI_MODULES \
  "virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci"

/* The newest kernel with both its modules and a /boot/vmlinuz. */
char *vhost_guest_find_kernel (void);

/* Build `initrd` in `dir` for kernel `kver`: `init_script` as /init and `modules`
 * (names; dependencies resolved). */
void vhost_guest_make_initramfs (const char *dir,
                                 const char *kver,
                                 const char *initrd,
                                 const char *init_script,
                                 const char *modules);

/* Boot `kver` with `initrd` on `smp` CPUs and 512 MiB of shareable memory (memfd), with
 * the extra QEMU arguments `devices` (NULL-terminated: -chardev, -device...). QEMU is
 * killed if the test process dies. */
VhostPeer *vhost_guest_start (const char *dir,
                              const char *kver,
                              const char *initrd,
                              guint smp,
                              const char *const *devices);

/* vhost_guest_start() with `append` (may be NULL) added to the kernel command line. */
VhostPeer *vhost_guest_start_with_append (const char *dir,
                                          const char *kver,
                                          const char *initrd,
                                          guint smp,
                                          const char *append,
                                          const char *const *devices);

/* Wait up to `timeout_ms` for the guest to power off. Fails the test (with the console)
 * unless the guest reported PASS and QEMU exited 0. Returns the words after PASS. */
char **vhost_guest_wait_result (VhostPeer *guest, guint timeout_ms);

/* Wait up to `timeout_ms` for `text` on the serial console, for a guest that tells
 * the test to go on with its part. Fails the test (with the console) if QEMU exits
 * first or the time runs out. */
void vhost_guest_wait_console (VhostPeer *guest, const char *text, guint timeout_ms);

/* The value of `key=value` among the result's words, or NULL. */
const char *vhost_guest_result_value (char **words, const char *key);

G_END_DECLS
