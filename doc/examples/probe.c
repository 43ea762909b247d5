/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Drives a vhost-user back-end from C with VhostUserMaster: features, queue count and, for virtio-blk, the capacity. */
#include <stdio.h>
#include <string.h>
#include <vhost-glib/vhost-glib.h>

int
main (int argc, char **argv)
{
  g_autoptr(VhostUserMaster) master = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) config = NULL;
  guint64 features = 0, offered = 0, queues = 1, capacity = 0;

  if (argc != 2)
    {
      fprintf (stderr, "Usage: %s SOCKET\n", argv[0]);
      return 2;
    }
  master = vhost_user_master_new (argv[1]);
  /* A VhostUserMaster is also a VhostBackend: the calls that kernel vhost and vDPA share. */
  if (!vhost_user_master_connect (master, NULL, &error) ||
      !vhost_backend_get_features (VHOST_BACKEND (master), &features, &error) ||
      !vhost_backend_set_owner (VHOST_BACKEND (master), &error) ||
      !vhost_user_master_get_protocol_features (master, &offered, &error) ||
      !vhost_user_master_set_protocol_features (master,
                                                offered & (VHOST_USER_PROTOCOL_F_MQ | VHOST_USER_PROTOCOL_F_CONFIG),
                                                &error) ||
      ((offered & VHOST_USER_PROTOCOL_F_MQ) && !vhost_user_master_get_queue_num (master, &queues, &error)))
    {
      fprintf (stderr, "probe: %s\n", error->message);
      return 1;
    }
  printf ("features 0x%016" G_GINT64_MODIFIER "x%s%s\n", features,
          features & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) ? " version-1" : "",
          features & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES) ? " protocol-features" : "");
  printf ("queues %" G_GUINT64_FORMAT "\n", queues);
  if (offered & VHOST_USER_PROTOCOL_F_CONFIG)
    {
      /* virtio-blk: the capacity, in 512-byte sectors, is the first field (little-endian). */
      config = vhost_user_master_get_config (master, 0, 8, 0, &error);
      if (config == NULL)
        {
          fprintf (stderr, "probe: %s\n", error->message);
          return 1;
        }
      memcpy (&capacity, g_bytes_get_data (config, NULL), 8);
      printf ("capacity %" G_GUINT64_FORMAT " sectors\n", GUINT64_FROM_LE (capacity));
    }
  vhost_user_master_close (master);
  return 0;
}
