/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vhost-user-net: a vhost-user virtio-net back-end that connects a guest's device to a host
 * TAP interface, or echoes its frames. */
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
#include <vhost-glib/vhost-glib.h>

#include "tool-common.h"

#define MAX_QUEUE_PAIRS 8
#define DEFAULT_MAC "52:54:00:12:34:56"
#define DEFAULT_MTU 1500
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
#define ECHO_BATCH 32
/* At most one warning a second per queue pair about what the guest sent. */
#define WARN_INTERVAL G_TIME_SPAN_SECOND

typedef enum {
  NET_MODE_TAP,
  NET_MODE_ECHO,
} NetMode;

typedef struct _VhostToolNet VhostToolNet;

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
  ChainSet tx;           /* (owned) transmitted chains of an echo batch */
  struct iovec read_iov[MAX_IOV + 1];
  guint8 *bounce;        /* (owned) MAX_PACKET bytes: a received frame that does not fit one chain */
  gsize pending;         /* bytes of a frame in bounce waiting for receive buffers; 0 for none */

  gint64 last_warning;   /* monotonic time of the last warning */
  guint suppressed;      /* warnings not printed since */

  /* Statistics (atomic). */
  guint64 rx_frames, rx_bytes, tx_frames, tx_bytes, rx_dropped, tx_dropped;
} NetPair;

struct _VhostToolNet
{
  VhostUserSlave parent_instance;

  NetMode mode;
  guint n_pairs;
  guint64 features;      /* offered */
  guint tun_offloads;    /* the TUN_F_* flags the TAP accepts */

  /* From the acked features; set with the queues stopped. */
  gboolean mergeable;
  gsize hdr_len;

  NetPair *pairs[MAX_QUEUE_PAIRS]; /* (owned) */
};

#define VHOST_TYPE_TOOL_NET (vhost_tool_net_get_type ())
G_DECLARE_FINAL_TYPE (VhostToolNet, vhost_tool_net, VHOST, TOOL_NET, VhostUserSlave)
G_DEFINE_FINAL_TYPE (VhostToolNet, vhost_tool_net, VHOST_TYPE_USER_SLAVE)

/* Count a dropped frame and say why, at most once per WARN_INTERVAL per pair. */
static void G_GNUC_PRINTF (4, 5)
pair_log_drop (NetPair *pair, guint64 *counter, GLogLevelFlags level, const char *format, ...)
{
  gint64 now = g_get_monotonic_time ();
  g_autofree char *message = NULL;
  va_list args;

  __atomic_fetch_add (counter, 1, __ATOMIC_RELAXED);
  if (pair->last_warning != 0 && now - pair->last_warning < WARN_INTERVAL)
    {
      pair->suppressed++;
      return;
    }
  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  if (pair->suppressed > 0)
    g_log_structured (G_LOG_DOMAIN, level, "MESSAGE",
                      "Queue pair %u: %s (and %u more dropped frames since the last message)", pair->index,
                      message, pair->suppressed);
  else
    g_log_structured (G_LOG_DOMAIN, level, "MESSAGE", "Queue pair %u: %s", pair->index, message);
  pair->last_warning = now;
  pair->suppressed = 0;
}

