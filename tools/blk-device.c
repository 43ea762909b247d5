/* SPDX-License-Identifier: GPL-2.0-or-later */
/* VhostToolBlk: the virtio-blk device of vhost-user-blk, serving an image file or a block device with asynchronous
 * I/O through io_uring, or RAM or nothing synchronously; queue i runs in worker thread i mod the threads asked for. */
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
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <linux/virtio_blk.h>
#include <liburing.h>

#include "blk-device.h"

#define SECTOR_SIZE VHOST_TOOL_BLK_SECTOR_SIZE
#define SEG_MAX VHOST_TOOL_BLK_SEG_MAX
#define MAX_QUEUES VHOST_TOOL_BLK_MAX_QUEUES
/* The largest data segment. */
#define SIZE_MAX_BYTES (1024 * 1024)
/* iovecs per chain: a descriptor that crosses a guest memory region becomes two. */
#define REQUEST_IOV (2 * (SEG_MAX + 2))
/* The largest queue the front-end may set, and so the most requests in flight. */
#define QUEUE_SIZE_MAX 1024
/* One range per discard or write-zeroes request, of at most 1 GiB. */
#define MAX_DISCARD_SECTORS (1u << 21)

G_STATIC_ASSERT (VHOST_TOOL_BLK_SERIAL_MAX == VIRTIO_BLK_ID_BYTES);
/* vhost_tool_blk_get_stats() adds the counters up as an array. */
G_STATIC_ASSERT (sizeof (VhostToolBlkStats) == 11 * sizeof (guint64));

typedef struct _BlkQueue BlkQueue;

/* One request, from its pop to its push. */
typedef struct
{
  VhostVirtqueueElement elem;
  struct iovec iov[REQUEST_IOV];   /* the chain, in guest memory */
  struct iovec data[REQUEST_IOV];  /* the data part of the chain, for readv/writev and RAM */
  guint n_data;
  guint8 *status;                  /* the chain's last writable byte, in guest memory */
  guint32 type;                    /* VIRTIO_BLK_T_* */
  guint64 offset;                  /* in bytes, for the rest of a short transfer */
  gsize remaining;
  gsize length;                    /* the data of a read or write, for the counters */
  int fallocate_mode;
  guint next_free;
} BlkRequest;

/* A queue with io_uring (a file or a block device) has its ring and its request records
 * only while it runs: the worker sets them up at the first request after the queue
 * started, the drain handler takes them down when it stops. An idle device keeps only
 * the eventfd of each queue. */
struct _BlkQueue
{
  VhostToolBlk *blk;
  VhostVirtqueue *queue;           /* (not owned) the slave's */
  gboolean async;                  /* a file or a block device: io_uring */
  struct io_uring ring;            /* set up while n_requests > 0 */
  int event;                       /* (owned) eventfd io_uring signals completions on */
  BlkRequest *requests;            /* (owned) n_requests of them with io_uring (mapped), else one */
  guint n_requests;                /* io_uring: the queue's size while it runs, else 0 */
  guint free_head;                 /* a list through next_free; QUEUE_SIZE_MAX at the end */
  guint in_flight;
  guint queued;                    /* SQEs not yet submitted */
  guint64 operations, submissions; /* SQEs and io_uring_submit() calls while the ring is up */
  VhostToolBlkStats stats;         /* written by one thread at a time (see stat_add()) */
};

struct _VhostToolBlk
{
  VhostUserSlave parent_instance;

  gboolean configured;
  VhostToolBlkBacking backing;
  int fd;                          /* (owned) the image, or -1 */
  gboolean in_memory;              /* the image is a tmpfs or ramfs file: no io_uring (request_file_sync()) */
  gboolean direct;                 /* opened with O_DIRECT: each request's I/O submitted as it is taken */
  guint8 *ram;                     /* (owned) the RAM disk, or NULL */
  guint64 size;                    /* bytes */
  gboolean read_only;
  guint32 blk_size;
  guint8 physical_block_exp;
  char serial[VIRTIO_BLK_ID_BYTES];
  guint num_queues;
  guint threads;     /* queue i runs in worker group i % threads */
  BlkQueue queues[MAX_QUEUES];
};

G_DEFINE_FINAL_TYPE (VhostToolBlk, vhost_tool_blk, VHOST_TYPE_USER_SLAVE)

