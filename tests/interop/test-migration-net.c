/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Live migration of a Linux guest whose virtio-net is tools/vhost-user-net in echo mode: the guest receives a stream of
 * its own frames all through the migration and checks it (frame by frame, and its md5 here). With the library's dirty
 * logging switched off (VHOST_GLIB_TEST_NO_DIRTY_LOG) the same test must see the stream broken. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "test-support.h"
#include "echo-stream.h"
#include "migration.h"

#define SEED 7
#define STREAM_SECONDS 40
#define END_TIMEOUT_MS ((STREAM_SECONDS + 120) * 1000)

static const char modules[] = VHOST_GUEST_VIRTIO_PCI_MODULES " failover net_failover virtio_net";

/* The guest's /init: eth0 up without IPv6 (nothing but the stream on the link),
 * then echo-stream for STREAM_SECONDS. */
static const char guest_init[] =
  VHOST_GUEST_INIT_PRELUDE
  VHOST_GUEST_WAIT_FOR ("[ -e /sys/class/net/eth0 ]", "no eth0")
  "echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6\n"
  "echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6\n"
  "ip link set eth0 up || result FAIL ip link\n"
  "/bin/echo-stream eth0 " G_STRINGIFY (STREAM_SECONDS) " " G_STRINGIFY (SEED) " || result FAIL echo-stream\n"
  "result PASS\n";

typedef struct
{
  gboolean dirty_log;    /* FALSE: the back-ends run with VHOST_GLIB_TEST_NO_DIRTY_LOG */
} NetCase;

static VhostPeer *
start_backend (const NetCase *c, const char *dir, const char *name, const char *sock)
{
  const char *tool = g_getenv ("VHOST_USER_NET");
  const char *argv[] = { "env", c->dirty_log ? "VHOST_GLIB_TEST_NO_DIRTY_LOG=" : "VHOST_GLIB_TEST_NO_DIRTY_LOG=1", tool,
                         "--socket-path", sock, "--echo", NULL };
  VhostPeer *peer;

  g_assert_nonnull (tool);
  peer = vhost_peer_start (dir, name, "coreutils", argv);
  vhost_peer_wait_for_socket (peer, sock, 30000);
  return peer;
}

/* SIGTERM: exit 0 without the socket file; no queue broken, no warning but the
 * one that says logging is off, when it is. */
static void
stop_backend (const NetCase *c, VhostPeer *peer, const char *sock)
{
  g_autofree char *log = NULL;

  vhost_peer_terminate (peer, SIGTERM, sock);
  log = vhost_peer_get_log (peer);
  if (c->dirty_log ? strstr (log, "WARNING") != NULL : strstr (log, "VHOST_GLIB_TEST_NO_DIRTY_LOG is set") == NULL)
    g_error ("vhost-user-net's log is not what it should be; its log:\n%s", log);
  if (strstr (log, "CRITICAL") != NULL || strstr (log, "broke") != NULL)
    g_error ("vhost-user-net complained; its log:\n%s", log);
  vhost_peer_free (peer);
}

/* The count of the last ECHO-PROGRESS line on `console`, 0 if none. */
static guint64
last_progress (const char *console)
{
  const char *marker = "ECHO-PROGRESS ";
  const char *p, *last = NULL;

  for (p = strstr (console, marker); p != NULL; p = strstr (p + 1, marker))
    last = p;
  return last != NULL ? g_ascii_strtoull (last + strlen (marker), NULL, 10) : 0;
}

/* The rest of the line after `marker` on `console`, or NULL. */
static char *
line_after (const char *console, const char *marker)
{
  const char *p = strstr (console, marker), *end;

  if (p == NULL)
    return NULL;
  p += strlen (marker);
  end = strchr (p, '\n');
  return end != NULL ? g_strndup (p, end - p) : g_strdup (p);
}

/* The md5 of the first `frames` payloads of the stream. */
static char *
stream_md5 (guint64 frames)
{
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_MD5);
  guint8 payload[ECHO_STREAM_PAYLOAD];

  for (guint64 seq = 0; seq < frames; seq++)
    {
      echo_stream_payload (SEED, seq, payload);
      g_checksum_update (sum, payload, sizeof payload);
    }
  return g_strdup (g_checksum_get_string (sum));
}

