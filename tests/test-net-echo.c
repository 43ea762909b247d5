/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vhost-user-net's echo device (VhostToolNet in tools/net-device.c) driven by VhostDriver: frames of every layout
 * come back whole and in order, through the batched path and the general one, across a shortage of receive
 * buffers; bad chains are dropped and counted; frames sent one at a time to a device that sleeps between them
 * keep coming back (the kicks it asks for with event idx); a stream to a device that coalesces comes back whole,
 * in order and in batches. */
#include <string.h>
#include <sys/socket.h>
#include <linux/virtio_net.h>

#include "test-support.h"
#include "net-device.h"

#define RXQ 0
#define TXQ 1
#define HDR_LEN 12
#define QUEUE_SIZE 256
#define RX_BUF 2048
/* Receive chains in the ring at a time: fewer than the frames, so that the device
 * runs out of them and has to wait for the driver. */
#define RX_POSTED 8
#define LONGEST_FRAME (65536 + 14)

typedef struct
{
  gboolean packed;
  gboolean mergeable;
} EchoCase;

/* How a transmitted chain is laid out. */
typedef enum
{
  TX_ONE,        /* header and frame in one buffer */
  TX_HDR_APART,  /* the header in a buffer of its own, then the frame */
  TX_HDR_SPLIT,  /* the header split over two buffers, the frame in the second and a third */
} TxLayout;

typedef struct
{
  gsize frame;   /* bytes after the header; a chain of fewer than HDR_LEN bytes has none */
  gsize chain;   /* bytes of the whole chain */
  TxLayout layout;
} TxFrame;

static void
setup_echo (VhostUserSlave *slave, gpointer data)
{
  const EchoCase *c = data;
  VhostToolNetConfig config = {
    .mode = VHOST_TOOL_NET_MODE_ECHO,
    .mac = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 },
    .queue_pairs = 1,
    .mergeable = c->mergeable,
  };
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_tool_net_configure (VHOST_TOOL_NET (slave), &config, &error));
  g_assert_no_error (error);
}

/* Whether the device sends the frame back: a chain that holds a frame, and that fits
 * the receive chains. */
static gboolean
comes_back (const EchoCase *c, const TxFrame *f)
{
  return f->chain >= HDR_LEN && f->frame <= LONGEST_FRAME && (c->mergeable || f->chain <= RX_BUF);
}

static guint8
pattern (guint frame, gsize offset)
{
  return (guint8) (frame * 31 + offset * 7 + 1);
}

/* Post receive chain `tag`: even tags one buffer, odd ones an 8-byte buffer first,
 * so that the device writes a header over two buffers. */
static void
post_rx (VhostDriver *driver, const guint64 *rx_addr, guint tag)
{
  g_autoptr(GError) error = NULL;
  VhostDriverBuffer in[2] = { { rx_addr[tag], RX_BUF }, { 0, 0 } };
  guint n = 1;

  if (tag % 2 == 1)
    {
      in[0].len = 8;
      in[1] = (VhostDriverBuffer) { rx_addr[tag] + 8, RX_BUF - 8 };
      n = 2;
    }
  g_assert_true (vhost_driver_submit (driver, RXQ, NULL, 0, in, n, tag, &error));
  g_assert_no_error (error);
}

/* The echo device in a thread, set up by `setup`, and a VhostDriver started on it
 * with `features`, two queues. */
static VhostTestSlaveThread *
echo_start (void (*setup) (VhostUserSlave *slave, gpointer data), const EchoCase *c, guint64 features,
            VhostUserMaster **master, VhostDriver **driver)
{
  g_autoptr(GError) error = NULL;
  VhostTestSlaveThread *thread;
  int sv[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  thread = vhost_test_slave_thread_new (VHOST_TYPE_TOOL_NET, sv[0], setup, (gpointer) c);
  *master = vhost_user_master_new_for_fd (sv[1]);
  g_assert_true (vhost_user_master_connect (*master, NULL, &error));
  g_assert_no_error (error);
  *driver = vhost_driver_new (VHOST_BACKEND (*master), 4 * 1024 * 1024, &error);
  g_assert_no_error (error);
  g_assert_true (vhost_driver_start (*driver, 2, QUEUE_SIZE, features, &error));
  g_assert_no_error (error);
  return thread;
}

/* The features of the tests that want kicks only when the device asks. */
static guint64
event_idx_features (const EchoCase *c)
{
  return VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX) |
         (c->packed ? VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED) : 0);
}

