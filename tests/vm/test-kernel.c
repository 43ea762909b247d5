/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Kernel vhost against the real vhost_net, vhost_vsock and vhost_scsi: run inside a guest by
 * tests/vm/run-test.sh (the host has no /dev/vhost-*). VhostDriver brings each device up
 * through VhostBackend, as it does a vhost-user back-end, and moves data through it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <linux/virtio_scsi.h>
#include <linux/virtio_vsock.h>
#include <linux/vm_sockets.h>

#include "test-support.h"

#define TIMEOUT_US (10 * G_USEC_PER_SEC)
#define TIMEOUT_MS (TIMEOUT_US / 1000)
#define MEMORY_SIZE (4 * 1024 * 1024)
#define QUEUE_SIZE 256
#define ETH_P_TEST 0x88b5 /* IEEE 802 local experimental */

static void
assert_error (GError *error, VhostError code, const char *ioctl_name, int errsv)
{
  g_autofree char *prefix = g_strdup_printf ("%s: %s", ioctl_name, g_strerror (errsv));

  vhost_test_assert_error_prefix (error, code, prefix);
}

static guint64
alloc (VhostDriver *driver, gsize size)
{
  g_autoptr(GError) error = NULL;
  guint64 addr = 0;

  g_assert_true (vhost_driver_alloc (driver, size, &addr, &error));
  g_assert_no_error (error);
  return addr;
}

static void
submit (VhostDriver *driver, guint queue, const VhostDriverBuffer *out, guint n_out,
        const VhostDriverBuffer *in, guint n_in, guint64 tag)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_driver_submit (driver, queue, out, n_out, in, n_in, tag, &error));
  g_assert_no_error (error);
}

/* ---------------------------------------------------------------------------------------------
 * vhost-net: a TAP per device; an AF_PACKET socket on the TAP's interface is the other end
 * (what vhost-net transmits is received on the interface; what is sent on it reaches RX). */

typedef struct
{
  gboolean mrg_rxbuf;
  gboolean event_idx;
  gboolean indirect;
} NetCase;

typedef struct
{
  VhostNet *net;
  VhostDriver *driver;
  int tap;
  int packet;
  int ifindex;
  guint hdr_len;
  gboolean mrg_rxbuf;
} NetFixture;

static const guint frame_sizes[] = { 60, 64, 128, 333, 1000, 1514 };

static int
open_tap (guint hdr_len, int *ifindex)
{
  struct ifreq ifr = { 0 };
  int fd, sock, size = hdr_len;

  fd = open ("/dev/net/tun", O_RDWR | O_CLOEXEC);
  g_assert_no_errno (fd);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  strcpy (ifr.ifr_name, "vktap%d");
  g_assert_no_errno (ioctl (fd, TUNSETIFF, &ifr));
  g_assert_no_errno (ioctl (fd, TUNSETVNETHDRSZ, &size));

  sock = socket (AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  g_assert_no_errno (sock);
  g_assert_no_errno (ioctl (sock, SIOCGIFFLAGS, &ifr));
  ifr.ifr_flags |= IFF_UP;
  g_assert_no_errno (ioctl (sock, SIOCSIFFLAGS, &ifr));
  g_assert_no_errno (ioctl (sock, SIOCGIFINDEX, &ifr));
  *ifindex = ifr.ifr_ifindex;
  close (sock);
  return fd;
}

static int
open_packet_socket (int ifindex)
{
  struct sockaddr_ll addr = {
    .sll_family = AF_PACKET,
    .sll_protocol = htons (ETH_P_TEST),
    .sll_ifindex = ifindex,
  };
  int fd = socket (AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons (ETH_P_TEST));

  g_assert_no_errno (fd);
  g_assert_no_errno (bind (fd, (struct sockaddr *) &addr, sizeof addr));
  return fd;
}

static void
make_frame (guint8 *frame, guint size, guint seq)
{
  static const guint8 dst[6] = { 0x02, 0, 0, 0, 0, 0x02 }, src[6] = { 0x02, 0, 0, 0, 0, 0x01 };

  memcpy (frame, dst, 6);
  memcpy (frame + 6, src, 6);
  frame[12] = ETH_P_TEST >> 8;
  frame[13] = ETH_P_TEST & 0xff;
  frame[14] = seq;
  for (guint i = 15; i < size; i++)
    frame[i] = g_test_rand_int_range (0, 256);
}

/* The next frame of the test's EtherType the interface received, within the timeout. */
static gssize
packet_recv (int fd, guint8 *buf, gsize size)
{
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_US;

  for (;;)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      struct sockaddr_ll from;
      socklen_t from_len = sizeof from;
      gint64 left = deadline - g_get_monotonic_time ();
      gssize n;

      if (left <= 0)
        g_error ("no frame on the TAP's interface within %d s", (int) (TIMEOUT_US / G_USEC_PER_SEC));
      if (poll (&pfd, 1, (int) (left / 1000) + 1) <= 0)
        continue;
      n = recvfrom (fd, buf, size, 0, (struct sockaddr *) &from, &from_len);
      g_assert_no_errno (n);
      if (from.sll_pkttype != PACKET_OUTGOING)
        return n;
    }
}

static void
net_setup (NetFixture *f, const NetCase *c, guint64 extra_features)
{
  g_autoptr(GError) error = NULL;
  guint64 features = VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX) * !!c->event_idx |
                     VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_INDIRECT_DESC) * !!c->indirect |
                     extra_features;

  memset (f, 0, sizeof *f);
  f->mrg_rxbuf = c->mrg_rxbuf;
  if (c->mrg_rxbuf)
    features |= VHOST_FEATURE_MASK (VIRTIO_NET_F_MRG_RXBUF) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1);
  /* vhost-net expects a TAP header of struct virtio_net_hdr_mrg_rxbuf with MRG_RXBUF or
   * VERSION_1, of struct virtio_net_hdr otherwise. */
  f->hdr_len = (features & (VHOST_FEATURE_MASK (VIRTIO_NET_F_MRG_RXBUF) |
                            VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1))) != 0
                 ? sizeof (struct virtio_net_hdr_mrg_rxbuf)
                 : sizeof (struct virtio_net_hdr);

  f->net = vhost_net_new (NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (vhost_kernel_get_device_path (VHOST_KERNEL (f->net)), ==, "/dev/vhost-net");
  f->driver = vhost_driver_new (VHOST_BACKEND (f->net), MEMORY_SIZE, &error);
  g_assert_no_error (error);
  g_assert_true (vhost_driver_start (f->driver, 2, QUEUE_SIZE, features, &error));
  g_assert_no_error (error);
  /* The kernel offers all of these: each case runs what it says. */
  g_assert_cmphex (vhost_driver_get_acked_features (f->driver), ==, features);

  f->tap = open_tap (f->hdr_len, &f->ifindex);
  f->packet = open_packet_socket (f->ifindex);
}

static void
net_attach (NetFixture *f)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_net_set_backend (f->net, VHOST_NET_QUEUE_RX, f->tap, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_net_set_backend (f->net, VHOST_NET_QUEUE_TX, f->tap, &error));
  g_assert_no_error (error);
}

static void
net_teardown (NetFixture *f)
{
  g_clear_object (&f->driver);
  g_clear_object (&f->net);
  close (f->packet);
  close (f->tap);
}

/* Stops the queues, closes the device and the sockets, and checks that no fd is left of the @fds
 * open before. */
static void
net_stop_and_teardown (NetFixture *f, gint fds)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_driver_stop (f->driver, &error));
  g_assert_no_error (error);
  net_teardown (f);
  vhost_test_assert_fd_count (fds);
}

/* Queue every frame on TX (header and frame in two descriptors), kick once, and read them
 * back from the interface byte for byte, in order. */
static void
net_transmit (NetFixture *f)
{
  guint8 frames[G_N_ELEMENTS (frame_sizes)][1514];
  guint64 hdr_addr[G_N_ELEMENTS (frame_sizes)], frame_addr[G_N_ELEMENTS (frame_sizes)];
  guint8 got[2048];
  guint done = 0;

  for (guint i = 0; i < G_N_ELEMENTS (frame_sizes); i++)
    {
      VhostDriverBuffer out[2];

      make_frame (frames[i], frame_sizes[i], i);
      hdr_addr[i] = alloc (f->driver, f->hdr_len);
      frame_addr[i] = alloc (f->driver, frame_sizes[i]);
      memset (vhost_driver_get_host_address (f->driver, hdr_addr[i], f->hdr_len), 0, f->hdr_len);
      memcpy (vhost_driver_get_host_address (f->driver, frame_addr[i], frame_sizes[i]), frames[i], frame_sizes[i]);
      out[0] = (VhostDriverBuffer) { hdr_addr[i], f->hdr_len };
      out[1] = (VhostDriverBuffer) { frame_addr[i], frame_sizes[i] };
      submit (f->driver, VHOST_NET_QUEUE_TX, out, 2, NULL, 0, i);
    }
  vhost_driver_kick (f->driver, VHOST_NET_QUEUE_TX);

  for (guint i = 0; i < G_N_ELEMENTS (frame_sizes); i++)
    {
      gssize n = packet_recv (f->packet, got, sizeof got);

      g_assert_cmpint (n, ==, frame_sizes[i]);
      g_assert_cmpmem (got, n, frames[i], frame_sizes[i]);
    }
  while (done < G_N_ELEMENTS (frame_sizes))
    {
      guint64 tag;
      guint len;

      vhost_test_reap_one (f->driver, VHOST_NET_QUEUE_TX, TIMEOUT_MS, &tag, &len);
      g_assert_cmpuint (tag, ==, done);
      g_assert_cmpuint (len, ==, 0);
      vhost_driver_free (f->driver, hdr_addr[tag]);
      vhost_driver_free (f->driver, frame_addr[tag]);
      done++;
    }
}

