/* SPDX-License-Identifier: GPL-2.0-or-later */
/* DPDK testpmd as a peer: its vhost PMD against VhostUserMaster and VhostDriver, its virtio_user PMD against
 * vhost-user-net's echo device (VhostToolNet, a VhostUserSlave). */
#include <string.h>
#include <unistd.h>
#include <linux/virtio_net.h>

#include "test-support.h"
#include "peer.h"
#include "net-device.h"

#define RXQ 0
#define TXQ 1

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

/* testpmd's command line for one vhost-user port: its vhost PMD as the back-end
 * (`vdev` net_vhost0) or its virtio_user PMD as the front-end (net_virtio_user0). */
static GStrv
testpmd_argv (const char *vdev, const char *mode, gboolean tx_first)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autofree char *prefix = g_strdup_printf ("--file-prefix=vhost-glib-test-%d-%s", getpid (), mode);
  g_autofree char *forward = g_strdup_printf ("--forward-mode=%s", mode);
  /* --no-huge: DPDK backs its heap with one memfd, which needs no hugepage setup. */
  const char *args[] = { "dpdk-testpmd", "--lcores", "0@0,1@1", prefix, "--no-pci", "--no-huge", "-m", "512",
                         "--vdev", vdev, "--", forward, "--auto-start", "--nb-cores=1", "--total-num-mbufs=8192",
                         NULL };

  g_strv_builder_addv (builder, args);
  if (tx_first)
    g_strv_builder_add (builder, "--tx-first");
  return g_strv_builder_end (builder);
}

/* A test frame: the header's 12 bytes, then Ethernet with a sequence number and
 * a pattern derived from it. */
#define FRAME_LEN 300
#define WARM_UP_SEQ 0xffff0000u
#define HDR_LEN sizeof (struct virtio_net_hdr_mrg_rxbuf)

static const guint8 mac_a[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x01 };
static const guint8 mac_b[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x02 };

static void
make_frame (guint8 *p, guint seq)
{
  memset (p, 0, HDR_LEN);
  p += HDR_LEN;
  memcpy (p, mac_a, 6);
  memcpy (p + 6, mac_b, 6);
  p[12] = 0x88;
  p[13] = 0xb5; /* local experimental ethertype */
  memcpy (p + 14, &seq, 4);
  for (guint i = 18; i < FRAME_LEN; i++)
    p[i] = (guint8) (seq * 7 + i);
}

/* VhostDriver is the guest: frames sent on TX come back on RX from testpmd's
 * macswap forwarding, with the MAC addresses swapped and the rest intact. */