/* Stop and free what echo_start() made; nothing leaks. */
static void
echo_finish (VhostTestSlaveThread *thread, VhostUserMaster **master, VhostDriver **driver, gint fds_before)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_driver_stop (*driver, &error));
  g_assert_no_error (error);
  g_clear_object (driver);
  g_clear_object (master);
  vhost_test_slave_thread_free (thread);
  vhost_test_assert_fd_count (fds_before);
}

static void
test_echo (gconstpointer data)
{
  const EchoCase *c = data;
  gint fds_before = vhost_test_count_open_fds ();
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserMaster) master = NULL;
  g_autoptr(VhostDriver) driver = NULL;
  g_autoptr(GArray) frames = g_array_new (FALSE, FALSE, sizeof (TxFrame));
  g_autoptr(GByteArray) got = g_byte_array_new ();
  VhostTestSlaveThread *thread;
  VhostToolNetStats stats;
  guint64 features, rx_addr[RX_POSTED], *tx_addr;
  guint expected_back = 0, expected_rx_drops = 0, next = 0, back = 0, chains_left = 0, next_tag = 0;

  /* Small frames in each layout; after the 10th, a frame larger than one receive
   * chain (the general path, in the middle of a batch); after the 20th, a chain
   * shorter than a header and one longer than any frame. */
  for (guint i = 0; i < 70; i++)
    {
      TxFrame f = { 60 + (i * 37) % 1455, 0, i % 3 };

      if (i == 10)
        f.frame = 5000;
      f.chain = HDR_LEN + f.frame;
      if (i == 20)
        f = (TxFrame) { 0, 4, TX_ONE };
      if (i == 21)
        f = (TxFrame) { LONGEST_FRAME + 1, HDR_LEN + LONGEST_FRAME + 1, TX_HDR_APART };
      g_array_append_val (frames, f);
    }

  features = VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX) |
             (c->packed ? VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED) : 0) |
             (c->mergeable ? VHOST_FEATURE_MASK (VIRTIO_NET_F_MRG_RXBUF) : 0);
  thread = echo_start (setup_echo, c, features, &master, &driver);

  for (guint i = 0; i < RX_POSTED; i++)
    {
      g_assert_true (vhost_driver_alloc (driver, RX_BUF, &rx_addr[i], &error));
      g_assert_no_error (error);
    }
  tx_addr = g_new (guint64, frames->len);
  for (guint i = 0; i < frames->len; i++)
    {
      const TxFrame *f = &g_array_index (frames, TxFrame, i);
      guint8 *p;
      VhostDriverBuffer out[3];
      guint n_out = 0;

      g_assert_true (vhost_driver_alloc (driver, f->chain, &tx_addr[i], &error));
      g_assert_no_error (error);
      p = vhost_driver_get_host_address (driver, tx_addr[i], f->chain);
      /* The header: a pattern the device copies; num_buffers, which it sets, 0xeeee. */
      for (gsize k = 0; k < MIN (f->chain, HDR_LEN); k++)
        p[k] = k >= 10 ? 0xee : pattern (i, k);
      for (gsize k = HDR_LEN; k < f->chain; k++)
        p[k] = pattern (i, k);
      switch (f->layout)
        {
        case TX_ONE:
          out[n_out++] = (VhostDriverBuffer) { tx_addr[i], f->chain };
          break;
        case TX_HDR_APART:
          out[n_out++] = (VhostDriverBuffer) { tx_addr[i], HDR_LEN };
          out[n_out++] = (VhostDriverBuffer) { tx_addr[i] + HDR_LEN, f->chain - HDR_LEN };
          break;
        case TX_HDR_SPLIT:
          out[n_out++] = (VhostDriverBuffer) { tx_addr[i], 5 };
          out[n_out++] = (VhostDriverBuffer) { tx_addr[i] + 5, 20 };
          out[n_out++] = (VhostDriverBuffer) { tx_addr[i] + 25, f->chain - 25 };
          break;
        }
      g_assert_true (vhost_driver_submit (driver, TXQ, out, n_out, NULL, 0, i, &error));
      g_assert_no_error (error);
      if (comes_back (c, f))
        expected_back++;
      else if (f->chain >= HDR_LEN && f->frame <= LONGEST_FRAME)
        expected_rx_drops++;
    }
  for (guint i = 0; i < RX_POSTED; i++)
    post_rx (driver, rx_addr, i);
  vhost_driver_kick (driver, RXQ);
  vhost_driver_kick (driver, TXQ);

  /* Every frame that can come back does, whole and in order; each receive chain is
   * posted again once read, as a driver would. */
  while (back < expected_back)
    {
      guint64 tag;
      guint len;
      const guint8 *p;

      vhost_test_reap_one (driver, RXQ, 10000, &tag, &len);
      g_assert_cmpuint (tag, <, RX_POSTED);
      g_assert_cmpuint (tag, ==, next_tag);
      next_tag = (next_tag + 1) % RX_POSTED;
      g_assert_cmpuint (len, <=, RX_BUF);
      p = vhost_driver_get_host_address (driver, rx_addr[tag], RX_BUF);
      if (chains_left == 0)
        {
          const TxFrame *f;
          guint16 num_buffers;

          /* A new frame: the next one that can come back. */
          while (!comes_back (c, &g_array_index (frames, TxFrame, next)))
            next++;
          f = &g_array_index (frames, TxFrame, next);
          g_assert_cmpuint (len, >=, HDR_LEN);
          memcpy (&num_buffers, p + 10, 2);
          num_buffers = GUINT16_FROM_LE (num_buffers);
          /* As many chains as the frame takes, and no more. */
          g_assert_cmpuint (num_buffers, ==, (f->chain + RX_BUF - 1) / RX_BUF);
          chains_left = num_buffers;
          g_byte_array_set_size (got, 0);
        }
      g_byte_array_append (got, p, len);
      if (--chains_left == 0)
        {
          const TxFrame *f = &g_array_index (frames, TxFrame, next);
          const guint8 *sent = vhost_driver_get_host_address (driver, tx_addr[next], f->chain);

          g_assert_cmpuint (got->len, ==, f->chain);
          g_assert_cmpmem (got->data, 10, sent, 10);
          g_assert_cmpmem (got->data + HDR_LEN, got->len - HDR_LEN, sent + HDR_LEN, f->chain - HDR_LEN);
          next++;
          back++;
        }
      post_rx (driver, rx_addr, tag);
      vhost_driver_kick (driver, RXQ);
    }
  /* Every transmitted chain was given back, dropped ones included. */
  for (guint i = 0; i < frames->len; i++)
    {
      guint64 tag;
      guint len;

      vhost_test_reap_one (driver, TXQ, 10000, &tag, &len);
      g_assert_cmpuint (tag, ==, i);
      g_assert_cmpuint (len, ==, 0);
    }

  vhost_tool_net_get_stats (VHOST_TOOL_NET (vhost_test_slave_thread_get_slave (thread)), -1, &stats);
  g_assert_cmpuint (stats.tx_frames, ==, expected_back);
  g_assert_cmpuint (stats.rx_frames, ==, expected_back);
  g_assert_cmpuint (stats.tx_dropped, ==, 2);
  g_assert_cmpuint (stats.rx_dropped, ==, expected_rx_drops);
  /* The drops are said (at the rate vhost_virtqueue_log() allows): the large frame
   * without mergeable buffers, else the chain shorter than a header. */
  {
    g_autoptr(GPtrArray) lines = vhost_test_log_capture_take ();
    const char *expected = c->mergeable ? "shorter than a header" : "does not fit the receive buffers";
    gboolean found = FALSE;

    for (guint i = 0; i < lines->len; i++)
      found |= g_str_has_prefix (g_ptr_array_index (lines, i), "W ") &&
               strstr (g_ptr_array_index (lines, i), expected) != NULL;
    g_assert_true (found);
  }

  g_free (tx_addr);
  echo_finish (thread, &master, &driver, fds_before);
}

