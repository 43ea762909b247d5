/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vhost-user-blk: a virtio-blk back-end serving an image file, a block device, RAM or nothing,
 * with asynchronous I/O through io_uring and one worker thread per queue. */
#undef G_LOG_DOMAIN /* the project-wide one is the library's */
#define G_LOG_DOMAIN "vhost-user-blk"
#define G_LOG_USE_STRUCTURED

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/virtio_blk.h>
#include <liburing.h>

#include "tool-common.h"

#define SECTOR_SIZE 512
/* The most data segments of a request. QEMU's rings have 128 descriptors by default
 * and a chain (header, data, status) may not be longer than its ring. */
#define SEG_MAX 126
/* The largest data segment. */
#define SIZE_MAX_BYTES (1024 * 1024)
/* iovecs per chain: a descriptor that crosses a guest memory region becomes two. */
#define REQUEST_IOV (2 * (SEG_MAX + 2))
/* The largest queue the front-end may set, and so the most requests in flight. */
#define QUEUE_SIZE_MAX 1024
#define MAX_QUEUES 64
/* One range per discard or write-zeroes request, of at most 1 GiB. */
#define MAX_DISCARD_SECTORS (1u << 21)
#define SERIAL_DEFAULT "vhost-glib-blk"

typedef enum
{
  BACKING_FILE,
  BACKING_RAM,
  BACKING_NULL,
} Backing;

typedef struct _BlkQueue BlkQueue;

/* One request, from its pop to its push. */
typedef struct
{
  VhostVirtqueueElement elem;
  struct iovec iov[REQUEST_IOV];   /* the chain, in guest memory */
  struct iovec data[REQUEST_IOV];  /* the data part of the chain, for readv/writev */
  guint n_data;
  guint8 *status;                  /* the chain's last writable byte, in guest memory */
  guint32 used_len;
  guint32 type;                    /* VIRTIO_BLK_T_* */
  guint64 offset;                  /* in bytes, for the rest of a short transfer */
  gsize remaining;
  int fallocate_mode;
  guint next_free;
} BlkRequest;

struct _BlkQueue
{
  struct _VhostUserBlk *blk;
  gboolean async;                  /* a file or a block device: io_uring */
  struct io_uring ring;
  int event;                       /* (owned) eventfd io_uring signals completions on */
  BlkRequest *requests;            /* (owned) QUEUE_SIZE_MAX of them */
  guint free_head;                 /* a list through next_free; QUEUE_SIZE_MAX at the end */
  guint in_flight;
  guint queued;                    /* SQEs not yet submitted */
};

#define VHOST_TYPE_USER_BLK (vhost_user_blk_get_type ())
G_DECLARE_FINAL_TYPE (VhostUserBlk, vhost_user_blk, VHOST, USER_BLK, VhostUserSlave)

struct _VhostUserBlk
{
  VhostUserSlave parent_instance;

  Backing backing;
  int fd;                          /* (owned) the image, or -1 */
  guint8 *ram;                     /* (owned) the RAM disk, or NULL */
  guint64 size;                    /* bytes */
  gboolean read_only;
  gboolean block_device;
  guint32 blk_size;
  guint8 physical_block_exp;
  char serial[VIRTIO_BLK_ID_BYTES];
  guint num_queues;
  BlkQueue queues[MAX_QUEUES];
};

G_DEFINE_FINAL_TYPE (VhostUserBlk, vhost_user_blk, VHOST_TYPE_USER_SLAVE)

static guint64
vhost_user_blk_get_features (VhostUserSlave *slave)
{
  VhostUserBlk *self = VHOST_USER_BLK (slave);
  guint64 features = VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) |
                     VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_INDIRECT_DESC) |
                     VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX) |
                     VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED) | VHOST_FEATURE_MASK (VIRTIO_BLK_F_SIZE_MAX) |
                     VHOST_FEATURE_MASK (VIRTIO_BLK_F_SEG_MAX) | VHOST_FEATURE_MASK (VIRTIO_BLK_F_BLK_SIZE) |
                     VHOST_FEATURE_MASK (VIRTIO_BLK_F_TOPOLOGY) | VHOST_FEATURE_MASK (VIRTIO_BLK_F_FLUSH) |
                     VHOST_FEATURE_MASK (VIRTIO_BLK_F_MQ);

  if (self->read_only)
    features |= VHOST_FEATURE_MASK (VIRTIO_BLK_F_RO);
  else
    features |= VHOST_FEATURE_MASK (VIRTIO_BLK_F_DISCARD) | VHOST_FEATURE_MASK (VIRTIO_BLK_F_WRITE_ZEROES);
  return features;
}