static guint64
vhost_tool_blk_get_features (VhostUserSlave *slave)
{
  VhostToolBlk *self = VHOST_TOOL_BLK (slave);
  guint64 features = VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) |
                     VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_INDIRECT_DESC) |
                     VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX) |
                     VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_LOG_ALL) |
                     VHOST_FEATURE_MASK (VIRTIO_BLK_F_SIZE_MAX) |
                     VHOST_FEATURE_MASK (VIRTIO_BLK_F_SEG_MAX) | VHOST_FEATURE_MASK (VIRTIO_BLK_F_BLK_SIZE) |
                     VHOST_FEATURE_MASK (VIRTIO_BLK_F_TOPOLOGY) | VHOST_FEATURE_MASK (VIRTIO_BLK_F_FLUSH) |
                     VHOST_FEATURE_MASK (VIRTIO_BLK_F_MQ) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_ACCESS_PLATFORM);

  if (self->read_only)
    features |= VHOST_FEATURE_MASK (VIRTIO_BLK_F_RO);
  else
    features |= VHOST_FEATURE_MASK (VIRTIO_BLK_F_DISCARD) | VHOST_FEATURE_MASK (VIRTIO_BLK_F_WRITE_ZEROES);
  return features;
}

static guint
vhost_tool_blk_get_num_queues_vfunc (VhostUserSlave *slave)
{
  return VHOST_TOOL_BLK (slave)->num_queues;
}

static guint
vhost_tool_blk_get_max_queue_size (VhostUserSlave *slave)
{
  return QUEUE_SIZE_MAX;
}

/* Add to a counter. Its one writer at a time is the queue's worker, or the main
 * thread while that worker is paused (a drain); any thread may read it. */
static inline void
stat_add (guint64 *counter, guint64 n)
{
  __atomic_store_n (counter, __atomic_load_n (counter, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
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
in_range (VhostToolBlk *self, guint64 sector, guint64 length)
{
  guint64 capacity = self->size / SECTOR_SIZE;

  return length % SECTOR_SIZE == 0 && sector <= capacity && length / SECTOR_SIZE <= capacity - sector;
}

static void
request_release (BlkQueue *q, BlkRequest *r)
{
  /* Without io_uring the one request record is used again at once. */
  if (!q->async)
    return;
  r->next_free = q->free_head;
  q->free_head = r - q->requests;
}

/* Count a request that ends with `status`. */
static void
request_count (BlkQueue *q, const BlkRequest *r, guint8 status)
{
  VhostToolBlkStats *s = &q->stats;

  stat_add (&s->requests, 1);
  if (status == VIRTIO_BLK_S_IOERR)
    stat_add (&s->io_errors, 1);
  else if (status == VIRTIO_BLK_S_UNSUPP)
    stat_add (&s->unsupported, 1);
  else
    switch (r->type)
      {
      case VIRTIO_BLK_T_IN:
        stat_add (&s->reads, 1);
        stat_add (&s->bytes_read, r->length);
        break;
      case VIRTIO_BLK_T_OUT:
        stat_add (&s->writes, 1);
        stat_add (&s->bytes_written, r->length);
        break;
      case VIRTIO_BLK_T_FLUSH:
        stat_add (&s->flushes, 1);
        break;
      case VIRTIO_BLK_T_GET_ID:
        stat_add (&s->get_ids, 1);
        break;
      default: /* discard, write zeroes */
        stat_add (&s->discards, 1);
        break;
      }
}

/* Write the status and give the chain back. The status is the last writable
 * byte, so the length is all of them, as QEMU's virtio-blk gives it: the length
 * says what the dirty log of a migration covers, and it must reach the status
 * (a request that fails before its data, or a short serial, wrote less). */
static void
request_complete (BlkQueue *q, VhostVirtqueue *queue, BlkRequest *r, guint8 status)
{
  if (status != VIRTIO_BLK_S_OK)
    g_debug ("Queue %u: request type %u (head %u) ends with status %u", vhost_virtqueue_get_index (queue), r->type,
             r->elem.id, status);
  *r->status = status;
  vhost_virtqueue_push (queue, &r->elem, vhost_virtqueue_element_get_writable_size (&r->elem));
  request_count (q, r, status);
  request_release (q, r);
}

/* Submit the queued SQEs. */
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
          vhost_virtqueue_log (q->queue, G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "io_uring_submit failed",
                               "Queue %u: io_uring_submit: %s", vhost_virtqueue_get_index (q->queue), g_strerror (-n));
          return;
        }
      q->submissions++;
      q->queued -= MIN ((guint) n, q->queued);
    }
}

