/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The device side of a split or packed virtqueue: pop chains, push them back, event suppression. */
#pragma once

#include <sys/uio.h>
#include <linux/virtio_ring.h>
#include <glib.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "vhost-mem.h"
#include "vhost-iotlb.h"

G_BEGIN_DECLS

/* Pushes are published every this many (and at the flush), so that the driver
 * starts on the first chains of a batch while the device works on the rest. The
 * packed ring keeps at most this many used descriptors back to write together. */
#define VHOST_RING_PUBLISH_BATCH 16

/* Streaming stores (vhost_virtqueue_element_write_streaming()) are weakly
 * ordered: this makes them visible before any store that follows, such as the
 * used entries or dirty-log bits that hand their data over. */
static inline void
vhost_ring_fence_streaming (void)
{
#ifdef __SSE2__
  _mm_sfence ();
#endif
}

/* One chain popped from a ring: its head id, the descriptors it takes, and its
 * n_out readable then n_in writable buffers in guest memory, in storage the
 * caller gave, and (with inflight tracking) the entry that records it. The
 * public VhostVirtqueueElement has exactly this layout
 * (vhost-virtqueue.c checks it), so a device's element is used as it is. */
typedef struct
{
  guint16 id;
  guint16 n_descs;
  guint n_out;
  guint n_in;
  guint32 slot;        /* inflight tracking: the chain's entry in the queue's region */
  struct iovec *iov;
} VhostRingElement;

typedef struct _VhostRing VhostRing;

struct _VhostRing
{
  /* Configuration, set while the ring is stopped. */
  const VhostMem *mem;
  guint index;
  guint num;
  gboolean packed;
  gboolean event_idx;
  gboolean indirect;
  gboolean log_all;     /* VHOST_F_LOG_ALL: log the device's writes to buffers */
  gboolean log_used;    /* VHOST_VRING_F_LOG: log the device's writes to the ring... */
  guint64 log_guest_addr; /* ...the split used ring's at this guest address */
  gboolean in_order;   /* VIRTIO_F_IN_ORDER: chains come back in the order they went */
  guint64 desc_uaddr;
  guint64 avail_uaddr; /* packed: the driver event suppression area */
  guint64 used_uaddr;  /* packed: the device event suppression area */
  int call_fd;         /* (not owned) -1 for none */
  /* Without a call fd, in-band notifications: called (in the processing
   * thread) where the call fd would be signalled; NULL for none. */
  void (*call_inband) (struct _VhostRing *ring, gpointer data);
  gpointer call_inband_data;
  /* VIRTIO_F_ACCESS_PLATFORM: the areas' addresses above and every buffer's are
   * I/O virtual addresses, translated through this IOTLB (NULL: they are user
   * and guest-physical addresses). A translation that is missing is reported
   * (type VHOST_IOTLB_MISS, with the serial the ring waits for in
   * `miss_serial`), and one the IOTLB refuses too (VHOST_IOTLB_ACCESS_FAIL,
   * serial 0); in the processing thread, the IOTLB's lock held for reading. */
  VhostIotlb *iotlb;   /* (nullable) (not owned) */
  void (*iotlb_report) (struct _VhostRing *ring, guint8 type, guint64 iova, guint8 perm, guint serial,
                        gpointer data);
  gpointer iotlb_report_data;
  void *inflight;      /* (nullable) this queue's region of the inflight area (vhost-inflight.h) */
  gboolean inflight_recover; /* at the next map, take up what the region says is in flight */

  /* Mapped by vhost_ring_map(). */
  struct vring_desc *desc;
  struct vring_avail *avail;
  struct vring_used *used;
  struct vring_packed_desc *pdesc;
  struct vring_packed_desc_event *driver_event;
  struct vring_packed_desc_event *device_event;