typedef struct
{
  guint64 addr;
  guint len;
} Written;

/* Post receive buffers, send every frame on the interface, and take each one from RX: one
 * buffer per frame, or with MRG_RXBUF several small ones whose count is in num_buffers. Each
 * buffer the device wrote is added to @written, if not NULL. */
static guint
net_receive_full (NetFixture *f, GArray *written)
{
  guint buf_size = f->mrg_rxbuf ? 256 : 2048;
  guint n_bufs = f->mrg_rxbuf ? 96 : 16;
  g_autofree guint64 *bufs = g_new (guint64, n_bufs);
  guint8 frames[G_N_ELEMENTS (frame_sizes)][1514];
  struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = f->ifindex, .sll_halen = 6 };
  guint used = 0;

  for (guint i = 0; i < n_bufs; i++)
    {
      VhostDriverBuffer in;

      bufs[i] = alloc (f->driver, buf_size);
      in = (VhostDriverBuffer) { bufs[i], buf_size };
      submit (f->driver, VHOST_NET_QUEUE_RX, NULL, 0, &in, 1, i);
    }
  vhost_driver_kick (f->driver, VHOST_NET_QUEUE_RX);

  for (guint i = 0; i < G_N_ELEMENTS (frame_sizes); i++)
    {
      make_frame (frames[i], frame_sizes[i], i);
      g_assert_cmpint (sendto (f->packet, frames[i], frame_sizes[i], 0, (struct sockaddr *) &to, sizeof to), ==,
                       frame_sizes[i]);
    }

  for (guint i = 0; i < G_N_ELEMENTS (frame_sizes); i++)
    {
      g_autoptr(GByteArray) data = g_byte_array_new ();
      guint64 tag;
      guint len, num_buffers = 1;
      const guint8 *p;

      vhost_test_reap_one (f->driver, VHOST_NET_QUEUE_RX, TIMEOUT_MS, &tag, &len);
      g_assert_cmpuint (tag, ==, used);
      g_assert_cmpuint (len, >=, f->hdr_len);
      g_assert_cmpuint (len, <=, buf_size);
      if (written != NULL)
        g_array_append_vals (written, &(Written) { bufs[tag], len }, 1);
      p = vhost_driver_get_host_address (f->driver, bufs[tag], len);
      if (f->mrg_rxbuf)
        {
          const struct virtio_net_hdr_mrg_rxbuf *hdr = (const void *) p;

          num_buffers = GUINT16_FROM_LE (hdr->num_buffers);
          g_assert_cmpuint (num_buffers, ==, (f->hdr_len + frame_sizes[i] + buf_size - 1) / buf_size);
        }
      /* A plain frame: no checksum offload, no GSO. */
      g_assert_cmpuint (((const struct virtio_net_hdr *) p)->flags, ==, 0);
      g_assert_cmpuint (((const struct virtio_net_hdr *) p)->gso_type, ==, VIRTIO_NET_HDR_GSO_NONE);
      g_byte_array_append (data, p + f->hdr_len, len - f->hdr_len);
      used++;
      for (guint j = 1; j < num_buffers; j++)
        {
          vhost_test_reap_one (f->driver, VHOST_NET_QUEUE_RX, TIMEOUT_MS, &tag, &len);
          g_assert_cmpuint (tag, ==, used);
          if (written != NULL)
            g_array_append_vals (written, &(Written) { bufs[tag], len }, 1);
          g_byte_array_append (data, vhost_driver_get_host_address (f->driver, bufs[tag], len), len);
          used++;
        }
      g_assert_cmpmem (data->data, data->len, frames[i], frame_sizes[i]);
    }
  g_assert_cmpuint (vhost_driver_get_in_flight (f->driver, VHOST_NET_QUEUE_RX), ==, n_bufs - used);
  return used;
}

static guint
net_receive (NetFixture *f)
{
  return net_receive_full (f, NULL);
}

static void
test_net_data_path (gconstpointer data)
{
  const NetCase *c = data;
  g_autoptr(GError) error = NULL;
  gint fds = vhost_test_count_open_fds ();
  NetFixture f;
  guint rx_used;

  net_setup (&f, c, 0);
  net_attach (&f);
  net_transmit (&f);
  rx_used = net_receive (&f);

  /* Stopping reads each queue's state after vhost-net let go of it (the TAP is detached):
   * the next available index is what the device consumed. */
  g_assert_true (vhost_driver_stop (f.driver, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (vhost_driver_get_vring_base (f.driver, VHOST_NET_QUEUE_TX), ==, G_N_ELEMENTS (frame_sizes));
  g_assert_cmpuint (vhost_driver_get_vring_base (f.driver, VHOST_NET_QUEUE_RX), ==, rx_used);
  net_teardown (&f);
  vhost_test_assert_fd_count (fds);
}

typedef struct
{
  VhostNet *net;
  guint8 *memory;
  guint64 size;
  guint misses;
  guint64 first_miss;
  guint first_perm;
} IotlbState;

static void
iotlb_message_cb (VhostKernel *kernel, guint64 iova, guint64 size, guint64 uaddr, guint perm, guint type,
                  gpointer user_data)
{
  IotlbState *s = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (type, ==, 1 /* VHOST_IOTLB_MISS */);
  g_assert_cmpuint (iova, <, s->size);
  if (s->misses++ == 0)
    {
      s->first_miss = iova;
      s->first_perm = perm;
    }
  /* Map all guest memory at I/O addresses equal to its guest addresses. */
  g_assert_true (vhost_kernel_iotlb_msg (kernel, 0, s->size, (guint64) (guintptr) s->memory,
                                         VHOST_IOTLB_ACCESS_READ | VHOST_IOTLB_ACCESS_WRITE,
                                         VHOST_IOTLB_MESSAGE_UPDATE, &error));
  g_assert_no_error (error);
}

/* VIRTIO_F_ACCESS_PLATFORM: every address goes through the device IOTLB. The rings (at
 * this process's addresses, as VhostDriver gives them) are mapped up front, as QEMU maps
 * the used ring; the buffers (at guest addresses) are mapped when the kernel misses. */
static void
test_net_iotlb (void)
{
  g_autoptr(GError) error = NULL;
  gint fds = vhost_test_count_open_fds ();
  g_autoptr(VhostNet) probe = NULL;
  guint64 backend_features = 0;
  IotlbState s = { 0 };
  NetFixture f;
  gulong id;

  /* Backend features go before the device features. */
  probe = vhost_net_new (NULL, &error);
  g_assert_no_error (error);
  g_assert_true (vhost_kernel_get_backend_features (VHOST_KERNEL (probe), &backend_features, &error));
  g_assert_no_error (error);
  g_assert_cmphex (backend_features & VHOST_FEATURE_MASK (VHOST_KERNEL_BACKEND_F_IOTLB_MSG_V2), !=, 0);
  g_clear_object (&probe);

  memset (&f, 0, sizeof f);
  f.mrg_rxbuf = TRUE;
  f.hdr_len = sizeof (struct virtio_net_hdr_mrg_rxbuf);
  f.net = vhost_net_new (NULL, &error);
  g_assert_no_error (error);
  g_assert_true (vhost_kernel_set_backend_features (VHOST_KERNEL (f.net),
                                                    VHOST_FEATURE_MASK (VHOST_KERNEL_BACKEND_F_IOTLB_MSG_V2),
                                                    &error));
  g_assert_no_error (error);
  f.driver = vhost_driver_new (VHOST_BACKEND (f.net), MEMORY_SIZE, &error);
  g_assert_no_error (error);
  s.net = f.net;
  s.size = MEMORY_SIZE;
  s.memory = vhost_driver_get_host_address (f.driver, 0, MEMORY_SIZE);
  id = g_signal_connect (f.net, "iotlb-message", G_CALLBACK (iotlb_message_cb), &s);
  g_assert_true (vhost_driver_start (f.driver, 2, QUEUE_SIZE,
                                     VHOST_FEATURE_MASK (VHOST_VIRTIO_F_ACCESS_PLATFORM) |
                                       VHOST_FEATURE_MASK (VIRTIO_NET_F_MRG_RXBUF) |
                                       VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) |
                                       VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX),
                                     &error));
  g_assert_no_error (error);
  g_assert_true (vhost_kernel_iotlb_msg (VHOST_KERNEL (f.net), (guint64) (guintptr) s.memory, MEMORY_SIZE,
                                         (guint64) (guintptr) s.memory, VHOST_IOTLB_ACCESS_READ | VHOST_IOTLB_ACCESS_WRITE,
                                         VHOST_IOTLB_MESSAGE_UPDATE, &error));
  g_assert_no_error (error);
  f.tap = open_tap (f.hdr_len, &f.ifindex);
  f.packet = open_packet_socket (f.ifindex);
  net_attach (&f);

  /* The first frame misses; the loop answers; the frame goes out. */
  {
    guint8 frame[100], got[256];
    guint64 hdr = alloc (f.driver, f.hdr_len), buf = alloc (f.driver, sizeof frame);
    VhostDriverBuffer out[2] = { { hdr, f.hdr_len }, { buf, sizeof frame } };
    gint64 deadline = g_get_monotonic_time () + TIMEOUT_US;
    struct pollfd pfd = { .fd = f.packet, .events = POLLIN };
    guint64 tag;
    guint len;
    gssize n;

    make_frame (frame, sizeof frame, 0);
    memset (vhost_driver_get_host_address (f.driver, hdr, f.hdr_len), 0, f.hdr_len);
    memcpy (vhost_driver_get_host_address (f.driver, buf, sizeof frame), frame, sizeof frame);
    submit (f.driver, VHOST_NET_QUEUE_TX, out, 2, NULL, 0, 0);
    vhost_driver_kick (f.driver, VHOST_NET_QUEUE_TX);
    while (poll (&pfd, 1, 0) == 0)
      {
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_main_context_iteration (NULL, FALSE);
        g_usleep (1000);
      }
    g_assert_cmpuint (s.misses, >=, 1);
    g_assert_cmpuint (s.first_miss, >=, MIN (hdr, buf));
    g_assert_cmpuint (s.first_miss, <, MAX (hdr + f.hdr_len, buf + sizeof frame));
    g_assert_cmpuint (s.first_perm, ==, 1 /* VHOST_ACCESS_RO */);
    n = packet_recv (f.packet, got, sizeof got);
    g_assert_cmpmem (got, n, frame, sizeof frame);
    vhost_test_reap_one (f.driver, VHOST_NET_QUEUE_TX, TIMEOUT_MS, &tag, &len);
    vhost_driver_free (f.driver, hdr);
    vhost_driver_free (f.driver, buf);
  }
  /* Everything is mapped now: both directions run without another miss. */
  s.misses = 0;
  net_transmit (&f);
  net_receive (&f);
  g_assert_cmpuint (s.misses, ==, 0);

  /* Invalidating takes the mapping away again. */
  g_assert_true (vhost_kernel_iotlb_msg (VHOST_KERNEL (f.net), 0, MEMORY_SIZE, 0, VHOST_IOTLB_ACCESS_NONE,
                                         VHOST_IOTLB_MESSAGE_INVALIDATE, &error));
  g_assert_no_error (error);

  g_assert_true (vhost_driver_stop (f.driver, &error));
  g_assert_no_error (error);
  g_signal_handler_disconnect (f.net, id);
  net_teardown (&f);
  vhost_test_assert_fd_count (fds);
}