/* What the guest got wrong: a warning. */
#define pair_drop(pair, counter, ...) pair_log_drop (pair, counter, G_LOG_LEVEL_WARNING, __VA_ARGS__)

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
          pair_drop (pair, &pair->rx_dropped, "a receive chain (head %u) with %" G_GSIZE_FORMAT
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
      pair_drop (pair, &pair->rx_dropped, "a received frame of %" G_GSIZE_FORMAT " bytes does not fit the "
                 "receive buffers", pair->pending);
      break;
    case GATHER_OK:
      rx_fill_and_push (pair, rxq, &src, 1, pair->pending);
      __atomic_fetch_add (&pair->rx_frames, 1, __ATOMIC_RELAXED);
      __atomic_fetch_add (&pair->rx_bytes, pair->pending - pair->net->hdr_len, __ATOMIC_RELAXED);
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
        g_warning ("Queue pair %u: reading the TAP failed: %s", pair->index, g_strerror (saved));
      return RX_EMPTY;
    }
  if ((gsize) n <= cap && (gsize) n >= net->hdr_len)
    {
      struct iovec none = { NULL, 0 };

      /* In place: only num_buffers to set. */
      rx_fill_and_push (pair, rxq, &none, 1, n);
      __atomic_fetch_add (&pair->rx_frames, 1, __ATOMIC_RELAXED);
      __atomic_fetch_add (&pair->rx_bytes, n - net->hdr_len, __ATOMIC_RELAXED);
      return RX_DONE;
    }
  if ((gsize) n < net->hdr_len || (gsize) n > read_cap)
    {
      /* The TAP gives the length of the frame even when it did not fit. */
      chains_unpop (rx, rxq, 0);
      pair_drop (pair, &pair->rx_dropped, "a received frame of %" G_GSSIZE_FORMAT " bytes does not fit %s", n,
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

  for (guint i = 0; i < BUDGET && vhost_virtqueue_pop (txq, &elem, pair->tx.iov, MAX_IOV); i++)
    {
      gsize length = vhost_virtqueue_element_get_readable_size (&elem);
      gssize n;

      if (length < net->hdr_len || length > net->hdr_len + MAX_FRAME)
        {
          pair_drop (pair, &pair->tx_dropped, "a transmitted chain (head %u) of %" G_GSIZE_FORMAT " bytes: %s",
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

          pair_log_drop (pair, &pair->tx_dropped, level, "writing %" G_GSIZE_FORMAT " bytes to the TAP failed: %s",
                         length, g_strerror (saved));
        }
      else
        {
          frames++;
          bytes += length - net->hdr_len;
        }
      vhost_virtqueue_push (txq, &elem, 0);
    }
  __atomic_fetch_add (&pair->tx_frames, frames, __ATOMIC_RELAXED);
  __atomic_fetch_add (&pair->tx_bytes, bytes, __ATOMIC_RELAXED);
}

/* The echo device: both queues of a pair run this; transmitted frames go to the
 * receive queue in batches, and wait in the TX ring while receive buffers lack. */
static void
echo_handler (VhostVirtqueue *queue, gpointer data)
{
  NetPair *pair = data;
  VhostToolNet *net = pair->net;
  VhostUserSlave *slave = VHOST_USER_SLAVE (net);
  VhostVirtqueue *rxq = vhost_user_slave_get_virtqueue (slave, 2 * pair->index);
  VhostVirtqueue *txq = vhost_user_slave_get_virtqueue (slave, 2 * pair->index + 1);
  ChainSet *tx = &pair->tx;
  guint frames = 0, dropped = 0, n_tx;
  guint64 bytes = 0;
  gboolean stalled = FALSE;

  if (!vhost_virtqueue_get_running (rxq) || !vhost_virtqueue_get_running (txq))
    return;
  for (guint round = 0; round < BUDGET / ECHO_BATCH && !stalled; round++)
    {
      chains_clear (tx);
      while (tx->n < ECHO_BATCH && chains_pop (tx, txq))
        if (tx->elem[tx->n - 1].n_out > 0)
          __builtin_prefetch (tx->elem[tx->n - 1].iov[0].iov_base);
      n_tx = tx->n;
      for (guint i = 0; i < n_tx; i++)
        {
          const VhostVirtqueueElement *t = &tx->elem[i];
          gsize length = vhost_virtqueue_element_get_readable_size (t);

          if (length < net->hdr_len || length > net->hdr_len + MAX_FRAME)
            {
              pair_drop (pair, &pair->tx_dropped, "a transmitted chain (head %u) of %" G_GSIZE_FORMAT
                         " bytes: %s", t->id, length,
                         length < net->hdr_len ? "shorter than a header" : "longer than a frame");
              vhost_virtqueue_push (txq, t, 0);
              continue;
            }
          switch (rx_gather (pair, rxq, length))
            {
            case GATHER_SHORT:
              /* Frames i and on stay in the ring until the guest gives receive buffers. */
              chains_unpop (tx, txq, i);
              stalled = TRUE;
              break;
            case GATHER_NO_FIT:
              dropped++;
              break;
            case GATHER_OK:
              rx_fill_and_push (pair, rxq, t->iov, t->n_out, length);
              frames++;
              bytes += length - net->hdr_len;
              break;
            }
          if (stalled)
            break;
          vhost_virtqueue_push (txq, t, 0);
        }
      if (n_tx < ECHO_BATCH)
        break;
    }
  if (dropped > 0)
    pair_drop (pair, &pair->rx_dropped, "%u echoed frames do not fit the receive buffers", dropped);
  __atomic_fetch_add (&pair->tx_frames, frames, __ATOMIC_RELAXED);
  __atomic_fetch_add (&pair->tx_bytes, bytes, __ATOMIC_RELAXED);
  __atomic_fetch_add (&pair->rx_frames, frames, __ATOMIC_RELAXED);
  __atomic_fetch_add (&pair->rx_bytes, bytes, __ATOMIC_RELAXED);
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
      g_warning ("Queue pair %u: cannot %s the TAP queue: %s", pair->index, attach ? "attach" : "detach",
                 g_strerror (errno));
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

/* Set the device up: queues, TAP, features and configuration space. */
static gboolean
net_setup (VhostToolNet *self, NetMode mode, const char *tap, const guint8 mac[6], int mtu, guint n_pairs,
           gboolean mergeable, GError **error)
{
  VhostUserSlave *slave = VHOST_USER_SLAVE (self);
  struct virtio_net_config config = { 0 };
  g_autoptr(GBytes) bytes = NULL;

  self->mode = mode;
  self->n_pairs = n_pairs;
  for (guint i = 0; i < n_pairs; i++)
    {
      NetPair *pair = g_new0 (NetPair, 1);
      VhostVirtqueue *rxq = vhost_user_slave_get_virtqueue (slave, 2 * i);
      VhostVirtqueue *txq = vhost_user_slave_get_virtqueue (slave, 2 * i + 1);

      pair->net = self;
      pair->index = i;
      pair->tap_fd = -1;
      pair->bounce = g_malloc (MAX_PACKET);
      self->pairs[i] = pair;
      /* One worker per pair: the TX handler may fill the RX queue. */
      vhost_virtqueue_set_worker_group (rxq, i);
      vhost_virtqueue_set_worker_group (txq, i);
      if (mode == NET_MODE_ECHO)
        {
          vhost_virtqueue_set_handler (rxq, echo_handler, pair, NULL);
          vhost_virtqueue_set_handler (txq, echo_handler, pair, NULL);
        }
      else
        {
          vhost_virtqueue_set_handler (rxq, tap_rx_handler, pair, NULL);
          vhost_virtqueue_set_handler (txq, tap_tx_handler, pair, NULL);
        }
    }

  self->features = VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) |
                   VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_INDIRECT_DESC) |
                   VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX) |
                   VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED) | VHOST_FEATURE_MASK (VIRTIO_NET_F_MAC) |
                   VHOST_FEATURE_MASK (VIRTIO_NET_F_MTU) | VHOST_FEATURE_MASK (VIRTIO_NET_F_STATUS);
  if (n_pairs > 1)
    self->features |= VHOST_FEATURE_MASK (VIRTIO_NET_F_MQ);
  if (mergeable)
    self->features |= VHOST_FEATURE_MASK (VIRTIO_NET_F_MRG_RXBUF);

  if (mode == NET_MODE_TAP)
    {
      if (!net_open_tap (self, tap, error) || !tap_mtu (tap, &mtu, error))
        return FALSE;
      for (guint i = 0; i < n_pairs; i++)
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
  else if (mtu <= 0)
    mtu = DEFAULT_MTU;

  /* Little-endian: VIRTIO_F_VERSION_1. */
  memcpy (config.mac, mac, sizeof config.mac);
  config.status = GUINT16_TO_LE (VIRTIO_NET_S_LINK_UP);
  config.max_virtqueue_pairs = GUINT16_TO_LE (n_pairs);
  config.mtu = GUINT16_TO_LE (mtu);
  config.speed = GUINT32_TO_LE (G_MAXUINT32); /* unknown */
  config.duplex = 0xff;                       /* unknown */
  bytes = g_bytes_new (&config, sizeof config);
  vhost_user_slave_set_config_space (slave, bytes);
  g_debug ("%s: MAC %02x:%02x:%02x:%02x:%02x:%02x, MTU %d, %u queue pair(s), features 0x%" G_GINT64_MODIFIER "x",
             mode == NET_MODE_TAP ? tap : "echo", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], mtu, n_pairs,
             self->features);
  return TRUE;
}

