/* SPDX-License-Identifier: GPL-2.0-or-later */
/* VhostToolNet: the virtio-net device of vhost-user-net, which connects a guest's device to a host TAP interface,
 * or echoes its frames. */
#undef G_LOG_DOMAIN /* the project-wide one is the library's */
#define G_LOG_DOMAIN "vhost-user-net"
#define G_LOG_USE_STRUCTURED

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>

#include "net-device.h"

#define MAX_QUEUE_PAIRS VHOST_TOOL_NET_MAX_QUEUE_PAIRS
/* The virtio-net header with VIRTIO_F_VERSION_1 or VIRTIO_NET_F_MRG_RXBUF; 10 bytes without. */
#define HDR_LEN ((gsize) sizeof (struct virtio_net_hdr_mrg_rxbuf))
#define NUM_BUFFERS_OFFSET offsetof (struct virtio_net_hdr_mrg_rxbuf, num_buffers)
/* The largest frame: a 64 KiB GSO frame and its Ethernet header. */
#define MAX_FRAME (65536 + 14)
#define MAX_PACKET (HDR_LEN + MAX_FRAME)
/* One chain's iovecs at most (the library's limit); a pool holds at least one more chain. */
#define MAX_IOV VHOST_VIRTQUEUE_MAX_IOV
#define POOL_IOV (2 * MAX_IOV)
/* The receive chains one frame may take with mergeable buffers. */
#define MAX_RX_CHAINS 256
/* Frames per handler call before the worker gets a say. */
#define BUDGET 256
/* Echo: transmitted frames popped at once, and as many receive chains. */
#define ECHO_BATCH 32
/* The iovecs of chain k of an echo batch start at k times this: room for the longest
 * chain, plus one cache line so that the batch's first iovecs do not all fall into
 * the same cache set. */
#define ECHO_IOV_STRIDE (MAX_IOV + 4)

/* Chains popped from one queue whose iovecs share one array. */
typedef struct
{
  VhostVirtqueueElement elem[MAX_RX_CHAINS];
  gsize cap[MAX_RX_CHAINS]; /* writable bytes of each */
  guint n;
  gsize total;              /* writable bytes of all */
  guint iov_used;
  struct iovec iov[POOL_IOV];
} ChainSet;

/* The chains of one echo batch: transmitted ones, and receive ones to copy them into. */
typedef struct
{
  VhostVirtqueueElement tx[ECHO_BATCH];
  VhostVirtqueueElement rx[ECHO_BATCH];
  guint32 len[ECHO_BATCH];   /* the bytes of each transmitted chain; 0 for one that is dropped */
  struct iovec *tx_iov;      /* (owned) ECHO_BATCH * ECHO_IOV_STRIDE */
  struct iovec *rx_iov;      /* (owned) ECHO_BATCH * ECHO_IOV_STRIDE */
} EchoBatch;

/* One queue pair: RX queue 2i and TX queue 2i+1, served by one worker. Everything but
 * the counters belongs to that worker while the queues run, and to the main context
 * while they are stopped. */
typedef struct
{
  VhostToolNet *net;
  guint index;
  int tap_fd;            /* (owned) the pair's queue of the TAP, or -1 */
  gboolean attached;     /* the TAP queue is attached (multi-queue) */

  ChainSet rx;           /* (owned) receive chains of the frame in hand */
  EchoBatch *echo;       /* (owned) echo mode: the batch in hand */
  struct iovec tx_iov[MAX_IOV];        /* TAP mode: the transmitted chain in hand */
  struct iovec read_iov[MAX_IOV + 1];
  guint8 *bounce;        /* (owned) MAX_PACKET bytes: a received frame that does not fit one chain */
  gsize pending;         /* bytes of a frame in bounce waiting for receive buffers; 0 for none */

  VhostToolNetStats stats; /* (atomic) */
} NetPair;

struct _VhostToolNet
{
  VhostUserSlave parent_instance;

  VhostToolNetMode mode;
  guint n_pairs;
  guint threads; /* pair i runs in worker group i % threads */
  guint64 features;      /* offered */
  guint tun_offloads;    /* the TUN_F_* flags the TAP accepts */

  /* From the acked features; set with the queues stopped. */
  gboolean mergeable;
  gsize hdr_len;

  NetPair *pairs[MAX_QUEUE_PAIRS]; /* (owned) */
};

G_DEFINE_FINAL_TYPE (VhostToolNet, vhost_tool_net, VHOST_TYPE_USER_SLAVE)

/* Count a dropped frame and say why, at the rate vhost_virtqueue_log() allows for
 * `queue` and `reason`: the guest can send such frames in a loop. */
static void G_GNUC_PRINTF (6, 7)
pair_log_drop (NetPair *pair, VhostVirtqueue *queue, guint64 *counter, GLogLevelFlags level, const char *reason,
               const char *format, ...)
{
  char message[256];
  va_list args;

  __atomic_fetch_add (counter, 1, __ATOMIC_RELAXED);
  va_start (args, format);
  g_vsnprintf (message, sizeof message, format, args);
  va_end (args);
  vhost_virtqueue_log (queue, G_LOG_DOMAIN, level, reason, "Queue pair %u: %s", pair->index, message);
}

/* What the guest got wrong: a warning. */
#define pair_drop(pair, queue, counter, reason, ...) \
  pair_log_drop (pair, queue, counter, G_LOG_LEVEL_WARNING, reason, __VA_ARGS__)

