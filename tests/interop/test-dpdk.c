/* SPDX-License-Identifier: GPL-2.0-or-later */
/* VhostUserMaster against DPDK testpmd's vhost PMD: features, owner, protocol features, queues. */
#include <unistd.h>

#include "test-support.h"
#include "peer.h"

static void
test_dpdk_vhost_pmd (void)
{
  gint fds_before;
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *sock = g_build_filename (dir, "vhost-net.sock", NULL);
  g_autofree char *vdev = g_strdup_printf ("net_vhost0,iface=%s,queues=1", sock);
  g_autofree char *prefix = g_strdup_printf ("--file-prefix=vhost-glib-test-%d", getpid ());
  /* --no-huge: DPDK backs its heap with one memfd, which needs no hugepage setup. */
  const char *argv[] = { "dpdk-testpmd", "--lcores", "0@0,1@1", prefix, "--no-pci", "--no-huge", "-m", "512",
                         "--vdev", vdev, "--", "--forward-mode=macswap", "--auto-start", "--nb-cores=1",
                         "--total-num-mbufs=8192", NULL };
  g_autoptr(VhostUserMaster) master = NULL;
  g_autoptr(GError) error = NULL;
  VhostPeer *peer;
  guint64 features = 0, protocol = 0, queues = 0, negotiated;

  peer = vhost_peer_start (dir, "testpmd", "dpdk", argv);
  vhost_peer_wait_for_socket (peer, sock, 60000);
  fds_before = vhost_test_count_open_fds ();

  master = vhost_user_master_new (sock);
  g_assert_true (vhost_user_master_connect (master, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_backend_get_features (VHOST_BACKEND (master), &features, &error));
  g_assert_no_error (error);
  g_test_message ("testpmd offers features 0x%" G_GINT64_MODIFIER "x", features);
  g_assert_cmphex (features & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES), !=, 0);
  g_assert_cmphex (features & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1), !=, 0);
  g_assert_true (vhost_backend_set_owner (VHOST_BACKEND (master), &error));
  g_assert_no_error (error);

  g_assert_true (vhost_user_master_get_protocol_features (master, &protocol, &error));
  g_assert_no_error (error);
  g_test_message ("testpmd offers protocol features 0x%" G_GINT64_MODIFIER "x", protocol);
  g_assert_cmphex (protocol & VHOST_USER_PROTOCOL_F_MQ, !=, 0);
  g_assert_cmphex (protocol & VHOST_USER_PROTOCOL_F_REPLY_ACK, !=, 0);
  negotiated = protocol & (VHOST_USER_PROTOCOL_F_MQ | VHOST_USER_PROTOCOL_F_REPLY_ACK |
                           VHOST_USER_PROTOCOL_F_LOG_SHMFD | VHOST_USER_PROTOCOL_F_NET_MTU |
                           VHOST_USER_PROTOCOL_F_STATUS);
  g_assert_true (vhost_user_master_set_protocol_features (master, negotiated, &error));
  g_assert_no_error (error);
  g_assert_cmphex (vhost_user_master_get_acked_protocol_features (master), ==, negotiated);

  g_assert_true (vhost_user_master_get_queue_num (master, &queues, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (queues, >=, 1);

  /* With REPLY_ACK on, requests without a reply of their own are acknowledged: a
   * queue size and features that testpmd accepts. */
  g_assert_true (vhost_backend_set_features (VHOST_BACKEND (master), features, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_backend_set_vring_num (VHOST_BACKEND (master), 0, 256, &error));
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
  g_test_add_func ("/vhost/interop/dpdk/vhost-pmd", test_dpdk_vhost_pmd);
  return g_test_run ();
}