static void
net_log_stats (VhostToolNet *self)
{
  for (guint i = 0; i < self->n_pairs; i++)
    {
      NetPair *p = self->pairs[i];

      g_message ("Queue pair %u: received %" G_GUINT64_FORMAT " frames (%" G_GUINT64_FORMAT " bytes), "
                 "transmitted %" G_GUINT64_FORMAT " frames (%" G_GUINT64_FORMAT " bytes), dropped %"
                 G_GUINT64_FORMAT " received and %" G_GUINT64_FORMAT " transmitted",
                 i, __atomic_load_n (&p->rx_frames, __ATOMIC_RELAXED),
                 __atomic_load_n (&p->rx_bytes, __ATOMIC_RELAXED), __atomic_load_n (&p->tx_frames, __ATOMIC_RELAXED),
                 __atomic_load_n (&p->tx_bytes, __ATOMIC_RELAXED), __atomic_load_n (&p->rx_dropped, __ATOMIC_RELAXED),
                 __atomic_load_n (&p->tx_dropped, __ATOMIC_RELAXED));
    }
}

/* XX:XX:XX:XX:XX:XX, a unicast address other than zero. */
static gboolean
parse_mac (const char *text, guint8 mac[6])
{
  guint zero = 0;

  if (strlen (text) != 17)
    return FALSE;
  for (guint i = 0; i < 6; i++)
    {
      int hi = g_ascii_xdigit_value (text[3 * i]), lo = g_ascii_xdigit_value (text[3 * i + 1]);

      if (hi < 0 || lo < 0 || (i < 5 && text[3 * i + 2] != ':'))
        return FALSE;
      mac[i] = hi << 4 | lo;
      zero |= mac[i];
    }
  return zero != 0 && !(mac[0] & 1);
}

