/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The inflight area of the vhost-user specification ("Inflight I/O tracking"): its layout, per queue. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The area is one region per queue, each of vhost_inflight_region_size()
 * bytes; a region is a header and one entry per descriptor of the queue. The
 * layouts are the specification's DescStateSplit/QueueRegionSplit and
 * DescStatePacked/QueueRegionPacked, in the machine's byte order. The area
 * comes from the front-end and outlives the back-end process, so everything
 * read from it is checked before use. */

#define VHOST_INFLIGHT_VERSION 1
#define VHOST_INFLIGHT_ALIGN 64

typedef struct
{
  guint8 inflight;        /* the head of a chain the device holds */
  guint8 padding[5];
  guint16 next;           /* the list of the last batch of used heads */
  guint64 counter;        /* the order in which heads were taken */
} VhostInflightSplitDesc;

typedef struct
{
  guint64 features;
  guint16 version;
  guint16 desc_num;
  guint16 last_batch_head;
  guint16 used_idx;
  VhostInflightSplitDesc desc[];
} VhostInflightSplit;

typedef struct
{
  guint8 inflight;
  guint8 padding;
  guint16 next;           /* the free list */
  guint16 last;           /* head entry: the entry of the chain's last descriptor */
  guint16 num;            /* head entry: descriptors in the chain */
  guint64 counter;
  guint16 id;             /* a copy of the ring descriptor */
  guint16 flags;
  guint32 len;
  guint64 addr;
} VhostInflightPackedDesc;

typedef struct
{
  guint64 features;
  guint16 version;
  guint16 desc_num;
  guint16 free_head;
  guint16 old_free_head;
  guint16 used_idx;
  guint16 old_used_idx;
  guint8 used_wrap_counter;
  guint8 old_used_wrap_counter;
  guint8 padding[7];
  VhostInflightPackedDesc desc[];
} VhostInflightPacked;

G_STATIC_ASSERT (sizeof (VhostInflightSplitDesc) == 16);
G_STATIC_ASSERT (sizeof (VhostInflightSplit) == 16);
G_STATIC_ASSERT (sizeof (VhostInflightPackedDesc) == 32);
G_STATIC_ASSERT (sizeof (VhostInflightPacked) == 32);

/* The bytes one queue of `queue_size` descriptors takes, 64-byte aligned. */
static inline guint64
vhost_inflight_region_size (guint queue_size, gboolean packed)
{
  guint64 size = packed ? sizeof (VhostInflightPacked) + (guint64) queue_size * sizeof (VhostInflightPackedDesc)
                        : sizeof (VhostInflightSplit) + (guint64) queue_size * sizeof (VhostInflightSplitDesc);

  return (size + VHOST_INFLIGHT_ALIGN - 1) / VHOST_INFLIGHT_ALIGN * VHOST_INFLIGHT_ALIGN;
}

G_END_DECLS
