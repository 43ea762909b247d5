/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A front-end that behaves, for tests of the tools: VhostDriver over VhostUserMaster, one checked request per queue. */
#include <string.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_net.h>

#include "test-support.h"
#include "front.h"

#define QUEUE_SIZE 128
#define NET_HDR_LEN 12
#define NET_FRAME 60
#define RX_BUF 2048

VhostUserMaster *
vhost_test_front_connect (const char *sock)
{
  VhostUserMaster *master = vhost_user_master_new (sock);
  g_autoptr(GError) error = NULL;
  guint64 features = 0;

  g_assert_true (vhost_user_master_connect (master, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_backend_get_features (VHOST_BACKEND (master), &features, &error));
  g_assert_no_error (error);
  g_assert_true (features & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1));
  return master;
}

/* One read from every queue of a blk device. */
static guint
use_blk (VhostDriver *driver, guint n_queues)
{
  g_autoptr(GError) error = NULL;
  guint64 hdr, data, status, tag;
  guint len;

  g_assert_true (vhost_driver_alloc (driver, sizeof (struct virtio_blk_outhdr), &hdr, &error));
  g_assert_true (vhost_driver_alloc (driver, 4096, &data, &error));
  g_assert_true (vhost_driver_alloc (driver, n_queues, &status, &error));
  g_assert_no_error (error);
  memset (vhost_driver_get_host_address (driver, hdr, sizeof (struct virtio_blk_outhdr)), 0,
          sizeof (struct virtio_blk_outhdr));
  memset (vhost_driver_get_host_address (driver, status, n_queues), 0xff, n_queues);
  for (guint q = 0; q < n_queues; q++)
    {
      VhostDriverBuffer out = { hdr, sizeof (struct virtio_blk_outhdr) };
      VhostDriverBuffer in[2] = { { data, 4096 }, { status + q, 1 } };

      g_assert_true (vhost_driver_submit (driver, q, &out, 1, in, 2, q, &error));
      g_assert_no_error (error);
      vhost_driver_kick (driver, q);
    }
  for (guint q = 0; q < n_queues; q++)
    {
      vhost_test_reap_one (driver, q, 10000, &tag, &len);
      g_assert_cmpuint (tag, ==, q);
      g_assert_cmpuint (len, ==, 4097);
      g_assert_cmpuint (*(guint8 *) vhost_driver_get_host_address (driver, status + q, 1), ==, VIRTIO_BLK_S_OK);
    }
  return n_queues;
}

/* One frame echoed by every queue pair of a net device, back whole. */
static guint
use_net (VhostDriver *driver, guint n_queues)
{
  g_autoptr(GError) error = NULL;
  guint64 frame, rx, tag;
  guint8 *sent;
  guint len;

  g_assert_true (vhost_driver_alloc (driver, NET_HDR_LEN + NET_FRAME, &frame, &error));
  g_assert_true (vhost_driver_alloc (driver, RX_BUF * n_queues / 2, &rx, &error));
  g_assert_no_error (error);
  sent = vhost_driver_get_host_address (driver, frame, NET_HDR_LEN + NET_FRAME);
  memset (sent, 0, NET_HDR_LEN);
  for (guint i = 0; i < NET_FRAME; i++)
    sent[NET_HDR_LEN + i] = g_test_rand_int ();
  for (guint pair = 0; pair < n_queues / 2; pair++)
    {
      VhostDriverBuffer out = { frame, NET_HDR_LEN + NET_FRAME };
      VhostDriverBuffer in = { rx + RX_BUF * pair, RX_BUF };

      g_assert_true (vhost_driver_submit (driver, 2 * pair, NULL, 0, &in, 1, pair, &error));
      g_assert_true (vhost_driver_submit (driver, 2 * pair + 1, &out, 1, NULL, 0, pair, &error));
      g_assert_no_error (error);
      vhost_driver_kick (driver, 2 * pair);
      vhost_driver_kick (driver, 2 * pair + 1);
    }
  for (guint pair = 0; pair < n_queues / 2; pair++)
    {
      vhost_test_reap_one (driver, 2 * pair, 10000, &tag, &len);
      g_assert_cmpuint (tag, ==, pair);
      g_assert_cmpuint (len, ==, NET_HDR_LEN + NET_FRAME);
      g_assert_cmpmem (vhost_driver_get_host_address (driver, rx + RX_BUF * pair + NET_HDR_LEN, NET_FRAME), NET_FRAME,
                       sent + NET_HDR_LEN, NET_FRAME);
      vhost_test_reap_one (driver, 2 * pair + 1, 10000, &tag, &len);
    }
  return n_queues;
}

guint
vhost_test_front_cycle (const char *sock, VhostTestFrontKind kind, guint n_queues, guint rounds)
{
  g_autoptr(VhostUserMaster) master = vhost_test_front_connect (sock);
  g_autoptr(VhostDriver) driver = NULL;
  g_autoptr(GError) error = NULL;
  guint64 features = VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) | VHOST_FEATURE_MASK (VIRTIO_BLK_F_MQ) |
                     VHOST_FEATURE_MASK (VIRTIO_NET_F_MQ);
  guint done = 0;

  driver = vhost_driver_new (VHOST_BACKEND (master), 4 * 1024 * 1024, &error);
  g_assert_no_error (error);
  for (guint round = 0; round < rounds; round++)
    {
      g_assert_true (vhost_driver_start (driver, n_queues, QUEUE_SIZE, features, &error));
      g_assert_no_error (error);
      done += kind == VHOST_TEST_FRONT_BLK ? use_blk (driver, n_queues) : use_net (driver, n_queues);
      g_assert_true (vhost_driver_stop (driver, &error));
      g_assert_no_error (error);
    }
  return done;
}
