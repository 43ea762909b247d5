/* SPDX-License-Identifier: GPL-2.0-or-later */
/* VhostTestBlk: a virtio-blk device backed by an image file, served with VhostUserSlave. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/virtio_blk.h>

#include "blk-device.h"

#define SECTOR_SIZE 512
/* Header, data segments and status: the longest chain a driver honouring seg_max sends. */
#define MAX_IOV (VHOST_TEST_BLK_SEG_MAX + 2)

struct _VhostTestBlk
{
  VhostUserSlave parent_instance;

  int fd;                 /* the image, or -1 */
  guint64 capacity;       /* in sectors */
  guint num_queues;

  /* Counters, updated atomically by the queue workers. */
  gint reads, writes, flushes, get_ids, io_errors, unsupported, malformed;
  gint per_queue[VHOST_TEST_BLK_MAX_QUEUES];
  guint64 bytes_read, bytes_written;
};

G_DEFINE_FINAL_TYPE (VhostTestBlk, vhost_test_blk, VHOST_TYPE_USER_SLAVE)

static guint64
vhost_test_blk_get_features (VhostUserSlave *slave)
{
  return VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_INDIRECT_DESC) |
         VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX) | VHOST_FEATURE_MASK (VIRTIO_BLK_F_SEG_MAX) |
         VHOST_FEATURE_MASK (VIRTIO_BLK_F_BLK_SIZE) | VHOST_FEATURE_MASK (VIRTIO_BLK_F_FLUSH) |
         VHOST_FEATURE_MASK (VIRTIO_BLK_F_MQ);
}

static guint
vhost_test_blk_get_num_queues (VhostUserSlave *slave)
{
  return VHOST_TEST_BLK (slave)->num_queues;
}

/* Transfer `length` bytes between the image at `position` and the iovecs' bytes from
 * `offset` on (the caller checked that the iovecs hold them), straight from or into
 * guest memory. */
static gboolean
image_io (VhostTestBlk *self, gboolean write, const struct iovec *iov, guint n, gsize offset, gsize length,
          guint64 position)
{
  for (guint i = 0; i < n && length > 0; i++)
    {
      gsize len = iov[i].iov_len;
      guint8 *p;

      if (offset >= len)
        {
          offset -= len;
          continue;
        }
      p = (guint8 *) iov[i].iov_base + offset;
      len = MIN (len - offset, length);
      offset = 0;
      while (len > 0)
        {
          ssize_t r = write ? pwrite (self->fd, p, len, position) : pread (self->fd, p, len, position);

          if (r < 0 && errno == EINTR)
            continue;
          if (r < 0)
            {
              g_message ("blk: %s of %" G_GSIZE_FORMAT " bytes at %" G_GUINT64_FORMAT " failed: %s",
                         write ? "pwrite" : "pread", len, position, g_strerror (errno));
              return FALSE;
            }
          if (r == 0)
            {
              /* The image shrank under us: reads past its end. */
              g_message ("blk: pread at %" G_GUINT64_FORMAT " hit the end of the image", position);
              return FALSE;
            }
          p += r;
          len -= r;
          length -= r;
          position += r;
        }
    }
  return length == 0;
}

/* Whether `length` bytes at `sector` lie inside the disk. */
static gboolean
in_range (VhostTestBlk *self, guint64 sector, gsize length)
{
  if (length % SECTOR_SIZE != 0)
    return FALSE;
  return sector <= self->capacity && length / SECTOR_SIZE <= self->capacity - sector;
}