static void
setup_echo_without_polling (VhostUserSlave *slave, gpointer data)
{
  setup_echo (slave, data);
  vhost_user_slave_set_busy_poll_us (slave, 0);
}

/* One frame at a time, each sent after the previous one came back and its receive
 * chain was posted again, to a device that sleeps as soon as it has nothing to do.
 * Each receive kick may wake the echo handler of the receive queue first, which
 * then takes the frame from the transmit queue: the transmit queue's kick that
 * follows finds nothing, and the device must still ask for the next one. */
static void
test_echo_one_at_a_time (gconstpointer data)
{
  const EchoCase *c = data;
  gint fds_before = vhost_test_count_open_fds ();
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserMaster) master = NULL;
  g_autoptr(VhostDriver) driver = NULL;
  VhostTestSlaveThread *thread;
  guint64 rx_addr[RX_POSTED], tx_addr;
  const guint n_frames = 300;

  thread = echo_start (setup_echo_without_polling, c,
                       event_idx_features (c),
                       &master, &driver);
  for (guint i = 0; i < RX_POSTED; i++)
    {
      g_assert_true (vhost_driver_alloc (driver, RX_BUF, &rx_addr[i], &error));
      g_assert_no_error (error);
      post_rx (driver, rx_addr, i);
    }
  vhost_driver_kick (driver, RXQ);
  g_assert_true (vhost_driver_alloc (driver, HDR_LEN + 60, &tx_addr, &error));
  g_assert_no_error (error);

  for (guint i = 0; i < n_frames; i++)
    {
      guint8 *p = vhost_driver_get_host_address (driver, tx_addr, HDR_LEN + 60);
      VhostDriverBuffer out = { tx_addr, HDR_LEN + 60 };
      guint64 tag;
      guint len;

      memset (p, 0, HDR_LEN);
      for (gsize k = HDR_LEN; k < HDR_LEN + 60; k++)
        p[k] = pattern (i, k);
      g_assert_true (vhost_driver_submit (driver, TXQ, &out, 1, NULL, 0, i, &error));
      g_assert_no_error (error);
      vhost_driver_kick (driver, TXQ);
      vhost_test_reap_one (driver, RXQ, 10000, &tag, &len);
      g_assert_cmpuint (len, ==, HDR_LEN + 60);
      g_assert_cmpmem ((guint8 *) vhost_driver_get_host_address (driver, rx_addr[tag], RX_BUF) + HDR_LEN, 60,
                       p + HDR_LEN, 60);
      post_rx (driver, rx_addr, tag);
      vhost_driver_kick (driver, RXQ);
      vhost_test_reap_one (driver, TXQ, 10000, &tag, &len);
      g_assert_cmpuint (tag, ==, i);
    }

  echo_finish (thread, &master, &driver, fds_before);
}