static void
test_dpdk_driver_macswap (gconstpointer data)
{
  gboolean packed = GPOINTER_TO_INT (data);
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *sock = g_build_filename (dir, "vhost-net.sock", NULL);
  g_autofree char *vdev = g_strdup_printf ("net_vhost0,iface=%s,queues=1", sock);
  g_auto(GStrv) argv = testpmd_argv (vdev, "macswap", FALSE);
  g_autoptr(VhostUserMaster) master = NULL;
  g_autoptr(VhostDriver) driver = NULL;
  g_autoptr(GError) error = NULL;
  const guint n_frames = 500, n_rx = 64;
  guint64 rx_addr[64], tx_addr;
  guint received = 0, sent = 0, tx_done = 0;
  gboolean seen[500] = { FALSE };
  gint fds_before;
  VhostPeer *peer;

  peer = vhost_peer_start (dir, "testpmd", "dpdk", (const char *const *) argv);
  vhost_peer_wait_for_socket (peer, sock, 60000);
  fds_before = vhost_test_count_open_fds ();

  master = vhost_user_master_new (sock);
  g_assert_true (vhost_user_master_connect (master, NULL, &error));
  g_assert_no_error (error);
  driver = vhost_driver_new (VHOST_BACKEND (master), 4 * 1024 * 1024, &error);
  g_assert_no_error (error);
  g_assert_true (vhost_driver_start (driver, 2, 256,
                                     VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) |
                                       VHOST_FEATURE_MASK (VIRTIO_NET_F_MRG_RXBUF) |
                                       VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX) |
                                       (packed ? VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED) : 0),
                                     &error));
  g_assert_no_error (error);
  g_assert_cmpint ((vhost_driver_get_acked_features (driver) & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED)) != 0,
                   ==, packed);

  /* Receive buffers first, then frames one by one (testpmd forwards each). */
  for (guint i = 0; i < n_rx; i++)
    {
      VhostDriverBuffer in;

      g_assert_true (vhost_driver_alloc (driver, 2048, &rx_addr[i], &error));
      in = (VhostDriverBuffer) { rx_addr[i], 2048 };
      g_assert_true (vhost_driver_submit (driver, RXQ, NULL, 0, &in, 1, i, &error));
      g_assert_no_error (error);
    }
  vhost_driver_kick (driver, RXQ);
  g_assert_true (vhost_driver_alloc (driver, 64 * (HDR_LEN + FRAME_LEN), &tx_addr, &error));

  /* testpmd forwards (and drops) from the moment it polls, which may come before
   * its port is ready to send back: one frame at a time until one returns. */
  {
    guint64 tag;
    guint len;
    gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
    gboolean back = FALSE;

    for (guint k = 0; !back && g_get_monotonic_time () < deadline; k++)
      {
        VhostDriverBuffer out[2] = { { tx_addr, HDR_LEN }, { tx_addr + HDR_LEN, FRAME_LEN } };

        make_frame (vhost_driver_get_host_address (driver, tx_addr, HDR_LEN + FRAME_LEN), WARM_UP_SEQ);
        g_assert_true (vhost_driver_submit (driver, TXQ, out, 2, NULL, 0, 0, &error));
        vhost_driver_kick (driver, TXQ);
        g_assert_true (vhost_driver_wait (driver, TXQ, 5000, &error));
        g_assert_true (vhost_driver_reap (driver, TXQ, &tag, &len, &error));
        back = vhost_driver_wait (driver, RXQ, 100, NULL);
      }
    g_assert_true (back);
    /* Give the warm-up frames' buffers back. */
    while (vhost_driver_reap (driver, RXQ, &tag, &len, &error))
      {
        VhostDriverBuffer in = { rx_addr[tag], 2048 };
        guint seq;

        memcpy (&seq, (guint8 *) vhost_driver_get_host_address (driver, rx_addr[tag], 2048) + HDR_LEN + 14, 4);
        g_assert_cmpuint (seq, ==, WARM_UP_SEQ);
        g_assert_true (vhost_driver_submit (driver, RXQ, NULL, 0, &in, 1, tag, &error));
      }
    g_assert_no_error (error);
    vhost_driver_kick (driver, RXQ);
  }

  while (received < n_frames)
    {
      guint64 tag;
      guint len;

      /* Up to 32 frames in flight. */
      while (sent < n_frames && sent - received < 32)
        {
          guint64 addr = tx_addr + (sent % 64) * (HDR_LEN + FRAME_LEN);
          /* The header and the frame as two buffers. */
          VhostDriverBuffer out[2] = { { addr, HDR_LEN }, { addr + HDR_LEN, FRAME_LEN } };

          make_frame (vhost_driver_get_host_address (driver, addr, HDR_LEN + FRAME_LEN), sent);
          g_assert_true (vhost_driver_submit (driver, TXQ, out, 2, NULL, 0, sent, &error));
          g_assert_no_error (error);
          sent++;
        }
      vhost_driver_kick (driver, TXQ);
      while (vhost_driver_reap (driver, TXQ, &tag, &len, &error))
        tx_done++;
      g_assert_no_error (error);
      if (!vhost_driver_reap (driver, RXQ, &tag, &len, &error))
        {
          g_assert_no_error (error);
          if (!vhost_driver_wait (driver, RXQ, 20000, &error))
            {
              g_autofree char *log = vhost_peer_get_log (peer);

              g_error ("%u of %u frames came back (%s); testpmd's log:\n%s", received, n_frames, error->message, log);
            }
          continue;
        }
      {
        const guint8 *p = vhost_driver_get_host_address (driver, rx_addr[tag], 2048);
        guint seq;
        guint8 expected[HDR_LEN + FRAME_LEN];
        VhostDriverBuffer in = { rx_addr[tag], 2048 };

        g_assert_cmpuint (len, ==, HDR_LEN + FRAME_LEN);
        memcpy (&seq, p + HDR_LEN + 14, 4);
        if (seq == WARM_UP_SEQ)
          {
            /* A late warm-up frame. */
            g_assert_true (vhost_driver_submit (driver, RXQ, NULL, 0, &in, 1, tag, &error));
            vhost_driver_kick (driver, RXQ);
            continue;
          }
        g_assert_cmpuint (seq, <, n_frames);
        g_assert_false (seen[seq]);
        seen[seq] = TRUE;
        make_frame (expected, seq);
        /* macswap: destination and source exchanged. */
        g_assert_cmpmem (p + HDR_LEN, 6, mac_b, 6);
        g_assert_cmpmem (p + HDR_LEN + 6, 6, mac_a, 6);
        g_assert_cmpmem (p + HDR_LEN + 12, FRAME_LEN - 12, expected + HDR_LEN + 12, FRAME_LEN - 12);
        received++;
        g_assert_true (vhost_driver_submit (driver, RXQ, NULL, 0, &in, 1, tag, &error));
        g_assert_no_error (error);
        vhost_driver_kick (driver, RXQ);
      }
    }
  g_assert_cmpuint (received, ==, n_frames);
  g_assert_true (vhost_driver_stop (driver, &error));
  g_assert_no_error (error);
  g_clear_object (&driver);
  g_clear_object (&master);
  vhost_test_assert_fd_count (fds_before);
  vhost_peer_free (peer);
  vhost_peer_remove_dir (dir);
}

