/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: a stream of front-end requests with fds into the back-end engine (core/vhost-user-dev.c),
 * with no socket, its rings in guest memory whose bytes come from the input too.
 *
 * The input: byte 0 sets the device (1 to 4 queues, the largest queue size); then messages,
 * each one byte of fds (bits 0-1: how many, 0 to 3; bits 2-7: two bits a kind: guest memory,
 * an eventfd, a small memfd, /dev/null), the request code (one byte, modulo 48: the known ones
 * and a few unknown), the flags (one byte), the payload size (two bytes, little endian) and
 * the payload. Guest memory (256 KiB) repeats the whole input. A message the protocol layer
 * refuses, or that ends the connection, starts a new one, as a socket would. After each
 * message the running queues are processed here, in this thread: chains popped, written and
 * pushed, but one per queue held, as a device with asynchronous I/O does, until the queue
 * stops (drained: pushed; suspended by a GET_VRING_BASE with GET_VRING_BASE_INFLIGHT: left in
 * flight). The device has two shared memory regions (SHMEM) and in-band notifications, and
 * offers VIRTIO_F_ACCESS_PLATFORM: with it, IOTLB_MSG updates and invalidations fill the
 * engine's IOTLB, and the rings' misses are answered after each message (one in two with an
 * error), as the front-end's acknowledgements would be. Every reply the engine sends must be
 * a valid reply to its request, and every fd the target opened must be closed when the input
 * is done. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vhost-glib/core/vhost-user-dev.h"

#define MEM_SIZE (256 * 1024)
#define MAX_QUEUES 4
#define MAX_MISSES 16

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

typedef struct
{
  VhostQueue queues[MAX_QUEUES];
  VhostRingElement held[MAX_QUEUES];         /* one chain per queue the device keeps */
  struct iovec held_iov[MAX_QUEUES][16];
  gboolean holding[MAX_QUEUES];
  const VhostUserMsg *request;    /* the request being handled */
  int mem_fd;
  /* The misses the rings sent, for the "front-end" to acknowledge. */
  guint n_misses;
  guint miss_index[MAX_MISSES];
  guint miss_serial[MAX_MISSES];
} Harness;

static guint
count_fds (void)
{
  DIR *dir = opendir ("/proc/self/fd");
  struct dirent *entry;
  guint n = 0;

  if (dir == NULL)
    abort ();
  while ((entry = readdir (dir)) != NULL)
    if (entry->d_name[0] != '.')
      n++;
  closedir (dir);
  return n;
}

static guint64
dev_get_features (VhostUserDev *dev, gpointer data)
{
  return G_GUINT64_CONSTANT (0xff) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) |
         VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_INDIRECT_DESC) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX) |
         VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_IN_ORDER) |
         VHOST_FEATURE_MASK (VHOST_VIRTIO_F_LOG_ALL) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_ACCESS_PLATFORM);
}

static guint64
dev_get_protocol_features (VhostUserDev *dev, gpointer data)
{
  return G_MAXUINT64;
}

static gboolean
dev_set_features (VhostUserDev *dev, guint64 features, gpointer data, GError **error)
{
  return TRUE;
}

static GBytes *
dev_get_config (VhostUserDev *dev, guint offset, guint size, gpointer data, GError **error)
{
  if (offset + size > 64 || offset + size < offset)
    {
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "outside the configuration space");
      return NULL;
    }
  return g_bytes_new_take (g_malloc0 (size), size);
}

static gboolean
dev_set_config (VhostUserDev *dev, guint offset, GBytes *bytes, guint flags, gpointer data, GError **error)
{
  return TRUE;
}

static void
dev_vring_state_changed (VhostUserDev *dev, guint index, gboolean started, gboolean enabled, gpointer data)
{
}

static void
dev_reset (VhostUserDev *dev, gpointer data)
{
}

static gboolean
dev_device_request (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, gpointer data, GError **error)
{
  g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED, "not supported");
  return FALSE;
}

