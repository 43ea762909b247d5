/* SPDX-License-Identifier: GPL-2.0-or-later */
/* VhostTestBlk: a virtio-blk device backed by an image file, served with VhostUserSlave. */
#pragma once

#include <vhost-glib/vhost-glib.h>

G_BEGIN_DECLS

/* The most queues the device offers (VIRTIO_BLK_F_MQ). */
#define VHOST_TEST_BLK_MAX_QUEUES 4
/* The most data segments of one request (seg_max). QEMU's vhost-user-blk uses rings of
 * 128 descriptors, and a chain (header, data, status) may not be longer than its ring,
 * indirect tables included. */
#define VHOST_TEST_BLK_SEG_MAX 126
/* The serial number GET_ID returns (padded with NULs to 20 bytes). */
#define VHOST_TEST_BLK_SERIAL "vhost-glib-test-blk"

#define VHOST_TYPE_TEST_BLK (vhost_test_blk_get_type ())
G_DECLARE_FINAL_TYPE (VhostTestBlk, vhost_test_blk, VHOST, TEST_BLK, VhostUserSlave)

/* What the device did, counted by its queue workers. */
typedef struct
{
  guint reads;        /* VIRTIO_BLK_T_IN completed OK */
  guint writes;       /* VIRTIO_BLK_T_OUT completed OK */
  guint flushes;      /* VIRTIO_BLK_T_FLUSH completed OK */
  guint get_ids;      /* VIRTIO_BLK_T_GET_ID completed OK */
  guint64 bytes_read;
  guint64 bytes_written;
  guint io_errors;    /* requests answered VIRTIO_BLK_S_IOERR */
  guint unsupported;  /* requests answered VIRTIO_BLK_S_UNSUPP */
  guint malformed;    /* chains without room for a status byte (pushed with length 0) */
  guint per_queue[VHOST_TEST_BLK_MAX_QUEUES]; /* requests per queue */
} VhostTestBlkStats;

/* Open `path` read-write as the device's disk (its size, rounded down to 512-byte
 * sectors, is the capacity) and offer `num_queues` queues (1 to
 * VHOST_TEST_BLK_MAX_QUEUES). Call it before the slave serves a front-end, in the
 * thread the slave belongs to. */
gboolean vhost_test_blk_open (VhostTestBlk *self, const char *path, guint num_queues, GError **error);

/* The capacity in 512-byte sectors. */
guint64 vhost_test_blk_get_capacity (VhostTestBlk *self);

/* A snapshot of the counters; may be called from any thread. */
void vhost_test_blk_get_stats (VhostTestBlk *self, VhostTestBlkStats *stats);

G_END_DECLS