/* Calls in the wrong order: before VHOST_SET_OWNER, a second owner, a running queue. */
static void
test_net_errors_order (void)
{
  g_autoptr(GError) error = NULL;
  gint fds = vhost_test_count_open_fds ();
  g_autoptr(VhostNet) net = NULL;
  g_autoptr(VhostMemoryRegion) region = NULL;
  VhostMemoryRegion *regions[1];
  guint64 features = 0;
  NetFixture f;
  static const NetCase c = { 0 };

  net = vhost_net_new (NULL, &error);
  g_assert_no_error (error);
  /* GET_FEATURES needs no owner. */
  g_assert_true (vhost_backend_get_features (VHOST_BACKEND (net), &features, &error));
  g_assert_no_error (error);
  g_assert_cmphex (features & VHOST_FEATURE_MASK (VIRTIO_NET_F_MRG_RXBUF), !=, 0);

  region = vhost_memory_region_new (0, 4096, 0x10000, -1, 0);
  regions[0] = region;
  g_assert_false (vhost_backend_set_mem_table (VHOST_BACKEND (net), regions, 1, &error));
  assert_error (error, VHOST_ERROR_BROKEN, "VHOST_SET_MEM_TABLE", EPERM);
  g_clear_error (&error);
  g_assert_false (vhost_backend_set_vring_num (VHOST_BACKEND (net), 0, 256, &error));
  assert_error (error, VHOST_ERROR_BROKEN, "VHOST_SET_VRING_NUM", EPERM);
  g_clear_error (&error);
  g_assert_false (vhost_net_set_backend (net, VHOST_NET_QUEUE_TX, -1, &error));
  assert_error (error, VHOST_ERROR_BROKEN, "VHOST_NET_SET_BACKEND", EPERM);
  g_clear_error (&error);

  g_assert_true (vhost_backend_set_owner (VHOST_BACKEND (net), &error));
  g_assert_no_error (error);
  g_assert_false (vhost_backend_set_owner (VHOST_BACKEND (net), &error));
  assert_error (error, VHOST_ERROR_BROKEN, "VHOST_SET_OWNER", EBUSY);
  g_clear_error (&error);
  /* Features the device does not offer. */
  g_assert_false (vhost_backend_set_features (VHOST_BACKEND (net), VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED),
                                              &error));
  assert_error (error, VHOST_ERROR_NOT_SUPPORTED, "VHOST_SET_FEATURES", EOPNOTSUPP);
  g_clear_error (&error);
  /* vhost-net has queues 0 and 1 only. */
  g_assert_false (vhost_backend_set_vring_num (VHOST_BACKEND (net), 2, 256, &error));
  assert_error (error, VHOST_ERROR_INVALID_ARGUMENT, "VHOST_SET_VRING_NUM", ENOBUFS);
  g_clear_error (&error);
  /* The owner can give the device up and take it again. */
  g_assert_true (vhost_backend_reset_owner (VHOST_BACKEND (net), &error));
  g_assert_no_error (error);
  g_assert_true (vhost_backend_set_owner (VHOST_BACKEND (net), &error));
  g_assert_no_error (error);
  g_clear_object (&net);

  /* A running queue cannot be resized or moved. */
  net_setup (&f, &c, 0);
  net_attach (&f);
  g_assert_false (vhost_backend_set_vring_num (VHOST_BACKEND (f.net), VHOST_NET_QUEUE_RX, 128, &error));
  assert_error (error, VHOST_ERROR_BROKEN, "VHOST_SET_VRING_NUM", EBUSY);
  g_clear_error (&error);
  g_assert_false (vhost_backend_set_vring_base (VHOST_BACKEND (f.net), VHOST_NET_QUEUE_RX, 0, &error));
  assert_error (error, VHOST_ERROR_BROKEN, "VHOST_SET_VRING_BASE", EBUSY);
  g_clear_error (&error);
  net_stop_and_teardown (&f, fds);
}

/* A TAP fd that is not one: a pipe, a closed descriptor. */
static void
test_net_errors_bad_tap (void)
{
  static const NetCase c = { 0 };
  g_autoptr(GError) error = NULL;
  gint fds = vhost_test_count_open_fds ();
  NetFixture f;
  int pipe_fds[2], closed;

  net_setup (&f, &c, 0);
  g_assert_no_errno (pipe2 (pipe_fds, O_CLOEXEC));
  g_assert_false (vhost_net_set_backend (f.net, VHOST_NET_QUEUE_TX, pipe_fds[0], &error));
  assert_error (error, VHOST_ERROR_FDS, "VHOST_NET_SET_BACKEND", ENOTSOCK);
  g_clear_error (&error);
  closed = pipe_fds[1];
  close (pipe_fds[0]);
  close (pipe_fds[1]);
  g_assert_false (vhost_net_set_backend (f.net, VHOST_NET_QUEUE_TX, closed, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_FDS);
  g_assert_true (g_str_has_prefix (error->message, "VHOST_NET_SET_BACKEND: "));
  g_clear_error (&error);
  /* The right fd on a queue the device does not have. */
  g_assert_false (vhost_net_set_backend (f.net, 2, f.tap, &error));
  assert_error (error, VHOST_ERROR_INVALID_ARGUMENT, "VHOST_NET_SET_BACKEND", ENOBUFS);
  g_clear_error (&error);
  /* And then the right one works. */
  net_attach (&f);
  net_stop_and_teardown (&f, fds);
}

/* Rings that are not in the memory the device was given. The kernel takes ring addresses as
 * this process's addresses and checks them when the queue gets its backend: an address that
 * is mapped nowhere fails VHOST_NET_SET_BACKEND, one outside user space (or misaligned)
 * fails VHOST_SET_VRING_ADDR on a running queue. */
static void
test_net_errors_ring_address (void)
{
  static const NetCase c = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostVringAddr) unmapped = NULL, kernel_space = NULL, misaligned = NULL;
  gint fds = vhost_test_count_open_fds ();
  NetFixture f;
  guint8 *hole;
  guint64 h;

  net_setup (&f, &c, 0);
  hole = mmap (NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  g_assert_true (hole != MAP_FAILED);
  munmap (hole, 3 * 4096);
  h = (guint64) (guintptr) hole;
  unmapped = vhost_vring_addr_new (VHOST_NET_QUEUE_RX, 0, h, h + 8192, h + 4096, 8192);
  g_assert_true (vhost_backend_set_vring_addr (VHOST_BACKEND (f.net), unmapped, &error));
  g_assert_no_error (error);
  g_assert_false (vhost_net_set_backend (f.net, VHOST_NET_QUEUE_RX, f.tap, &error));
  assert_error (error, VHOST_ERROR_INVALID_ARGUMENT, "VHOST_NET_SET_BACKEND", EFAULT);
  g_clear_error (&error);

  g_assert_true (vhost_net_set_backend (f.net, VHOST_NET_QUEUE_TX, f.tap, &error));
  g_assert_no_error (error);
  kernel_space = vhost_vring_addr_new (VHOST_NET_QUEUE_TX, 0, G_GUINT64_CONSTANT (0xffff888000000000),
                                       G_GUINT64_CONSTANT (0xffff888000002000),
                                       G_GUINT64_CONSTANT (0xffff888000001000), 0);
  g_assert_false (vhost_backend_set_vring_addr (VHOST_BACKEND (f.net), kernel_space, &error));
  assert_error (error, VHOST_ERROR_INVALID_ARGUMENT, "VHOST_SET_VRING_ADDR", EINVAL);
  g_clear_error (&error);
  misaligned = vhost_vring_addr_new (VHOST_NET_QUEUE_TX, 0, h, h + 8193, h + 4096, 0);
  g_assert_false (vhost_backend_set_vring_addr (VHOST_BACKEND (f.net), misaligned, &error));
  assert_error (error, VHOST_ERROR_INVALID_ARGUMENT, "VHOST_SET_VRING_ADDR", EINVAL);
  g_clear_error (&error);

  g_assert_true (vhost_net_set_backend (f.net, VHOST_NET_QUEUE_TX, -1, &error));
  g_assert_no_error (error);
  net_teardown (&f);
  vhost_test_assert_fd_count (fds);
}

static void
test_net_not_found (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostNet) net = vhost_net_new ("/dev/vhost-net-does-not-exist", &error);
  int fd;

  g_assert_null (net);
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, g_strerror (ENOENT)));
  g_clear_error (&error);

  /* An adopted fd is the device's: it is closed with it. */
  fd = open ("/dev/vhost-net", O_RDWR | O_CLOEXEC);
  g_assert_no_errno (fd);
  net = vhost_net_new_for_fd (fd, &error);
  g_assert_no_error (error);
  g_assert_cmpint (vhost_kernel_get_fd (VHOST_KERNEL (net)), ==, fd);
  g_assert_null (vhost_kernel_get_device_path (VHOST_KERNEL (net)));
  g_clear_object (&net);
  g_assert_cmpint (fcntl (fd, F_GETFD), ==, -1);
  g_assert_cmpint (errno, ==, EBADF);
}