  /* Ring state. */
  guint16 last_avail;
  guint16 shadow_avail;    /* split: the driver's avail index as last read */
  gboolean avail_wrap;
  guint16 used_idx;
  gboolean used_wrap;
  gboolean used_from_ring; /* take used_idx from the used ring at the next map (split) */
  guint16 signalled_used;
  gboolean signalled_valid;
  guint16 n_pending;       /* pushed but not yet published */
  guint16 n_shadow;        /* packed: used descriptors pushed but not written yet */
  struct
  {
    guint16 pos;
    guint16 id;
    guint32 len;
    guint16 flags;
  } shadow[VHOST_RING_PUBLISH_BATCH];
  gboolean run_open;       /* packed in-order: zero-length pushes not yet written, which */
  guint16 run_pos;         /* one used descriptor at run_pos (with run_wrap) will cover, */
  gboolean run_wrap;       /* carrying the last one's id */
  guint16 run_id;
  guint unsignalled;       /* published since the last notification decision */
  gboolean logged;         /* writes were logged since the front-end was last told */

  /* With an IOTLB. The areas are translated when the ring maps, and again
   * before the next pop once the IOTLB lost translations (a new generation).
   * While one is missing, nothing is popped; pushes and notifications go on
   * where the areas were. */
  guint iotlb_generation;  /* the IOTLB's generation the areas were translated in */
  gboolean areas_pending;  /* the areas wait for a translation */
  gboolean map_pending;    /* the first translation is yet to come: the rest of the map waits for it */
  /* The miss the ring waits for: written by the processing thread, cleared by
   * the control thread when an update covers it (then the queue is kicked). */
  guint miss_serial;       /* (atomic) 0: none */
  guint64 miss_iova;       /* (atomic) */
  guint8 miss_perm;        /* (atomic) */

  /* Inflight tracking. */
  guint64 inflight_counter; /* the order number of the next chain taken */
  guint n_resubmit;         /* chains of an earlier process still to give the device again */
  guint64 resubmit_next;    /* the smallest order number among them */
  guint64 resubmit_end;     /* order numbers below this one are resubmissions */
  guint16 batch[VHOST_RING_PUBLISH_BATCH]; /* the slots pushed since the last publish */

  gboolean broken;
  char error[200];
};

void vhost_ring_init (VhostRing *ring, guint index);
void vhost_ring_set_base (VhostRing *ring, guint32 base);
guint32 vhost_ring_get_base (const VhostRing *ring);
guint vhost_ring_taken_since (const VhostRing *ring, guint32 base);
gboolean vhost_ring_map (VhostRing *ring);

int vhost_ring_pop (VhostRing *ring, VhostRingElement *elem, struct iovec *iov, guint max_iov);
/* Pop up to @n chains, as n vhost_ring_pop() calls would: chain k gets the iovecs
 * at @iov + k * @max_iov. Returns how many were popped; fewer than @n when the ring
 * ran empty or broke. */
guint vhost_ring_pop_batch (VhostRing *ring, VhostRingElement *elems, struct iovec *iov, guint max_iov, guint n);
/* Give back the last chain popped (not pushed); chains go back in reverse order. */
void vhost_ring_unpop (VhostRing *ring, const VhostRingElement *elem);
void vhost_ring_push (VhostRing *ring, const VhostRingElement *elem, guint32 len);
void vhost_ring_flush (VhostRing *ring);
gboolean vhost_ring_should_notify (VhostRing *ring);
gboolean vhost_ring_notify (VhostRing *ring);
gboolean vhost_ring_has_avail (VhostRing *ring);
/* Ask the driver for kicks, or not. With event idx, TRUE when chains arrived
 * past the point the kicks were asked from, while asking. */
gboolean vhost_ring_set_kicks (VhostRing *ring, gboolean enable);
void vhost_ring_fail (VhostRing *ring, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* Inflight tracking (vhost-ring-inflight.c), at map time: initialise a fresh
 * region, or take up one that an earlier process left (reconcile its last batch,
 * count what is in flight, set the ring positions from it). FALSE if the region
 * is malformed (the ring is then broken). */
gboolean vhost_ring_inflight_start (VhostRing *ring);

G_END_DECLS