/* Pop a chain into the set; FALSE if none is available or the set is full. */
static gboolean
chains_pop (ChainSet *set, VhostVirtqueue *queue)
{
  VhostVirtqueueElement *elem = &set->elem[set->n];

  if (set->n == MAX_RX_CHAINS || set->iov_used + MAX_IOV > POOL_IOV ||
      !vhost_virtqueue_pop (queue, elem, set->iov + set->iov_used, MAX_IOV))
    return FALSE;
  set->iov_used += elem->n_out + elem->n_in;
  set->cap[set->n] = vhost_virtqueue_element_get_writable_size (elem);
  set->total += set->cap[set->n];
  set->n++;
  return TRUE;
}

/* Give back the chains from `from` on, last first. */
static void
chains_unpop (ChainSet *set, VhostVirtqueue *queue, guint from)
{
  while (set->n > from)
    {
      set->n--;
      set->total -= set->cap[set->n];
      set->iov_used -= set->elem[set->n].n_out + set->elem[set->n].n_in;
      vhost_virtqueue_unpop (queue, &set->elem[set->n]);
    }
}

static void
chains_clear (ChainSet *set)
{
  set->n = 0;
  set->total = 0;
  set->iov_used = 0;
}

typedef enum {
  GATHER_OK,
  GATHER_SHORT,   /* the ring ran out: all given back, wait for a kick */
  GATHER_NO_FIT,  /* the frame can never fit such buffers: all given back, drop it */
} GatherResult;

/* Pop receive chains until they hold `need` bytes: one chain without mergeable
 * buffers, as many as it takes with them. Chains without room for a header are
 * pushed back empty when they would come first. */
static GatherResult
rx_gather (NetPair *pair, VhostVirtqueue *rxq, gsize need)
{
  VhostToolNet *net = pair->net;
  ChainSet *rx = &pair->rx;

  chains_clear (rx);
  while (rx->total < need)
    {
      if (!chains_pop (rx, rxq))
        {
          gboolean full = rx->n == MAX_RX_CHAINS || rx->iov_used + MAX_IOV > POOL_IOV;

          chains_unpop (rx, rxq, 0);
          return full ? GATHER_NO_FIT : GATHER_SHORT;
        }
      if (rx->n == 1 && rx->cap[0] < net->hdr_len)
        {
          /* Alone, so it can be given back at once. */
          vhost_virtqueue_push (rxq, &rx->elem[0], 0);
          pair_drop (pair, rxq, &pair->stats.rx_dropped, "receive chain too short", "a receive chain (head %u) with %" G_GSIZE_FORMAT
                     " writable bytes, no room for a header", rx->elem[0].id, rx->cap[0]);
          chains_clear (rx);
          continue;
        }
      if (!net->mergeable && rx->total < need)
        {
          chains_unpop (rx, rxq, 0);
          return GATHER_NO_FIT;
        }
    }
  return GATHER_OK;
}

/* Fill the gathered chains in order with `length` bytes gathered from `src`, set
 * num_buffers in the header at the start, push them all. */
static void
rx_fill_and_push (NetPair *pair, VhostVirtqueue *rxq, const struct iovec *src, guint n_src, gsize length)
{
  ChainSet *rx = &pair->rx;
  guint chain = 0, out = 0;
  gsize out_off = 0, written = 0;
  guint used;
  guint16 num_buffers;

  for (guint s = 0; s < n_src; s++)
    {
      const guint8 *p = src[s].iov_base;
      gsize left = src[s].iov_len;

      while (left > 0 && chain < rx->n)
        {
          const VhostVirtqueueElement *e = &rx->elem[chain];
          const struct iovec *dst;
          gsize n;

          if (out == e->n_in)
            {
              chain++;
              out = 0;
              out_off = 0;
              continue;
            }
          dst = &e->iov[e->n_out + out];
          if (out_off == dst->iov_len)
            {
              out++;
              out_off = 0;
              continue;
            }
          n = MIN (left, dst->iov_len - out_off);
          memcpy ((guint8 *) dst->iov_base + out_off, p, n);
          out_off += n;
          p += n;
          left -= n;
        }
    }
  /* The chains the bytes took; any after them (the last ones popped) go back. */
  used = 0;
  for (gsize left = length; used < rx->n && left > 0; used++)
    left -= MIN (left, rx->cap[used]);
  used = MAX (used, 1);
  chains_unpop (rx, rxq, used);
  if (pair->net->hdr_len == HDR_LEN)
    {
      num_buffers = GUINT16_TO_LE (used);
      vhost_virtqueue_element_write (&rx->elem[0], NUM_BUFFERS_OFFSET, &num_buffers, sizeof num_buffers);
    }
  for (guint i = 0; i < used; i++)
    {
      gsize n = MIN (length - written, rx->cap[i]);

      vhost_virtqueue_push (rxq, &rx->elem[i], n);
      written += n;
    }
  chains_clear (rx);
}

/* The TAP side. */

typedef enum {
  RX_DONE,    /* a frame was delivered or dropped: go on */
  RX_EMPTY,   /* nothing more to read from the TAP */
  RX_SHORT,   /* no receive buffers: wait for a kick */
} RxResult;

/* Deliver the frame waiting in the bounce buffer. */
static RxResult
rx_deliver_pending (NetPair *pair, VhostVirtqueue *rxq)
{
  struct iovec src = { pair->bounce, pair->pending };

  switch (rx_gather (pair, rxq, pair->pending))
    {
    case GATHER_SHORT:
      return RX_SHORT;
    case GATHER_NO_FIT:
      pair_drop (pair, rxq, &pair->stats.rx_dropped, "received frame too large",
                 "a received frame of %" G_GSIZE_FORMAT " bytes does not fit the "
                 "receive buffers", pair->pending);
      break;
    case GATHER_OK:
      rx_fill_and_push (pair, rxq, &src, 1, pair->pending);
      __atomic_fetch_add (&pair->stats.rx_frames, 1, __ATOMIC_RELAXED);
      __atomic_fetch_add (&pair->stats.rx_bytes, pair->pending - pair->net->hdr_len, __ATOMIC_RELAXED);
      break;
    }
  pair->pending = 0;
  return RX_DONE;
}

