/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Live migration of a Linux guest whose disk is vhost-user-blk (tools/vhost-user-blk, or
 * qemu-storage-daemon to compare): a write-and-verify loop over O_DIRECT runs through the
 * migration, precopy or postcopy, and goes on at the destination. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "test-support.h"
#include "migration.h"

#define BLOCK_SIZE 65536
#define BLOCKS 32                     /* per round, after the control block */
#define IMAGE_SIZE (8 * 1024 * 1024)
#define ROUND_MARKER "VHOST-TEST-ROUND "
#define ROUND_TIMEOUT_MS (120 * 1000)

static const char modules[] = VHOST_GUEST_VIRTIO_PCI_MODULES " virtio_blk";

/* The guest's /init: rounds of writing each data block (its pattern names the
 * round and the block), reading it back and comparing, all with O_DIRECT; after
 * each round the marker, and a look at the control block (block 0): the test
 * writes STOP there to end the loop. Any I/O error or difference fails. */
static const char guest_init[] =
  VHOST_GUEST_INIT_PRELUDE
  VHOST_GUEST_WAIT_FOR ("[ -b /dev/vda ]", "no /dev/vda")
  "r=0\n"
  "while :; do\n"
  "  r=$((r + 1))\n"
  "  b=0\n"
  "  while [ $b -lt " G_STRINGIFY (BLOCKS) " ]; do\n"
  "    yes \"r$r b$b\" | head -c " G_STRINGIFY (BLOCK_SIZE) " >/tmp/w\n"
  "    dd if=/tmp/w of=/dev/vda bs=" G_STRINGIFY (BLOCK_SIZE) " seek=$((b + 1)) count=1 oflag=direct 2>/tmp/err"
  " || result FAIL write r$r b$b $(cat /tmp/err)\n"
  "    dd if=/dev/vda of=/tmp/r bs=" G_STRINGIFY (BLOCK_SIZE) " skip=$((b + 1)) count=1 iflag=direct 2>/tmp/err"
  " || result FAIL read r$r b$b $(cat /tmp/err)\n"
  "    cmp /tmp/w /tmp/r >/dev/null || result FAIL verify r$r b$b\n"
  "    b=$((b + 1))\n"
  "  done\n"
  "  echo " ROUND_MARKER "$r\n"
  "  [ \"$(dd if=/dev/vda bs=512 count=1 iflag=direct 2>/dev/null | head -c 4)\" = STOP ] && result PASS rounds=$r\n"
  "done\n";

typedef enum
{
  BACKEND_TOOL,   /* tools/vhost-user-blk */
  BACKEND_QSD,    /* qemu-storage-daemon */
} Backend;

typedef struct
{
  Backend backend;
  gboolean packed;
  gboolean postcopy;
} BlkCase;

/* Data block `block` as round `round` writes it: "r<round> b<block>\n" over and over. */
static void
fill_block (guint8 *data, guint round, guint block)
{
  g_autofree char *line = g_strdup_printf ("r%u b%u\n", round, block);
  gsize len = strlen (line);

  for (gsize i = 0; i < BLOCK_SIZE; i++)
    data[i] = line[i % len];
}

static VhostPeer *
start_backend (const BlkCase *c, const char *dir, const char *side, const char *sock, const char *image)
{
  g_autofree char *name = g_strdup_printf ("%s-%s", c->backend == BACKEND_TOOL ? "vhost-user-blk" : "qsd", side);
  VhostPeer *peer;

  if (c->backend == BACKEND_TOOL)
    {
      g_autofree char *socket_arg = g_strdup_printf ("--socket-path=%s", sock);
      g_autofree char *file_arg = g_strdup_printf ("--blk-file=%s", image);
      const char *argv[] = { g_getenv ("VHOST_USER_BLK"), socket_arg, file_arg, NULL };

      g_assert_nonnull (argv[0]);
      peer = vhost_peer_start (dir, name, NULL, argv);
    }
  else
    {
      /* Both daemons have the image open for writing: without locking=off the
       * second one is refused the image's lock. */
      g_autofree char *file = g_strdup_printf ("driver=file,node-name=f,filename=%s,locking=off", image);
      g_autofree char *export = g_strdup_printf ("type=vhost-user-blk,id=e,node-name=d,addr.type=unix,addr.path=%s,"
                                                 "writable=on", sock);
      const char *argv[] = { "qemu-storage-daemon", "--blockdev", file, "--blockdev", "driver=raw,node-name=d,file=f",
                             "--export", export, NULL };

      peer = vhost_peer_start (dir, name, "qemu-utils", argv);
    }
  vhost_peer_wait_for_socket (peer, sock, 30000);
  return peer;
}

