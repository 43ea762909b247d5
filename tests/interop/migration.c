/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Live migration of a test guest between two QEMU processes: QMP on both sides, query-migrate until it ends. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "migration.h"
#include "test-support.h"

#define QMP_SOCKET_TIMEOUT_MS 30000
#define MEMORY_SIZE (512 * 1024 * 1024)
#define PAGE 4096

struct _VhostMigration
{
  char *dir;
  VhostMigrationOptions options;
  VhostPeer *source;              /* (owned) (nullable) */
  VhostPeer *destination;         /* (owned) */
  VhostQmp *source_qmp;           /* (owned) (nullable) */
  VhostQmp *destination_qmp;      /* (owned) */
  int source_memory;              /* (owned) the source guest's memory file */
  int destination_memory;         /* (owned) */
};

static VhostPeer *
start_qemu (VhostMigration *m, const char *side, const char *kver, const char *initrd, guint smp,
            const char *const *devices, gboolean incoming, VhostQmp **qmp, int *memory_fd)
{
  g_autofree char *name = g_strdup_printf ("qemu-%s", side);
  g_autofree char *qmp_path = g_strdup_printf ("%s/qmp-%s.sock", m->dir, side);
  g_autofree char *qmp_arg = g_strdup_printf ("unix:%s,server=on,wait=off", qmp_path);
  g_autofree char *memory_path = g_strdup_printf ("/dev/shm/vhost-glib-migration-%d-%s", (int) getpid (), side);
  g_autofree char *memory = g_strdup_printf ("memory-backend-file,id=mem,size=%u,share=on,mem-path=%s", MEMORY_SIZE,
                                             memory_path);
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  VhostPeer *peer;

  for (guint i = 0; devices != NULL && devices[i] != NULL; i++)
    g_ptr_array_add (args, (gpointer) devices[i]);
  g_ptr_array_add (args, (gpointer) "-qmp");
  g_ptr_array_add (args, qmp_arg);
  if (incoming)
    {
      g_ptr_array_add (args, (gpointer) "-incoming");
      g_ptr_array_add (args, (gpointer) "defer");
      /* After a precopy migration the destination waits, for the comparison. */
      if (!m->options.postcopy)
        g_ptr_array_add (args, (gpointer) "-S");
    }
  g_ptr_array_add (args, NULL);
  unlink (memory_path);
  peer = vhost_guest_start_with_memory (m->dir, name, kver, initrd, smp, memory, "init_on_alloc=0",
                                        (const char *const *) args->pdata);
  vhost_peer_wait_for_socket (peer, qmp_path, QMP_SOCKET_TIMEOUT_MS);
  *qmp = vhost_qmp_connect (qmp_path);
  /* QEMU has the file by now (it made the memory before its monitor): ours is
   * an fd, so that nothing stays in /dev/shm however the test ends. */
  *memory_fd = open (memory_path, O_RDONLY | O_CLOEXEC);
  if (*memory_fd < 0)
    g_error ("%s: %s", memory_path, g_strerror (errno));
  g_assert_cmpint (unlink (memory_path), ==, 0);
  return peer;
}

VhostMigration *
vhost_migration_new (const char *dir, const char *kver, const char *initrd, guint smp,
                     const VhostMigrationOptions *options, const char *const *source_devices,
                     const char *const *destination_devices)
{
  VhostMigration *m = g_new0 (VhostMigration, 1);

  m->dir = g_strdup (dir);
  m->options = *options;
  m->source_memory = m->destination_memory = -1;
  m->source = start_qemu (m, "source", kver, initrd, smp, source_devices, FALSE, &m->source_qmp, &m->source_memory);
  m->destination = start_qemu (m, "destination", kver, initrd, smp, destination_devices, TRUE, &m->destination_qmp,
                               &m->destination_memory);
  return m;
}

VhostPeer *
vhost_migration_get_source (VhostMigration *m)
{
  return m->source;
}

VhostPeer *
vhost_migration_get_destination (VhostMigration *m)
{
  return m->destination;
}

static gint64
member_int (JsonObject *object, const char *name)
{
  return object != NULL ? json_object_get_int_member_with_default (object, name, -1) : -1;
}

static const char *
migration_status (JsonObject *info)
{
  return json_object_get_string_member_with_default (info, "status", "none");
}

/* The pages of guest memory that differ between the two sides, both paused. */
static gint64
compare_memory (VhostMigration *m)
{
  g_autofree guint8 *a = g_malloc (1 << 20), *b = g_malloc (1 << 20);
  g_autoptr(GString) first = g_string_new (NULL);
  gint64 differing = 0;

  for (gsize offset = 0; offset < MEMORY_SIZE; offset += 1 << 20)
    {
      g_assert_cmpint (pread (m->source_memory, a, 1 << 20, offset), ==, 1 << 20);
      g_assert_cmpint (pread (m->destination_memory, b, 1 << 20, offset), ==, 1 << 20);
      if (memcmp (a, b, 1 << 20) == 0)
        continue;
      for (gsize page = 0; page < (1 << 20); page += PAGE)
        if (memcmp (a + page, b + page, PAGE) != 0 && differing++ < 8)
          g_string_append_printf (first, " 0x%" G_GSIZE_MODIFIER "x", offset + page);
    }
  g_test_message ("the destination's memory: %" G_GINT64_FORMAT " pages differ from the source's%s%s", differing,
                  differing > 0 ? ", from" : "", first->str);
  return differing;
}