/* Read one frame from the TAP: straight into the first receive chain, the rest (if
 * it is bigger, with mergeable buffers) into the bounce buffer at the same offset,
 * then over more chains. */
static RxResult
rx_receive (NetPair *pair, VhostVirtqueue *rxq)
{
  VhostToolNet *net = pair->net;
  ChainSet *rx = &pair->rx;
  const VhostVirtqueueElement *first;
  gsize cap, read_cap;
  guint n_iov;
  gssize n;

  if (rx_gather (pair, rxq, 1) != GATHER_OK)
    return RX_SHORT;
  first = &rx->elem[0];
  cap = read_cap = rx->cap[0];
  n_iov = first->n_in;
  memcpy (pair->read_iov, first->iov + first->n_out, n_iov * sizeof (struct iovec));
  if (net->mergeable && cap < MAX_PACKET && n_iov < MAX_IOV)
    {
      pair->read_iov[n_iov].iov_base = pair->bounce + cap;
      pair->read_iov[n_iov].iov_len = MAX_PACKET - cap;
      read_cap = MAX_PACKET;
      n_iov++;
    }
  do
    n = readv (pair->tap_fd, pair->read_iov, n_iov);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    {
      int saved = errno;

      chains_unpop (rx, rxq, 0);
      /* EBADFD: the TAP queue is detached (the guest disabled the pair). */
      if (saved != EAGAIN && saved != EBADFD)
        vhost_virtqueue_log (rxq, G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "TAP read failed",
                             "Queue pair %u: reading the TAP failed: %s", pair->index, g_strerror (saved));
      return RX_EMPTY;
    }
  if ((gsize) n <= cap && (gsize) n >= net->hdr_len)
    {
      struct iovec none = { NULL, 0 };

      /* In place: only num_buffers to set. */
      rx_fill_and_push (pair, rxq, &none, 1, n);
      __atomic_fetch_add (&pair->stats.rx_frames, 1, __ATOMIC_RELAXED);
      __atomic_fetch_add (&pair->stats.rx_bytes, n - net->hdr_len, __ATOMIC_RELAXED);
      return RX_DONE;
    }
  if ((gsize) n < net->hdr_len || (gsize) n > read_cap)
    {
      /* The TAP gives the length of the frame even when it did not fit. */
      chains_unpop (rx, rxq, 0);
      pair_drop (pair, rxq, &pair->stats.rx_dropped, "received frame too large",
                 "a received frame of %" G_GSSIZE_FORMAT " bytes does not fit %s", n,
                 net->mergeable ? "the largest frame" : "the receive buffer");
      return RX_DONE;
    }
  /* Too big for the first chain: the whole frame goes to the bounce buffer, to be
   * spread over more chains now or when the guest gives some. */
  {
    guint8 *p = pair->bounce;

    for (guint i = 0; i < first->n_in; i++)
      {
        memcpy (p, first->iov[first->n_out + i].iov_base, first->iov[first->n_out + i].iov_len);
        p += first->iov[first->n_out + i].iov_len;
      }
  }
  chains_unpop (rx, rxq, 0);
  pair->pending = n;
  return rx_deliver_pending (pair, rxq);
}

/* RX queue handler (TAP mode): woken by the TAP's fd, RX kicks and polling rounds. */
static void
tap_rx_handler (VhostVirtqueue *rxq, gpointer data)
{
  NetPair *pair = data;

  for (guint i = 0; i < BUDGET; i++)
    {
      RxResult result = pair->pending > 0 ? rx_deliver_pending (pair, rxq) : rx_receive (pair, rxq);

      if (result != RX_DONE)
        break;
    }
}

/* TX queue handler (TAP mode): the header and frame go to the TAP as they are. */
static void
tap_tx_handler (VhostVirtqueue *txq, gpointer data)
{
  NetPair *pair = data;
  VhostToolNet *net = pair->net;
  VhostVirtqueueElement elem;
  guint frames = 0;
  guint64 bytes = 0;

  for (guint i = 0; i < BUDGET && vhost_virtqueue_pop (txq, &elem, pair->tx_iov, MAX_IOV); i++)
    {
      gsize length = vhost_virtqueue_element_get_readable_size (&elem);
      gssize n;

      if (length < net->hdr_len || length > net->hdr_len + MAX_FRAME)
        {
          pair_drop (pair, txq, &pair->stats.tx_dropped, "transmitted chain not a frame",
                     "a transmitted chain (head %u) of %" G_GSIZE_FORMAT " bytes: %s",
                     elem.id, length, length < net->hdr_len ? "shorter than a header" : "longer than a frame");
          vhost_virtqueue_push (txq, &elem, 0);
          continue;
        }
      do
        n = writev (pair->tap_fd, elem.iov, elem.n_out);
      while (n < 0 && errno == EINTR);
      if (n < 0)
        {
          int saved = errno;
          /* EIO: the interface is down; EBADFD: the queue is detached. Not the guest's fault. */
          GLogLevelFlags level = saved == EIO || saved == EBADFD ? G_LOG_LEVEL_DEBUG : G_LOG_LEVEL_WARNING;

          pair_log_drop (pair, txq, &pair->stats.tx_dropped, level, "TAP write failed",
                         "writing %" G_GSIZE_FORMAT " bytes to the TAP failed: %s",
                         length, g_strerror (saved));
        }
      else
        {
          frames++;
          bytes += length - net->hdr_len;
        }
      vhost_virtqueue_push (txq, &elem, 0);
    }
  __atomic_fetch_add (&pair->stats.tx_frames, frames, __ATOMIC_RELAXED);
  __atomic_fetch_add (&pair->stats.tx_bytes, bytes, __ATOMIC_RELAXED);
}