/* A clean exit: vhost-user-blk exits 0 on SIGTERM without its socket;
 * qemu-storage-daemon exits 0 on SIGTERM. Neither warned. */
static void
stop_backend (const BlkCase *c, VhostPeer *peer, const char *sock)
{
  g_autofree char *log = NULL;

  vhost_peer_terminate (peer, SIGTERM, c->backend == BACKEND_TOOL ? sock : NULL);
  log = vhost_peer_get_log (peer);
  if (strstr (log, "WARNING") != NULL || strstr (log, "CRITICAL") != NULL || strstr (log, "broke") != NULL)
    g_error ("the back-end complained; its log:\n%s", log);
  vhost_peer_free (peer);
}

/* The rounds whose marker is on `console`, in order. */
static GArray *
find_rounds (const char *console)
{
  GArray *rounds = g_array_new (FALSE, FALSE, sizeof (guint));

  for (const char *p = strstr (console, ROUND_MARKER); p != NULL; p = strstr (p + 1, ROUND_MARKER))
    {
      const char *digits = p + strlen (ROUND_MARKER);
      char *end;
      guint round = g_ascii_strtoull (digits, &end, 10);

      if (end != digits && *end == '\n')
        g_array_append_val (rounds, round);
    }
  return rounds;
}

static void
assert_no_io_error (const char *what, const char *console)
{
  if (strstr (console, "I/O error") != NULL || strstr (console, VHOST_GUEST_RESULT_MARKER "FAIL") != NULL)
    g_error ("the guest's console (%s) shows an error:\n%s", what, console);
}

