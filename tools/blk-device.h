/* SPDX-License-Identifier: GPL-2.0-or-later */
/* VhostToolBlk: the virtio-blk device of vhost-user-blk (an image file, a block device, RAM or null), for the
 * program, the tests and the benchmarks. */
#pragma once

#include <vhost-glib/vhost-glib.h>

G_BEGIN_DECLS

#define VHOST_TOOL_BLK_SECTOR_SIZE 512
/* The most data segments of a request (seg_max). QEMU's rings have 128 descriptors by
 * default and a chain (header, data, status) may not be longer than its ring. */
#define VHOST_TOOL_BLK_SEG_MAX 126
#define VHOST_TOOL_BLK_MAX_QUEUES 64
/* The largest disk: its byte offsets must fit the signed 64-bit offsets of the
 * front-ends and guests (QEMU's int64_t, Linux's loff_t), whatever the 64-bit
 * capacity field of virtio-blk (in 512-byte sectors) could say. */
#define VHOST_TOOL_BLK_SIZE_MAX (G_MAXINT64 / VHOST_TOOL_BLK_SECTOR_SIZE * VHOST_TOOL_BLK_SECTOR_SIZE)
/* The serial number GET_ID returns unless the configuration names one. */
#define VHOST_TOOL_BLK_SERIAL_DEFAULT "vhost-glib-blk"
/* The longest serial number: GET_ID returns 20 bytes, without a NUL at that length. */
#define VHOST_TOOL_BLK_SERIAL_MAX 20

typedef enum
{
  VHOST_TOOL_BLK_BACKING_FILE, /* an image file or a block device, through io_uring */
  VHOST_TOOL_BLK_BACKING_RAM,  /* a private anonymous mapping */
  VHOST_TOOL_BLK_BACKING_NULL, /* stores nothing: reads leave the buffers as they are */
} VhostToolBlkBacking;

/* What the device serves; read by vhost_tool_blk_configure() and not kept. */
typedef struct
{
  VhostToolBlkBacking backing;
  const char *path;     /* FILE: the image or block device */
  guint64 size;         /* RAM and NULL: the size in bytes, a non-zero multiple of 512 */
  gboolean read_only;   /* VIRTIO_BLK_F_RO; FILE: opened O_RDONLY */
  gboolean direct;      /* FILE: opened with O_DIRECT */
  guint num_queues;     /* 1 to VHOST_TOOL_BLK_MAX_QUEUES; 0 means 1 */
  guint threads;        /* worker threads, queue i in thread i % threads (at most num_queues);
                         * 0: one per queue */
  const char *serial;   /* at most VHOST_TOOL_BLK_SERIAL_MAX bytes; NULL for the default */
} VhostToolBlkConfig;

/* What one queue (or all of them) did: requests given back, and those that ended
 * with VIRTIO_BLK_S_OK by type. */
typedef struct
{
  guint64 requests;       /* chains pushed back, whatever their status */
  guint64 reads;
  guint64 writes;
  guint64 flushes;
  guint64 get_ids;
  guint64 discards;       /* discard and write-zeroes requests */
  guint64 bytes_read;
  guint64 bytes_written;
  guint64 io_errors;      /* VIRTIO_BLK_S_IOERR */
  guint64 unsupported;    /* VIRTIO_BLK_S_UNSUPP */
  guint64 malformed;      /* chains without a writable status byte (pushed with length 0) */
} VhostToolBlkStats;

#define VHOST_TYPE_TOOL_BLK (vhost_tool_blk_get_type ())
G_DECLARE_FINAL_TYPE (VhostToolBlk, vhost_tool_blk, VHOST, TOOL_BLK, VhostUserSlave)

/* Set the device up once, before it serves a front-end, in the thread whose main
 * context the slave belongs to: open or map the disk, set up the queues, the features
 * and the configuration space. For a file, each queue gets an eventfd now and its
 * io_uring and request records only while it runs (from its first request after it
 * started to its stop), so that an idle device costs little per queue; io_uring is
 * tried once here. The errors are in the G_IO_ERROR domain and name the file or the
 * call that failed. */
gboolean vhost_tool_blk_configure (VhostToolBlk *self, const VhostToolBlkConfig *config, GError **error);

/* The capacity in 512-byte sectors. */
guint64 vhost_tool_blk_get_capacity (VhostToolBlk *self);

/* The number of queues the device offers. */
guint vhost_tool_blk_get_num_queues (VhostToolBlk *self);

/* The number of worker threads that serve them. */
guint vhost_tool_blk_get_threads (VhostToolBlk *self);

/* A snapshot of one queue's counters, or (queue = -1) of all of them added up; may
 * be called from any thread. */
void vhost_tool_blk_get_stats (VhostToolBlk *self, int queue, VhostToolBlkStats *stats);

G_END_DECLS