/* The echo device. */

typedef enum {
  ECHO_MORE,     /* frames went back, and more may be waiting */
  ECHO_EMPTY,    /* the transmit ring is empty */
  ECHO_STALLED,  /* no receive buffers: the frames wait in the transmit ring for a kick */
} EchoResult;

/* Whether a transmitted chain of `length` bytes is a frame; if not, count and say so. */
static gboolean
echo_check_length (NetPair *pair, VhostVirtqueue *txq, const VhostVirtqueueElement *t, gsize length)
{
  gsize hdr_len = pair->net->hdr_len;

  if (length >= hdr_len && length <= hdr_len + MAX_FRAME)
    return TRUE;
  pair_drop (pair, txq, &pair->stats.tx_dropped, "transmitted chain not a frame",
             "a transmitted chain (head %u) of %" G_GSIZE_FORMAT " bytes: %s", t->id,
             length, length < hdr_len ? "shorter than a header" : "longer than a frame");
  return FALSE;
}

/* Copy a transmitted chain of `length` bytes (header and frame) into a receive chain
 * that holds it; num_buffers is 1.
 * The header is compared in place and stored only where it differs: the receive
 * buffer's header line then stays shared with the driver, which reads it, instead of
 * coming over here and going back for every frame (DPDK's ASSIGN_UNLESS_EQUAL does
 * the same). The sizes are constants, so the comparison reads no copy on the stack
 * back across stores of other widths.
 * The frame goes in with streaming stores: the driver reads it on another CPU and this
 * one does not, so its lines need not come here first; the queue fences the stores
 * before it publishes the chain. */
static void
echo_copy (const VhostVirtqueueElement *t, const VhostVirtqueueElement *r, gsize hdr_len, gsize length)
{
  struct virtio_net_hdr_mrg_rxbuf header;
  const guint16 one = GUINT16_TO_LE (1);
  const struct iovec *dst_iov = &r->iov[r->n_out];
  gboolean v1 = hdr_len == HDR_LEN;
  gsize off = hdr_len, pos = 0;

  if (dst_iov->iov_len >= hdr_len && t->iov[0].iov_len >= hdr_len)
    {
      guint8 *dst = dst_iov->iov_base;
      const guint8 *src = t->iov[0].iov_base;

      if (memcmp (dst, src, sizeof header.hdr) != 0 ||
          (v1 && memcmp (dst + sizeof header.hdr, &one, sizeof one) != 0))
        {
          memcpy (dst, src, sizeof header.hdr);
          if (v1)
            memcpy (dst + sizeof header.hdr, &one, sizeof one);
        }
    }
  else
    {
      /* A header split across buffers goes through a copy. */
      vhost_virtqueue_element_read (t, 0, &header, hdr_len);
      header.num_buffers = one;
      vhost_virtqueue_element_write (r, 0, &header, hdr_len);
    }
  /* The frame, from wherever the header ends in the transmitted buffers. */
  for (guint i = 0; i < t->n_out && off < length; pos += t->iov[i].iov_len, i++)
    if (pos + t->iov[i].iov_len > hdr_len)
      {
        gsize skip = pos < hdr_len ? hdr_len - pos : 0, n = t->iov[i].iov_len - skip;

        off += vhost_virtqueue_element_write_streaming (r, off, (const guint8 *) t->iov[i].iov_base + skip, n);
      }
}

/* A frame that takes several receive chains (mergeable buffers), or that fits none,
 * or a receive chain without room for a header: the general path, one frame. */
static EchoResult
echo_one (NetPair *pair, VhostVirtqueue *rxq, VhostVirtqueue *txq, const VhostVirtqueueElement *t, gsize length)
{
  switch (rx_gather (pair, rxq, length))
    {
    case GATHER_SHORT:
      vhost_virtqueue_unpop (txq, t);
      return ECHO_STALLED;
    case GATHER_NO_FIT:
      pair_drop (pair, rxq, &pair->stats.rx_dropped, "echoed frame too large",
                 "an echoed frame of %" G_GSIZE_FORMAT " bytes does not fit the "
                 "receive buffers", length - pair->net->hdr_len);
      break;
    case GATHER_OK:
      rx_fill_and_push (pair, rxq, t->iov, t->n_out, length);
      __atomic_fetch_add (&pair->stats.rx_frames, 1, __ATOMIC_RELAXED);
      __atomic_fetch_add (&pair->stats.rx_bytes, length - pair->net->hdr_len, __ATOMIC_RELAXED);
      __atomic_fetch_add (&pair->stats.tx_frames, 1, __ATOMIC_RELAXED);
      __atomic_fetch_add (&pair->stats.tx_bytes, length - pair->net->hdr_len, __ATOMIC_RELAXED);
      break;
    }
  vhost_virtqueue_push (txq, t, 0);
  return ECHO_MORE;
}

/* One batch: pop up to ECHO_BATCH transmitted chains and as many receive chains,
 * prefetch the start of each (a transmitted frame's first two lines), and send back
 * the frames that each fit one receive chain, all their copies before their pushes,
 * so that the streaming stores of the whole batch are under way together before a
 * publication fences them. The batch ends before a frame that needs the general
 * path (it comes first in the next one) or that finds no receive chain (it waits in
 * the transmit ring, with those after it, until the guest gives receive buffers). */