/* Serve one request; returns the used length (bytes written into the writable buffers). */
static guint32
blk_process (VhostTestBlk *self, const VhostVirtqueueElement *elem)
{
  const struct iovec *out = elem->iov, *in = elem->iov + elem->n_out;
  gsize out_len = vhost_virtqueue_element_get_readable_size (elem);
  gsize in_len = vhost_virtqueue_element_get_writable_size (elem);
  struct virtio_blk_outhdr hdr;
  guint8 status = VIRTIO_BLK_S_IOERR;
  gsize data_len, written = 0;
  guint64 sector;
  guint32 type;

  if (in_len < 1)
    {
      /* No room for the status: nothing can be told to the driver. */
      g_message ("blk: a chain (head %u) without a writable status byte", elem->id);
      g_atomic_int_inc (&self->malformed);
      return 0;
    }
  /* The data goes before the last writable byte, the status. */
  data_len = in_len - 1;

  /* The header may be split across buffers: copy it out. */
  if (vhost_virtqueue_element_read (elem, 0, &hdr, sizeof hdr) != sizeof hdr)
    {
      g_message ("blk: a chain (head %u) with %" G_GSIZE_FORMAT " readable bytes, short of a header", elem->id,
                 out_len);
      goto done;
    }
  type = GUINT32_FROM_LE (hdr.type);
  sector = GUINT64_FROM_LE (hdr.sector);

  switch (type)
    {
    case VIRTIO_BLK_T_IN:
      if (!in_range (self, sector, data_len))
        {
          g_message ("blk: read of %" G_GSIZE_FORMAT " bytes at sector %" G_GUINT64_FORMAT " outside the %" G_GUINT64_FORMAT
                     "-sector disk", data_len, sector, self->capacity);
          break;
        }
      if (!image_io (self, FALSE, in, elem->n_in, 0, data_len, sector * SECTOR_SIZE))
        break;
      written = data_len;
      status = VIRTIO_BLK_S_OK;
      g_atomic_int_inc (&self->reads);
      __atomic_fetch_add (&self->bytes_read, data_len, __ATOMIC_RELAXED);
      break;

    case VIRTIO_BLK_T_OUT:
      {
        gsize length = out_len - sizeof hdr;

        if (!in_range (self, sector, length))
          {
            g_message ("blk: write of %" G_GSIZE_FORMAT " bytes at sector %" G_GUINT64_FORMAT " outside the %" G_GUINT64_FORMAT
                       "-sector disk", length, sector, self->capacity);
            break;
          }
        if (!image_io (self, TRUE, out, elem->n_out, sizeof hdr, length, sector * SECTOR_SIZE))
          break;
        status = VIRTIO_BLK_S_OK;
        g_atomic_int_inc (&self->writes);
        __atomic_fetch_add (&self->bytes_written, length, __ATOMIC_RELAXED);
      }
      break;

    case VIRTIO_BLK_T_FLUSH:
      if (fsync (self->fd) < 0)
        {
          g_message ("blk: fsync failed: %s", g_strerror (errno));
          break;
        }
      status = VIRTIO_BLK_S_OK;
      g_atomic_int_inc (&self->flushes);
      break;

    case VIRTIO_BLK_T_GET_ID:
      {
        char id[VIRTIO_BLK_ID_BYTES] = { 0 };

        G_STATIC_ASSERT (sizeof VHOST_TEST_BLK_SERIAL - 1 <= VIRTIO_BLK_ID_BYTES);
        memcpy (id, VHOST_TEST_BLK_SERIAL, sizeof VHOST_TEST_BLK_SERIAL - 1);
        written = vhost_virtqueue_element_write (elem, 0, id, MIN (data_len, sizeof id));
        status = VIRTIO_BLK_S_OK;
        g_atomic_int_inc (&self->get_ids);
      }
      break;

    default:
      status = VIRTIO_BLK_S_UNSUPP;
      break;
    }

done:
  if (status == VIRTIO_BLK_S_IOERR)
    g_atomic_int_inc (&self->io_errors);
  else if (status == VIRTIO_BLK_S_UNSUPP)
    g_atomic_int_inc (&self->unsupported);
  vhost_virtqueue_element_write (elem, in_len - 1, &status, 1);
  return written + 1;
}

/* Runs in the queue's worker thread. */
static void
blk_handle_queue (VhostVirtqueue *queue, gpointer user_data)
{
  VhostTestBlk *self = user_data;
  guint index = vhost_virtqueue_get_index (queue);
  VhostVirtqueueElement elem;
  struct iovec iov[MAX_IOV];

  while (vhost_virtqueue_pop (queue, &elem, iov, G_N_ELEMENTS (iov)))
    {
      guint32 len = blk_process (self, &elem);

      if (index < VHOST_TEST_BLK_MAX_QUEUES)
        g_atomic_int_inc (&self->per_queue[index]);
      vhost_virtqueue_push (queue, &elem, len);
    }
}

