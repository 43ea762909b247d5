/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A Linux guest in qemu-system-x86_64 writes and reads back a disk served by VhostTestBlk
 * (vhost-user-blk-pci): the data plane end to end against a real driver. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "test-support.h"
#include "peer.h"
#include "blk-device.h"

#define IMAGE_SIZE (8 * 1024 * 1024)
#define PATTERN_SIZE (1024 * 1024)
#define NUM_QUEUES 2
#define QEMU_TIMEOUT_MS (240 * 1000)
#define RESULT_MARKER "VHOST-TEST-RESULT: "

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
  "#!/bin/sh\n"
  "/bin/busybox --install -s /bin\n"
  "export PATH=/bin\n"
  "mount -t proc proc /proc\n"
  "mount -t sysfs sysfs /sys\n"
  "mount -t devtmpfs devtmpfs /dev\n"
  "exec </dev/console >/dev/console 2>&1\n"
  "result () { echo \"" RESULT_MARKER "$*\"; poweroff -f; sleep 60; }\n"
  "for m in $(cat /etc/modules.order); do insmod \"$m\" || result FAIL insmod \"$m\"; done\n"
  "n=0\n"
  "while [ ! -b /dev/vda ]; do\n"
  "  n=$((n + 1)); [ $n -le 600 ] || result FAIL no /dev/vda\n"
  "  sleep 0.05\n"
  "done\n"
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

/* The newest kernel with both its modules and a /boot/vmlinuz. */
static char *
find_kernel_version (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/lib/modules", 0, NULL);
  char *newest = NULL;
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *vmlinuz = g_strdup_printf ("/boot/vmlinuz-%s", name);

      if (g_file_test (vmlinuz, G_FILE_TEST_IS_REGULAR) && (newest == NULL || strverscmp (name, newest) > 0))
        {
          g_free (newest);
          newest = g_strdup (name);
        }
    }
  if (newest == NULL)
    g_error ("No kernel in /boot with modules in /lib/modules: apt-get install linux-image-amd64 "
             "(.ci/install-deps.sh does)");
  return newest;
}

static void
make_initramfs (const char *dir, const char *kver, const char *initrd)
{
  g_autofree char *script = g_test_build_filename (G_TEST_DIST, "vm", "make-initramfs.sh", NULL);
  g_autofree char *init = g_build_filename (dir, "init", NULL);
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(GError) error = NULL;
  const char *argv[] = { "bash", script, "-k", kver, initrd, init, modules, NULL };
  int status = -1;

  if (!g_file_test ("/bin/busybox", G_FILE_TEST_IS_EXECUTABLE))
    g_error ("/bin/busybox is missing: apt-get install busybox-static (.ci/install-deps.sh does)");
  g_assert_true (g_file_set_contents (init, guest_init, -1, &error));
  g_assert_no_error (error);
  g_test_message ("building %s with %s", initrd, script);
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status,
                               &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("make-initramfs.sh failed (%s):\n%s%s", error->message, out, err);
  g_assert_true (g_file_test (initrd, G_FILE_TEST_IS_REGULAR));
}

/* The serial console's text: no carriage returns, no ANSI escape sequences. */
static char *
clean_console (const char *log)
{
  GString *text = g_string_new (NULL);

  for (const char *p = log; *p != '\0'; p++)
    {
      if (*p == '\r')
        continue;
      if (*p == '\033')
        {
          if (p[1] == '[')
            {
              /* CSI: parameters and intermediates up to a final byte in @..~. */
              p += 2;
              while (*p != '\0' && !(*p >= '@' && *p <= '~'))
                p++;
              if (*p == '\0')
                break;
            }
          else if (p[1] != '\0')
            p++;
          continue;
        }
      g_string_append_c (text, *p);
    }
  return g_string_free (text, FALSE);
}

/* The words after the marker, or NULL. */
static char **
find_result (const char *console)
{
  const char *marker = strstr (console, RESULT_MARKER);
  const char *end;
  g_autofree char *line = NULL;

  if (marker == NULL)
    return NULL;
  marker += strlen (RESULT_MARKER);
  end = strchr (marker, '\n');
  line = end != NULL ? g_strndup (marker, end - marker) : g_strdup (marker);
  return g_strsplit (g_strstrip (line), " ", -1);
}