static EchoResult
echo_batch (NetPair *pair, VhostVirtqueue *rxq, VhostVirtqueue *txq, guint *frames, guint64 *bytes)
{
  EchoBatch *b = pair->echo;
  gsize hdr_len = pair->net->hdr_len;
  gboolean stalled = FALSE;
  guint popped, n, n_rx, k, used = 0;

  n = popped = vhost_virtqueue_pop_batch (txq, b->tx, b->tx_iov, ECHO_IOV_STRIDE, ECHO_BATCH);
  if (n == 0)
    return ECHO_EMPTY;
  for (guint i = 0; i < n; i++)
    if (b->tx[i].n_out > 0)
      {
        /* A 64-byte frame behind its 12-byte header spans two cache lines: the
         * load of the second one missed too, one frame after the other (packed
         * echo at full rate 10.0 M frames/s with the first line alone, 12.0 M
         * with both). */
        const guint8 *frame = b->tx[i].iov[0].iov_base;
        gsize len = b->tx[i].iov[0].iov_len;

        __builtin_prefetch (frame);
        if (len > 0 && ((guintptr) frame ^ (guintptr) (frame + len - 1)) >= 64)
          __builtin_prefetch (frame + 64);
      }
  n_rx = vhost_virtqueue_pop_batch (rxq, b->rx, b->rx_iov, ECHO_IOV_STRIDE, n);
  for (guint i = 0; i < n_rx; i++)
    if (b->rx[i].n_in > 0)
      __builtin_prefetch (b->rx[i].iov[b->rx[i].n_out].iov_base);

  /* Frame k goes into the next receive chain if it fits; a chain that is no frame
   * takes none and is dropped (given back with nothing echoed). */
  for (k = 0; k < n; k++)
    {
      gsize length = vhost_virtqueue_element_get_readable_size (&b->tx[k]);

      b->len[k] = 0;
      if (!echo_check_length (pair, txq, &b->tx[k], length))
        continue;
      if (used == n_rx)
        {
          stalled = TRUE;
          break;
        }
      if (vhost_virtqueue_element_get_writable_size (&b->rx[used]) < length)
        break;
      b->len[k] = length;
      used++;
    }
  /* What the batch does not use goes back, the last popped first. */
  while (n_rx > used)
    vhost_virtqueue_unpop (rxq, &b->rx[--n_rx]);
  while (n > MAX (k, 1))
    vhost_virtqueue_unpop (txq, &b->tx[--n]);
  if (k == 0)
    {
      /* The first frame needs the general path, or waits. */
      if (!stalled)
        return echo_one (pair, rxq, txq, &b->tx[0], vhost_virtqueue_element_get_readable_size (&b->tx[0]));
      vhost_virtqueue_unpop (txq, &b->tx[0]);
      return ECHO_STALLED;
    }

  for (guint i = 0, r = 0; i < k; i++)
    if (b->len[i] > 0)
      echo_copy (&b->tx[i], &b->rx[r++], hdr_len, b->len[i]);
  for (guint i = 0, r = 0; i < k; i++)
    {
      if (b->len[i] > 0)
        {
          vhost_virtqueue_push (rxq, &b->rx[r++], b->len[i]);
          (*frames)++;
          *bytes += b->len[i] - hdr_len;
        }
      vhost_virtqueue_push (txq, &b->tx[i], 0);
    }
  if (stalled)
    return ECHO_STALLED;
  return k < popped || popped == ECHO_BATCH ? ECHO_MORE : ECHO_EMPTY;
}

/* The echo device: both queues of a pair run this, in the pair's worker. Transmitted
 * frames go to the receive queue in batches, and wait in the transmit ring while
 * receive buffers lack; a kick on either queue brings them out. */
static void
echo_handler (VhostVirtqueue *queue, gpointer data)
{
  NetPair *pair = data;
  VhostUserSlave *slave = VHOST_USER_SLAVE (pair->net);
  VhostVirtqueue *rxq = vhost_user_slave_get_virtqueue (slave, 2 * pair->index);
  VhostVirtqueue *txq = vhost_user_slave_get_virtqueue (slave, 2 * pair->index + 1);
  guint frames = 0;
  guint64 bytes = 0;

  if (!vhost_virtqueue_get_running (rxq) || !vhost_virtqueue_get_running (txq))
    return;
  for (guint round = 0; round < BUDGET / ECHO_BATCH; round++)
    if (echo_batch (pair, rxq, txq, &frames, &bytes) != ECHO_MORE)
      break;
  if (frames > 0)
    {
      __atomic_fetch_add (&pair->stats.tx_frames, frames, __ATOMIC_RELAXED);
      __atomic_fetch_add (&pair->stats.tx_bytes, bytes, __ATOMIC_RELAXED);
      __atomic_fetch_add (&pair->stats.rx_frames, frames, __ATOMIC_RELAXED);
      __atomic_fetch_add (&pair->stats.rx_bytes, bytes, __ATOMIC_RELAXED);
    }
  /* The library publishes the queue whose handler this is; the other one here. */
  vhost_virtqueue_notify (queue == rxq ? txq : rxq);
}

/* The TAP. */

static int
tap_open_queue (const char *name, gboolean multi_queue, GError **error)
{
  struct ifreq ifr = { 0 };
  int hdr_len = HDR_LEN;
  int fd = open ("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);

  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "/dev/net/tun: %s", g_strerror (saved));
      return -1;
    }
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (multi_queue ? IFF_MULTI_QUEUE : 0);
  g_strlcpy (ifr.ifr_name, name, sizeof ifr.ifr_name);
  if (ioctl (fd, TUNSETIFF, &ifr) < 0 || ioctl (fd, TUNSETVNETHDRSZ, &hdr_len) < 0)
    {
      int saved = errno;

      close (fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "--tap=%s: %s%s", name, g_strerror (saved),
                   saved == EINVAL && multi_queue ? " (a TAP made without multi_queue?)"
                   : saved == EBUSY ? " (in use by another program?)" : "");
      return -1;
    }
  return fd;
}