void
vhost_migration_run (VhostMigration *m, guint timeout_ms, VhostMigrationStats *stats)
{
  const VhostMigrationOptions *options = &m->options;
  g_autofree char *uri = g_strdup_printf ("unix:%s/migration.sock", m->dir);
  g_autofree char *uri_arg = g_strdup_printf ("{\"uri\": \"%s\"}", uri);
  gint64 deadline = g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND;
  gboolean saw_postcopy = FALSE;
  g_autoptr(JsonObject) info = NULL;
  JsonObject *ram;

  g_assert_nonnull (m->source_qmp);
  if (options->postcopy)
    {
      const char *caps = "{\"capabilities\": [{\"capability\": \"postcopy-ram\", \"state\": true}]}";

      json_node_unref (vhost_qmp_execute (m->source_qmp, "migrate-set-capabilities", caps));
      json_node_unref (vhost_qmp_execute (m->destination_qmp, "migrate-set-capabilities", caps));
    }
  if (options->max_bandwidth > 0)
    {
      g_autofree char *bandwidth = g_strdup_printf ("{\"max-bandwidth\": %" G_GUINT64_FORMAT "}",
                                                    options->max_bandwidth);

      json_node_unref (vhost_qmp_execute (m->source_qmp, "migrate-set-parameters", bandwidth));
    }
  json_node_unref (vhost_qmp_execute (m->destination_qmp, "migrate-incoming", uri_arg));
  json_node_unref (vhost_qmp_execute (m->source_qmp, "migrate", uri_arg));
  if (options->postcopy)
    json_node_unref (vhost_qmp_execute (m->source_qmp, "migrate-start-postcopy", NULL));

  /* Until it ends. */
  for (;;)
    {
      const char *status;

      g_clear_pointer (&info, json_object_unref);
      info = vhost_qmp_execute_object (m->source_qmp, "query-migrate", NULL);
      status = migration_status (info);
      if (g_str_equal (status, "postcopy-active"))
        saw_postcopy = TRUE;
      if (g_str_equal (status, "completed"))
        break;
      if (g_str_equal (status, "failed") || g_str_equal (status, "cancelled"))
        {
          g_autofree char *source = vhost_guest_get_console (m->source);
          g_autofree char *destination = vhost_guest_get_console (m->destination);

          g_error ("the migration %s (%s); the source's log:\n%s\nthe destination's log:\n%s", status,
                   json_object_get_string_member_with_default (info, "error-desc", "no description"), source,
                   destination);
        }
      if (g_get_monotonic_time () > deadline)
        g_error ("the migration did not complete within %u s (status %s)", timeout_ms / 1000, status);
      g_usleep (100 * 1000);
    }
  ram = json_object_has_member (info, "ram") ? json_object_get_object_member (info, "ram") : NULL;
  *stats = (VhostMigrationStats) {
    .total_ms = member_int (info, "total-time"),
    .downtime_ms = member_int (info, "downtime"),
    .setup_ms = member_int (info, "setup-time"),
    .transferred = member_int (ram, "transferred"),
    .postcopy_bytes = member_int (ram, "postcopy-bytes"),
    .postcopy_requests = member_int (ram, "postcopy-requests"),
    .dirty_syncs = member_int (ram, "dirty-sync-count"),
  };
  g_test_message ("migration completed%s: %" G_GINT64_FORMAT " ms in all, downtime %" G_GINT64_FORMAT
                  " ms, setup %" G_GINT64_FORMAT " ms; %" G_GINT64_FORMAT " bytes of RAM sent (%" G_GINT64_FORMAT
                  " after the switch to postcopy, %" G_GINT64_FORMAT " pages asked for), %" G_GINT64_FORMAT
                  " dirty-bitmap syncs",
                  options->postcopy ? " (postcopy)" : "", stats->total_ms, stats->downtime_ms, stats->setup_ms,
                  stats->transferred, stats->postcopy_bytes, stats->postcopy_requests, stats->dirty_syncs);
  stats->differing_pages = -1;
  if (options->postcopy)
    g_assert_true (saw_postcopy || stats->postcopy_bytes > 0);
  else
    {
      /* Both paused: the destination holds what the source held. */
      stats->differing_pages = compare_memory (m);
      json_node_unref (vhost_qmp_execute (m->destination_qmp, "cont", NULL));
    }

  /* The destination runs the guest. */
  {
    g_autoptr(JsonObject) state = vhost_qmp_execute_object (m->destination_qmp, "query-status", NULL);

    g_assert_cmpstr (json_object_get_string_member (state, "status"), ==, "running");
  }
}

void
vhost_migration_quit_source (VhostMigration *m)
{
  int status = -1;

  json_node_unref (vhost_qmp_execute (m->source_qmp, "quit", NULL));
  g_clear_pointer (&m->source_qmp, vhost_qmp_free);
  if (!vhost_peer_wait_exit (m->source, 30000, &status))
    g_error ("the source QEMU did not exit after quit");
  g_assert_cmpint (status, ==, 0);
  g_clear_pointer (&m->source, vhost_peer_free);
}

void
vhost_migration_free (VhostMigration *m)
{
  g_clear_pointer (&m->source_qmp, vhost_qmp_free);
  g_clear_pointer (&m->destination_qmp, vhost_qmp_free);
  g_clear_pointer (&m->source, vhost_peer_free);
  g_clear_pointer (&m->destination, vhost_peer_free);
  if (m->source_memory >= 0)
    close (m->source_memory);
  if (m->destination_memory >= 0)
    close (m->destination_memory);
  g_free (m->dir);
  g_free (m);
}
