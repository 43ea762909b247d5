/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A virtio-net device on VhostUserSlave that sends every transmitted frame straight back on receive. */
#include <string.h>
#include <linux/virtio_net.h>

#include "net-echo.h"

#define RXQ 0
#define TXQ 1
#define MAX_IOV 64
#define BATCH 32

G_DEFINE_FINAL_TYPE (VhostTestNetEcho, vhost_test_net_echo, VHOST_TYPE_USER_SLAVE)

/* Copy the transmitted chain (virtio-net header and frame) into the receive chain;
 * returns the bytes written, or 0 if they do not fit. The header is stored only if
 * it changes, with num_buffers 1 (one receive buffer per frame).
 * The frame goes in with streaming stores: the driver reads it on another CPU and
 * this one does not. */
static guint32
copy_frame (const VhostVirtqueueElement *tx, const VhostVirtqueueElement *rx, gboolean v1_header)
{
  struct virtio_net_hdr_mrg_rxbuf header;
  const gsize hdr_len = v1_header ? sizeof header : sizeof header.hdr;
  const guint16 one = GUINT16_TO_LE (1);
  guint8 *dst = rx->n_in > 0 && rx->iov[rx->n_out].iov_len >= hdr_len ? rx->iov[rx->n_out].iov_base : NULL;
  gsize off = hdr_len, pos = 0;

  if (dst != NULL && tx->n_out > 0 && tx->iov[0].iov_len >= hdr_len)
    {
      /* Compared and stored in place, only if it changes: the header line of a
       * receive buffer then stays shared with the driver, which reads it, instead
       * of moving here and back for every frame (DPDK's ASSIGN_UNLESS_EQUAL, for
       * the same reason). Constant sizes, so that no copy on the stack is read
       * back across stores of different widths. */
      const guint8 *src = tx->iov[0].iov_base;

      if (memcmp (dst, src, sizeof header.hdr) != 0 ||
          (v1_header && memcmp (dst + sizeof header.hdr, &one, sizeof one) != 0))
        {
          memcpy (dst, src, sizeof header.hdr);
          if (v1_header)
            memcpy (dst + sizeof header.hdr, &one, sizeof one);
        }
    }
  else
    {
      /* A header split across buffers goes through a copy. */
      if (vhost_virtqueue_element_read (tx, 0, &header, hdr_len) < hdr_len)
        return 0;
      header.num_buffers = one;
      if (vhost_virtqueue_element_write (rx, 0, &header, hdr_len) < hdr_len)
        return 0;
    }
  /* The frame, from wherever the header ends in the transmitted buffers. */
  for (guint i = 0; i < tx->n_out; pos += tx->iov[i].iov_len, i++)
    if (pos + tx->iov[i].iov_len > hdr_len)
      {
        gsize skip = pos < hdr_len ? hdr_len - pos : 0, n = tx->iov[i].iov_len - skip;

        if (vhost_virtqueue_element_write_streaming (rx, off, (const guint8 *) tx->iov[i].iov_base + skip, n) < n)
          return 0;
        off += n;
      }
  return off;
}

/* The handler of both queues, which share a worker: a transmitted frame waits in its
 * ring until a receive buffer is there for it (a kick on either queue brings it back),
 * so that no frame is lost. Frames go in batches: pop the transmitted chains and as
 * many receive chains, prefetch their data, then copy, so that the cache misses overlap. */
