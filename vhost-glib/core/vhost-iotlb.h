/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The back-end's device IOTLB (VIRTIO_F_ACCESS_PLATFORM): I/O virtual addresses to front-end user addresses, with permissions. */
#pragma once

#include <glib.h>

#include "vhost-mem.h"

G_BEGIN_DECLS

/* The IOTLB message of the vhost-user specification: its types and permissions. */
#define VHOST_IOTLB_MISS 1
#define VHOST_IOTLB_UPDATE 2
#define VHOST_IOTLB_INVALIDATE 3
#define VHOST_IOTLB_ACCESS_FAIL 4
#define VHOST_IOTLB_PERM_READ 1
#define VHOST_IOTLB_PERM_WRITE 2
#define VHOST_IOTLB_PERM_RW 3

/* At most this many entries: an update beyond it evicts one (the device misses
 * on it again, and the front-end sends it again). */
#define VHOST_IOTLB_MAX_ENTRIES 8192

typedef struct
{
  guint64 iova;  /* the first I/O virtual address */
  guint64 last;  /* the last one (inclusive: an entry may end at 2^64 - 1) */
  guint64 uaddr; /* the front-end user address of iova */
  guint8 perm;   /* VHOST_IOTLB_PERM_* */
} VhostIotlbEntry;

/*
 * The table the front-end keeps with IOTLB_MSG updates and invalidations.
 *
 * Threads: updates, invalidations and clears run in the control thread and take
 * the lock for writing; the rings translate in their processing threads with
 * the lock held for reading, once per pop (not per descriptor), so that an
 * invalidation returns only when no chain is being translated with the entries
 * it removed. `generation` changes whenever a translation went away
 * (invalidated, replaced, evicted, cleared): a ring translates its own areas
 * again when it sees a new one.
 */
typedef struct
{
  GRWLock lock;
  GArray *entries;  /* (element-type VhostIotlbEntry) sorted, not overlapping (locked by lock) */
  guint generation; /* (atomic) */
  guint evict_next; /* (locked by lock) */
} VhostIotlb;

typedef enum
{
  VHOST_IOTLB_OK,
  VHOST_IOTLB_MISSING, /* no entry holds the address: a miss */
  VHOST_IOTLB_DENIED,  /* the entry does not allow the access */
  VHOST_IOTLB_OUTSIDE, /* the entry's user address is not in guest memory */
} VhostIotlbResult;

void vhost_iotlb_init (VhostIotlb *iotlb);
void vhost_iotlb_clear (VhostIotlb *iotlb);
void vhost_iotlb_destroy (VhostIotlb *iotlb);

/* The control thread. An update replaces what the table held for its range. */
gboolean vhost_iotlb_update (VhostIotlb *iotlb, guint64 iova, guint64 size, guint64 uaddr, guint8 perm,
                             GError **error);
/* Removes every translation of [iova, iova + size), clipped at 2^64. */
void vhost_iotlb_invalidate (VhostIotlb *iotlb, guint64 iova, guint64 size);
guint vhost_iotlb_get_n_entries (VhostIotlb *iotlb);

static inline guint
vhost_iotlb_get_generation (VhostIotlb *iotlb)
{
  return (guint) g_atomic_int_get (&iotlb->generation);
}

/* With the lock held for reading: the entry that holds @iova, or NULL. */
const VhostIotlbEntry *vhost_iotlb_lookup (VhostIotlb *iotlb, guint64 iova);

/* With the lock held for reading: the host address of @iova for an access of
 * @perm, *len (at least 1) clipped to what one entry and one region of @mem hold
 * contiguously. Otherwise why not; *uaddr is the user address the entry gave,
 * for VHOST_IOTLB_OUTSIDE. */
VhostIotlbResult vhost_iotlb_translate (VhostIotlb *iotlb, const VhostMem *mem, guint64 iova, guint8 perm,
                                        guint64 *len, void **hva, guint64 *uaddr);

/* "read", "write" or "read-write", for messages. */
const char *vhost_iotlb_perm_name (guint8 perm);

G_END_DECLS