/* No in-flight tracking (a restarted back-end cannot resubmit requests) and no dirty
 * log (no migration): those are not offered. */
static guint64
vhost_user_blk_get_protocol_features (VhostUserSlave *slave)
{
  guint64 features = VHOST_USER_SLAVE_CLASS (vhost_user_blk_parent_class)->get_protocol_features (slave);

  return features & ~(guint64) (VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD | VHOST_USER_PROTOCOL_F_LOG_SHMFD);
}

static guint
vhost_user_blk_get_num_queues (VhostUserSlave *slave)
{
  return VHOST_USER_BLK (slave)->num_queues;
}

static guint
vhost_user_blk_get_max_queue_size (VhostUserSlave *slave)
{
  return QUEUE_SIZE_MAX;
}

/* Copy the `length` bytes at `skip` of `n` iovecs as iovecs into `dst`; the count. */
static guint
iov_slice (const struct iovec *src, guint n, gsize skip, gsize length, struct iovec *dst)
{
  guint count = 0;

  for (guint i = 0; i < n && length > 0; i++)
    {
      gsize len = src[i].iov_len;

      if (skip >= len)
        {
          skip -= len;
          continue;
        }
      len = MIN (len - skip, length);
      dst[count].iov_base = (guint8 *) src[i].iov_base + skip;
      dst[count].iov_len = len;
      count++;
      length -= len;
      skip = 0;
    }
  return count;
}

/* Drop the first `done` bytes of the request's data iovecs (a short transfer). */
static void
iov_advance (BlkRequest *r, gsize done)
{
  guint i = 0;

  while (i < r->n_data && done >= r->data[i].iov_len)
    done -= r->data[i++].iov_len;
  memmove (r->data, r->data + i, (r->n_data - i) * sizeof r->data[0]);
  r->n_data -= i;
  if (r->n_data > 0)
    {
      r->data[0].iov_base = (guint8 *) r->data[0].iov_base + done;
      r->data[0].iov_len -= done;
    }
}

/* Whether `length` bytes at `sector` lie inside the disk. */
static gboolean
in_range (VhostUserBlk *self, guint64 sector, guint64 length)
{
  guint64 capacity = self->size / SECTOR_SIZE;

  return length % SECTOR_SIZE == 0 && sector <= capacity && length / SECTOR_SIZE <= capacity - sector;
}

static void
request_release (BlkQueue *q, BlkRequest *r)
{
  r->next_free = q->free_head;
  q->free_head = r - q->requests;
}

/* Write the status and give the chain back. */
static void
request_complete (BlkQueue *q, VhostVirtqueue *queue, BlkRequest *r, guint8 status)
{
  if (status != VIRTIO_BLK_S_OK)
    g_debug ("Queue %u: request type %u (head %u) ends with status %u", vhost_virtqueue_get_index (queue), r->type,
             r->elem.id, status);
  *r->status = status;
  vhost_virtqueue_push (queue, &r->elem, r->used_len);
  request_release (q, r);
}

/* Queue the request's I/O on the queue's io_uring. */
static void
request_submit (BlkQueue *q, BlkRequest *r)
{
  struct io_uring_sqe *sqe = io_uring_get_sqe (&q->ring);
  int fd = q->blk->fd;

  /* Never NULL: the rings hold as many entries as requests can be in flight. */
  g_assert (sqe != NULL);
  switch (r->type)
    {
    case VIRTIO_BLK_T_IN:
      io_uring_prep_readv (sqe, fd, r->data, r->n_data, r->offset);
      break;
    case VIRTIO_BLK_T_OUT:
      io_uring_prep_writev (sqe, fd, r->data, r->n_data, r->offset);
      break;
    case VIRTIO_BLK_T_FLUSH:
      io_uring_prep_fsync (sqe, fd, IORING_FSYNC_DATASYNC);
      break;
    default: /* discard, write zeroes */
      io_uring_prep_fallocate (sqe, fd, r->fallocate_mode, r->offset, r->remaining);
      break;
    }
  io_uring_sqe_set_data (sqe, r);
  q->queued++;
  q->in_flight++;
}