static void
echo_handler (VhostVirtqueue *queue, gpointer user_data)
{
  VhostTestNetEcho *self = user_data;
  VhostVirtqueue *rxq = vhost_user_slave_get_virtqueue (VHOST_USER_SLAVE (self), RXQ);
  VhostVirtqueue *txq = vhost_user_slave_get_virtqueue (VHOST_USER_SLAVE (self), TXQ);
  gboolean v1 = (vhost_user_slave_get_acked_features (VHOST_USER_SLAVE (self)) &
                 (VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) | VHOST_FEATURE_MASK (VIRTIO_NET_F_MRG_RXBUF))) != 0;
  gboolean rx_running = vhost_virtqueue_get_running (rxq);
  struct iovec tx_iov[BATCH][MAX_IOV], rx_iov[BATCH][MAX_IOV];
  VhostVirtqueueElement tx[BATCH], rx[BATCH];
  guint32 len[BATCH];
  guint n, n_rx, echoed = 0, dropped = 0;

  if (!vhost_virtqueue_get_running (txq))
    return;
  do
    {
      n = vhost_virtqueue_pop_batch (txq, tx, &tx_iov[0][0], MAX_IOV, BATCH);
      for (guint i = 0; i < n; i++)
        if (tx[i].n_out > 0)
          __builtin_prefetch (tx_iov[i][0].iov_base);
      n_rx = rx_running && n > 0 ? vhost_virtqueue_pop_batch (rxq, rx, &rx_iov[0][0], MAX_IOV, n) : 0;
      for (guint i = 0; i < n_rx; i++)
        if (rx[i].n_in > 0)
          __builtin_prefetch (rx_iov[i][rx[i].n_out].iov_base);
      /* Not enough receive buffers: the rest wait in the transmit ring (with the
       * receive queue stopped, they are dropped as a NIC without a link would). */
      if (rx_running && n_rx < n)
        {
          for (guint i = n; i > n_rx; i--)
            vhost_virtqueue_unpop (txq, &tx[i - 1]);
          n = n_rx;
        }
      /* All the copies first, then the pushes: the streaming stores of the whole
       * batch are under way together before a publication fences them. */
      for (guint i = 0; i < n_rx; i++)
        len[i] = copy_frame (&tx[i], &rx[i], v1);
      for (guint i = 0; i < n; i++)
        {
          if (i < n_rx)
            vhost_virtqueue_push (rxq, &rx[i], len[i]);
          if (i < n_rx && len[i] > 0)
            echoed++;
          else
            dropped++;
          vhost_virtqueue_push (txq, &tx[i], 0);
        }
    }
  while (n == BATCH);
  /* Whichever queue was kicked, both rings may have changed. */
  vhost_virtqueue_notify (queue == txq ? rxq : txq);
  if (echoed > 0)
    g_atomic_int_add (&self->echoed, echoed);
  if (dropped > 0)
    g_atomic_int_add (&self->dropped, dropped);
}

static guint64
echo_get_features (VhostUserSlave *slave)
{
  return VHOST_TEST_NET_ECHO (slave)->features;
}

static guint
echo_get_num_queues (VhostUserSlave *slave)
{
  return 2;
}

static void
vhost_test_net_echo_init (VhostTestNetEcho *self)
{
  VhostUserSlave *slave = VHOST_USER_SLAVE (self);

  self->features = VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) | VHOST_FEATURE_MASK (VIRTIO_NET_F_MRG_RXBUF) |
                   VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED) |
                   VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX) |
                   VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_INDIRECT_DESC) |
                   /* Frames go back in the order they came, into receive buffers in the
                    * order they were given. */
                   VHOST_FEATURE_MASK (VHOST_VIRTIO_F_IN_ORDER);
  /* Both queues in one worker, with one handler: it fills receive buffers with
   * transmitted frames. */
  vhost_virtqueue_set_worker_group (vhost_user_slave_get_virtqueue (slave, RXQ), 0);
  vhost_virtqueue_set_worker_group (vhost_user_slave_get_virtqueue (slave, TXQ), 0);
  vhost_virtqueue_set_handler (vhost_user_slave_get_virtqueue (slave, RXQ), echo_handler, self, NULL);
  vhost_virtqueue_set_handler (vhost_user_slave_get_virtqueue (slave, TXQ), echo_handler, self, NULL);
}

static void
vhost_test_net_echo_class_init (VhostTestNetEchoClass *klass)
{
  VhostUserSlaveClass *slave_class = VHOST_USER_SLAVE_CLASS (klass);

  slave_class->get_features = echo_get_features;
  slave_class->get_num_queues = echo_get_num_queues;
}
