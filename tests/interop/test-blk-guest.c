/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A Linux guest in qemu-system-x86_64 on two tools/vhost-user-blk disks: one read-write with two
 * queues (write, flush, read back, discard, checksums), one read-only (writes refused). */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "test-support.h"
#include "guest.h"

#define IMAGE_SIZE (8 * 1024 * 1024)
#define PATTERN_SIZE (1024 * 1024)
#define QEMU_TIMEOUT_MS (240 * 1000)

static const char modules[] = VHOST_GUEST_VIRTIO_PCI_MODULES " virtio_blk";

/* The guest's /init. The disks are told apart by serial. On the read-write disk: 1 MiB of
 * random data written with O_DIRECT from CPU 0 (queue 0) with fsync (a FLUSH: the disk
 * has a write-back cache), read back from CPU 1 (queue 1), compared; then its second
 * half discarded, which must read back as zeroes. /proc/interrupts counts the
 * completions signalled on each queue. On the read-only disk: the kernel sees it read-only,
 * a write fails, a read gives the host's bytes. */
static const char guest_init[] =
  VHOST_GUEST_INIT_PRELUDE
  VHOST_GUEST_WAIT_FOR ("[ -b /dev/vda ] && [ -b /dev/vdb ]", "/dev/vda and /dev/vdb")
  "for d in vda vdb; do\n"
  "  case $(cat /sys/block/$d/serial) in rw-disk) rw=$d ;; ro-disk) ro=$d ;; esac\n"
  "done\n"
  "[ -n \"$rw\" ] && [ -n \"$ro\" ] || result FAIL serials\n"
  "size=$(cat /sys/block/$rw/size)\n"
  "queues=$(ls /sys/block/$rw/mq | wc -l)\n"
  "cache=$(cat /sys/block/$rw/queue/write_cache | tr ' ' _)\n"
  "dd if=/dev/urandom of=/tmp/pat bs=4096 count=256 2>/dev/null || result FAIL pattern\n"
  "taskset 1 dd if=/tmp/pat of=/dev/$rw bs=262144 count=4 oflag=direct conv=fsync 2>/tmp/err || result FAIL write $(cat /tmp/err)\n"
  "echo 3 > /proc/sys/vm/drop_caches\n"
  "taskset 2 dd if=/dev/$rw of=/tmp/back bs=4096 count=256 iflag=direct 2>/tmp/err || result FAIL read $(cat /tmp/err)\n"
  "cmp /tmp/pat /tmp/back || result FAIL compare\n"
  "md5=$(md5sum /tmp/pat)\n"
  "blkdiscard -o 524288 -l 524288 /dev/$rw 2>/tmp/err || result FAIL discard $(cat /tmp/err)\n"
  "dd if=/dev/$rw of=/tmp/d bs=4096 skip=128 count=128 iflag=direct 2>/dev/null || result FAIL read discarded\n"
  "dd if=/dev/zero of=/tmp/z bs=4096 count=128 2>/dev/null\n"
  "cmp /tmp/d /tmp/z || result FAIL discarded range not zero\n"
  "half=$(dd if=/tmp/pat bs=4096 count=128 2>/dev/null | md5sum)\n"
  "v=$(basename $(readlink /sys/block/$rw/device))\n"
  "q0=$(awk \"/$v-req.0\\$/ { print \\$2 + \\$3 }\" /proc/interrupts)\n"
  "q1=$(awk \"/$v-req.1\\$/ { print \\$2 + \\$3 }\" /proc/interrupts)\n"
  "ro_flag=$(cat /sys/block/$ro/ro)\n"
  "rw_flag=$(cat /sys/block/$rw/ro)\n"
  "dd if=/dev/zero of=/dev/$ro bs=4096 count=1 oflag=direct 2>/dev/null && result FAIL write to the read-only disk\n"
  "ro_md5=$(dd if=/dev/$ro bs=65536 count=16 iflag=direct 2>/dev/null | md5sum)\n"
  "result PASS md5=${md5%% *} half=${half%% *} size=$size queues=$queues cache=$cache q0=$q0 q1=$q1"
  " ro=$ro_flag rw=$rw_flag ro_md5=${ro_md5%% *}\n";

static char *
md5_of (const guint8 *bytes, gsize length)
{
  return g_compute_checksum_for_data (G_CHECKSUM_MD5, bytes, length);
}

static char *
make_image (const char *dir, const char *name, gboolean random, guint8 **contents)
{
  char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) error = NULL;

  *contents = g_malloc0 (IMAGE_SIZE);
  if (random)
    for (gsize i = 0; i < PATTERN_SIZE; i++)
      (*contents)[i] = g_test_rand_int ();
  g_assert_true (g_file_set_contents (path, (char *) *contents, IMAGE_SIZE, &error));
  g_assert_no_error (error);
  return path;
}