/* Serve a request without I/O: RAM, null, or a quick answer. */
static guint8
request_sync (VhostUserBlk *self, BlkRequest *r)
{
  switch (r->type)
    {
    case VIRTIO_BLK_T_IN:
      if (self->backing == BACKING_RAM)
        for (guint i = 0; i < r->n_data; i++)
          {
            memcpy (r->data[i].iov_base, self->ram + r->offset, r->data[i].iov_len);
            r->offset += r->data[i].iov_len;
          }
      return VIRTIO_BLK_S_OK;
    case VIRTIO_BLK_T_OUT:
      if (self->backing == BACKING_RAM)
        for (guint i = 0; i < r->n_data; i++)
          {
            memcpy (self->ram + r->offset, r->data[i].iov_base, r->data[i].iov_len);
            r->offset += r->data[i].iov_len;
          }
      return VIRTIO_BLK_S_OK;
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES:
      if (self->backing == BACKING_RAM)
        memset (self->ram + r->offset, 0, r->remaining);
      return VIRTIO_BLK_S_OK;
    default: /* flush */
      return VIRTIO_BLK_S_OK;
    }
}

/* Check a discard or write-zeroes request (one range) and set its byte range. */
static guint8
request_parse_range (VhostUserBlk *self, BlkRequest *r, gsize out_len)
{
  struct virtio_blk_discard_write_zeroes range;
  guint64 sector;
  guint32 sectors, flags;

  if (self->read_only)
    return VIRTIO_BLK_S_IOERR;
  if (out_len != sizeof (struct virtio_blk_outhdr) + sizeof range)
    return VIRTIO_BLK_S_UNSUPP; /* max_discard_seg and max_write_zeroes_seg are 1 */
  vhost_virtqueue_element_read (&r->elem, sizeof (struct virtio_blk_outhdr), &range, sizeof range);
  sector = GUINT64_FROM_LE (range.sector);
  sectors = GUINT32_FROM_LE (range.num_sectors);
  flags = GUINT32_FROM_LE (range.flags);
  if ((flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) != 0 ||
      (r->type == VIRTIO_BLK_T_DISCARD && flags != 0))
    return VIRTIO_BLK_S_UNSUPP;
  if (sectors > MAX_DISCARD_SECTORS || !in_range (self, sector, (guint64) sectors * SECTOR_SIZE))
    return VIRTIO_BLK_S_IOERR;
  r->offset = sector * SECTOR_SIZE;
  r->remaining = (gsize) sectors * SECTOR_SIZE;
  /* A hole reads back as zeroes. Writing zeroes without UNMAP keeps the blocks. */
  if (r->type == VIRTIO_BLK_T_WRITE_ZEROES && !(flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))
    r->fallocate_mode = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
  else
    r->fallocate_mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
  return VIRTIO_BLK_S_OK;
}

