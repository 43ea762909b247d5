/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Drives a vhost-user back-end from C without blocking: every request asynchronous, on a GMainLoop. */
#include <stdio.h>
#include <string.h>
#include <vhost-glib/vhost-glib.h>

typedef struct
{
  VhostUserMaster *master;
  GMainLoop *loop;
  guint64 acked;
  int status;
} Probe;

/* Ends the probe with `error`, if any (taken). */
static void
probe_end (Probe *probe, GError *error)
{
  if (error != NULL)
    {
      fprintf (stderr, "probe-async: %s\n", error->message);
      g_error_free (error);
      probe->status = 1;
    }
  g_main_loop_quit (probe->loop);
}

static void
config_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Probe *probe = user_data;
  g_autoptr(GBytes) config = NULL;
  GError *error = NULL;
  guint64 capacity;

  config = vhost_user_master_get_config_finish (probe->master, result, &error);
  if (config != NULL)
    {
      /* virtio-blk: the capacity, in 512-byte sectors, is the first field (little-endian). */
      memcpy (&capacity, g_bytes_get_data (config, NULL), 8);
      printf ("capacity %" G_GUINT64_FORMAT " sectors\n", GUINT64_FROM_LE (capacity));
    }
  probe_end (probe, error);
}

static void
queues_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Probe *probe = user_data;
  GError *error = NULL;
  guint64 queues = 1;

  if (result != NULL && !vhost_user_master_get_queue_num_finish (probe->master, result, &queues, &error))
    {
      probe_end (probe, error);
      return;
    }
  printf ("queues %" G_GUINT64_FORMAT "\n", queues);
  if (probe->acked & VHOST_USER_PROTOCOL_F_CONFIG)
    vhost_user_master_get_config_async (probe->master, 0, 8, 0, NULL, config_cb, probe);
  else
    probe_end (probe, NULL);
}

static void
negotiated_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Probe *probe = user_data;
  GError *error = NULL;

  if (!vhost_backend_negotiate_protocol_finish (VHOST_BACKEND (source), result, &probe->acked, &error))
    probe_end (probe, error);
  else if (probe->acked & VHOST_USER_PROTOCOL_F_MQ)
    vhost_user_master_get_queue_num_async (probe->master, NULL, queues_cb, probe);
  else
    queues_cb (source, NULL, probe);
}

static void
features_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Probe *probe = user_data;
  GError *error = NULL;
  guint64 features;

  if (!vhost_backend_get_features_finish (VHOST_BACKEND (source), result, &features, &error))
    {
      probe_end (probe, error);
      return;
    }
  printf ("features 0x%016" G_GINT64_MODIFIER "x%s%s\n", features,
          features & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) ? " version-1" : "",
          features & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES) ? " protocol-features" : "");
  /* The calls go out in order: SET_OWNER before the protocol features, without
   * waiting for it (no callback: its result does not matter here). */
  vhost_backend_set_owner_async (VHOST_BACKEND (source), NULL, NULL, NULL);
  vhost_backend_negotiate_protocol_async (VHOST_BACKEND (source),
                                          VHOST_USER_PROTOCOL_F_MQ | VHOST_USER_PROTOCOL_F_CONFIG, NULL,
                                          negotiated_cb, probe);
}

static void
connected_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Probe *probe = user_data;
  GError *error = NULL;

  if (!vhost_user_master_connect_finish (probe->master, result, &error))
    probe_end (probe, error);
  else
    vhost_backend_get_features_async (VHOST_BACKEND (probe->master), NULL, features_cb, probe);
}

int
main (int argc, char **argv)
{
  Probe probe = { 0 };

  if (argc != 2)
    {
      fprintf (stderr, "Usage: %s SOCKET\n", argv[0]);
      return 2;
    }
  probe.master = vhost_user_master_new (argv[1]);
  probe.loop = g_main_loop_new (NULL, FALSE);
  vhost_user_master_connect_async (probe.master, NULL, connected_cb, &probe);
  /* The loop serves every other source while the back-end answers. */
  g_main_loop_run (probe.loop);
  vhost_user_master_close (probe.master);
  g_object_unref (probe.master);
  g_main_loop_unref (probe.loop);
  return probe.status;
}