static void
setup_echo_coalescing (VhostUserSlave *slave, gpointer data)
{
  setup_echo (slave, data);
  vhost_user_slave_set_busy_poll_us (slave, 50);
  vhost_user_slave_set_coalesce_us (slave, 200);
}

#define STREAM_FRAMES 60000
#define STREAM_SPAN 5000     /* frames a batch size is measured over */
#define STREAM_INTERVAL_US 3
#define STREAM_SLOTS 128    /* receive chains posted, and transmit buffers */

/* A stream to a device that coalesces (VhostUserSlave:coalesce-us): a frame every
 * 3 us, sent whether or not the earlier ones came back. Every frame comes back
 * whole and in order, the last ones of the stream too (the naps end when the
 * frames do), and they come back in batches: the device naps between its rounds,
 * where a polling one gives them back about one at a time. A busy machine stalls
 * the stream now and then, and the device stops napping for a while after each
 * stall: batches must show in one span of the stream at least. */
static void
test_echo_coalesced (gconstpointer data)
{
  const EchoCase *c = data;
  gint fds_before = vhost_test_count_open_fds ();
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserMaster) master = NULL;
  g_autoptr(VhostDriver) driver = NULL;
  VhostTestSlaveThread *thread;
  guint64 rx_addr[STREAM_SLOTS], tx_addr[STREAM_SLOTS];
  guint sent = 0, received = 0, tx_done = 0, reaps = 0, span_reaps = 0, best = G_MAXUINT;
  gint64 due, deadline;

  thread = echo_start (setup_echo_coalescing, c,
                       event_idx_features (c),
                       &master, &driver);
  for (guint i = 0; i < STREAM_SLOTS; i++)
    {
      g_assert_true (vhost_driver_alloc (driver, RX_BUF, &rx_addr[i], &error));
      g_assert_true (vhost_driver_alloc (driver, HDR_LEN + 60, &tx_addr[i], &error));
      g_assert_no_error (error);
      post_rx (driver, rx_addr, i);
    }
  vhost_driver_kick (driver, RXQ);

  due = g_get_monotonic_time ();
  deadline = due + 30 * G_USEC_PER_SEC;
  while (received < STREAM_FRAMES)
    {
      guint64 tag;
      guint len, batch = 0;

      if (g_get_monotonic_time () > deadline)
        g_error ("%u frames of %u came back, %u sent", received, STREAM_FRAMES, sent);
      if (sent < STREAM_FRAMES && g_get_monotonic_time () >= due && sent - tx_done < STREAM_SLOTS)
        {
          guint64 addr = tx_addr[sent % STREAM_SLOTS];
          guint8 *p = vhost_driver_get_host_address (driver, addr, HDR_LEN + 60);
          VhostDriverBuffer out = { addr, HDR_LEN + 60 };

          memset (p, 0, HDR_LEN);
          for (gsize k = HDR_LEN; k < HDR_LEN + 60; k++)
            p[k] = pattern (sent, k);
          g_assert_true (vhost_driver_submit (driver, TXQ, &out, 1, NULL, 0, sent, &error));
          g_assert_no_error (error);
          vhost_driver_kick (driver, TXQ);
          sent++;
          due += STREAM_INTERVAL_US;
        }
      while (vhost_driver_reap (driver, RXQ, &tag, &len, &error))
        {
          const guint8 *frame = vhost_driver_get_host_address (driver, rx_addr[tag], RX_BUF);

          g_assert_cmpuint (len, ==, HDR_LEN + 60);
          for (gsize k = HDR_LEN; k < HDR_LEN + 60; k++)
            if (frame[k] != pattern (received, k))
              g_error ("frame %u: byte %zu is %u, not %u", received, k, frame[k], pattern (received, k));
          post_rx (driver, rx_addr, tag);
          received++;
          batch++;
        }
      g_assert_no_error (error);
      if (batch > 0)
        {
          vhost_driver_kick (driver, RXQ);
          reaps++;
          span_reaps++;
          if (received / STREAM_SPAN != (received - batch) / STREAM_SPAN)
            {
              best = MIN (best, span_reaps);
              span_reaps = 0;
            }
        }
      while (vhost_driver_reap (driver, TXQ, &tag, &len, &error))
        g_assert_cmpuint (tag, ==, tx_done++);
      g_assert_no_error (error);
    }
  g_test_message ("%u frames came back in %u batches; the best span of %u in %u", received, reaps, STREAM_SPAN,
                  best);
  g_assert_cmpuint (best * 3, <, STREAM_SPAN);

  echo_finish (thread, &master, &driver, fds_before);
}

