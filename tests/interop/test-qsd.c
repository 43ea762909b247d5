/* SPDX-License-Identifier: GPL-2.0-or-later */
/* VhostUserMaster against qemu-storage-daemon's vhost-user-blk export: config space and queues. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "test-support.h"
#include "peer.h"

#define IMAGE_SIZE (64 * 1024 * 1024 + 7 * 512)

static void
test_qsd_blk_export (void)
{
  gint fds_before;
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *sock = g_build_filename (dir, "vhost-blk.sock", NULL);
  g_autofree char *image = g_build_filename (dir, "disk.img", NULL);
  g_autofree char *file = g_strdup_printf ("driver=file,node-name=f,filename=%s", image);
  g_autofree char *export = g_strdup_printf ("type=vhost-user-blk,id=e,node-name=d,addr.type=unix,addr.path=%s,"
                                             "writable=on,num-queues=2", sock);
  const char *argv[] = { "qemu-storage-daemon", "--blockdev", file, "--blockdev", "driver=raw,node-name=d,file=f",
                         "--export", export, NULL };
  g_autoptr(VhostUserMaster) master = NULL;
  g_autoptr(GBytes) config = NULL;
  g_autoptr(GError) error = NULL;
  guint64 features = 0, protocol = 0, queues = 0, capacity = 0;
  VhostPeer *peer;
  FILE *f;

  f = fopen (image, "w");
  g_assert_nonnull (f);
  g_assert_cmpint (ftruncate (fileno (f), IMAGE_SIZE), ==, 0);
  fclose (f);

  peer = vhost_peer_start (dir, "qemu-storage-daemon", "qemu-utils", argv);
  vhost_peer_wait_for_socket (peer, sock, 30000);
  fds_before = vhost_test_count_open_fds ();

  master = vhost_user_master_new (sock);
  g_assert_true (vhost_user_master_connect (master, NULL, &error));
  g_assert_true (vhost_backend_get_features (VHOST_BACKEND (master), &features, &error));
  g_assert_no_error (error);
  g_assert_cmphex (features & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES), !=, 0);
  g_assert_true (vhost_backend_set_owner (VHOST_BACKEND (master), &error));
  g_assert_true (vhost_user_master_get_protocol_features (master, &protocol, &error));
  g_assert_no_error (error);
  g_assert_cmphex (protocol & VHOST_USER_PROTOCOL_F_CONFIG, !=, 0);
  g_assert_cmphex (protocol & VHOST_USER_PROTOCOL_F_MQ, !=, 0);
  g_assert_true (vhost_user_master_set_protocol_features (master,
                                                          protocol & (VHOST_USER_PROTOCOL_F_CONFIG |
                                                                      VHOST_USER_PROTOCOL_F_MQ |
                                                                      VHOST_USER_PROTOCOL_F_REPLY_ACK |
                                                                      VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS),
                                                          &error));
  g_assert_no_error (error);

  g_assert_true (vhost_user_master_get_queue_num (master, &queues, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (queues, ==, 2);

  /* struct virtio_blk_config starts with the capacity in 512-byte sectors. */
  config = vhost_user_master_get_config (master, 0, 60, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (config), ==, 60);
  memcpy (&capacity, g_bytes_get_data (config, NULL), sizeof capacity);
  g_assert_cmpuint (capacity, ==, IMAGE_SIZE / 512);

  g_assert_true (vhost_backend_set_features (VHOST_BACKEND (master), features, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_master_get_connected (master));

  vhost_user_master_close (master);
  g_clear_object (&master);
  vhost_test_assert_fd_count (fds_before);
  vhost_peer_free (peer);
  vhost_peer_remove_dir (dir);
}

int
main (int argc, char **argv)
{
  vhost_test_init (&argc, &argv);
  g_test_add_func ("/vhost/interop/qemu-storage-daemon/blk-export", test_qsd_blk_export);
  return g_test_run ();
}