/* In the slave's thread: vhost-user-net --echo, as the program sets it up, listening. */
static void
listen_echo (VhostUserSlave *slave, gpointer path)
{
  VhostToolNetConfig config = {
    .mode = VHOST_TOOL_NET_MODE_ECHO,
    .mac = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 },
    .queue_pairs = 1,
    .mergeable = TRUE,
  };
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_tool_net_configure (VHOST_TOOL_NET (slave), &config, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_user_slave_listen (slave, path, &error));
  g_assert_no_error (error);
}

/* The frames the echo device has sent back so far. */
static guint64
echoed (VhostToolNet *echo)
{
  VhostToolNetStats stats;

  vhost_tool_net_get_stats (echo, -1, &stats);
  return stats.rx_frames;
}

static void
read_acked_features (VhostUserSlave *slave, gpointer data)
{
  *(guint64 *) data = vhost_user_slave_get_acked_features (slave);
}

/* testpmd's virtio_user PMD is the guest and our echo device the back-end: it
 * sends a burst first (--tx-first) and forwards whatever comes back, so frames
 * circle; its final statistics and the device's counter must agree that they did. */
static void
test_dpdk_virtio_user_echo (gconstpointer data)
{
  gboolean packed = GPOINTER_TO_INT (data);
  g_autofree char *dir = vhost_peer_make_dir ();
  g_autofree char *sock = g_build_filename (dir, "vhost-net.sock", NULL);
  g_autofree char *vdev = g_strdup_printf ("net_virtio_user0,path=%s,queues=1%s", sock, packed ? ",packed_vq=1" : "");
  g_auto(GStrv) argv = testpmd_argv (vdev, "io", TRUE);
  gint fds_before = vhost_test_count_open_fds ();
  VhostTestSlaveThread *thread = vhost_test_slave_thread_new (VHOST_TYPE_TOOL_NET, -1, listen_echo, sock);
  VhostToolNet *echo = VHOST_TOOL_NET (vhost_test_slave_thread_get_slave (thread));
  VhostToolNetStats stats;
  g_autofree char *log = NULL;
  g_autoptr(GRegex) regex = NULL;
  g_autoptr(GMatchInfo) match = NULL;
  guint64 rx_packets = 0, acked = 0;
  gint64 deadline;
  VhostPeer *peer;
  int status = -1;

  peer = vhost_peer_start (dir, "testpmd", "dpdk", (const char *const *) argv);
  /* Let frames circle for a while. */
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (echoed (echo) < 100000 && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  g_assert_cmpuint (echoed (echo), >=, 100000);
  /* The ring layout testpmd chose, while it is still connected. */
  vhost_test_slave_thread_run (thread, read_acked_features, &acked);
  g_assert_cmphex (acked & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED), ==,
                   (packed ? VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED) : 0));
  /* The echo device offers IN_ORDER, and virtio_user takes its in-order paths. */
  g_assert_cmphex (acked & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_IN_ORDER), !=, 0);
  vhost_peer_close_stdin (peer);
  g_assert_true (vhost_peer_wait_exit (peer, 30000, &status));
  g_assert_cmpint (status, ==, 0);

  /* "RX-packets: N" in the final "Forward statistics for port 0". */
  log = vhost_peer_get_log (peer);
  regex = g_regex_new ("Forward statistics for port 0.*?RX-packets: *([0-9]+)", G_REGEX_DOTALL, 0, NULL);
  if (!g_regex_match (regex, log, 0, &match))
    g_error ("no port statistics in testpmd's log:\n%s", log);
  {
    g_autofree char *count = g_match_info_fetch (match, 1);

    rx_packets = g_ascii_strtoull (count, NULL, 10);
  }
  vhost_tool_net_get_stats (echo, -1, &stats);
  g_test_message ("testpmd received %" G_GUINT64_FORMAT " frames; the device echoed %" G_GUINT64_FORMAT
                  ", dropped %" G_GUINT64_FORMAT " + %" G_GUINT64_FORMAT, rx_packets, stats.rx_frames,
                  stats.rx_dropped, stats.tx_dropped);
  g_assert_cmpuint (rx_packets, >=, 100000);
  g_assert_cmpuint (rx_packets, <=, stats.rx_frames);
  /* The device dropped none of the frames testpmd sent. */
  g_assert_cmpuint (stats.rx_dropped, ==, 0);
  g_assert_cmpuint (stats.tx_dropped, ==, 0);
  vhost_peer_free (peer);
  /* The slave, its workers and its listening socket leave nothing open. */
  vhost_test_slave_thread_free (thread);
  vhost_test_assert_fd_count (fds_before);
  vhost_peer_remove_dir (dir);
}

int
main (int argc, char **argv)
{
  vhost_test_init (&argc, &argv);
  g_test_add_func ("/vhost/interop/dpdk/vhost-pmd", test_dpdk_vhost_pmd);
  g_test_add_data_func ("/vhost/interop/dpdk/vhost-pmd-macswap/split", GINT_TO_POINTER (FALSE),
                        test_dpdk_driver_macswap);
  g_test_add_data_func ("/vhost/interop/dpdk/vhost-pmd-macswap/packed", GINT_TO_POINTER (TRUE),
                        test_dpdk_driver_macswap);
  g_test_add_data_func ("/vhost/interop/dpdk/virtio-user-echo/split", GINT_TO_POINTER (FALSE),
                        test_dpdk_virtio_user_echo);
  g_test_add_data_func ("/vhost/interop/dpdk/virtio-user-echo/packed", GINT_TO_POINTER (TRUE),
                        test_dpdk_virtio_user_echo);
  return g_test_run ();
}
