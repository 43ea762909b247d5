/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A Linux guest in qemu-system-x86_64 writes and reads back a disk served in-process by vhost-user-blk's device,
 * VhostToolBlk (vhost-user-blk-pci): the data plane end to end against a real driver. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "test-support.h"
#include "guest.h"
#include "blk-device.h"

#define SERIAL "vhost-glib-test-blk"

#define IMAGE_SIZE (8 * 1024 * 1024)
#define PATTERN_SIZE (1024 * 1024)
#define NUM_QUEUES 2
#define QEMU_TIMEOUT_MS (240 * 1000)

/* The modules of a virtio-blk disk on PCI, in load order (the script adds any missing dependency). */
static const char modules[] =
  "virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk";

/* The guest's /init: write 1 MiB of random data with O_DIRECT in 256 KiB requests (many
 * segments each) from CPU 0, fsync (a FLUSH), drop the caches, read it back with O_DIRECT
 * in 4 KiB requests from CPU 1, compare; report the disk's size, serial (GET_ID) and
 * blk-mq queues, and the pattern's md5. virtio-blk uses one queue per CPU (at most
 * num-queues) and blk-mq maps CPU n to queue n: the guest has two CPUs so that the
 * writes go through queue 0 and the reads through queue 1. */
static const char guest_init[] =
  VHOST_GUEST_INIT_PRELUDE
  VHOST_GUEST_WAIT_FOR ("[ -b /dev/vda ]", "/dev/vda")
  "size=$(cat /sys/block/vda/size)\n"
  "serial=$(cat /sys/block/vda/serial) || result FAIL serial\n"
  "queues=$(ls /sys/block/vda/mq | wc -l)\n"
  "dd if=/dev/urandom of=/tmp/pat bs=4096 count=256 2>/dev/null || result FAIL pattern\n"
  "taskset 1 dd if=/tmp/pat of=/dev/vda bs=262144 count=4 oflag=direct conv=fsync 2>/tmp/err || result FAIL write $(cat /tmp/err)\n"
  "echo 3 > /proc/sys/vm/drop_caches\n"
  "taskset 2 dd if=/dev/vda of=/tmp/back bs=4096 count=256 iflag=direct 2>/tmp/err || result FAIL read $(cat /tmp/err)\n"
  "cmp /tmp/pat /tmp/back || result FAIL compare\n"
  "md5=$(md5sum /tmp/pat) || result FAIL md5sum\n"
  "result PASS md5=${md5%% *} size=$size serial=$serial queues=$queues\n";

typedef struct
{
  const char *image;
  const char *socket;
} ServeData;

/* In the slave's thread: open the image and listen. */
static void
serve_setup (VhostUserSlave *slave, gpointer data)
{
  ServeData *serve = data;
  VhostToolBlkConfig config = {
    .backing = VHOST_TOOL_BLK_BACKING_FILE,
    .path = serve->image,
    .num_queues = NUM_QUEUES,
    .serial = SERIAL,
  };
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_tool_blk_configure (VHOST_TOOL_BLK (slave), &config, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_slave_listen (slave, serve->socket, &error));
  g_assert_no_error (error);
}

