/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The driver side of a split or packed virtqueue: add chains, decide kicks, take used entries. */
#pragma once

#include <linux/virtio_ring.h>
#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  guint64 addr;
  guint32 len;
} VhostDriverRingBuffer;

typedef struct
{
  /* Configuration. */
  guint num;
  gboolean packed;
  gboolean event_idx;
  gboolean indirect;
  /* Ring areas, in the driver's address space (guest memory). */
  struct vring_desc *desc;
  struct vring_avail *avail;
  struct vring_used *used;
  struct vring_packed_desc *pdesc;
  struct vring_packed_desc_event *driver_event;
  struct vring_packed_desc_event *device_event;
  /* One indirect table of max_indirect entries per descriptor slot (split) or buffer id (packed). */
  guint8 *indirect_hva;
  guint64 indirect_gpa;
  guint max_indirect;

  /* State. */
  guint16 n_free;
  guint16 free_head;     /* split: free descriptors chained through next */
  guint16 avail_idx;     /* split: next avail index; packed: next descriptor slot */
  gboolean avail_wrap;   /* packed */
  guint16 last_used;     /* split: used index seen; packed: next used slot */
  gboolean used_wrap;    /* packed */
  guint16 n_added;       /* added since the last kick decision */
  guint16 *free_ids;     /* packed: stack of free buffer ids */
  guint16 n_free_ids;
  guint16 *chain_len;    /* per head/id: ring descriptors the chain takes */
  guint32 *writable;     /* per head/id: bytes of the chain's writable buffers (at most G_MAXUINT32) */
  guint16 *next;         /* split: the free list and chains, kept here since the
                          * device can write the descriptor table */
  struct vring_desc *desc_shadow; /* split: the descriptors as last written, kept here
                                   * so that unchanged ones are not written again */
  guint64 *tags;         /* per head/id: the caller's tag */
} VhostDriverRing;

/* Bytes of guest memory each area needs and its alignment. */
void vhost_driver_ring_sizes (guint num, gboolean packed, guint64 *desc, guint64 *avail, guint64 *used);
void vhost_driver_ring_init (VhostDriverRing *ring, guint num, gboolean packed, gboolean event_idx,
                             gboolean indirect);
void vhost_driver_ring_clear (VhostDriverRing *ring);
/* 0, or -ENOSPC when the ring has no room for the chain. */
int vhost_driver_ring_add (VhostDriverRing *ring, const VhostDriverRingBuffer *out, guint n_out,
                           const VhostDriverRingBuffer *in, guint n_in, guint64 tag);
gboolean vhost_driver_ring_kick_needed (VhostDriverRing *ring);
/* 1 with *tag and *len (at most the chain's writable bytes) for a used chain, 0 if none, -EPROTO
 * (nothing taken) if the device returned an id not in flight or (split) a used index further ahead
 * than the chains in flight. */
int vhost_driver_ring_get_used (VhostDriverRing *ring, guint64 *tag, guint32 *len);
/* Ask for (or stop asking for) used-buffer notifications; TRUE if used entries are already pending. */
gboolean vhost_driver_ring_enable_notify (VhostDriverRing *ring, gboolean enable);
guint vhost_driver_ring_in_flight (const VhostDriverRing *ring);
/* How many chains in flight the device has not used yet (the others wait to be taken). */
guint vhost_driver_ring_unused (const VhostDriverRing *ring);

G_END_DECLS