/* The offloads the TAP accepts, tried from the most to none. */
static guint
tap_probe_offloads (int fd)
{
  static const guint candidates[] = {
    TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN,
    TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6,
    TUN_F_CSUM | TUN_F_TSO4,
    TUN_F_CSUM,
  };

  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    if (ioctl (fd, TUNSETOFFLOAD, candidates[i]) == 0)
      {
        ioctl (fd, TUNSETOFFLOAD, 0);
        return candidates[i];
      }
  return 0;
}

/* Attach or detach the pair's TAP queue, so that the TAP spreads frames only over
 * the queue pairs the guest uses. */
static void
pair_attach (NetPair *pair, gboolean attach)
{
  struct ifreq ifr = { 0 };

  if (pair->tap_fd < 0 || pair->attached == attach)
    return;
  ifr.ifr_flags = attach ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
  if (ioctl (pair->tap_fd, TUNSETQUEUE, &ifr) < 0)
    {
      int saved = errno;

      /* The front-end enables and disables queues as it likes. */
      vhost_user_slave_log (VHOST_USER_SLAVE (pair->net), G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "TAP queue not switched",
                            "Queue pair %u: cannot %s the TAP queue: %s", pair->index,
                            attach ? "attach" : "detach", g_strerror (saved));
      return;
    }
  pair->attached = attach;
  g_debug ("Queue pair %u: TAP queue %s", pair->index, attach ? "attached" : "detached");
}

static gboolean
net_open_tap (VhostToolNet *self, const char *name, GError **error)
{
  gboolean multi_queue = self->n_pairs > 1;

  for (guint i = 0; i < self->n_pairs; i++)
    {
      self->pairs[i]->tap_fd = tap_open_queue (name, multi_queue, error);
      if (self->pairs[i]->tap_fd < 0)
        return FALSE;
      self->pairs[i]->attached = TRUE;
    }
  self->tun_offloads = tap_probe_offloads (self->pairs[0]->tap_fd);
  /* Only the queue pairs the guest enables take frames; pair 0 always. */
  for (guint i = 1; i < self->n_pairs; i++)
    pair_attach (self->pairs[i], FALSE);
  g_debug ("TAP %s: %u queue(s), offloads 0x%x", name, self->n_pairs, self->tun_offloads);
  return TRUE;
}

/* The interface's MTU: read it, or set it when `mtu` > 0. */
static gboolean
tap_mtu (const char *name, int *mtu, GError **error)
{
  struct ifreq ifr = { 0 };
  int fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  gboolean set = *mtu > 0;

  g_strlcpy (ifr.ifr_name, name, sizeof ifr.ifr_name);
  ifr.ifr_mtu = *mtu;
  if (fd < 0 || ioctl (fd, set ? SIOCSIFMTU : SIOCGIFMTU, &ifr) < 0)
    {
      int saved = errno;

      if (fd >= 0)
        close (fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "--tap=%s: %s the MTU: %s", name,
                   set ? "setting" : "reading", g_strerror (saved));
      return FALSE;
    }
  close (fd);
  *mtu = ifr.ifr_mtu;
  return TRUE;
}

/* The VhostUserSlave virtual functions. */

static guint64
net_get_features (VhostUserSlave *slave)
{
  return VHOST_TOOL_NET (slave)->features;
}

static guint
net_get_num_queues (VhostUserSlave *slave)
{
  return 2 * VHOST_TOOL_NET (slave)->n_pairs;
}

static gboolean
net_set_features (VhostUserSlave *slave, guint64 features, GError **error)
{
  VhostToolNet *self = VHOST_TOOL_NET (slave);
  guint offloads = 0;
  int hdr_len;

  self->mergeable = (features & VHOST_FEATURE_MASK (VIRTIO_NET_F_MRG_RXBUF)) != 0;
  self->hdr_len = self->mergeable || (features & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1)) ?
                    HDR_LEN : sizeof (struct virtio_net_hdr);
  if (features & VHOST_FEATURE_MASK (VIRTIO_NET_F_GUEST_CSUM))
    {
      offloads |= TUN_F_CSUM;
      if (features & VHOST_FEATURE_MASK (VIRTIO_NET_F_GUEST_TSO4))
        offloads |= TUN_F_TSO4;
      if (features & VHOST_FEATURE_MASK (VIRTIO_NET_F_GUEST_TSO6))
        offloads |= TUN_F_TSO6;
      if (features & VHOST_FEATURE_MASK (VIRTIO_NET_F_GUEST_ECN))
        offloads |= TUN_F_TSO_ECN;
    }
  offloads &= self->tun_offloads;
  hdr_len = self->hdr_len;
  /* The queues are stopped: a frame kept for the old header layout goes. */
  for (guint i = 0; i < self->n_pairs; i++)
    {
      NetPair *pair = self->pairs[i];

      pair->pending = 0;
      if (pair->tap_fd < 0)
        continue;
      if (ioctl (pair->tap_fd, TUNSETVNETHDRSZ, &hdr_len) < 0 || ioctl (pair->tap_fd, TUNSETOFFLOAD, offloads) < 0)
        {
          g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                       "SET_FEATURES: the TAP refuses the header size %d or offloads 0x%x: %s", hdr_len, offloads,
                       g_strerror (errno));
          return FALSE;
        }
    }
  g_debug ("Features 0x%" G_GINT64_MODIFIER "x acked: %s receive buffers, %" G_GSIZE_FORMAT "-byte header, "
           "TAP offloads 0x%x", features, self->mergeable ? "mergeable" : "one-chain", self->hdr_len, offloads);
  return TRUE;
}