/* A reply must answer its request, within the protocol's limits. */
static void
dev_send (VhostUserDev *dev, const VhostUserMsg *msg, gpointer data)
{
  Harness *h = data;

  if (h->request == NULL || msg->hdr.request != h->request->hdr.request || !(msg->hdr.flags & VHOST_USER_FLAG_REPLY) ||
      msg->hdr.size > VHOST_USER_MAX_PAYLOAD || msg->n_fds > VHOST_USER_MAX_FDS)
    abort ();
  for (guint i = 0; i < msg->n_fds; i++)
    if (fcntl (msg->fds[i], F_GETFD) < 0)
      abort ();
}

static void
dev_set_backend_fd (VhostUserDev *dev, int fd, gpointer data)
{
  close (fd);
}

static void
dev_protocol_features_changed (VhostUserDev *dev, guint64 features, gpointer data)
{
}

static void
dev_inband_notify (VhostUserDev *dev, VhostUserBackendRequest request, guint index, gpointer data)
{
  if ((request != VHOST_USER_BACKEND_VRING_CALL && request != VHOST_USER_BACKEND_VRING_ERR) || index >= MAX_QUEUES)
    abort ();
}

static void
dev_get_shmem_config (VhostUserDev *dev, guint64 *sizes, gpointer data)
{
  sizes[0] = 0x10000;
  sizes[3] = 0x2000;
}

static VhostQueue *
dev_get_queue (VhostUserDev *dev, guint index, gpointer data)
{
  Harness *h = data;

  if (index >= MAX_QUEUES)
    abort ();
  return &h->queues[index];
}

/* A ring's miss or access failure (in this thread, inside a pop): kept, answered later. */
static void
dev_iotlb_request (VhostUserDev *dev, guint index, guint8 type, guint64 iova, guint8 perm, guint serial,
                   gpointer data)
{
  Harness *h = data;

  if (index >= MAX_QUEUES || (type != 1 && type != 4) || perm == 0 || perm > 3 || (type == 1) != (serial != 0))
    abort ();
  if (type == 1 && h->n_misses < MAX_MISSES)
    {
      h->miss_index[h->n_misses] = index;
      h->miss_serial[h->n_misses++] = serial;
    }
}

/* The front-end acknowledges the misses: an update may or may not have come. */
static void
answer_misses (Harness *h, VhostUserDev *dev)
{
  for (guint i = 0; i < h->n_misses; i++)
    {
      g_autoptr(GError) error = NULL;

      if (h->miss_serial[i] & 1)
        g_set_error_literal (&error, VHOST_ERROR, VHOST_ERROR_REJECTED, "rejected");
      vhost_user_dev_iotlb_miss_answered (dev, h->miss_index[i], h->miss_serial[i], error);
    }
  h->n_misses = 0;
}

static const VhostUserDevOps ops = {
  .get_features = dev_get_features,
  .get_protocol_features = dev_get_protocol_features,
  .set_features = dev_set_features,
  .get_config = dev_get_config,
  .set_config = dev_set_config,
  .vring_state_changed = dev_vring_state_changed,
  .reset = dev_reset,
  .device_request = dev_device_request,
  .send = dev_send,
  .set_backend_fd = dev_set_backend_fd,
  .protocol_features_changed = dev_protocol_features_changed,
  .inband_notify = dev_inband_notify,
  .get_queue = dev_get_queue,
  .get_shmem_config = dev_get_shmem_config,
  .iotlb_request = dev_iotlb_request,
};

/* A queue stops: the chain the device keeps is pushed (drain), or left in flight
 * (suspend). */
static void
queue_drain (VhostQueue *queue, gpointer data)
{
  Harness *h = data;

  if (h->holding[queue->ring.index])
    vhost_ring_push (&queue->ring, &h->held[queue->ring.index], 0);
  h->holding[queue->ring.index] = FALSE;
}

static void
queue_suspend (VhostQueue *queue, gpointer data)
{
  Harness *h = data;

  h->holding[queue->ring.index] = FALSE;
}

static int
small_memfd (void)
{
  int fd = memfd_create ("fuzz-small", MFD_CLOEXEC);

  if (fd < 0 || ftruncate (fd, 4096) < 0)
    abort ();
  return fd;
}

static int
make_fd (Harness *h, guint kind)
{
  switch (kind)
    {
    case 0:
      return fcntl (h->mem_fd, F_DUPFD_CLOEXEC, 3);
    case 1:
      return eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
    case 2:
      return small_memfd ();
    default:
      return open ("/dev/null", O_RDWR | O_CLOEXEC);
    }
}