/* Look at a new chain: answer it now, or queue its I/O. */
static void
request_start (BlkQueue *q, VhostVirtqueue *queue, BlkRequest *r)
{
  VhostUserBlk *self = q->blk;
  gsize out_len = vhost_virtqueue_element_get_readable_size (&r->elem);
  gsize in_len = vhost_virtqueue_element_get_writable_size (&r->elem);
  struct virtio_blk_outhdr hdr;
  guint8 status = VIRTIO_BLK_S_OK;
  guint64 sector;

  r->type = G_MAXUINT32;
  r->offset = 0;
  r->status = NULL;
  for (guint i = r->elem.n_out + r->elem.n_in; i > r->elem.n_out && r->status == NULL; i--)
    if (r->iov[i - 1].iov_len > 0)
      r->status = (guint8 *) r->iov[i - 1].iov_base + r->iov[i - 1].iov_len - 1;
  if (r->status == NULL)
    {
      g_warning ("Queue %u: a chain (head %u) without a writable status byte", vhost_virtqueue_get_index (queue),
                 r->elem.id);
      vhost_virtqueue_push (queue, &r->elem, 0);
      request_release (q, r);
      return;
    }
  r->used_len = 1;
  if (vhost_virtqueue_element_read (&r->elem, 0, &hdr, sizeof hdr) != sizeof hdr)
    {
      request_complete (q, queue, r, VIRTIO_BLK_S_IOERR);
      return;
    }
  r->type = GUINT32_FROM_LE (hdr.type);
  sector = GUINT64_FROM_LE (hdr.sector);
  switch (r->type)
    {
    case VIRTIO_BLK_T_IN:
      r->remaining = in_len - 1;
      r->used_len = in_len;
      r->n_data = iov_slice (r->iov + r->elem.n_out, r->elem.n_in, 0, r->remaining, r->data);
      r->offset = sector * SECTOR_SIZE;
      if (!in_range (self, sector, r->remaining))
        status = VIRTIO_BLK_S_IOERR;
      break;
    case VIRTIO_BLK_T_OUT:
      r->remaining = out_len - sizeof hdr;
      r->n_data = iov_slice (r->iov, r->elem.n_out, sizeof hdr, r->remaining, r->data);
      r->offset = sector * SECTOR_SIZE;
      if (self->read_only || !in_range (self, sector, r->remaining))
        status = VIRTIO_BLK_S_IOERR;
      break;
    case VIRTIO_BLK_T_FLUSH:
      break;
    case VIRTIO_BLK_T_GET_ID:
      r->used_len = 1 + vhost_virtqueue_element_write (&r->elem, 0, self->serial, MIN (in_len - 1, sizeof self->serial));
      request_complete (q, queue, r, VIRTIO_BLK_S_OK);
      return;
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES:
      /* The range's own sector and length, not the header's. */
      status = request_parse_range (self, r, out_len);
      break;
    default:
      status = VIRTIO_BLK_S_UNSUPP;
      break;
    }
  if (status != VIRTIO_BLK_S_OK)
    {
      request_complete (q, queue, r, status);
      return;
    }
  if (!q->async)
    {
      request_complete (q, queue, r, request_sync (self, r));
      return;
    }
  if ((r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_OUT) && r->remaining == 0)
    {
      request_complete (q, queue, r, VIRTIO_BLK_S_OK);
      return;
    }
  request_submit (q, r);
}

/* One completion from io_uring. */
static void
request_done (BlkQueue *q, VhostVirtqueue *queue, BlkRequest *r, int res)
{
  q->in_flight--;
  if (res < 0)
    {
      /* Some file systems cannot zero a range in place: a hole reads back as zeroes too. */
      if (res == -EOPNOTSUPP && (r->fallocate_mode & FALLOC_FL_ZERO_RANGE) && r->type == VIRTIO_BLK_T_WRITE_ZEROES)
        {
          r->fallocate_mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
          request_submit (q, r);
          return;
        }
      g_debug ("Queue %u: request type %u at byte %" G_GUINT64_FORMAT ": %s", vhost_virtqueue_get_index (queue),
               r->type, r->offset, g_strerror (-res));
      request_complete (q, queue, r, VIRTIO_BLK_S_IOERR);
      return;
    }
  if ((r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_OUT) && (gsize) res < r->remaining)
    {
      if (res == 0)
        {
          /* The image shrank under us. */
          request_complete (q, queue, r, VIRTIO_BLK_S_IOERR);
          return;
        }
      /* A short transfer: the rest. */
      r->offset += res;
      r->remaining -= res;
      iov_advance (r, res);
      request_submit (q, r);
      return;
    }
  request_complete (q, queue, r, VIRTIO_BLK_S_OK);
}

static void
queue_reap (BlkQueue *q, VhostVirtqueue *queue)
{
  struct io_uring_cqe *cqe;

  while (q->in_flight > 0 && io_uring_peek_cqe (&q->ring, &cqe) == 0)
    {
      BlkRequest *r = io_uring_cqe_get_data (cqe);
      int res = cqe->res;

      io_uring_cqe_seen (&q->ring, cqe);
      request_done (q, queue, r, res);
    }
}