int
main (int argc, char **argv)
{
  static const EchoCase split_mergeable = { FALSE, TRUE }, split_one = { FALSE, FALSE };
  static const EchoCase packed_mergeable = { TRUE, TRUE }, packed_one = { TRUE, FALSE };

  vhost_test_init (&argc, &argv);
  /* The device's warnings about what the test sends on purpose, recorded (a test
   * would otherwise abort on them). */
  vhost_test_log_capture_start ("vhost-user-net");
  g_test_add_data_func ("/vhost/tool/net-echo/split/mergeable", &split_mergeable, test_echo);
  g_test_add_data_func ("/vhost/tool/net-echo/split/one-chain", &split_one, test_echo);
  g_test_add_data_func ("/vhost/tool/net-echo/packed/mergeable", &packed_mergeable, test_echo);
  g_test_add_data_func ("/vhost/tool/net-echo/packed/one-chain", &packed_one, test_echo);
  g_test_add_data_func ("/vhost/tool/net-echo/split/one-at-a-time", &split_one, test_echo_one_at_a_time);
  g_test_add_data_func ("/vhost/tool/net-echo/packed/one-at-a-time", &packed_one, test_echo_one_at_a_time);
  g_test_add_data_func ("/vhost/tool/net-echo/split/coalesced", &split_one, test_echo_coalesced);
  g_test_add_data_func ("/vhost/tool/net-echo/packed/coalesced", &packed_one, test_echo_coalesced);
  return g_test_run ();
}