static VhostPeer *
start_tool (const char *dir, const char *name, const char *sock, const char *image, const char *extra)
{
  g_autofree char *socket_arg = g_strdup_printf ("--socket-path=%s", sock);
  g_autofree char *file_arg = g_strdup_printf ("--blk-file=%s", image);
  g_autofree char *serial_arg = g_strdup_printf ("--serial=%s", name);
  const char *argv[] = { g_getenv ("VHOST_USER_BLK"), socket_arg, file_arg, serial_arg, extra, NULL };
  VhostPeer *peer;

  g_assert_nonnull (argv[0]);
  peer = vhost_peer_start (dir, name, NULL, argv);
  vhost_peer_wait_for_socket (peer, sock, 10000);
  return peer;
}

/* SIGTERM: exit 0, the socket file removed. */
static void
stop_tool (VhostPeer *peer, const char *sock)
{
  vhost_peer_terminate (peer, SIGTERM, sock);
  vhost_peer_free (peer);
}

static void
test_guest (void)
{
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *rw_sock = g_build_filename (dir, "rw.sock", NULL);
  g_autofree char *ro_sock = g_build_filename (dir, "ro.sock", NULL);
  g_autofree guint8 *rw_bytes = NULL, *ro_bytes = NULL, *after = NULL;
  g_autofree char *rw_image = make_image (dir, "rw.img", FALSE, &rw_bytes);
  g_autofree char *ro_image = make_image (dir, "ro.img", TRUE, &ro_bytes);
  g_autofree char *initrd = g_build_filename (dir, "initrd.gz", NULL);
  g_autofree char *kver = vhost_guest_find_kernel ();
  g_autofree char *rw_chardev = g_strdup_printf ("socket,id=c0,path=%s", rw_sock);
  g_autofree char *ro_chardev = g_strdup_printf ("socket,id=c1,path=%s", ro_sock);
  g_autofree char *ro_md5 = md5_of (ro_bytes, PATTERN_SIZE);
  g_autofree char *half_md5 = NULL;
  const char *devices[] = { "-chardev", rw_chardev, "-device", "vhost-user-blk-pci,chardev=c0,num-queues=2",
                            "-chardev", ro_chardev, "-device", "vhost-user-blk-pci,chardev=c1,num-queues=1", NULL };
  g_auto(GStrv) result = NULL;
  VhostPeer *rw, *ro, *guest;
  gsize length;

  vhost_guest_make_initramfs (dir, kver, initrd, guest_init, modules);
  rw = start_tool (dir, "rw-disk", rw_sock, rw_image, "--num-queues=2");
  ro = start_tool (dir, "ro-disk", ro_sock, ro_image, "--read-only");
  guest = vhost_guest_start (dir, kver, initrd, 2, devices);
  result = vhost_guest_wait_result (guest, QEMU_TIMEOUT_MS);
  vhost_peer_free (guest);
  stop_tool (rw, rw_sock);
  stop_tool (ro, ro_sock);

  /* The read-write disk: its size, two queues that both carried requests, a
   * write-back cache (so fsync sent FLUSH). */
  g_assert_cmpuint (g_ascii_strtoull (vhost_guest_result_value (result, "size"), NULL, 10), ==, IMAGE_SIZE / 512);
  g_assert_cmpstr (vhost_guest_result_value (result, "queues"), ==, "2");
  g_assert_cmpstr (vhost_guest_result_value (result, "cache"), ==, "write_back");
  g_assert_cmpstr (vhost_guest_result_value (result, "rw"), ==, "0");
  g_test_message ("interrupts of the two queues: %s, %s", vhost_guest_result_value (result, "q0"),
                  vhost_guest_result_value (result, "q1"));
  g_assert_cmpuint (g_ascii_strtoull (vhost_guest_result_value (result, "q0"), NULL, 10), >=, 1);
  g_assert_cmpuint (g_ascii_strtoull (vhost_guest_result_value (result, "q1"), NULL, 10), >=, 1);

  /* On the host: the first half of the pattern, then the discarded half as zeroes,
   * then the untouched zeroes. */
  g_assert_true (g_file_get_contents (rw_image, (char **) &after, &length, NULL));
  g_assert_cmpuint (length, ==, IMAGE_SIZE);
  half_md5 = md5_of (after, PATTERN_SIZE / 2);
  g_assert_cmpstr (half_md5, ==, vhost_guest_result_value (result, "half"));
  for (gsize i = PATTERN_SIZE / 2; i < IMAGE_SIZE; i++)
    if (after[i] != 0)
      g_error ("rw.img has a non-zero byte at %" G_GSIZE_FORMAT ", in the discarded or untouched part", i);
  g_assert_nonnull (vhost_guest_result_value (result, "md5"));

  /* The read-only disk: read-only in the guest, its bytes read, unchanged. */
  g_assert_cmpstr (vhost_guest_result_value (result, "ro"), ==, "1");
  g_assert_cmpstr (vhost_guest_result_value (result, "ro_md5"), ==, ro_md5);
  g_clear_pointer (&after, g_free);
  g_assert_true (g_file_get_contents (ro_image, (char **) &after, &length, NULL));
  g_assert_true (length == IMAGE_SIZE && memcmp (after, ro_bytes, IMAGE_SIZE) == 0);

  vhost_peer_remove_dir (dir);
}

int
main (int argc, char **argv)
{
  vhost_test_init (&argc, &argv);
  g_test_add_func ("/vhost/interop/blk-tool/guest", test_guest);
  return g_test_run ();
}