/* VHOST_SET/GET_VRING_BUSYLOOP_TIMEOUT: vhost-net polls each queue (and the TAP) for that long
 * before it sleeps; the data path works the same with it set, and it changes while queues run. */
static void
test_net_busyloop_timeout (void)
{
  static const NetCase c = { .mrg_rxbuf = TRUE, .event_idx = TRUE };
  g_autoptr(GError) error = NULL;
  gint fds = vhost_test_count_open_fds ();
  NetFixture f;
  guint timeout = G_MAXUINT;

  net_setup (&f, &c, 0);
  for (guint q = VHOST_NET_QUEUE_RX; q <= VHOST_NET_QUEUE_TX; q++)
    {
      g_assert_true (vhost_kernel_get_vring_busyloop_timeout (VHOST_KERNEL (f.net), q, &timeout, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (timeout, ==, 0);
      g_assert_true (vhost_kernel_set_vring_busyloop_timeout (VHOST_KERNEL (f.net), q, 50 + q, &error));
      g_assert_no_error (error);
      g_assert_true (vhost_kernel_get_vring_busyloop_timeout (VHOST_KERNEL (f.net), q, &timeout, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (timeout, ==, 50 + q);
    }
  /* vhost-net has queues 0 and 1 only. */
  g_assert_false (vhost_kernel_set_vring_busyloop_timeout (VHOST_KERNEL (f.net), 2, 50, &error));
  assert_error (error, VHOST_ERROR_INVALID_ARGUMENT, "VHOST_SET_VRING_BUSYLOOP_TIMEOUT", ENOBUFS);
  g_clear_error (&error);
  g_assert_false (vhost_kernel_get_vring_busyloop_timeout (VHOST_KERNEL (f.net), 2, &timeout, &error));
  assert_error (error, VHOST_ERROR_INVALID_ARGUMENT, "VHOST_GET_VRING_BUSYLOOP_TIMEOUT", ENOBUFS);
  g_clear_error (&error);

  net_attach (&f);
  net_transmit (&f);
  net_receive (&f);
  /* Longer on a running queue, and the frames still go both ways. */
  g_assert_true (vhost_kernel_set_vring_busyloop_timeout (VHOST_KERNEL (f.net), VHOST_NET_QUEUE_TX, 200, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_kernel_get_vring_busyloop_timeout (VHOST_KERNEL (f.net), VHOST_NET_QUEUE_TX, &timeout,
                                                          &error));
  g_assert_no_error (error);
  g_assert_cmpuint (timeout, ==, 200);
  net_transmit (&f);

  g_assert_true (vhost_driver_stop (f.driver, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (vhost_driver_get_vring_base (f.driver, VHOST_NET_QUEUE_TX), ==, 2 * G_N_ELEMENTS (frame_sizes));
  net_teardown (&f);
  vhost_test_assert_fd_count (fds);
}

/* VHOST_SET_VRING_ERR: the kernel signals a queue's error eventfd when the driver breaks the
 * ring's rules, here a transmit chain with a device-writable buffer. */
static void
test_net_vring_err (void)
{
  static const NetCase c = { 0 };
  g_autoptr(GError) error = NULL;
  gint fds = vhost_test_count_open_fds ();
  NetFixture f;
  int tx_err, rx_err, pipe_fds[2];
  eventfd_t value = 0;

  net_setup (&f, &c, 0);
  tx_err = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  rx_err = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  g_assert_no_errno (tx_err);
  g_assert_no_errno (rx_err);
  g_assert_true (vhost_backend_set_vring_err (VHOST_BACKEND (f.net), VHOST_NET_QUEUE_TX, tx_err, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_backend_set_vring_err (VHOST_BACKEND (f.net), VHOST_NET_QUEUE_RX, rx_err, &error));
  g_assert_no_error (error);

  /* Not an eventfd, and no file at all. */
  g_assert_no_errno (pipe2 (pipe_fds, O_CLOEXEC));
  g_assert_false (vhost_backend_set_vring_err (VHOST_BACKEND (f.net), VHOST_NET_QUEUE_TX, pipe_fds[0], &error));
  assert_error (error, VHOST_ERROR_INVALID_ARGUMENT, "VHOST_SET_VRING_ERR", EINVAL);
  g_clear_error (&error);
  close (pipe_fds[0]);
  close (pipe_fds[1]);
  g_assert_false (vhost_backend_set_vring_err (VHOST_BACKEND (f.net), VHOST_NET_QUEUE_TX, pipe_fds[0], &error));
  assert_error (error, VHOST_ERROR_FDS, "VHOST_SET_VRING_ERR", EBADF);
  g_clear_error (&error);
  g_assert_false (vhost_backend_set_vring_err (VHOST_BACKEND (f.net), 2, tx_err, &error));
  assert_error (error, VHOST_ERROR_INVALID_ARGUMENT, "VHOST_SET_VRING_ERR", ENOBUFS);
  g_clear_error (&error);

  net_attach (&f);
  /* The frames go out: a good queue signals nothing. */
  net_transmit (&f);
  g_assert_cmpint (eventfd_read (tx_err, &value), ==, -1);
  g_assert_cmpint (errno, ==, EAGAIN);
  {
    guint64 hdr = alloc (f.driver, f.hdr_len), buf = alloc (f.driver, 64);
    VhostDriverBuffer out = { hdr, f.hdr_len }, in = { buf, 64 };

    memset (vhost_driver_get_host_address (f.driver, hdr, f.hdr_len), 0, f.hdr_len);
    submit (f.driver, VHOST_NET_QUEUE_TX, &out, 1, &in, 1, 99);
    vhost_driver_kick (f.driver, VHOST_NET_QUEUE_TX);
  }
  vhost_test_wait_readable (tx_err, TIMEOUT_MS);
  g_assert_no_errno (eventfd_read (tx_err, &value));
  g_assert_cmpuint (value, >=, 1);
  /* The error was the transmit queue's alone. */
  g_assert_cmpint (eventfd_read (rx_err, &value), ==, -1);
  g_assert_cmpint (errno, ==, EAGAIN);

  /* Unbound, the kernel lets go of the eventfds (no fd of this process is left behind). */
  g_assert_true (vhost_backend_set_vring_err (VHOST_BACKEND (f.net), VHOST_NET_QUEUE_TX, -1, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_backend_set_vring_err (VHOST_BACKEND (f.net), VHOST_NET_QUEUE_RX, -1, &error));
  g_assert_no_error (error);
  close (tx_err);
  close (rx_err);
  net_stop_and_teardown (&f, fds);
}

/* VHOST_SET_LOG_BASE and VHOST_SET_LOG_FD with VHOST_F_LOG_ALL: every guest page the kernel writes
 * (here the receive buffers) gets its bit in this process's log, and the log eventfd is signalled. */
static void
test_net_dirty_log (void)
{
  static const NetCase c = { .mrg_rxbuf = TRUE };
  g_autoptr(GError) error = NULL;
  gint fds = vhost_test_count_open_fds ();
  const gsize log_size = MEMORY_SIZE / 4096 / 8;
  g_autoptr(GArray) written = g_array_new (FALSE, FALSE, sizeof (Written));
  guint8 *log;
  NetFixture f;
  int log_fd, pipe_fds[2];
  eventfd_t value = 0;
  guint64 last_page = MEMORY_SIZE / 4096 - 1;

  log = mmap (NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  g_assert_true (log != MAP_FAILED);
  log_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  g_assert_no_errno (log_fd);

  net_setup (&f, &c, VHOST_FEATURE_MASK (VHOST_VIRTIO_F_LOG_ALL));
  g_assert_cmphex (vhost_driver_get_acked_features (f.driver) & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_LOG_ALL), !=, 0);
  g_assert_true (vhost_backend_set_log_base (VHOST_BACKEND (f.net), (guint64) (guintptr) log, log_size, -1, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_backend_set_log_fd (VHOST_BACKEND (f.net), log_fd, &error));
  g_assert_no_error (error);
  g_assert_no_errno (pipe2 (pipe_fds, O_CLOEXEC));
  g_assert_false (vhost_backend_set_log_fd (VHOST_BACKEND (f.net), pipe_fds[0], &error));
  assert_error (error, VHOST_ERROR_INVALID_ARGUMENT, "VHOST_SET_LOG_FD", EINVAL);
  g_clear_error (&error);
  close (pipe_fds[0]);
  close (pipe_fds[1]);

  net_attach (&f);
  g_assert_cmpuint (net_receive_full (&f, written), ==, written->len);
  vhost_test_wait_readable (log_fd, TIMEOUT_MS);
  g_assert_no_errno (eventfd_read (log_fd, &value));
  g_assert_cmpuint (value, >=, 1);
  /* Every page of every buffer the kernel wrote is logged... */
  for (guint i = 0; i < written->len; i++)
    {
      const Written *w = &g_array_index (written, Written, i);

      for (guint64 page = w->addr / 4096; page <= (w->addr + w->len - 1) / 4096; page++)
        if ((log[page / 8] & (1u << (page % 8))) == 0)
          g_error ("page %" G_GUINT64_FORMAT " of a receive buffer (0x%" G_GINT64_MODIFIER "x, %u bytes) is not logged",
                   page, w->addr, w->len);
    }
  /* ... and the end of guest memory, which nothing allocated, is not. */
  g_assert_cmpuint (log[last_page / 8] & (1u << (last_page % 8)), ==, 0);

  g_assert_true (vhost_backend_set_log_fd (VHOST_BACKEND (f.net), -1, &error));
  g_assert_no_error (error);
  close (log_fd);
  net_stop_and_teardown (&f, fds);
  munmap (log, 4096);
}

/* The worker ioctls (Linux 6.5, vhost-scsi only): vhost-net never has them; without the owner the
 * kernel refuses every ioctl but the feature queries. */
static void
test_net_workers_not_supported (void)
{
  static const NetCase c = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostNet) net = NULL;
  gint fds = vhost_test_count_open_fds ();
  NetFixture f;
  guint id = G_MAXUINT;

  net = vhost_net_new (NULL, &error);
  g_assert_no_error (error);
  g_assert_false (vhost_kernel_new_worker (VHOST_KERNEL (net), &id, &error));
  assert_error (error, VHOST_ERROR_BROKEN, "VHOST_NEW_WORKER", EPERM);
  g_clear_error (&error);
  g_clear_object (&net);

  net_setup (&f, &c, 0);
  g_assert_false (vhost_kernel_new_worker (VHOST_KERNEL (f.net), &id, &error));
  assert_error (error, VHOST_ERROR_NOT_SUPPORTED, "VHOST_NEW_WORKER", ENOTTY);
  g_assert_nonnull (strstr (error->message, "does not have this ioctl"));
  g_clear_error (&error);
  g_assert_cmpuint (id, ==, G_MAXUINT);
  g_assert_false (vhost_kernel_get_vring_worker (VHOST_KERNEL (f.net), VHOST_NET_QUEUE_TX, &id, &error));
  assert_error (error, VHOST_ERROR_NOT_SUPPORTED, "VHOST_GET_VRING_WORKER", ENOTTY);
  g_clear_error (&error);
  g_assert_false (vhost_kernel_attach_vring_worker (VHOST_KERNEL (f.net), VHOST_NET_QUEUE_TX, 1, &error));
  assert_error (error, VHOST_ERROR_NOT_SUPPORTED, "VHOST_ATTACH_VRING_WORKER", ENOTTY);
  g_clear_error (&error);
  /* A worker id past vhost-net's two queues, which the kernel takes for a queue index. */
  g_assert_false (vhost_kernel_free_worker (VHOST_KERNEL (f.net), 7, &error));
  assert_error (error, VHOST_ERROR_NOT_SUPPORTED, "VHOST_FREE_WORKER", ENOBUFS);
  g_clear_error (&error);
  g_assert_false (vhost_kernel_free_worker (VHOST_KERNEL (f.net), 0, &error));
  assert_error (error, VHOST_ERROR_NOT_SUPPORTED, "VHOST_FREE_WORKER", ENOTTY);
  g_clear_error (&error);
  /* The device is unharmed. */
  net_attach (&f);
  net_transmit (&f);
  net_stop_and_teardown (&f, fds);
}

/* ---------------------------------------------------------------------------------------------
 * vhost-vsock: the driver is a guest with its CID; AF_VSOCK sockets of this kernel are the host. */

#define GUEST_CID 42
#define GUEST_PORT 5000
#define HOST_PORT 1234
#define RX_BUF_SIZE (sizeof (struct virtio_vsock_hdr) + 4096)
#define N_RX_BUFS 32
#define DATA_SIZE 20000
#define GUEST_BUF_ALLOC 65536

typedef struct
{
  VhostVsock *vsock;
  VhostDriver *driver;
  guint64 rx_bufs[N_RX_BUFS];
  guint32 fwd_cnt;
} VsockFixture;

static void
vsock_send (VsockFixture *f, guint16 op, guint32 flags, const guint8 *payload, guint32 len)
{
  struct virtio_vsock_hdr hdr = {
    .src_cid = GUINT64_TO_LE (GUEST_CID),
    .dst_cid = GUINT64_TO_LE (VMADDR_CID_HOST),
    .src_port = GUINT32_TO_LE (GUEST_PORT),
    .dst_port = GUINT32_TO_LE (HOST_PORT),
    .len = GUINT32_TO_LE (len),
    .type = GUINT16_TO_LE (VIRTIO_VSOCK_TYPE_STREAM),
    .op = GUINT16_TO_LE (op),
    .flags = GUINT32_TO_LE (flags),
    .buf_alloc = GUINT32_TO_LE (GUEST_BUF_ALLOC),
    .fwd_cnt = GUINT32_TO_LE (f->fwd_cnt),
  };
  guint64 addr = alloc (f->driver, sizeof hdr + len);
  guint8 *p = vhost_driver_get_host_address (f->driver, addr, sizeof hdr + len);
  VhostDriverBuffer out = { addr, sizeof hdr + len };
  guint64 tag;
  guint written;

  memcpy (p, &hdr, sizeof hdr);
  if (len > 0)
    memcpy (p + sizeof hdr, payload, len);
  submit (f->driver, VHOST_VSOCK_QUEUE_TX, &out, 1, NULL, 0, addr);
  vhost_driver_kick (f->driver, VHOST_VSOCK_QUEUE_TX);
  vhost_test_reap_one (f->driver, VHOST_VSOCK_QUEUE_TX, TIMEOUT_MS, &tag, &written);
  g_assert_cmpuint (tag, ==, addr);
  vhost_driver_free (f->driver, addr);
}

/* The next packet on RX: its header and payload; the buffer goes back to the ring. */
static GBytes *
vsock_recv (VsockFixture *f, struct virtio_vsock_hdr *hdr)
{
  guint64 tag;
  guint len;
  const guint8 *p;
  GBytes *payload;
  VhostDriverBuffer in;

  vhost_test_reap_one (f->driver, VHOST_VSOCK_QUEUE_RX, TIMEOUT_MS, &tag, &len);
  g_assert_cmpuint (tag, <, N_RX_BUFS);
  g_assert_cmpuint (len, >=, sizeof *hdr);
  p = vhost_driver_get_host_address (f->driver, f->rx_bufs[tag], len);
  memcpy (hdr, p, sizeof *hdr);
  g_assert_cmpuint (GUINT32_FROM_LE (hdr->len), ==, len - sizeof *hdr);
  g_assert_cmpuint (GUINT64_FROM_LE (hdr->src_cid), ==, VMADDR_CID_HOST);
  g_assert_cmpuint (GUINT64_FROM_LE (hdr->dst_cid), ==, GUEST_CID);
  g_assert_cmpuint (GUINT32_FROM_LE (hdr->src_port), ==, HOST_PORT);
  g_assert_cmpuint (GUINT32_FROM_LE (hdr->dst_port), ==, GUEST_PORT);
  payload = g_bytes_new (p + sizeof *hdr, len - sizeof *hdr);
  in = (VhostDriverBuffer) { f->rx_bufs[tag], RX_BUF_SIZE };
  submit (f->driver, VHOST_VSOCK_QUEUE_RX, NULL, 0, &in, 1, tag);
  vhost_driver_kick (f->driver, VHOST_VSOCK_QUEUE_RX);
  return payload;
}

/* The next packet that is not a credit update; a credit request is answered. */
static GBytes *
vsock_recv_skipping_credit (VsockFixture *f, struct virtio_vsock_hdr *hdr)
{
  for (;;)
    {
      GBytes *payload = vsock_recv (f, hdr);
      guint16 op = GUINT16_FROM_LE (hdr->op);

      if (op == VIRTIO_VSOCK_OP_CREDIT_UPDATE)
        {
          g_bytes_unref (payload);
          continue;
        }
      if (op == VIRTIO_VSOCK_OP_CREDIT_REQUEST)
        {
          g_bytes_unref (payload);
          vsock_send (f, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
          continue;
        }
      return payload;
    }
}

static int
host_wait (int fd, short events)
{
  struct pollfd pfd = { .fd = fd, .events = events };
  int r = poll (&pfd, 1, (int) (TIMEOUT_MS));

  g_assert_no_errno (r);
  if (r == 0)
    g_error ("the host socket was not ready within %d s", (int) (TIMEOUT_US / G_USEC_PER_SEC));
  return r;
}

static void
test_vsock_stream (void)
{
  g_autoptr(GError) error = NULL;
  gint fds = vhost_test_count_open_fds ();
  struct sockaddr_vm addr = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = HOST_PORT };
  struct sockaddr_vm peer;
  socklen_t peer_len = sizeof peer;
  struct virtio_vsock_hdr hdr;
  g_autofree guint8 *to_host = g_malloc (DATA_SIZE), *to_guest = g_malloc (DATA_SIZE);
  g_autoptr(GByteArray) got = g_byte_array_new ();
  VsockFixture f = { 0 };
  int listener, conn;
  gsize n;

  for (guint i = 0; i < DATA_SIZE; i++)
    {
      to_host[i] = g_test_rand_int_range (0, 256);
      to_guest[i] = g_test_rand_int_range (0, 256);
    }

  listener = socket (AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  g_assert_no_errno (listener);
  g_assert_no_errno (bind (listener, (struct sockaddr *) &addr, sizeof addr));
  g_assert_no_errno (listen (listener, 1));

  f.vsock = vhost_vsock_new (NULL, &error);
  g_assert_no_error (error);
  f.driver = vhost_driver_new (VHOST_BACKEND (f.vsock), MEMORY_SIZE, &error);
  g_assert_no_error (error);
  /* The kernel device has the RX and TX queues; the event queue is the driver's alone. */
  g_assert_true (vhost_driver_start (f.driver, 2, 128,
                                     VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) |
                                       VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX),
                                     &error));
  g_assert_no_error (error);
  g_assert_true (vhost_vsock_set_guest_cid (f.vsock, GUEST_CID, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (vhost_vsock_get_guest_cid (f.vsock), ==, GUEST_CID);
  for (guint i = 0; i < N_RX_BUFS; i++)
    {
      VhostDriverBuffer in;

      f.rx_bufs[i] = alloc (f.driver, RX_BUF_SIZE);
      in = (VhostDriverBuffer) { f.rx_bufs[i], RX_BUF_SIZE };
      submit (f.driver, VHOST_VSOCK_QUEUE_RX, NULL, 0, &in, 1, i);
    }
  g_assert_true (vhost_vsock_set_running (f.vsock, TRUE, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_vsock_get_running (f.vsock));

  /* Connect: REQUEST from the guest, RESPONSE from the host, which accepts. */
  vsock_send (&f, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
  g_bytes_unref (vsock_recv_skipping_credit (&f, &hdr));
  g_assert_cmpuint (GUINT16_FROM_LE (hdr.op), ==, VIRTIO_VSOCK_OP_RESPONSE);
  g_assert_cmpuint (GUINT16_FROM_LE (hdr.type), ==, VIRTIO_VSOCK_TYPE_STREAM);
  host_wait (listener, POLLIN);
  conn = accept4 (listener, (struct sockaddr *) &peer, &peer_len, SOCK_CLOEXEC);
  g_assert_no_errno (conn);
  g_assert_cmpuint (peer.svm_cid, ==, GUEST_CID);
  g_assert_cmpuint (peer.svm_port, ==, GUEST_PORT);

  /* Guest to host, in packets of up to 4 KiB. */
  for (n = 0; n < DATA_SIZE; n += 4096)
    vsock_send (&f, VIRTIO_VSOCK_OP_RW, 0, to_host + n, MIN (4096, DATA_SIZE - n));
  for (n = 0; n < DATA_SIZE;)
    {
      guint8 buf[8192];
      gssize r;

      host_wait (conn, POLLIN);
      r = recv (conn, buf, sizeof buf, 0);
      g_assert_no_errno (r);
      g_assert_cmpint (r, >, 0);
      g_byte_array_append (got, buf, r);
      n += r;
    }
  g_assert_cmpmem (got->data, got->len, to_host, DATA_SIZE);

  /* Host to guest: the kernel splits the stream into the guest's 4 KiB receive buffers. */
  g_assert_cmpint (send (conn, to_guest, DATA_SIZE, 0), ==, DATA_SIZE);
  g_byte_array_set_size (got, 0);
  while (got->len < DATA_SIZE)
    {
      g_autoptr(GBytes) payload = vsock_recv_skipping_credit (&f, &hdr);

      g_assert_cmpuint (GUINT16_FROM_LE (hdr.op), ==, VIRTIO_VSOCK_OP_RW);
      g_byte_array_append (got, g_bytes_get_data (payload, NULL), g_bytes_get_size (payload));
      f.fwd_cnt += g_bytes_get_size (payload);
    }
  g_assert_cmpmem (got->data, got->len, to_guest, DATA_SIZE);

  /* Shut down both ways: the host reads the end of the stream and resets the connection. */
  vsock_send (&f, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
  host_wait (conn, POLLIN);
  {
    guint8 buf[16];

    g_assert_cmpint (recv (conn, buf, sizeof buf, 0), ==, 0);
  }
  g_bytes_unref (vsock_recv_skipping_credit (&f, &hdr));
  g_assert_cmpuint (GUINT16_FROM_LE (hdr.op), ==, VIRTIO_VSOCK_OP_RST);
  close (conn);
  close (listener);

  /* Stopping the queues stops the device. */
  g_assert_true (vhost_driver_stop (f.driver, &error));
  g_assert_no_error (error);
  g_assert_false (vhost_vsock_get_running (f.vsock));
  g_clear_object (&f.driver);
  g_clear_object (&f.vsock);
  vhost_test_assert_fd_count (fds);
}

static void
test_vsock_errors (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostVsock) a = NULL, b = NULL;
  gint fds = vhost_test_count_open_fds ();

  a = vhost_vsock_new (NULL, &error);
  g_assert_no_error (error);
  b = vhost_vsock_new (NULL, &error);
  g_assert_no_error (error);

  /* Starting before the owner is set. */
  g_assert_false (vhost_vsock_set_running (a, TRUE, &error));
  assert_error (error, VHOST_ERROR_BROKEN, "VHOST_VSOCK_SET_RUNNING", EPERM);
  g_clear_error (&error);
  g_assert_false (vhost_vsock_get_running (a));

  /* A CID another device has; reserved CIDs. */
  g_assert_true (vhost_vsock_set_guest_cid (a, 77, &error));
  g_assert_no_error (error);
  g_assert_false (vhost_vsock_set_guest_cid (b, 77, &error));
  assert_error (error, VHOST_ERROR_ADDRESS_IN_USE, "VHOST_VSOCK_SET_GUEST_CID", EADDRINUSE);
  g_clear_error (&error);
  g_assert_cmpuint (vhost_vsock_get_guest_cid (b), ==, 0);
  g_assert_false (vhost_vsock_set_guest_cid (b, VMADDR_CID_HOST, &error));
  assert_error (error, VHOST_ERROR_INVALID_ARGUMENT, "VHOST_VSOCK_SET_GUEST_CID", EINVAL);
  g_clear_error (&error);
  /* Once the first device is gone its CID is free. */
  g_clear_object (&a);
  g_assert_true (vhost_vsock_set_guest_cid (b, 77, &error));
  g_assert_no_error (error);

  /* vhost-vsock has no VHOST_RESET_OWNER. */
  g_assert_true (vhost_backend_set_owner (VHOST_BACKEND (b), &error));
  g_assert_no_error (error);
  g_assert_false (vhost_backend_reset_owner (VHOST_BACKEND (b), &error));
  assert_error (error, VHOST_ERROR_NOT_SUPPORTED, "VHOST_RESET_OWNER", ENOTTY);
  g_clear_error (&error);
  g_clear_object (&b);
  vhost_test_assert_fd_count (fds);
}

/* ---------------------------------------------------------------------------------------------
 * vhost-scsi: the ABI version, and an endpoint without a configfs target, then with one. */

#define SCSI_WWPN "naa.5001405000000001"
#define SCSI_TPGT 1
#define CONFIGFS "/sys/kernel/config/target"

/* Opens /dev/vhost-scsi and brings it up with VERSION_1 and @extra_features. */
static void
scsi_start (VhostScsi **scsi, VhostDriver **driver, guint64 extra_features)
{
  g_autoptr(GError) error = NULL;
  gint version = 0;

  *scsi = vhost_scsi_new (NULL, &error);
  g_assert_no_error (error);
  g_assert_true (vhost_scsi_get_abi_version (*scsi, &version, &error));
  g_assert_no_error (error);
  g_assert_cmpint (version, ==, 1);
  /* Control, event and one request queue, brought up like any other device. */
  *driver = vhost_driver_new (VHOST_BACKEND (*scsi), MEMORY_SIZE, &error);
  g_assert_no_error (error);
  g_assert_true (vhost_driver_start (*driver, 3, 128, VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) | extra_features,
                                     &error));
  g_assert_no_error (error);
  g_assert_cmphex (vhost_driver_get_acked_features (*driver) & extra_features, ==, extra_features);
}

static void
test_scsi_no_target (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostScsi) scsi = NULL;
  g_autoptr(VhostDriver) driver = NULL;
  gint fds = vhost_test_count_open_fds ();

  scsi_start (&scsi, &driver, 0);
  g_assert_false (vhost_scsi_set_endpoint (scsi, "naa.50014050000000ff", SCSI_TPGT, &error));
  assert_error (error, VHOST_ERROR_NOT_FOUND, "VHOST_SCSI_SET_ENDPOINT", ENODEV);
  g_assert_nonnull (strstr (error->message, "naa.50014050000000ff"));
  g_clear_error (&error);
  /* Clearing an endpoint that was never set is fine. */
  g_assert_true (vhost_scsi_clear_endpoint (scsi, "naa.50014050000000ff", SCSI_TPGT, &error));
  g_assert_no_error (error);
  /* A name longer than the ioctl's field. */
  {
    g_autofree char *long_name = g_strnfill (300, 'x');

    g_assert_false (vhost_scsi_set_endpoint (scsi, long_name, SCSI_TPGT, &error));
    g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
  }
  g_assert_true (vhost_driver_stop (driver, &error));
  g_assert_no_error (error);
  g_clear_object (&driver);
  g_clear_object (&scsi);
  vhost_test_assert_fd_count (fds);
}

static void
write_attr (const char *path, const char *value)
{
  int fd = open (path, O_WRONLY | O_CLOEXEC);

  if (fd < 0)
    g_error ("open %s: %s", path, g_strerror (errno));
  if (write (fd, value, strlen (value)) != (gssize) strlen (value))
    g_error ("write %s to %s: %s", value, path, g_strerror (errno));
  close (fd);
}

static void
must (int r, const char *what, const char *path)
{
  if (r < 0)
    g_error ("%s %s: %s", what, path, g_strerror (errno));
}

/* A LIO target in configfs: a RAM disk behind LUN 0 of SCSI_WWPN, tpgt SCSI_TPGT. */
static void
scsi_make_target (void)
{
  const char *disk = CONFIGFS "/core/rd_mcp_0/vhost_test";
  const char *tpg = CONFIGFS "/vhost/" SCSI_WWPN "/tpgt_1";

  must (g_mkdir_with_parents (disk, 0755), "mkdir", disk);
  write_attr (CONFIGFS "/core/rd_mcp_0/vhost_test/control", "rd_pages=256");
  write_attr (CONFIGFS "/core/rd_mcp_0/vhost_test/enable", "1");
  must (g_mkdir_with_parents (CONFIGFS "/vhost/" SCSI_WWPN "/tpgt_1/lun/lun_0", 0755), "mkdir", tpg);
  must (symlink (disk, CONFIGFS "/vhost/" SCSI_WWPN "/tpgt_1/lun/lun_0/vhost_test"), "symlink", tpg);
  write_attr (CONFIGFS "/vhost/" SCSI_WWPN "/tpgt_1/nexus", "naa.5001405000000002");
}

static void
scsi_remove_target (void)
{
  must (unlink (CONFIGFS "/vhost/" SCSI_WWPN "/tpgt_1/lun/lun_0/vhost_test"), "unlink", "lun_0/vhost_test");
  must (rmdir (CONFIGFS "/vhost/" SCSI_WWPN "/tpgt_1/lun/lun_0"), "rmdir", "lun_0");
  write_attr (CONFIGFS "/vhost/" SCSI_WWPN "/tpgt_1/nexus", "NULL");
  must (rmdir (CONFIGFS "/vhost/" SCSI_WWPN "/tpgt_1"), "rmdir", "tpgt_1");
  must (rmdir (CONFIGFS "/vhost/" SCSI_WWPN), "rmdir", SCSI_WWPN);
  must (rmdir (CONFIGFS "/core/rd_mcp_0/vhost_test"), "rmdir", "vhost_test");
  must (rmdir (CONFIGFS "/core/rd_mcp_0"), "rmdir", "rd_mcp_0");
}

static void
test_scsi_target (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostScsi) scsi = NULL, other = NULL;
  g_autoptr(VhostDriver) driver = NULL, other_driver = NULL;
  gint fds = vhost_test_count_open_fds ();

  scsi_make_target ();
  scsi_start (&scsi, &driver, 0);
  g_assert_true (vhost_scsi_set_endpoint (scsi, SCSI_WWPN, SCSI_TPGT, &error));
  g_assert_no_error (error);
  /* A second device cannot take the same target. */
  scsi_start (&other, &other_driver, 0);
  g_assert_false (vhost_scsi_set_endpoint (other, SCSI_WWPN, SCSI_TPGT, &error));
  assert_error (error, VHOST_ERROR_NOT_FOUND, "VHOST_SCSI_SET_ENDPOINT", ENODEV);
  g_clear_error (&error);
  g_assert_true (vhost_scsi_clear_endpoint (scsi, SCSI_WWPN, SCSI_TPGT, &error));
  g_assert_no_error (error);
  /* Now it is free. */
  g_assert_true (vhost_scsi_set_endpoint (other, SCSI_WWPN, SCSI_TPGT, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_scsi_clear_endpoint (other, SCSI_WWPN, SCSI_TPGT, &error));
  g_assert_no_error (error);

  g_assert_true (vhost_driver_stop (driver, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_driver_stop (other_driver, &error));
  g_assert_no_error (error);
  g_clear_object (&driver);
  g_clear_object (&scsi);
  g_clear_object (&other_driver);
  g_clear_object (&other);
  scsi_remove_target ();
  vhost_test_assert_fd_count (fds);
}

/* A second disk, exported as LUN 1 of the target that scsi_make_target() made. */
#define SCSI_DISK1 CONFIGFS "/core/rd_mcp_0/vhost_test1"
#define SCSI_LUN1 CONFIGFS "/vhost/" SCSI_WWPN "/tpgt_1/lun/lun_1"

static void
scsi_add_lun1 (void)
{
  must (symlink (SCSI_DISK1, SCSI_LUN1 "/vhost_test1"), "symlink", SCSI_LUN1);
}

static void
scsi_remove_lun1 (void)
{
  must (unlink (SCSI_LUN1 "/vhost_test1"), "unlink", SCSI_LUN1 "/vhost_test1");
}

#define EVENT_TAG 77

/* Posts one buffer for a struct virtio_scsi_event on the event queue, filled with 0xee, and kicks
 * if the device asks for kicks (it does after it found the queue empty). */
static guint64
scsi_post_event_buffer (VhostDriver *driver)
{
  guint64 addr = alloc (driver, sizeof (struct virtio_scsi_event));
  VhostDriverBuffer in = { addr, sizeof (struct virtio_scsi_event) };

  memset (vhost_driver_get_host_address (driver, addr, in.len), 0xee, in.len);
  submit (driver, 1, NULL, 0, &in, 1, EVENT_TAG);
  vhost_driver_kick (driver, 1);
  return addr;
}

/* The event that the device put in the buffer of scsi_post_event_buffer(). */
static struct virtio_scsi_event
scsi_reap_event (VhostDriver *driver, guint64 addr)
{
  struct virtio_scsi_event event;
  guint64 tag = 0;
  guint len;

  vhost_test_reap_one (driver, 1, TIMEOUT_MS, &tag, &len);
  g_assert_cmpuint (tag, ==, EVENT_TAG);
  memcpy (&event, vhost_driver_get_host_address (driver, addr, sizeof event), sizeof event);
  vhost_driver_free (driver, addr);
  event.event = GUINT32_FROM_LE (event.event);
  event.reason = GUINT32_FROM_LE (event.reason);
  return event;
}

static gboolean
scsi_events_missed (VhostScsi *scsi)
{
  g_autoptr(GError) error = NULL;
  gboolean missed = 2;

  g_assert_true (vhost_scsi_get_events_missed (scsi, &missed, &error));
  g_assert_no_error (error);
  g_assert_true (missed == TRUE || missed == FALSE);
  return missed;
}

/* VHOST_SCSI_SET/GET_EVENTS_MISSED with VIRTIO_SCSI_F_HOTPLUG: a LUN added while the event queue
 * has no buffer is an event missed; a kick of the event queue then delivers NO_EVENT flagged
 * EVENTS_MISSED and clears the flag; set by hand, the flag rides on the next event. */
static void
test_scsi_events_missed (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostScsi) scsi = NULL;
  g_autoptr(VhostDriver) driver = NULL;
  gint fds = vhost_test_count_open_fds ();
  struct virtio_scsi_event event;
  gint64 deadline;
  guint64 buf;

  scsi_make_target ();
  must (g_mkdir_with_parents (SCSI_DISK1, 0755), "mkdir", SCSI_DISK1);
  write_attr (SCSI_DISK1 "/control", "rd_pages=256");
  write_attr (SCSI_DISK1 "/enable", "1");
  must (g_mkdir_with_parents (SCSI_LUN1, 0755), "mkdir", SCSI_LUN1);

  scsi_start (&scsi, &driver, VHOST_FEATURE_MASK (VIRTIO_SCSI_F_HOTPLUG));
  g_assert_true (vhost_scsi_set_endpoint (scsi, SCSI_WWPN, SCSI_TPGT, &error));
  g_assert_no_error (error);
  g_assert_false (scsi_events_missed (scsi));

  /* LUN 1 appears and the event queue is empty: the kernel's worker records the loss. */
  scsi_add_lun1 ();
  deadline = g_get_monotonic_time () + TIMEOUT_US;
  while (!scsi_events_missed (scsi))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("VHOST_SCSI_GET_EVENTS_MISSED still says 0 %d s after a LUN was added",
                 (int) (TIMEOUT_US / G_USEC_PER_SEC));
      g_usleep (10000);
    }
  /* A buffer and a kick: NO_EVENT with EVENTS_MISSED, and the flag is clear again. */
  buf = scsi_post_event_buffer (driver);
  event = scsi_reap_event (driver, buf);
  g_assert_cmphex (event.event, ==, VIRTIO_SCSI_T_NO_EVENT | VIRTIO_SCSI_T_EVENTS_MISSED);
  g_assert_false (scsi_events_missed (scsi));

  /* With a buffer waiting, LUN 1's removal is delivered as it happens. */
  buf = scsi_post_event_buffer (driver);
  scsi_remove_lun1 ();
  event = scsi_reap_event (driver, buf);
  g_assert_cmphex (event.event, ==, VIRTIO_SCSI_T_TRANSPORT_RESET);
  g_assert_cmpuint (event.reason, ==, VIRTIO_SCSI_EVT_RESET_REMOVED);
  g_assert_cmpuint (event.lun[0], ==, 1);
  g_assert_cmpuint (event.lun[1], ==, SCSI_TPGT);
  g_assert_cmpuint (event.lun[2], ==, 0);
  g_assert_cmpuint (event.lun[3], ==, 1);
  g_assert_false (scsi_events_missed (scsi));

  /* Set by hand (as a front-end does after a migration), the flag rides on the next event. */
  g_assert_true (vhost_scsi_set_events_missed (scsi, TRUE, &error));
  g_assert_no_error (error);
  g_assert_true (scsi_events_missed (scsi));
  buf = scsi_post_event_buffer (driver);
  scsi_add_lun1 ();
  event = scsi_reap_event (driver, buf);
  g_assert_cmphex (event.event, ==, VIRTIO_SCSI_T_TRANSPORT_RESET | VIRTIO_SCSI_T_EVENTS_MISSED);
  g_assert_cmpuint (event.reason, ==, VIRTIO_SCSI_EVT_RESET_RESCAN);
  g_assert_cmpuint (event.lun[3], ==, 1);
  g_assert_false (scsi_events_missed (scsi));
  /* And cleared by hand. */
  g_assert_true (vhost_scsi_set_events_missed (scsi, TRUE, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_scsi_set_events_missed (scsi, FALSE, &error));
  g_assert_no_error (error);
  g_assert_false (scsi_events_missed (scsi));
  scsi_remove_lun1 ();

  g_assert_true (vhost_scsi_clear_endpoint (scsi, SCSI_WWPN, SCSI_TPGT, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_driver_stop (driver, &error));
  g_assert_no_error (error);
  g_clear_object (&driver);
  g_clear_object (&scsi);
  must (rmdir (SCSI_LUN1), "rmdir", SCSI_LUN1);
  must (rmdir (SCSI_DISK1), "rmdir", SCSI_DISK1);
  scsi_remove_target ();
  vhost_test_assert_fd_count (fds);
}

/* The worker ioctls on vhost-scsi, the one device that has them since Linux 6.5: Linux 6.1 does
 * not know them, whichever argument they carry. */
static void
test_scsi_workers_not_supported (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostScsi) scsi = NULL;
  g_autoptr(VhostDriver) driver = NULL;
  gint fds = vhost_test_count_open_fds ();
  guint id = G_MAXUINT;

  if (!vhost_test_kernel_older_than (6, 5))
    {
      g_test_skip ("This case checks the answers of a kernel without the worker ioctls (Debian 12's 6.1)");
      return;
    }
  scsi_start (&scsi, &driver, 0);
  g_assert_false (vhost_kernel_new_worker (VHOST_KERNEL (scsi), &id, &error));
  assert_error (error, VHOST_ERROR_NOT_SUPPORTED, "VHOST_NEW_WORKER", ENOTTY);
  g_clear_error (&error);
  g_assert_cmpuint (id, ==, G_MAXUINT);
  for (guint q = 0; q < 3; q++)
    {
      g_assert_false (vhost_kernel_get_vring_worker (VHOST_KERNEL (scsi), q, &id, &error));
      assert_error (error, VHOST_ERROR_NOT_SUPPORTED, "VHOST_GET_VRING_WORKER", ENOTTY);
      g_clear_error (&error);
      g_assert_false (vhost_kernel_attach_vring_worker (VHOST_KERNEL (scsi), q, 1, &error));
      assert_error (error, VHOST_ERROR_NOT_SUPPORTED, "VHOST_ATTACH_VRING_WORKER", ENOTTY);
      g_clear_error (&error);
    }
  g_assert_false (vhost_kernel_free_worker (VHOST_KERNEL (scsi), 1, &error));
  assert_error (error, VHOST_ERROR_NOT_SUPPORTED, "VHOST_FREE_WORKER", ENOTTY);
  g_clear_error (&error);
  /* Past vhost-scsi's 128 queues. */
  g_assert_false (vhost_kernel_free_worker (VHOST_KERNEL (scsi), 1000, &error));
  assert_error (error, VHOST_ERROR_NOT_SUPPORTED, "VHOST_FREE_WORKER", ENOBUFS);
  g_clear_error (&error);
  g_assert_true (vhost_driver_stop (driver, &error));
  g_assert_no_error (error);
  g_clear_object (&driver);
  g_clear_object (&scsi);
  vhost_test_assert_fd_count (fds);
}

static const NetCase net_cases[] = {
  { .mrg_rxbuf = FALSE, .event_idx = FALSE, .indirect = FALSE },
  { .mrg_rxbuf = FALSE, .event_idx = TRUE, .indirect = TRUE },
  { .mrg_rxbuf = TRUE, .event_idx = FALSE, .indirect = FALSE },
  { .mrg_rxbuf = TRUE, .event_idx = TRUE, .indirect = TRUE },
};

int
main (int argc, char **argv)
{
  vhost_test_init (&argc, &argv);

  if (!g_file_test ("/dev/vhost-net", G_FILE_TEST_EXISTS))
    g_error ("No /dev/vhost-net: run this test in a guest with tests/vm/run-test.sh (meson test --suite vm)");

  for (guint i = 0; i < G_N_ELEMENTS (net_cases); i++)
    {
      const NetCase *c = &net_cases[i];
      g_autofree char *path = g_strdup_printf ("/vhost/kernel/net/data-path/%s-mrg-rxbuf/%s-event-idx%s",
                                               c->mrg_rxbuf ? "with" : "without",
                                               c->event_idx ? "with" : "without",
                                               c->indirect ? "/indirect" : "");

      g_test_add_data_func (path, c, test_net_data_path);
    }
  g_test_add_func ("/vhost/kernel/net/iotlb", test_net_iotlb);
  g_test_add_func ("/vhost/kernel/net/errors/order", test_net_errors_order);
  g_test_add_func ("/vhost/kernel/net/errors/bad-tap", test_net_errors_bad_tap);
  g_test_add_func ("/vhost/kernel/net/errors/ring-address", test_net_errors_ring_address);
  g_test_add_func ("/vhost/kernel/net/errors/not-found", test_net_not_found);
  g_test_add_func ("/vhost/kernel/net/busyloop-timeout", test_net_busyloop_timeout);
  g_test_add_func ("/vhost/kernel/net/vring-err", test_net_vring_err);
  g_test_add_func ("/vhost/kernel/net/dirty-log", test_net_dirty_log);
  g_test_add_func ("/vhost/kernel/net/workers-not-supported", test_net_workers_not_supported);
  g_test_add_func ("/vhost/kernel/vsock/stream", test_vsock_stream);
  g_test_add_func ("/vhost/kernel/vsock/errors", test_vsock_errors);
  g_test_add_func ("/vhost/kernel/scsi/no-target", test_scsi_no_target);
  g_test_add_func ("/vhost/kernel/scsi/target", test_scsi_target);
  g_test_add_func ("/vhost/kernel/scsi/events-missed", test_scsi_events_missed);
  g_test_add_func ("/vhost/kernel/scsi/workers-not-supported", test_scsi_workers_not_supported);

  return g_test_run ();
}