static void
queue_submit (BlkQueue *q)
{
  while (q->queued > 0)
    {
      int n = io_uring_submit (&q->ring);

      if (n == -EINTR)
        continue;
      if (n < 0)
        {
          /* Out of resources for now: what is queued goes with the next call. */
          g_warning ("io_uring_submit: %s", g_strerror (-n));
          return;
        }
      q->queued -= MIN ((guint) n, q->queued);
    }
}

/* Runs in the queue's worker thread: completions first, then new requests. */
static void
blk_handle_queue (VhostVirtqueue *queue, gpointer user_data)
{
  BlkQueue *q = user_data;

  if (q->async)
    queue_reap (q, queue);
  while (q->free_head < QUEUE_SIZE_MAX)
    {
      BlkRequest *r = &q->requests[q->free_head];

      if (!vhost_virtqueue_pop (queue, &r->elem, r->iov, REQUEST_IOV))
        break;
      q->free_head = r->next_free;
      request_start (q, queue, r);
    }
  if (q->async)
    queue_submit (q);
}

/* Runs before the queue stops: every request in flight finishes and is pushed. */
static void
blk_drain_queue (VhostVirtqueue *queue, gpointer user_data)
{
  BlkQueue *q = user_data;

  if (!q->async)
    return;
  queue_submit (q);
  while (q->in_flight > 0)
    {
      struct io_uring_cqe *cqe;
      int ret = io_uring_wait_cqe (&q->ring, &cqe);

      if (ret < 0 && ret != -EINTR && ret != -EAGAIN)
        {
          g_warning ("io_uring_wait_cqe: %s", g_strerror (-ret));
          g_usleep (1000);
        }
      queue_reap (q, queue);
      queue_submit (q);
    }
}

static void
vhost_user_blk_init (VhostUserBlk *self)
{
  self->fd = -1;
  self->num_queues = 1;
  self->blk_size = SECTOR_SIZE;
  for (guint i = 0; i < MAX_QUEUES; i++)
    self->queues[i].event = -1;
}

static void
vhost_user_blk_finalize (GObject *object)
{
  VhostUserBlk *self = VHOST_USER_BLK (object);

  /* The parent's dispose stopped the queues (and drained them). */
  for (guint i = 0; i < self->num_queues; i++)
    {
      BlkQueue *q = &self->queues[i];

      if (q->async)
        io_uring_queue_exit (&q->ring);
      if (q->event >= 0)
        close (q->event);
      g_free (q->requests);
    }
  if (self->ram != NULL)
    munmap (self->ram, self->size);
  if (self->fd >= 0)
    close (self->fd);
  G_OBJECT_CLASS (vhost_user_blk_parent_class)->finalize (object);
}

static void
vhost_user_blk_class_init (VhostUserBlkClass *klass)
{
  VhostUserSlaveClass *slave_class = VHOST_USER_SLAVE_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = vhost_user_blk_finalize;
  slave_class->get_features = vhost_user_blk_get_features;
  slave_class->get_protocol_features = vhost_user_blk_get_protocol_features;
  slave_class->get_num_queues = vhost_user_blk_get_num_queues;
  slave_class->get_max_queue_size = vhost_user_blk_get_max_queue_size;
}

/* Open the image (a regular file or a block device) and find its geometry. */
static gboolean
open_image (VhostUserBlk *self, const char *path, gboolean direct, GError **error)
{
  int flags = (self->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | (direct ? O_DIRECT : 0);
  struct stat st;

  self->fd = open (path, flags);
  if (self->fd < 0 || fstat (self->fd, &st) < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot open %s: %s", path, g_strerror (saved));
      return FALSE;
    }
  if (S_ISBLK (st.st_mode))
    {
      int logical = SECTOR_SIZE;
      unsigned int physical = SECTOR_SIZE;

      self->block_device = TRUE;
      if (ioctl (self->fd, BLKGETSIZE64, &self->size) < 0 || ioctl (self->fd, BLKSSZGET, &logical) < 0)
        {
          int saved = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s: cannot read its size: %s", path,
                       g_strerror (saved));
          return FALSE;
        }
      ioctl (self->fd, BLKPBSZGET, &physical);
      self->blk_size = logical;
      for (guint exp = 0; exp < 16 && (guint) logical << exp < physical; exp++)
        self->physical_block_exp = exp + 1;
    }
  else if (S_ISREG (st.st_mode))
    self->size = st.st_size;
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s is neither a regular file nor a block device",
                   path);
      return FALSE;
    }
  if (self->size == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s is empty", path);
      return FALSE;
    }
  if (self->size % SECTOR_SIZE != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s: its size, %" G_GUINT64_FORMAT " bytes, is not a multiple of %d bytes", path, self->size,
                   SECTOR_SIZE);
      return FALSE;
    }
  return TRUE;
}