static void
test_net_migration (gconstpointer data)
{
  const NetCase *c = data;
  gint fds = vhost_test_count_open_fds ();
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *source_sock = g_build_filename (dir, "source.sock", NULL);
  g_autofree char *destination_sock = g_build_filename (dir, "destination.sock", NULL);
  g_autofree char *initrd = g_build_filename (dir, "initrd.gz", NULL);
  g_autofree char *kver = vhost_guest_find_kernel ();
  g_autofree char *program = g_test_build_filename (G_TEST_BUILT, "interop", "echo-stream", NULL);
  g_autofree char *program_file = g_strdup_printf ("%s:/bin/echo-stream", program);
  g_autofree char *source_chardev = g_strdup_printf ("socket,id=c1,path=%s", source_sock);
  g_autofree char *destination_chardev = g_strdup_printf ("socket,id=c1,path=%s", destination_sock);
  g_autofree char *source_console = NULL, *destination_console = NULL;
  g_autofree char *failure = NULL, *result = NULL, *md5 = NULL;
  g_autoptr(VhostMigration) migration = NULL;
  const char *files[] = { program_file, NULL };
  const char *net_args[] = { "-netdev", "vhost-user,id=n1,chardev=c1", "-device",
                             /* vectors=0: QEMU 7.2 with TCG crashes with a vhost-user-net
                              * device that has MSI-X vectors. */
                             "virtio-net-pci,netdev=n1,mac=52:54:00:12:34:56,vectors=0" };
  const char *source_devices[] = { "-chardev", source_chardev, net_args[0], net_args[1], net_args[2], net_args[3],
                                   NULL };
  const char *destination_devices[] = { "-chardev", destination_chardev, net_args[0], net_args[1], net_args[2],
                                        net_args[3], NULL };
  VhostMigrationOptions options = { .postcopy = FALSE, .max_bandwidth = VHOST_MIGRATION_MAX_BANDWIDTH };
  VhostMigrationStats stats;
  VhostPeer *source_backend, *destination_backend, *guest;
  guint64 before, during, frames;
  gint64 start = g_get_monotonic_time ();
  int status = -1;

  vhost_guest_make_initramfs_with_files (dir, kver, initrd, guest_init, modules, files);
  source_backend = start_backend (c, dir, "vhost-user-net-source", source_sock);
  destination_backend = start_backend (c, dir, "vhost-user-net-destination", destination_sock);
  migration = vhost_migration_new (dir, kver, initrd, 1, &options, source_devices, destination_devices);

  /* The stream runs; the migration under it. */
  vhost_guest_wait_console (vhost_migration_get_source (migration), "ECHO-PROGRESS", VHOST_MIGRATION_BOOT_TIMEOUT_MS);
  source_console = vhost_guest_get_console (vhost_migration_get_source (migration));
  before = last_progress (source_console);
  g_test_message ("the stream runs after %.1f s (%" G_GUINT64_FORMAT " frames back)",
                  (g_get_monotonic_time () - start) / (double) G_TIME_SPAN_SECOND, before);
  vhost_migration_run (migration, VHOST_MIGRATION_TIMEOUT_MS, &stats);
  /* With the log the destination got every page the back-end wrote; without
   * it, some receive buffers went over before the back-end filled them. */
  if (c->dirty_log)
    g_assert_cmpint (stats.differing_pages, ==, 0);
  else
    g_assert_cmpint (stats.differing_pages, >, 0);
  g_clear_pointer (&source_console, g_free);
  source_console = vhost_guest_get_console (vhost_migration_get_source (migration));
  during = last_progress (source_console);
  g_assert_null (strstr (source_console, "ECHO-RESULT"));
  vhost_migration_quit_source (migration);
  stop_backend (c, source_backend, source_sock);

  /* The same stream at the destination, to its end. */
  guest = vhost_migration_get_destination (migration);
  if (!vhost_peer_wait_exit (guest, END_TIMEOUT_MS, &status))
    g_error ("the guest did not power off in time; its console:\n%s", vhost_guest_get_console (guest));
  destination_console = vhost_guest_get_console (guest);
  stop_backend (c, destination_backend, destination_sock);
  g_test_message ("frames back: %" G_GUINT64_FORMAT " when the migration began, %" G_GUINT64_FORMAT
                  " by its end on the source", before, during);
  failure = line_after (destination_console, "ECHO-FAIL ");
  result = line_after (destination_console, "ECHO-RESULT ");

  if (!c->dirty_log)
    {
      /* Receive buffers that the back-end filled after QEMU last copied their
       * pages reach the destination guest stale: the stream breaks there. */
      if (failure == NULL)
        g_error ("without the dirty log the stream was not caught broken; the destination's console:\n%s",
                 destination_console);
      g_test_message ("without the dirty log, at the destination: %s", failure);
      g_assert_nonnull (strstr (destination_console, VHOST_GUEST_RESULT_MARKER "FAIL"));
    }
  else
    {
      if (failure != NULL || result == NULL || strstr (destination_console, VHOST_GUEST_RESULT_MARKER "PASS") == NULL)
        g_error ("the stream broke; the destination's console:\n%s", destination_console);
      g_assert_cmpint (status, ==, 0);
      g_test_message ("at the destination: %s", result);
      /* It went on there (progress counted past the source's last), and what
       * the guest received is the stream, every frame in order. */
      g_assert_cmpuint (last_progress (destination_console), >, during);
      g_assert_true (sscanf (result, "frames=%" G_GUINT64_FORMAT, &frames) == 1);
      g_assert_cmpuint (frames, >, during);
      md5 = stream_md5 (frames);
      g_assert_nonnull (strstr (result, md5));
    }
  /* Frames came back while the memory moved. */
  g_assert_cmpuint (during, >, before);

  g_clear_pointer (&migration, vhost_migration_free);
  vhost_peer_remove_dir (dir);
  vhost_test_assert_fd_count (fds);
  g_test_message ("the case took %.1f s", (g_get_monotonic_time () - start) / (double) G_TIME_SPAN_SECOND);
}

int
main (int argc, char **argv)
{
  static const NetCase logged = { TRUE };
  static const NetCase not_logged = { FALSE };

  vhost_test_init (&argc, &argv);
  g_test_add_data_func ("/vhost/interop/migration/net/echo-precopy", &logged, test_net_migration);
  g_test_add_data_func ("/vhost/interop/migration/net/echo-precopy-without-dirty-log", &not_logged,
                        test_net_migration);
  return g_test_run ();
}