/* Queue the request's I/O on the queue's io_uring. With O_DIRECT it is submitted at
 * once: it goes to the device, which can start on it while the handler takes the
 * next requests (on the virtio disk of the benchmarks, one request per submission
 * gave 4 KiB random reads at depth 32 about 10 % more IOPS than a batch per call).
 * Buffered I/O, served from the page cache inline or by io_uring's kernel threads,
 * goes in one submission at the end of the handler's call: a submission per
 * request cost it 12 - 18 % of its IOPS. */
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
  q->operations++;
  if (q->blk->direct)
    queue_submit (q);
}

/* Serve a request without I/O: RAM, null, or a quick answer. */
static guint8
request_sync (VhostToolBlk *self, BlkRequest *r)
{
  if (self->backing != VHOST_TOOL_BLK_BACKING_RAM)
    return VIRTIO_BLK_S_OK;
  switch (r->type)
    {
    case VIRTIO_BLK_T_IN:
      for (guint i = 0; i < r->n_data; i++)
        {
          memcpy (r->data[i].iov_base, self->ram + r->offset, r->data[i].iov_len);
          r->offset += r->data[i].iov_len;
        }
      break;
    case VIRTIO_BLK_T_OUT:
      for (guint i = 0; i < r->n_data; i++)
        {
          memcpy (self->ram + r->offset, r->data[i].iov_base, r->data[i].iov_len);
          r->offset += r->data[i].iov_len;
        }
      break;
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES:
      memset (self->ram + r->offset, 0, r->remaining);
      break;
    default: /* flush */
      break;
    }
  return VIRTIO_BLK_S_OK;
}

/* A write-zeroes request whose file system cannot zero a range in place: a hole
 * reads back as zeroes too. TRUE if the request is to be tried again so. */
static gboolean
fallocate_fall_back (BlkRequest *r, int err)
{
  if (err != EOPNOTSUPP || !(r->fallocate_mode & FALLOC_FL_ZERO_RANGE) || r->type != VIRTIO_BLK_T_WRITE_ZEROES)
    return FALSE;
  r->fallocate_mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
  return TRUE;
}

/* Serve a request on an image in memory (tmpfs, ramfs) in the queue's worker. Such
 * I/O never waits for a device, but io_uring cannot try it without blocking (these
 * file systems take no RWF_NOWAIT), so it would hand every request to a kernel
 * worker thread: a wake-up and two context switches for a copy of a few KiB. */
static guint8
request_file_sync (VhostToolBlk *self, VhostVirtqueue *queue, BlkRequest *r)
{
  int ret = 0;

  switch (r->type)
    {
    case VIRTIO_BLK_T_IN:
    case VIRTIO_BLK_T_OUT:
      while (r->remaining > 0)
        {
          gssize n = r->type == VIRTIO_BLK_T_IN ? preadv (self->fd, r->data, r->n_data, r->offset)
                                                : pwritev (self->fd, r->data, r->n_data, r->offset);

          if (n < 0 && errno == EINTR)
            continue;
          if (n <= 0)
            {
              /* 0: the image shrank under us. */
              ret = n < 0 ? errno : EIO;
              break;
            }
          r->offset += n;
          r->remaining -= n;
          iov_advance (r, n);
        }
      break;
    case VIRTIO_BLK_T_FLUSH:
      if (fdatasync (self->fd) < 0)
        ret = errno;
      break;
    default: /* discard, write zeroes */
      while (fallocate (self->fd, r->fallocate_mode, r->offset, r->remaining) < 0)
        if (errno != EINTR && !fallocate_fall_back (r, errno))
          {
            ret = errno;
            break;
          }
      break;
    }
  if (ret == 0)
    return VIRTIO_BLK_S_OK;
  g_debug ("Queue %u: request type %u at byte %" G_GUINT64_FORMAT ": %s", vhost_virtqueue_get_index (queue), r->type,
           r->offset, g_strerror (ret));
  return VIRTIO_BLK_S_IOERR;
}