int
main (int argc, char **argv)
{
  g_autofree char *tap = NULL;
  g_autofree char *mac_text = NULL;
  gboolean echo = FALSE, no_mrg_rxbuf = FALSE;
  int mtu = -1, queue_pairs = 1;
  const GOptionEntry entries[] = {
    { "tap", 0, 0, G_OPTION_ARG_STRING, &tap,
      "Attach to the TAP interface IFNAME, creating it if it does not exist", "IFNAME" },
    { "echo", 0, 0, G_OPTION_ARG_NONE, &echo,
      "Send the frames the guest transmits back to it (for tests and benchmarks)", NULL },
    { "mac", 0, 0, G_OPTION_ARG_STRING, &mac_text, "The device's MAC address (default " DEFAULT_MAC ")",
      "XX:XX:XX:XX:XX:XX" },
    { "mtu", 0, 0, G_OPTION_ARG_INT, &mtu,
      "The MTU the device advises, 68 to 65535, and sets on the TAP (default: the TAP's; 1500 with --echo)", "N" },
    { "queue-pairs", 0, 0, G_OPTION_ARG_INT, &queue_pairs, "Offer N receive/transmit queue pairs, 1 to 8 "
      "(default 1)", "N" },
    { "no-mrg-rxbuf", 0, 0, G_OPTION_ARG_NONE, &no_mrg_rxbuf, "Do not offer mergeable receive buffers", NULL },
    { NULL }
  };
  g_auto(VhostToolOptions) options = { 0 };
  g_autoptr(VhostToolNet) net = NULL;
  g_autoptr(GError) error = NULL;
  guint8 mac[6];
  int code;

  code = vhost_tool_parse (&argc, &argv,
                           "A vhost-user-net back-end: connects the virtio-net device of a guest (QEMU's "
                           "-netdev vhost-user) to a host TAP interface, or echoes its frames.\n\n"
                           "Exit status: 0 after SIGINT or SIGTERM, 1 on a run-time error, 2 for a bad command line.",
                           entries, &options);
  if (code >= 0)
    return code;
  if (options.print_capabilities)
    {
      vhost_tool_print_capabilities ("net", NULL);
      return VHOST_TOOL_EXIT_OK;
    }
  code = vhost_tool_check (&options);
  if (code >= 0)
    return code;
  if ((tap != NULL) == echo)
    return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE, "exactly one of --tap and --echo is required (try --help)");
  if (tap != NULL && (tap[0] == '\0' || strlen (tap) >= IFNAMSIZ || strchr (tap, '/') != NULL))
    return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE, "--tap=%s: not an interface name (1 to %d characters)", tap,
                            IFNAMSIZ - 1);
  if (!parse_mac (mac_text != NULL ? mac_text : DEFAULT_MAC, mac))
    return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE, "--mac=%s: not a unicast MAC address like " DEFAULT_MAC,
                            mac_text);
  if (mtu != -1 && (mtu < 68 || mtu > 65535))
    return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE, "--mtu=%d: not between 68 and 65535", mtu);
  if (queue_pairs < 1 || queue_pairs > MAX_QUEUE_PAIRS)
    return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE, "--queue-pairs=%d: not between 1 and %d", queue_pairs,
                            MAX_QUEUE_PAIRS);

  net = g_object_new (VHOST_TYPE_TOOL_NET, NULL);
  if (!net_setup (net, echo ? NET_MODE_ECHO : NET_MODE_TAP, tap, mac, mtu, queue_pairs, !no_mrg_rxbuf, &error))
    return vhost_tool_fail (VHOST_TOOL_EXIT_FAILURE, "%s", error->message);
  code = vhost_tool_run (VHOST_USER_SLAVE (net), &options);
  if (code == VHOST_TOOL_EXIT_OK)
    net_log_stats (net);
  return code;
}