static void
check_image (const char *image, const char *md5)
{
  g_autofree guint8 *bytes = NULL;
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_MD5);
  g_autoptr(GError) error = NULL;
  gsize length = 0;

  g_assert_true (g_file_get_contents (image, (char **) &bytes, &length, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (length, ==, IMAGE_SIZE);
  g_checksum_update (checksum, bytes, PATTERN_SIZE);
  g_assert_cmpstr (g_checksum_get_string (checksum), ==, md5);
  /* Nothing was written past the pattern. */
  for (gsize i = PATTERN_SIZE; i < length; i++)
    if (bytes[i] != 0)
      g_error ("the image has a non-zero byte at %" G_GSIZE_FORMAT ", past what the guest wrote", i);
}

static void
test_qemu_guest_blk (void)
{
  gint fds = vhost_test_count_open_fds ();
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *sock = g_build_filename (dir, "vhost-blk.sock", NULL);
  g_autofree char *image = g_build_filename (dir, "disk.img", NULL);
  g_autofree char *initrd = g_build_filename (dir, "initrd.gz", NULL);
  g_autofree char *kver = vhost_guest_find_kernel ();
  g_autofree char *chardev = g_strdup_printf ("socket,id=c0,path=%s", sock);
  g_autofree char *device = g_strdup_printf ("vhost-user-blk-pci,chardev=c0,num-queues=%u", NUM_QUEUES);
  const char *devices[] = { "-chardev", chardev, "-device", device, NULL };
  g_auto(GStrv) result = NULL;
  ServeData serve = { image, sock };
  VhostTestSlaveThread *thread;
  VhostToolBlk *blk;
  VhostToolBlkStats stats, queue0, queue1;
  VhostPeer *peer;
  int fd;
  const char *md5, *value;

  /* A sparse, zero-filled disk. */
  fd = open (image, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, IMAGE_SIZE), ==, 0);
  close (fd);

  vhost_guest_make_initramfs (dir, kver, initrd, guest_init, modules);

  /* The device lives in its own thread with its own main context; its queues in workers. */
  thread = vhost_test_slave_thread_new (VHOST_TYPE_TOOL_BLK, -1, serve_setup, &serve);

  peer = vhost_guest_start (dir, kver, initrd, 2, devices);
  result = vhost_guest_wait_result (peer, QEMU_TIMEOUT_MS);

  blk = VHOST_TOOL_BLK (vhost_test_slave_thread_get_slave (thread));
  vhost_tool_blk_get_stats (blk, -1, &stats);
  vhost_tool_blk_get_stats (blk, 0, &queue0);
  vhost_tool_blk_get_stats (blk, 1, &queue1);
  g_test_message ("device: %" G_GUINT64_FORMAT " reads (%" G_GUINT64_FORMAT " bytes), %" G_GUINT64_FORMAT
                  " writes (%" G_GUINT64_FORMAT " bytes), %" G_GUINT64_FORMAT " flushes, %" G_GUINT64_FORMAT
                  " GET_IDs; per queue %" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT "; guest blk-mq queues %s",
                  stats.reads, stats.bytes_read, stats.writes, stats.bytes_written, stats.flushes, stats.get_ids,
                  queue0.requests, queue1.requests, vhost_guest_result_value (result, "queues"));
  g_assert_cmpuint (stats.io_errors, ==, 0);
  g_assert_cmpuint (stats.unsupported, ==, 0);
  g_assert_cmpuint (stats.malformed, ==, 0);
  g_assert_cmpuint (stats.writes, >=, 1);
  g_assert_cmpuint (stats.bytes_written, >=, PATTERN_SIZE);
  g_assert_cmpuint (stats.reads, >=, 1);
  g_assert_cmpuint (stats.bytes_read, >=, PATTERN_SIZE);
  g_assert_cmpuint (stats.flushes, >=, 1);
  g_assert_cmpuint (stats.get_ids, >=, 1);
  /* Both queues carried requests: the writes queue 0, the reads queue 1. */
  g_assert_cmpstr (vhost_guest_result_value (result, "queues"), ==, G_STRINGIFY (NUM_QUEUES));
  g_assert_cmpuint (queue0.requests, >=, 4);
  g_assert_cmpuint (queue1.requests, >=, 256);

  value = vhost_guest_result_value (result, "size");
  g_assert_nonnull (value);
  g_assert_cmpuint (g_ascii_strtoull (value, NULL, 10), ==, IMAGE_SIZE / 512);
  g_assert_cmpstr (vhost_guest_result_value (result, "serial"), ==, SERIAL);
  md5 = vhost_guest_result_value (result, "md5");
  g_assert_nonnull (md5);

  vhost_test_slave_thread_free (thread);
  g_assert_false (g_file_test (sock, G_FILE_TEST_EXISTS));
  vhost_peer_free (peer);

  /* The bytes on the host are the guest's pattern. */
  check_image (image, md5);

  vhost_peer_remove_dir (dir);
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
  vhost_test_assert_fd_count (fds);
}

int
main (int argc, char **argv)
{
  vhost_test_init (&argc, &argv);
  g_test_add_func ("/vhost/interop/qemu/guest-blk", test_qemu_guest_blk);
  return g_test_run ();
}