static gboolean
setup_queues (VhostUserBlk *self, GError **error)
{
  for (guint i = 0; i < self->num_queues; i++)
    {
      BlkQueue *q = &self->queues[i];
      VhostVirtqueue *queue = vhost_user_slave_get_virtqueue (VHOST_USER_SLAVE (self), i);
      int ret;

      q->blk = self;
      q->requests = g_new (BlkRequest, QUEUE_SIZE_MAX);
      for (guint j = 0; j < QUEUE_SIZE_MAX; j++)
        q->requests[j].next_free = j + 1;
      q->free_head = 0;
      q->async = self->backing == BACKING_FILE;
      if (q->async)
        {
          if ((ret = io_uring_queue_init (QUEUE_SIZE_MAX, &q->ring, 0)) < 0)
            {
              q->async = FALSE;
              g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-ret), "io_uring_queue_init: %s",
                           g_strerror (-ret));
              return FALSE;
            }
          q->event = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
          if (q->event < 0 || (ret = io_uring_register_eventfd (&q->ring, q->event)) < 0)
            {
              int saved = q->event < 0 ? errno : -ret;

              g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "io_uring eventfd: %s",
                           g_strerror (saved));
              return FALSE;
            }
          if (!vhost_virtqueue_set_event_fd (queue, q->event, error))
            return FALSE;
          vhost_virtqueue_set_drain_handler (queue, blk_drain_queue, q, NULL);
        }
      vhost_virtqueue_set_handler (queue, blk_handle_queue, q, NULL);
    }
  return TRUE;
}

static void
set_config (VhostUserBlk *self)
{
  struct virtio_blk_config config = { 0 };
  g_autoptr(GBytes) bytes = NULL;

  /* Little-endian: VIRTIO_F_VERSION_1. */
  config.capacity = GUINT64_TO_LE (self->size / SECTOR_SIZE);
  config.size_max = GUINT32_TO_LE (SIZE_MAX_BYTES);
  config.seg_max = GUINT32_TO_LE (SEG_MAX);
  config.blk_size = GUINT32_TO_LE (self->blk_size);
  config.physical_block_exp = self->physical_block_exp;
  config.min_io_size = GUINT16_TO_LE (1);
  config.num_queues = GUINT16_TO_LE (self->num_queues);
  config.max_discard_sectors = GUINT32_TO_LE (MAX_DISCARD_SECTORS);
  config.max_discard_seg = GUINT32_TO_LE (1);
  config.discard_sector_alignment = GUINT32_TO_LE (self->blk_size / SECTOR_SIZE);
  config.max_write_zeroes_sectors = GUINT32_TO_LE (MAX_DISCARD_SECTORS);
  config.max_write_zeroes_seg = GUINT32_TO_LE (1);
  config.write_zeroes_may_unmap = 1;
  bytes = g_bytes_new (&config, sizeof config);
  vhost_user_slave_set_config_space (VHOST_USER_SLAVE (self), bytes);
}