static void
test_blk_migration (gconstpointer data)
{
  const BlkCase *c = data;
  gint fds = vhost_test_count_open_fds ();
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *image = g_build_filename (dir, "disk.img", NULL);
  g_autofree char *source_sock = g_build_filename (dir, "source.sock", NULL);
  g_autofree char *destination_sock = g_build_filename (dir, "destination.sock", NULL);
  g_autofree char *initrd = g_build_filename (dir, "initrd.gz", NULL);
  g_autofree char *kver = vhost_guest_find_kernel ();
  g_autofree char *source_chardev = g_strdup_printf ("socket,id=c0,path=%s", source_sock);
  g_autofree char *destination_chardev = g_strdup_printf ("socket,id=c0,path=%s", destination_sock);
  g_autofree char *device = g_strdup_printf ("vhost-user-blk-pci,chardev=c0,packed=%s", c->packed ? "on" : "off");
  g_autofree guint8 *zeroes = g_malloc0 (IMAGE_SIZE);
  g_autofree guint8 *after = NULL, *expected = g_malloc (BLOCK_SIZE);
  g_autofree char *source_console = NULL, *destination_console = NULL, *wait_for = NULL;
  g_autoptr(GArray) source_rounds = NULL, destination_rounds = NULL;
  g_autoptr(VhostMigration) migration = NULL;
  g_autoptr(GError) error = NULL;
  const char *source_devices[] = { "-chardev", source_chardev, "-device", device, NULL };
  const char *destination_devices[] = { "-chardev", destination_chardev, "-device", device, NULL };
  VhostMigrationOptions options = { .postcopy = c->postcopy, .max_bandwidth = VHOST_MIGRATION_MAX_BANDWIDTH };
  VhostMigrationStats stats;
  g_auto(GStrv) result = NULL;
  VhostPeer *source_backend, *destination_backend, *guest;
  guint last_source_round, rounds;
  gint64 start = g_get_monotonic_time (), migrated;
  gsize length;
  int fd;

  g_assert_true (g_file_set_contents (image, (const char *) zeroes, IMAGE_SIZE, &error));
  g_assert_no_error (error);
  vhost_guest_make_initramfs (dir, kver, initrd, guest_init, modules);
  source_backend = start_backend (c, dir, "source", source_sock, image);
  destination_backend = start_backend (c, dir, "destination", destination_sock, image);
  migration = vhost_migration_new (dir, kver, initrd, 1, &options, source_devices, destination_devices);

  /* The loop runs on the source: a round done, then the migration under it. */
  vhost_guest_wait_console (vhost_migration_get_source (migration), ROUND_MARKER "1\n",
                            VHOST_MIGRATION_BOOT_TIMEOUT_MS);
  g_test_message ("the source guest finished its first round after %.1f s",
                  (g_get_monotonic_time () - start) / (double) G_TIME_SPAN_SECOND);
  vhost_migration_run (migration, VHOST_MIGRATION_TIMEOUT_MS, &stats);
  /* Precopy: the destination got every page the back-end wrote. */
  if (!c->postcopy)
    g_assert_cmpint (stats.differing_pages, ==, 0);
  migrated = g_get_monotonic_time ();
  source_console = vhost_guest_get_console (vhost_migration_get_source (migration));
  source_rounds = find_rounds (source_console);
  g_assert_cmpuint (source_rounds->len, >=, 1);
  last_source_round = g_array_index (source_rounds, guint, source_rounds->len - 1);
  vhost_migration_quit_source (migration);
  stop_backend (c, source_backend, source_sock);

  /* The same guest goes on at the destination: two more rounds there, the
   * second one wholly there, then the test ends the loop. */
  guest = vhost_migration_get_destination (migration);
  wait_for = g_strdup_printf (ROUND_MARKER "%u\n", last_source_round + 2);
  vhost_guest_wait_console (guest, wait_for, ROUND_TIMEOUT_MS);
  g_test_message ("two rounds at the destination %.1f s after the migration",
                  (g_get_monotonic_time () - migrated) / (double) G_TIME_SPAN_SECOND);
  fd = open (image, O_WRONLY);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (pwrite (fd, "STOP", 4, 0), ==, 4);
  g_assert_cmpint (fsync (fd), ==, 0);
  close (fd);
  result = vhost_guest_wait_result (guest, ROUND_TIMEOUT_MS);
  rounds = g_ascii_strtoull (vhost_guest_result_value (result, "rounds"), NULL, 10);
  destination_console = vhost_guest_get_console (guest);
  destination_rounds = find_rounds (destination_console);
  stop_backend (c, destination_backend, destination_sock);

  /* The rounds follow each other across the two consoles: the destination's
   * first marker is the round that was under way (or, if the migration cut its
   * line in two, the next one), then one by one up to the last. */
  g_test_message ("rounds 1-%u on the source, %u-%u on the destination", last_source_round,
                  g_array_index (destination_rounds, guint, 0), rounds);
  g_assert_cmpuint (destination_rounds->len, >=, 2);
  g_assert_cmpuint (g_array_index (destination_rounds, guint, 0), >=, last_source_round + 1);
  g_assert_cmpuint (g_array_index (destination_rounds, guint, 0), <=, last_source_round + 2);
  for (guint i = 1; i < destination_rounds->len; i++)
    g_assert_cmpuint (g_array_index (destination_rounds, guint, i), ==,
                      g_array_index (destination_rounds, guint, i - 1) + 1);
  g_assert_cmpuint (g_array_index (destination_rounds, guint, destination_rounds->len - 1), ==, rounds);
  assert_no_io_error ("source", source_console);
  assert_no_io_error ("destination", destination_console);

  /* The image holds what the guest wrote: the last round in every data block,
   * the control word, zeroes elsewhere. */
  g_assert_true (g_file_get_contents (image, (char **) &after, &length, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (length, ==, IMAGE_SIZE);
  g_assert_cmpmem (after, 4, "STOP", 4);
  g_assert_true (memcmp (after + 4, zeroes, BLOCK_SIZE - 4) == 0);
  for (guint b = 0; b < BLOCKS; b++)
    {
      fill_block (expected, rounds, b);
      if (memcmp (after + (gsize) (b + 1) * BLOCK_SIZE, expected, BLOCK_SIZE) != 0)
        g_error ("block %u of the image does not hold round %u's pattern", b, rounds);
    }
  g_assert_true (memcmp (after + (gsize) (BLOCKS + 1) * BLOCK_SIZE, zeroes,
                         IMAGE_SIZE - (gsize) (BLOCKS + 1) * BLOCK_SIZE) == 0);

  g_clear_pointer (&migration, vhost_migration_free);
  vhost_peer_remove_dir (dir);
  vhost_test_assert_fd_count (fds);
  g_test_message ("the case took %.1f s", (g_get_monotonic_time () - start) / (double) G_TIME_SPAN_SECOND);
}

int
main (int argc, char **argv)
{
  static const BlkCase precopy = { BACKEND_TOOL, FALSE, FALSE };
  static const BlkCase precopy_packed = { BACKEND_TOOL, TRUE, FALSE };
  static const BlkCase postcopy = { BACKEND_TOOL, FALSE, TRUE };
  static const BlkCase precopy_qsd = { BACKEND_QSD, FALSE, FALSE };

  vhost_test_init (&argc, &argv);
  g_test_add_data_func ("/vhost/interop/migration/blk/precopy", &precopy, test_blk_migration);
  g_test_add_data_func ("/vhost/interop/migration/blk/precopy-packed", &precopy_packed, test_blk_migration);
  g_test_add_data_func ("/vhost/interop/migration/blk/postcopy", &postcopy, test_blk_migration);
  g_test_add_data_func ("/vhost/interop/migration/blk/precopy-qemu-storage-daemon", &precopy_qsd, test_blk_migration);
  return g_test_run ();
}
