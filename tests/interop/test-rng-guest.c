/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A Linux guest in qemu-system-x86_64 reads /dev/hwrng from vhost-user-rng-pci, served by
 * bindings/python/examples/rng.py: a virtio-rng device written in Python. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "test-support.h"
#include "guest.h"

#define QEMU_TIMEOUT_MS (240 * 1000)
#define READ_SIZE 1048576 /* 1 MiB */

static const char modules[] = VHOST_GUEST_VIRTIO_PCI_MODULES " virtio-rng";

/* The guest's /init: select the virtio-rng device as the hardware RNG, read 1 MiB
 * from /dev/hwrng, count the distinct byte values of the first 64 KiB. */
static const char guest_init[] =
  VHOST_GUEST_INIT_PRELUDE
  "rng=/sys/class/misc/hw_random\n"
  "n=0\n"
  "until grep -q virtio_rng $rng/rng_available 2>/dev/null; do\n"
  "  n=$((n + 1)); [ $n -le 600 ] || result FAIL no virtio_rng in $(cat $rng/rng_available)\n"
  "  sleep 0.05\n"
  "done\n"
  "dev=$(tr ' ' '\\n' < $rng/rng_available | grep virtio_rng | head -n 1)\n"
  "echo $dev > $rng/rng_current || result FAIL select $dev\n"
  "current=$(cat $rng/rng_current)\n"
  "head -c 1048576 /dev/hwrng > /tmp/r 2>/tmp/err || result FAIL read $(cat /tmp/err)\n"
  "size=$(wc -c < /tmp/r)\n"
  "distinct=$(head -c 65536 /tmp/r | od -An -v -tx1 | tr -s ' ' '\\n' | grep . | sort -u | wc -l)\n"
  "result PASS current=$current size=$size distinct=$distinct\n";

static void
test_rng_guest (void)
{
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *sock = g_build_filename (dir, "rng.sock", NULL);
  g_autofree char *initrd = g_build_filename (dir, "initrd.gz", NULL);
  g_autofree char *kver = vhost_guest_find_kernel ();
  g_autofree char *chardev = g_strdup_printf ("socket,id=rng,path=%s", sock);
  g_autofree char *log = NULL;
  const char *rng_py = g_getenv ("VHOST_RNG_PY");
  const char *argv[] = { "/usr/bin/python3", rng_py, "--socket-path", sock, NULL };
  const char *devices[] = { "-chardev", chardev, "-device", "vhost-user-rng-pci,chardev=rng", NULL };
  g_auto(GStrv) result = NULL;
  VhostPeer *rng, *guest;
  const char *served;
  guint64 requests, bytes;

  g_assert_nonnull (rng_py);
  vhost_guest_make_initramfs (dir, kver, initrd, guest_init, modules);
  rng = vhost_peer_start (dir, "rng", "python3-gi", argv);
  vhost_peer_wait_for_socket (rng, sock, 20000);
  guest = vhost_guest_start (dir, kver, initrd, 1, devices);
  result = vhost_guest_wait_result (guest, QEMU_TIMEOUT_MS);
  vhost_peer_free (guest);
  /* SIGTERM: the device prints what it served, removes its socket, exits 0. */
  vhost_peer_terminate (rng, SIGTERM, sock);
  log = vhost_peer_get_log (rng);
  vhost_peer_free (rng);

  g_assert_cmpstr (vhost_guest_result_value (result, "current"), ==, "virtio_rng.0");
  g_assert_cmpstr (vhost_guest_result_value (result, "size"), ==, G_STRINGIFY (READ_SIZE));
  /* Random bytes: 64 KiB of them take (almost surely all) 256 values; not all equal. */
  g_assert_cmpuint (g_ascii_strtoull (vhost_guest_result_value (result, "distinct"), NULL, 10), >, 200);
  served = strstr (log, "rng: served ");
  g_assert_nonnull (served);
  g_assert_cmpint (sscanf (served, "rng: served %" G_GUINT64_FORMAT " requests, %" G_GUINT64_FORMAT " bytes",
                           &requests, &bytes), ==, 2);
  g_test_message ("the Python device served %" G_GUINT64_FORMAT " requests, %" G_GUINT64_FORMAT " bytes", requests,
                  bytes);
  g_assert_cmpuint (requests, >=, 1);
  g_assert_cmpuint (bytes, >=, READ_SIZE);
  vhost_peer_remove_dir (dir);
}

int
main (int argc, char **argv)
{
  vhost_test_init (&argc, &argv);
  g_test_add_func ("/vhost/interop/python/rng-guest", test_rng_guest);
  return g_test_run ();
}