int
main (int argc, char **argv)
{
  g_auto(VhostToolOptions) options = { 0 };
  g_autofree char *blk_file = NULL, *ram = NULL, *null = NULL, *serial = NULL;
  gboolean read_only = FALSE, direct = FALSE;
  int num_queues = 1;
  const GOptionEntry entries[] = {
    { "blk-file", 'b', 0, G_OPTION_ARG_FILENAME, &blk_file, "Serve the raw image file or block device PATH", "PATH" },
    { "ram", 0, 0, G_OPTION_ARG_STRING, &ram, "Serve a RAM disk of SIZE bytes (K, M, G suffixes)", "SIZE" },
    { "null", 0, 0, G_OPTION_ARG_STRING, &null,
      "Serve a disk of SIZE bytes that stores nothing (reads leave the buffers as they are)", "SIZE" },
    { "read-only", 'r', 0, G_OPTION_ARG_NONE, &read_only, "Export the disk read-only", NULL },
    { "direct", 0, 0, G_OPTION_ARG_NONE, &direct, "Open --blk-file with O_DIRECT, bypassing the page cache", NULL },
    { "num-queues", 'q', 0, G_OPTION_ARG_INT, &num_queues, "Offer N queues, each served by its own thread (1-64)",
      "N" },
    { "serial", 0, 0, G_OPTION_ARG_STRING, &serial, "The serial number GET_ID returns (at most 20 bytes)", "TEXT" },
    { NULL }
  };
  static const char *const capabilities[] = { "read-only", "blk-file", NULL };
  g_autoptr(VhostUserBlk) blk = NULL;
  g_autoptr(GError) error = NULL;
  guint sources;
  int code;

  if ((code = vhost_tool_parse (&argc, &argv,
                                "Serves a virtio-blk device to a vhost-user front-end (QEMU, cloud-hypervisor...)\n"
                                "from an image file, a block device, RAM or nothing.",
                                entries, &options)) >= 0)
    return code;
  if (options.print_capabilities)
    {
      vhost_tool_print_capabilities ("block", capabilities);
      return VHOST_TOOL_EXIT_OK;
    }
  sources = (blk_file != NULL) + (ram != NULL) + (null != NULL);
  if (sources != 1)
    return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE, sources == 0 ? "one of --blk-file, --ram or --null is required"
                                                                : "--blk-file, --ram and --null cannot be used together");
  if (direct && blk_file == NULL)
    return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE, "--direct applies to --blk-file only");
  if (num_queues < 1 || num_queues > MAX_QUEUES)
    return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE, "--num-queues must be between 1 and %d", MAX_QUEUES);
  if (serial != NULL && strlen (serial) > VIRTIO_BLK_ID_BYTES)
    return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE, "--serial is longer than %d bytes", VIRTIO_BLK_ID_BYTES);
  if ((code = vhost_tool_check (&options)) >= 0)
    return code;

  blk = g_object_new (VHOST_TYPE_USER_BLK, NULL);
  blk->read_only = read_only;
  blk->num_queues = num_queues;
  strncpy (blk->serial, serial != NULL ? serial : SERIAL_DEFAULT, sizeof blk->serial);
  if (blk_file != NULL)
    {
      blk->backing = BACKING_FILE;
      if (!open_image (blk, blk_file, direct, &error))
        return vhost_tool_fail (VHOST_TOOL_EXIT_FAILURE, "%s", error->message);
    }
  else
    {
      blk->backing = ram != NULL ? BACKING_RAM : BACKING_NULL;
      if (!vhost_tool_parse_size (ram != NULL ? ram : null, &blk->size, &error))
        return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE, "--%s: %s", ram != NULL ? "ram" : "null", error->message);
      if (blk->size == 0)
        return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE, "--%s: the disk is empty", ram != NULL ? "ram" : "null");
      if (blk->size % SECTOR_SIZE != 0)
        return vhost_tool_fail (VHOST_TOOL_EXIT_USAGE, "--%s: %" G_GUINT64_FORMAT " is not a multiple of %d bytes",
                                ram != NULL ? "ram" : "null", blk->size, SECTOR_SIZE);
      if (ram != NULL &&
          (blk->ram = mmap (NULL, blk->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
                            0)) == MAP_FAILED)
        {
          blk->ram = NULL;
          return vhost_tool_fail (VHOST_TOOL_EXIT_FAILURE, "--ram: cannot map %" G_GUINT64_FORMAT " bytes: %s",
                                  blk->size, g_strerror (errno));
        }
    }
  if (!setup_queues (blk, &error))
    return vhost_tool_fail (VHOST_TOOL_EXIT_FAILURE, "%s", error->message);
  set_config (blk);
  g_message ("Serving %s%s: %" G_GUINT64_FORMAT " sectors, %u queue%s", blk_file != NULL ? blk_file : ram != NULL ? "a RAM disk" : "a null disk",
             read_only ? " read-only" : "", blk->size / SECTOR_SIZE, blk->num_queues, blk->num_queues > 1 ? "s" : "");
  return vhost_tool_run (VHOST_USER_SLAVE (blk), &options);
}