/* Check a discard or write-zeroes request (one range) and set its byte range. */
static guint8
request_parse_range (VhostToolBlk *self, BlkRequest *r, gsize out_len)
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

/* The chain's last writable byte, where the status goes, or NULL. */
static guint8 *
chain_status (const VhostVirtqueueElement *elem)
{
  for (guint i = elem->n_out + elem->n_in; i > elem->n_out; i--)
    if (elem->iov[i - 1].iov_len > 0)
      return (guint8 *) elem->iov[i - 1].iov_base + elem->iov[i - 1].iov_len - 1;
  return NULL;
}

/* Look at a new chain: answer it now, or queue its I/O. */
static void
request_start (BlkQueue *q, VhostVirtqueue *queue, BlkRequest *r)
{
  VhostToolBlk *self = q->blk;
  gsize out_len = vhost_virtqueue_element_get_readable_size (&r->elem);
  gsize in_len = vhost_virtqueue_element_get_writable_size (&r->elem);
  /* A null disk moves no data: its requests need no data iovecs. */
  gboolean data = self->backing != VHOST_TOOL_BLK_BACKING_NULL;
  struct virtio_blk_outhdr hdr;
  guint8 status = VIRTIO_BLK_S_OK;
  guint64 sector;

  r->type = G_MAXUINT32;
  r->offset = 0;
  r->length = 0;
  r->n_data = 0;
  r->status = chain_status (&r->elem);
  if (r->status == NULL)
    {
      /* The driver can send these in a loop: rate-limited. */
      vhost_virtqueue_log (queue, G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "chain without a writable status byte",
                           "Queue %u: a chain (head %u) without a writable status byte",
                           vhost_virtqueue_get_index (queue), r->elem.id);
      vhost_virtqueue_push (queue, &r->elem, 0);
      stat_add (&q->stats.requests, 1);
      stat_add (&q->stats.malformed, 1);
      request_release (q, r);
      return;
    }
  /* The header is nearly always one buffer of its own: read it in place. */
  if (r->elem.n_out > 0 && r->iov[0].iov_len >= sizeof hdr)
    memcpy (&hdr, r->iov[0].iov_base, sizeof hdr);
  else if (vhost_virtqueue_element_read (&r->elem, 0, &hdr, sizeof hdr) != sizeof hdr)
    {
      request_complete (q, queue, r, VIRTIO_BLK_S_IOERR);
      return;
    }
  r->type = GUINT32_FROM_LE (hdr.type);
  sector = GUINT64_FROM_LE (hdr.sector);
  switch (r->type)
    {
    case VIRTIO_BLK_T_IN:
      r->length = r->remaining = in_len - 1;
      if (data)
        r->n_data = iov_slice (r->iov + r->elem.n_out, r->elem.n_in, 0, r->remaining, r->data);
      r->offset = sector * SECTOR_SIZE;
      if (!in_range (self, sector, r->remaining))
        status = VIRTIO_BLK_S_IOERR;
      break;
    case VIRTIO_BLK_T_OUT:
      r->length = r->remaining = out_len - sizeof hdr;
      if (data)
        r->n_data = iov_slice (r->iov, r->elem.n_out, sizeof hdr, r->remaining, r->data);
      r->offset = sector * SECTOR_SIZE;
      if (self->read_only || !in_range (self, sector, r->remaining))
        status = VIRTIO_BLK_S_IOERR;
      break;
    case VIRTIO_BLK_T_FLUSH:
      break;
    case VIRTIO_BLK_T_GET_ID:
      vhost_virtqueue_element_write (&r->elem, 0, self->serial, MIN (in_len - 1, sizeof self->serial));
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
  if (self->in_memory)
    {
      request_complete (q, queue, r, request_file_sync (self, queue, r));
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
      if (fallocate_fall_back (r, -res))
        {
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

/* Runs in the queue's worker thread, at the first request after the queue started:
 * an io_uring and a request record for each descriptor the queue has. The
 * records are mapped apart, so that they go back to the system when the queue stops. */
static gboolean
queue_setup (BlkQueue *q, VhostVirtqueue *queue)
{
  guint n = MIN (MAX (vhost_virtqueue_get_size (queue), 1), QUEUE_SIZE_MAX);
  BlkRequest *requests;
  int ret;

  requests = mmap (NULL, n * sizeof (BlkRequest), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (requests == MAP_FAILED)
    {
      ret = -errno;
      goto fail;
    }
  if ((ret = io_uring_queue_init (n, &q->ring, 0)) < 0)
    {
      munmap (requests, n * sizeof (BlkRequest));
      goto fail;
    }
  if ((ret = io_uring_register_eventfd (&q->ring, q->event)) < 0)
    {
      io_uring_queue_exit (&q->ring);
      munmap (requests, n * sizeof (BlkRequest));
      goto fail;
    }
  for (guint j = 0; j < n; j++)
    requests[j].next_free = j + 1 < n ? j + 1 : QUEUE_SIZE_MAX;
  q->requests = requests;
  q->n_requests = n;
  q->free_head = 0;
  q->in_flight = q->queued = 0;
  q->operations = q->submissions = 0;
  return TRUE;

fail:
  vhost_virtqueue_log (queue, G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "io_uring not set up",
                       "Queue %u: setting up its io_uring of %u entries: %s; its requests fail",
                       vhost_virtqueue_get_index (queue), n, g_strerror (-ret));
  return FALSE;
}

/* The queue stopped (its drain handler, in the control thread, with nothing in
 * flight): its io_uring and its records go. */
static void
queue_teardown (BlkQueue *q)
{
  eventfd_t count;

  if (q->n_requests == 0)
    return;
  g_debug ("Queue %u: %" G_GUINT64_FORMAT " I/O operations in %" G_GUINT64_FORMAT " io_uring submissions",
           (guint) (q - q->blk->queues), q->operations, q->submissions);
  io_uring_queue_exit (&q->ring);
  munmap (q->requests, q->n_requests * sizeof (BlkRequest));
  q->requests = NULL;
  q->n_requests = 0;
  /* Nothing of the old ring may call the handler at the next start (the worker
   * watches the eventfd edge-triggered: a count left in it fires when the queue is
   * attached again), or the io_uring would come back for no request. */
  eventfd_read (q->event, &count);
}

/* No io_uring (it could not be set up): every request fails with an I/O error,
 * until a later call sets it up. */
static void
queue_fail_requests (BlkQueue *q, VhostVirtqueue *queue)
{
  BlkRequest r;

  while (vhost_virtqueue_pop (queue, &r.elem, r.iov, REQUEST_IOV))
    {
      guint8 *status = chain_status (&r.elem);

      if (status != NULL)
        *status = VIRTIO_BLK_S_IOERR;
      vhost_virtqueue_push (queue, &r.elem, status != NULL ? vhost_virtqueue_element_get_writable_size (&r.elem) : 0);
      stat_add (&q->stats.requests, 1);
      stat_add (status != NULL ? &q->stats.io_errors : &q->stats.malformed, 1);
    }
}

/* Runs in the queue's worker thread (an image file or a block device): completions
 * first, then new requests, their I/O submitted in one call. */
static void
blk_handle_queue (VhostVirtqueue *queue, gpointer user_data)
{
  BlkQueue *q = user_data;

  if (q->n_requests == 0)
    {
      BlkRequest first;

      /* Called with nothing to take (a busy-polling round, the eventfd of a ring
       * gone): no io_uring for that. */
      if (!vhost_virtqueue_pop (queue, &first.elem, first.iov, REQUEST_IOV))
        return;
      vhost_virtqueue_unpop (queue, &first.elem);
      if (!queue_setup (q, queue))
        {
          queue_fail_requests (q, queue);
          return;
        }
    }
  queue_reap (q, queue);
  while (q->free_head < QUEUE_SIZE_MAX)
    {
      BlkRequest *r = &q->requests[q->free_head];

      if (!vhost_virtqueue_pop (queue, &r->elem, r->iov, REQUEST_IOV))
        break;
      q->free_head = r->next_free;
      request_start (q, queue, r);
    }
  queue_submit (q);
}

/* Runs in the queue's worker thread (RAM and null): each request is answered as it
 * is popped, into one request record whose lines stay in this CPU's cache. */
static void
blk_handle_queue_sync (VhostVirtqueue *queue, gpointer user_data)
{
  BlkQueue *q = user_data;
  BlkRequest *r = q->requests;

  while (vhost_virtqueue_pop (queue, &r->elem, r->iov, REQUEST_IOV))
    request_start (q, queue, r);
}

/* Runs before the queue stops: every request in flight finishes and is pushed. */
static void
blk_drain_queue (VhostVirtqueue *queue, gpointer user_data)
{
  BlkQueue *q = user_data;

  queue_submit (q);
  while (q->in_flight > 0)
    {
      struct io_uring_cqe *cqe;
      int ret = io_uring_wait_cqe (&q->ring, &cqe);

      if (ret < 0 && ret != -EINTR && ret != -EAGAIN)
        {
          vhost_virtqueue_log (queue, G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "io_uring_wait_cqe failed",
                               "Queue %u: io_uring_wait_cqe: %s", vhost_virtqueue_get_index (queue), g_strerror (-ret));
          g_usleep (1000);
        }
      queue_reap (q, queue);
      queue_submit (q);
    }
  queue_teardown (q);
}

static void
vhost_tool_blk_init (VhostToolBlk *self)
{
  self->fd = -1;
  self->num_queues = 1;
  self->blk_size = SECTOR_SIZE;
  for (guint i = 0; i < MAX_QUEUES; i++)
    self->queues[i].event = -1;
}

static void
vhost_tool_blk_finalize (GObject *object)
{
  VhostToolBlk *self = VHOST_TOOL_BLK (object);

  /* The parent's dispose stopped the queues (and drained them). */
  for (guint i = 0; i < self->num_queues; i++)
    {
      BlkQueue *q = &self->queues[i];

      if (q->async)
        queue_teardown (q);
      else
        g_free (q->requests);
      if (q->event >= 0)
        close (q->event);
    }
  if (self->ram != NULL)
    munmap (self->ram, self->size);
  if (self->fd >= 0)
    close (self->fd);
  G_OBJECT_CLASS (vhost_tool_blk_parent_class)->finalize (object);
}

static void
vhost_tool_blk_class_init (VhostToolBlkClass *klass)
{
  VhostUserSlaveClass *slave_class = VHOST_USER_SLAVE_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = vhost_tool_blk_finalize;
  slave_class->get_features = vhost_tool_blk_get_features;
  slave_class->get_num_queues = vhost_tool_blk_get_num_queues_vfunc;
  slave_class->get_max_queue_size = vhost_tool_blk_get_max_queue_size;
}

/* Open the image (a regular file or a block device) and find its geometry. */
static gboolean
open_image (VhostToolBlk *self, const char *path, gboolean direct, GError **error)
{
  int flags = (self->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | (direct ? O_DIRECT : 0);
  struct stat st;

  self->fd = open (path, flags);
  self->direct = direct;
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
    {
      struct statfs fs;

      self->size = st.st_size;
      self->in_memory = fstatfs (self->fd, &fs) == 0 && (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC);
      if (self->in_memory)
        g_debug ("%s is in memory (tmpfs or ramfs): its requests are served in the queues' threads", path);
    }
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

/* Whether this process may use io_uring at all (a kernel built without it, or a
 * sysctl or a seccomp filter that forbids it): told at start-up rather than at the
 * first request. The queues' own come when they start. */
static gboolean
probe_io_uring (GError **error)
{
  struct io_uring ring;
  int ret = io_uring_queue_init (1, &ring, 0);

  if (ret < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-ret), "io_uring_queue_init: %s", g_strerror (-ret));
      return FALSE;
    }
  io_uring_queue_exit (&ring);
  return TRUE;
}

static gboolean
setup_queues (VhostToolBlk *self, GError **error)
{
  if (self->backing == VHOST_TOOL_BLK_BACKING_FILE && !probe_io_uring (error))
    return FALSE;
  for (guint i = 0; i < self->num_queues; i++)
    {
      BlkQueue *q = &self->queues[i];
      VhostVirtqueue *queue = vhost_user_slave_get_virtqueue (VHOST_USER_SLAVE (self), i);

      q->blk = self;
      q->queue = queue;
      /* A queue's handler touches nothing of the other queues: any of them may
       * share its thread. */
      vhost_virtqueue_set_worker_group (queue, i % self->threads);
      if (self->backing != VHOST_TOOL_BLK_BACKING_FILE)
        {
          q->requests = g_new (BlkRequest, 1);
          vhost_virtqueue_set_handler (queue, blk_handle_queue_sync, q, NULL);
          continue;
        }
      /* The io_uring and the records come when the queue starts (queue_setup()). */
      q->async = TRUE;
      q->event = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
      if (q->event < 0)
        {
          int saved = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "io_uring eventfd: %s", g_strerror (saved));
          return FALSE;
        }
      if (!vhost_virtqueue_set_event_fd (queue, q->event, error))
        return FALSE;
      vhost_virtqueue_set_drain_handler (queue, blk_drain_queue, q, NULL);
      vhost_virtqueue_set_handler (queue, blk_handle_queue, q, NULL);
    }
  return TRUE;
}

static void
set_config (VhostToolBlk *self)
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

gboolean
vhost_tool_blk_configure (VhostToolBlk *self, const VhostToolBlkConfig *config, GError **error)
{
  g_return_val_if_fail (VHOST_IS_TOOL_BLK (self), FALSE);
  g_return_val_if_fail (config != NULL, FALSE);
  g_return_val_if_fail (!self->configured, FALSE);
  g_return_val_if_fail (config->num_queues <= MAX_QUEUES, FALSE);
  g_return_val_if_fail (config->serial == NULL || strlen (config->serial) <= VIRTIO_BLK_ID_BYTES, FALSE);
  g_return_val_if_fail (config->backing == VHOST_TOOL_BLK_BACKING_FILE ? config->path != NULL
                                                                       : config->size > 0 &&
                                                                           config->size % SECTOR_SIZE == 0,
                        FALSE);
  g_return_val_if_fail (!config->direct || config->backing == VHOST_TOOL_BLK_BACKING_FILE, FALSE);

  self->configured = TRUE;
  self->backing = config->backing;
  self->read_only = config->read_only;
  self->num_queues = MAX (config->num_queues, 1);
  self->threads = config->threads > 0 ? MIN (config->threads, self->num_queues) : self->num_queues;
  strncpy (self->serial, config->serial != NULL ? config->serial : VHOST_TOOL_BLK_SERIAL_DEFAULT,
           sizeof self->serial);
  if (config->backing == VHOST_TOOL_BLK_BACKING_FILE)
    {
      if (!open_image (self, config->path, config->direct, error))
        return FALSE;
    }
  else
    {
      self->size = config->size;
      if (config->backing == VHOST_TOOL_BLK_BACKING_RAM &&
          (self->ram = mmap (NULL, self->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                             -1, 0)) == MAP_FAILED)
        {
          int saved = errno;

          self->ram = NULL;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot map %" G_GUINT64_FORMAT " bytes: %s",
                       self->size, g_strerror (saved));
          return FALSE;
        }
    }
  if (!setup_queues (self, error))
    return FALSE;
  set_config (self);
  return TRUE;
}

guint64
vhost_tool_blk_get_capacity (VhostToolBlk *self)
{
  g_return_val_if_fail (VHOST_IS_TOOL_BLK (self), 0);
  return self->size / SECTOR_SIZE;
}

guint
vhost_tool_blk_get_num_queues (VhostToolBlk *self)
{
  g_return_val_if_fail (VHOST_IS_TOOL_BLK (self), 0);
  return self->num_queues;
}

guint
vhost_tool_blk_get_threads (VhostToolBlk *self)
{
  g_return_val_if_fail (VHOST_IS_TOOL_BLK (self), 0);
  return self->threads;
}

void
vhost_tool_blk_get_stats (VhostToolBlk *self, int queue, VhostToolBlkStats *stats)
{
  g_return_if_fail (VHOST_IS_TOOL_BLK (self));
  g_return_if_fail (queue >= -1 && queue < (int) self->num_queues);

  memset (stats, 0, sizeof *stats);
  for (guint i = queue < 0 ? 0 : queue; i < (queue < 0 ? self->num_queues : (guint) queue + 1); i++)
    {
      const guint64 *from = (const guint64 *) &self->queues[i].stats;
      guint64 *to = (guint64 *) stats;

      /* The counters are all guint64, one after the other. */
      for (guint k = 0; k < sizeof *stats / sizeof (guint64); k++)
        to[k] += __atomic_load_n (&from[k], __ATOMIC_RELAXED);
    }
}