/* The running queues, processed here: what a device would do with each chain. */
static void
process_queues (Harness *h)
{
  for (guint q = 0; q < MAX_QUEUES; q++)
    {
      VhostQueue *queue = &h->queues[q];
      struct iovec iov[16];
      VhostRingElement elem;

      if (!queue->running)
        continue;
      if (!h->holding[q] && vhost_ring_pop (&queue->ring, &h->held[q], h->held_iov[q], G_N_ELEMENTS (iov)) > 0)
        h->holding[q] = TRUE;
      for (guint n = 0; n < 8 && vhost_ring_pop (&queue->ring, &elem, iov, G_N_ELEMENTS (iov)) > 0; n++)
        {
          guint32 len = 0;

          for (guint i = 0; i < elem.n_out; i++)
            if (iov[i].iov_len > 0)
              len += ((volatile guint8 *) iov[i].iov_base)[0];
          for (guint i = elem.n_out; i < elem.n_out + elem.n_in; i++)
            {
              memset (iov[i].iov_base, 0x5a, MIN (iov[i].iov_len, 64));
              len += MIN (iov[i].iov_len, 64);
            }
          if (n == 3)
            vhost_ring_unpop (&queue->ring, &elem);
          else
            vhost_ring_push (&queue->ring, &elem, len);
        }
      vhost_queue_notify (queue);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  guint fds_before = count_fds ();
  Harness h = { 0 };
  VhostUserDev *dev;
  guint8 *mem;
  size_t pos = 1;

  if (size < 1)
    return 0;
  h.mem_fd = memfd_create ("fuzz-guest", MFD_CLOEXEC);
  if (h.mem_fd < 0 || ftruncate (h.mem_fd, MEM_SIZE) < 0)
    abort ();
  mem = mmap (NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, h.mem_fd, 0);
  if (mem == MAP_FAILED)
    abort ();
  for (size_t i = 0; i < MEM_SIZE; i++)
    mem[i] = data[i % size];
  for (guint q = 0; q < MAX_QUEUES; q++)
    {
      vhost_queue_init (&h.queues[q], q, NULL, NULL);
      /* No worker threads: this thread processes the queues. */
      h.queues[q].main_context = TRUE;
      h.queues[q].drain = queue_drain;
      h.queues[q].drain_data = &h;
      h.queues[q].suspend = queue_suspend;
      h.queues[q].suspend_data = &h;
    }

  dev = vhost_user_dev_new (&ops, &h);
  vhost_user_dev_connect (dev, 1 + data[0] % MAX_QUEUES, 1u << (data[0] >> 4));
  while (pos + 5 <= size)
    {
      VhostUserMsg msg;
      guint8 fds = data[pos];
      guint32 payload = data[pos + 3] | (data[pos + 4] << 8);
      g_autoptr(GError) error = NULL;
      gboolean keep;

      vhost_user_msg_init (&msg, data[pos + 1] % 48, 0);
      msg.hdr.flags = data[pos + 2];
      pos += 5;
      payload = MIN (payload, MIN (size - pos, VHOST_USER_MAX_PAYLOAD));
      msg.hdr.size = payload;
      memcpy (msg.payload.bytes, data + pos, payload);
      pos += payload;
      for (guint i = 0; i < (fds & 3u); i++)
        msg.fds[msg.n_fds++] = make_fd (&h, (fds >> (2 + 2 * i)) & 3u);

      h.request = &msg;
      keep = vhost_user_request_validate (VHOST_USER_CHANNEL_FRONTEND, &msg, &error) &&
             vhost_user_dev_handle (dev, &msg, &error);
      h.request = NULL;
      vhost_user_msg_close_fds (&msg);
      if (!keep)
        {
          /* The connection ends; the next message comes on a new one. */
          vhost_user_dev_disconnect (dev);
          h.n_misses = 0;
          vhost_user_dev_connect (dev, 1 + data[0] % MAX_QUEUES, 1u << (data[0] >> 4));
        }
      process_queues (&h);
      answer_misses (&h, dev);
    }
  vhost_user_dev_free (dev);
  munmap (mem, MEM_SIZE);
  close (h.mem_fd);
  if (count_fds () != fds_before)
    abort ();
  return 0;
}