static void
vhost_test_blk_init (VhostTestBlk *self)
{
  self->fd = -1;
  self->num_queues = 1;
  for (guint i = 0; i < VHOST_TEST_BLK_MAX_QUEUES; i++)
    vhost_virtqueue_set_handler (vhost_user_slave_get_virtqueue (VHOST_USER_SLAVE (self), i), blk_handle_queue,
                                 self, NULL);
}

static void
vhost_test_blk_finalize (GObject *object)
{
  VhostTestBlk *self = VHOST_TEST_BLK (object);

  /* The parent's dispose stopped the queues: no worker uses the image any more. */
  if (self->fd >= 0)
    close (self->fd);
  G_OBJECT_CLASS (vhost_test_blk_parent_class)->finalize (object);
}

static void
vhost_test_blk_class_init (VhostTestBlkClass *klass)
{
  VhostUserSlaveClass *slave_class = VHOST_USER_SLAVE_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = vhost_test_blk_finalize;
  slave_class->get_features = vhost_test_blk_get_features;
  slave_class->get_num_queues = vhost_test_blk_get_num_queues;
}

gboolean
vhost_test_blk_open (VhostTestBlk *self, const char *path, guint num_queues, GError **error)
{
  struct virtio_blk_config config = { 0 };
  g_autoptr(GBytes) bytes = NULL;
  struct stat st;
  int fd;

  g_return_val_if_fail (VHOST_IS_TEST_BLK (self), FALSE);
  g_return_val_if_fail (self->fd < 0, FALSE);
  g_return_val_if_fail (num_queues >= 1 && num_queues <= VHOST_TEST_BLK_MAX_QUEUES, FALSE);

  fd = open (path, O_RDWR | O_CLOEXEC);
  if (fd < 0 || fstat (fd, &st) < 0)
    {
      int saved = errno;

      if (fd >= 0)
        close (fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s", path, g_strerror (saved));
      return FALSE;
    }
  if (st.st_size < SECTOR_SIZE)
    {
      close (fd);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: smaller than one sector", path);
      return FALSE;
    }
  self->fd = fd;
  self->capacity = st.st_size / SECTOR_SIZE;
  self->num_queues = num_queues;

  /* Little-endian: VIRTIO_F_VERSION_1. */
  config.capacity = GUINT64_TO_LE (self->capacity);
  config.seg_max = GUINT32_TO_LE (VHOST_TEST_BLK_SEG_MAX);
  config.blk_size = GUINT32_TO_LE (SECTOR_SIZE);
  config.num_queues = GUINT16_TO_LE (num_queues);
  bytes = g_bytes_new (&config, sizeof config);
  vhost_user_slave_set_config_space (VHOST_USER_SLAVE (self), bytes);
  return TRUE;
}

guint64
vhost_test_blk_get_capacity (VhostTestBlk *self)
{
  g_return_val_if_fail (VHOST_IS_TEST_BLK (self), 0);
  return self->capacity;
}

void
vhost_test_blk_get_stats (VhostTestBlk *self, VhostTestBlkStats *stats)
{
  g_return_if_fail (VHOST_IS_TEST_BLK (self));

  memset (stats, 0, sizeof *stats);
  stats->reads = g_atomic_int_get (&self->reads);
  stats->writes = g_atomic_int_get (&self->writes);
  stats->flushes = g_atomic_int_get (&self->flushes);
  stats->get_ids = g_atomic_int_get (&self->get_ids);
  stats->io_errors = g_atomic_int_get (&self->io_errors);
  stats->unsupported = g_atomic_int_get (&self->unsupported);
  stats->malformed = g_atomic_int_get (&self->malformed);
  stats->bytes_read = __atomic_load_n (&self->bytes_read, __ATOMIC_RELAXED);
  stats->bytes_written = __atomic_load_n (&self->bytes_written, __ATOMIC_RELAXED);
  for (guint i = 0; i < VHOST_TEST_BLK_MAX_QUEUES; i++)
    stats->per_queue[i] = g_atomic_int_get (&self->per_queue[i]);
}