static const char *
result_value (char **words, const char *key)
{
  gsize len = strlen (key);

  for (guint i = 0; words[i] != NULL; i++)
    if (strncmp (words[i], key, len) == 0 && words[i][len] == '=')
      return words[i] + len + 1;
  return NULL;
}

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
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_test_blk_open (VHOST_TEST_BLK (slave), serve->image, NUM_QUEUES, &error));
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
  g_autofree char *kver = find_kernel_version ();
  g_autofree char *kernel = g_strdup_printf ("/boot/vmlinuz-%s", kver);
  g_autofree char *chardev = g_strdup_printf ("socket,id=c0,path=%s", sock);
  g_autofree char *device = g_strdup_printf ("vhost-user-blk-pci,chardev=c0,num-queues=%u", NUM_QUEUES);
  g_autofree char *log = NULL, *console = NULL, *qemu = NULL;
  g_auto(GStrv) result = NULL;
  /* setpriv makes the kernel kill QEMU if this process dies (a failed assertion, a crash):
   * a guest whose disk went away would otherwise run on forever. */
  const char *argv[] = { "setpriv", "--pdeathsig", "KILL", "--",
                         "qemu-system-x86_64", "-machine", "q35,accel=tcg", "-m", "512", "-smp", "2",
                         "-nographic", "-no-reboot", "-nic", "none",
                         "-object", "memory-backend-memfd,id=mem,size=512M,share=on", "-numa", "node,memdev=mem",
                         "-chardev", chardev, "-device", device,
                         "-kernel", kernel, "-initrd", initrd, "-append", "console=ttyS0 quiet panic=-1", NULL };
  ServeData serve = { image, sock };
  VhostTestSlaveThread *thread;
  VhostTestBlkStats stats;
  VhostPeer *peer;
  gint64 start;
  int fd, status = -1;
  const char *md5, *value;

  /* A sparse, zero-filled disk. */
  fd = open (image, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, IMAGE_SIZE), ==, 0);
  close (fd);

  make_initramfs (dir, kver, initrd);

  /* The device lives in its own thread with its own main context; its queues in workers. */
  thread = vhost_test_slave_thread_new (VHOST_TYPE_TEST_BLK, -1, serve_setup, &serve);

  qemu = g_find_program_in_path ("qemu-system-x86_64");
  if (qemu == NULL)
    g_error ("qemu-system-x86_64 is not installed: apt-get install qemu-system-x86 (.ci/install-deps.sh does)");
  start = g_get_monotonic_time ();
  peer = vhost_peer_start (dir, "qemu", "util-linux", argv);
  if (!vhost_peer_wait_exit (peer, QEMU_TIMEOUT_MS, &status))
    {
      log = vhost_peer_get_log (peer);
      g_error ("the guest did not power off within %u s; the console:\n%s", QEMU_TIMEOUT_MS / 1000, log);
    }
  g_test_message ("the guest ran for %.1f s; QEMU exited with status %d",
                  (g_get_monotonic_time () - start) / (double) G_TIME_SPAN_SECOND, status);
  log = vhost_peer_get_log (peer);
  console = clean_console (log);
  result = find_result (console);
  if (result == NULL || g_strcmp0 (result[0], "PASS") != 0)
    g_error ("the guest did not report PASS; the console:\n%s", console);
  g_assert_cmpint (status, ==, 0);

  vhost_test_blk_get_stats (VHOST_TEST_BLK (vhost_test_slave_thread_get_slave (thread)), &stats);
  g_test_message ("device: %u reads (%" G_GUINT64_FORMAT " bytes), %u writes (%" G_GUINT64_FORMAT " bytes), "
                  "%u flushes, %u GET_IDs; per queue %u, %u; guest blk-mq queues %s",
                  stats.reads, stats.bytes_read, stats.writes, stats.bytes_written, stats.flushes, stats.get_ids,
                  stats.per_queue[0], stats.per_queue[1], result_value (result, "queues"));
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
  g_assert_cmpstr (result_value (result, "queues"), ==, G_STRINGIFY (NUM_QUEUES));
  g_assert_cmpuint (stats.per_queue[0], >=, 4);
  g_assert_cmpuint (stats.per_queue[1], >=, 256);

  value = result_value (result, "size");
  g_assert_nonnull (value);
  g_assert_cmpuint (g_ascii_strtoull (value, NULL, 10), ==, IMAGE_SIZE / 512);
  g_assert_cmpstr (result_value (result, "serial"), ==, VHOST_TEST_BLK_SERIAL);
  md5 = result_value (result, "md5");
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