static void
net_vring_state_changed (VhostUserSlave *slave, guint index, gboolean started, gboolean enabled)
{
  VhostToolNet *self = VHOST_TOOL_NET (slave);

  g_debug ("Queue %u %s, %s", index, started ? "started" : "stopped", enabled ? "enabled" : "disabled");
  /* The RX queue decides whether the TAP sends frames to the pair. */
  if (index % 2 == 0 && index > 0 && index / 2 < self->n_pairs)
    pair_attach (self->pairs[index / 2], enabled);
}

static void
net_reset (VhostUserSlave *slave)
{
  VhostToolNet *self = VHOST_TOOL_NET (slave);

  g_debug ("Device reset");
  for (guint i = 0; i < self->n_pairs; i++)
    self->pairs[i]->pending = 0;
}

static void
vhost_tool_net_init (VhostToolNet *self)
{
  self->hdr_len = HDR_LEN;
}

static void
vhost_tool_net_finalize (GObject *object)
{
  VhostToolNet *self = VHOST_TOOL_NET (object);

  /* The parent's dispose stopped the queues: no worker uses the pairs any more. */
  for (guint i = 0; i < MAX_QUEUE_PAIRS; i++)
    {
      NetPair *pair = self->pairs[i];

      if (pair == NULL)
        continue;
      if (pair->tap_fd >= 0)
        close (pair->tap_fd);
      if (pair->echo != NULL)
        {
          g_free (pair->echo->tx_iov);
          g_free (pair->echo->rx_iov);
          g_free (pair->echo);
        }
      g_free (pair->bounce);
      g_free (pair);
    }
  G_OBJECT_CLASS (vhost_tool_net_parent_class)->finalize (object);
}

static void
vhost_tool_net_class_init (VhostToolNetClass *klass)
{
  VhostUserSlaveClass *slave_class = VHOST_USER_SLAVE_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = vhost_tool_net_finalize;
  slave_class->get_features = net_get_features;
  slave_class->get_num_queues = net_get_num_queues;
  slave_class->set_features = net_set_features;
  slave_class->vring_state_changed = net_vring_state_changed;
  slave_class->reset = net_reset;
}

gboolean
vhost_tool_net_configure (VhostToolNet *self, const VhostToolNetConfig *config, GError **error)
{
  VhostUserSlave *slave = VHOST_USER_SLAVE (self);
  struct virtio_net_config space = { 0 };
  g_autoptr(GBytes) bytes = NULL;
  gboolean echo;
  int mtu;

  g_return_val_if_fail (VHOST_IS_TOOL_NET (self), FALSE);
  g_return_val_if_fail (config != NULL, FALSE);
  g_return_val_if_fail (self->n_pairs == 0, FALSE);
  g_return_val_if_fail (config->queue_pairs <= MAX_QUEUE_PAIRS, FALSE);
  g_return_val_if_fail (config->mode == VHOST_TOOL_NET_MODE_ECHO || config->tap != NULL, FALSE);
  g_return_val_if_fail (config->mtu <= 65535, FALSE);

  echo = config->mode == VHOST_TOOL_NET_MODE_ECHO;
  mtu = config->mtu;
  self->mode = config->mode;
  self->n_pairs = MAX (config->queue_pairs, 1);
  self->threads = config->threads > 0 ? MIN (config->threads, self->n_pairs) : self->n_pairs;
  for (guint i = 0; i < self->n_pairs; i++)
    {
      NetPair *pair = g_new0 (NetPair, 1);
      VhostVirtqueue *rxq = vhost_user_slave_get_virtqueue (slave, 2 * i);
      VhostVirtqueue *txq = vhost_user_slave_get_virtqueue (slave, 2 * i + 1);
      VhostVirtqueueHandler handler_rx = echo ? echo_handler : tap_rx_handler;
      VhostVirtqueueHandler handler_tx = echo ? echo_handler : tap_tx_handler;

      pair->net = self;
      pair->index = i;
      pair->tap_fd = -1;
      pair->bounce = g_malloc (MAX_PACKET);
      if (echo)
        {
          pair->echo = g_new0 (EchoBatch, 1);
          pair->echo->tx_iov = g_new (struct iovec, ECHO_BATCH * ECHO_IOV_STRIDE);
          pair->echo->rx_iov = g_new (struct iovec, ECHO_BATCH * ECHO_IOV_STRIDE);
        }
      self->pairs[i] = pair;
      /* A pair's queues in one worker: the TX handler may fill the RX queue. A
       * pair touches nothing of the others: any of them may share its thread. */
      vhost_virtqueue_set_worker_group (rxq, i % self->threads);
      vhost_virtqueue_set_worker_group (txq, i % self->threads);
      vhost_virtqueue_set_handler (rxq, handler_rx, pair, NULL);
      vhost_virtqueue_set_handler (txq, handler_tx, pair, NULL);
    }

  self->features = VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) |
                   VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_INDIRECT_DESC) |
                   VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX) |
                   VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_LOG_ALL) |
                   VHOST_FEATURE_MASK (VHOST_VIRTIO_F_ACCESS_PLATFORM) | VHOST_FEATURE_MASK (VIRTIO_NET_F_MAC) |
                   VHOST_FEATURE_MASK (VIRTIO_NET_F_MTU) | VHOST_FEATURE_MASK (VIRTIO_NET_F_STATUS);
  if (self->n_pairs > 1)
    self->features |= VHOST_FEATURE_MASK (VIRTIO_NET_F_MQ);
  if (config->mergeable)
    self->features |= VHOST_FEATURE_MASK (VIRTIO_NET_F_MRG_RXBUF);

  if (echo)
    {
      /* The echo gives back transmitted chains and receive chains each in the order
       * it took them (the general path too: the receive chains a frame leaves over go
       * back to the ring). The driver may then take its in-order paths. */
      self->features |= VHOST_FEATURE_MASK (VHOST_VIRTIO_F_IN_ORDER);
      if (mtu <= 0)
        mtu = VHOST_TOOL_NET_DEFAULT_MTU;
    }
  else
    {
      if (!net_open_tap (self, config->tap, error) || !tap_mtu (config->tap, &mtu, error))
        return FALSE;
      for (guint i = 0; i < self->n_pairs; i++)
        if (!vhost_virtqueue_set_event_fd (vhost_user_slave_get_virtqueue (slave, 2 * i), self->pairs[i]->tap_fd,
                                           error))
          return FALSE;
      /* Whatever the TAP takes: the guest's checksums and segments (the TAP
       * accepts them on write whenever it has offloads at all), and the host's. */
      if (self->tun_offloads & TUN_F_CSUM)
        self->features |= VHOST_FEATURE_MASK (VIRTIO_NET_F_CSUM) | VHOST_FEATURE_MASK (VIRTIO_NET_F_HOST_TSO4) |
                          VHOST_FEATURE_MASK (VIRTIO_NET_F_HOST_TSO6) | VHOST_FEATURE_MASK (VIRTIO_NET_F_HOST_ECN) |
                          VHOST_FEATURE_MASK (VIRTIO_NET_F_GUEST_CSUM);
      if (self->tun_offloads & TUN_F_TSO4)
        self->features |= VHOST_FEATURE_MASK (VIRTIO_NET_F_GUEST_TSO4);
      if (self->tun_offloads & TUN_F_TSO6)
        self->features |= VHOST_FEATURE_MASK (VIRTIO_NET_F_GUEST_TSO6);
      if (self->tun_offloads & TUN_F_TSO_ECN)
        self->features |= VHOST_FEATURE_MASK (VIRTIO_NET_F_GUEST_ECN);
    }

  /* Little-endian: VIRTIO_F_VERSION_1. */
  memcpy (space.mac, config->mac, sizeof space.mac);
  space.status = GUINT16_TO_LE (VIRTIO_NET_S_LINK_UP);
  space.max_virtqueue_pairs = GUINT16_TO_LE (self->n_pairs);
  space.mtu = GUINT16_TO_LE (mtu);
  space.speed = GUINT32_TO_LE (G_MAXUINT32); /* unknown */
  space.duplex = 0xff;                       /* unknown */
  bytes = g_bytes_new (&space, sizeof space);
  vhost_user_slave_set_config_space (slave, bytes);
  g_debug ("%s: MAC %02x:%02x:%02x:%02x:%02x:%02x, MTU %d, %u queue pair(s), features 0x%" G_GINT64_MODIFIER "x",
           echo ? "echo" : config->tap, config->mac[0], config->mac[1], config->mac[2], config->mac[3],
           config->mac[4], config->mac[5], mtu, self->n_pairs, self->features);
  return TRUE;
}

guint
vhost_tool_net_get_queue_pairs (VhostToolNet *self)
{
  g_return_val_if_fail (VHOST_IS_TOOL_NET (self), 0);
  return self->n_pairs;
}

guint
vhost_tool_net_get_threads (VhostToolNet *self)
{
  g_return_val_if_fail (VHOST_IS_TOOL_NET (self), 0);
  return self->threads;
}

void
vhost_tool_net_get_stats (VhostToolNet *self, int pair, VhostToolNetStats *stats)
{
  g_return_if_fail (VHOST_IS_TOOL_NET (self));
  g_return_if_fail (pair >= -1 && pair < (int) self->n_pairs);

  memset (stats, 0, sizeof *stats);
  for (guint i = pair < 0 ? 0 : pair; i < (pair < 0 ? self->n_pairs : (guint) pair + 1); i++)
    {
      const VhostToolNetStats *p = &self->pairs[i]->stats;

      stats->rx_frames += __atomic_load_n (&p->rx_frames, __ATOMIC_RELAXED);
      stats->rx_bytes += __atomic_load_n (&p->rx_bytes, __ATOMIC_RELAXED);
      stats->tx_frames += __atomic_load_n (&p->tx_frames, __ATOMIC_RELAXED);
      stats->tx_bytes += __atomic_load_n (&p->tx_bytes, __ATOMIC_RELAXED);
      stats->rx_dropped += __atomic_load_n (&p->rx_dropped, __ATOMIC_RELAXED);
      stats->tx_dropped += __atomic_load_n (&p->tx_dropped, __ATOMIC_RELAXED);
    }
}

void
vhost_tool_net_log_stats (VhostToolNet *self)
{
  g_return_if_fail (VHOST_IS_TOOL_NET (self));

  for (guint i = 0; i < self->n_pairs; i++)
    {
      VhostToolNetStats s;

      vhost_tool_net_get_stats (self, i, &s);
      g_message ("Queue pair %u: received %" G_GUINT64_FORMAT " frames (%" G_GUINT64_FORMAT " bytes), "
                 "transmitted %" G_GUINT64_FORMAT " frames (%" G_GUINT64_FORMAT " bytes), dropped %"
                 G_GUINT64_FORMAT " received and %" G_GUINT64_FORMAT " transmitted",
                 i, s.rx_frames, s.rx_bytes, s.tx_frames, s.tx_bytes, s.rx_dropped, s.tx_dropped);
    }
}
