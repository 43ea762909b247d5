/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Inflight tracking at ring start: a fresh region initialised, or one that an earlier back-end left taken up. */
#include <string.h>

#include "vhost-ring.h"
#include "vhost-inflight.h"

#define READ_ONCE(x) (*(const volatile __typeof__ (x) *) &(x))
#define PACKED_AVAIL ((guint16) (1u << VRING_PACKED_DESC_F_AVAIL))
#define PACKED_USED ((guint16) (1u << VRING_PACKED_DESC_F_USED))

/* The region is new (version 0) or reused: start it from the ring's position. */
static void
split_init (VhostRing *ring, VhostInflightSplit *region)
{
  memset (region->desc, 0, ring->num * sizeof region->desc[0]);
  region->features = 0;
  region->desc_num = ring->num;
  region->last_batch_head = 0;
  region->used_idx = ring->used_idx;
  __atomic_store_n (&region->version, VHOST_INFLIGHT_VERSION, __ATOMIC_RELEASE);
}

static void
packed_init (VhostRing *ring, VhostInflightPacked *region)
{
  memset (region->desc, 0, ring->num * sizeof region->desc[0]);
  for (guint i = 0; i < ring->num; i++)
    region->desc[i].next = i + 1;
  region->features = 0;
  region->desc_num = ring->num;
  region->free_head = region->old_free_head = 0;
  region->used_idx = region->old_used_idx = ring->used_idx;
  region->used_wrap_counter = region->old_used_wrap_counter = ring->used_wrap;
  __atomic_store_n (&region->version, VHOST_INFLIGHT_VERSION, __ATOMIC_RELEASE);
}

/* The chains in flight: how many, the descriptors they take (packed), and the
 * next order number. */
static gboolean
count_inflight (VhostRing *ring, guint *n_chains, guint *n_descs)
{
  guint64 next = 0;

  *n_chains = *n_descs = 0;
  for (guint i = 0; i < ring->num; i++)
    {
      guint8 inflight;
      guint64 counter;
      guint num = 1;

      if (ring->packed)
        {
          VhostInflightPacked *region = ring->inflight;

          inflight = READ_ONCE (region->desc[i].inflight);
          counter = READ_ONCE (region->desc[i].counter);
          num = READ_ONCE (region->desc[i].num);
        }
      else
        {
          VhostInflightSplit *region = ring->inflight;

          inflight = READ_ONCE (region->desc[i].inflight);
          counter = READ_ONCE (region->desc[i].counter);
        }
      if (inflight > 1 || (inflight == 1 && (num == 0 || counter == G_MAXUINT64)))
        {
          vhost_ring_fail (ring, "the inflight region's entry %u is malformed", i);
          return FALSE;
        }
      if (inflight == 0)
        continue;
      *n_chains += 1;
      *n_descs += num;
      next = MAX (next, counter + 1);
    }
  if (*n_descs > ring->num)
    {
      vhost_ring_fail (ring, "the inflight region holds %u descriptors in flight, more than the queue's %u", *n_descs,
                       ring->num);
      return FALSE;
    }
  ring->inflight_counter = next;
  ring->n_resubmit = *n_chains;
  ring->resubmit_next = 0;
  ring->resubmit_end = next;
  if (*n_chains > 0)
    g_debug ("Queue %u: %u chains in flight in an earlier back-end go to the device again", ring->index, *n_chains);
  return TRUE;
}

/* Split, as the specification says: a last batch that reached the used ring is
 * no longer in flight; what still is was taken from the available ring after
 * everything used, so the ring goes on past it. */
static gboolean
split_take_up (VhostRing *ring, VhostInflightSplit *region)
{
  guint16 used = GUINT16_FROM_LE (__atomic_load_n (&ring->used->idx, __ATOMIC_ACQUIRE));
  guint16 batch = used - READ_ONCE (region->used_idx);
  guint16 entry = READ_ONCE (region->last_batch_head);
  guint n_chains, n_descs;

  if (batch > ring->num)
    {
      vhost_ring_fail (ring, "the used ring is %u entries past the inflight region's, more than a queue of %u",
                       batch, ring->num);
      return FALSE;
    }
  for (guint k = 0; k < batch; k++)
    {
      if (entry >= ring->num)
        {
          vhost_ring_fail (ring, "the inflight region's last batch links entry %u, outside a queue of %u", entry,
                           ring->num);
          return FALSE;
        }
      __atomic_store_n (&region->desc[entry].inflight, 0, __ATOMIC_RELEASE);
      entry = READ_ONCE (region->desc[entry].next);
    }
  __atomic_store_n (&region->used_idx, used, __ATOMIC_RELEASE);
  if (!count_inflight (ring, &n_chains, &n_descs))
    return FALSE;
  ring->used_idx = used;
  ring->last_avail = ring->shadow_avail = used + n_chains;
  return TRUE;
}

/* Packed, as the specification says: a last batch whose first used descriptor
 * reached the ring is committed, any other change since the last commit rolled
 * back; the free list is not in flight; the descriptors in flight were taken
 * from the ring after everything used, so the ring goes on past them. */
static gboolean
packed_take_up (VhostRing *ring, VhostInflightPacked *region)
{
  guint16 old_used = READ_ONCE (region->old_used_idx);
  gboolean old_wrap = READ_ONCE (region->old_used_wrap_counter) != 0;
  guint n_chains, n_descs, entry, pos;

  if (old_used >= ring->num || READ_ONCE (region->used_idx) >= ring->num)
    {
      vhost_ring_fail (ring, "the inflight region's used position is outside a queue of %u", ring->num);
      return FALSE;
    }
  if (READ_ONCE (region->used_idx) != old_used || (READ_ONCE (region->used_wrap_counter) != 0) != old_wrap)
    {
      guint16 flags = GUINT16_FROM_LE (__atomic_load_n (&ring->pdesc[old_used].flags, __ATOMIC_ACQUIRE));
      guint16 avail = old_wrap ? PACKED_AVAIL : PACKED_USED;

      if ((flags & (PACKED_AVAIL | PACKED_USED)) != avail)
        {
          /* The batch reached the driver: commit it. */
          region->old_free_head = READ_ONCE (region->free_head);
          region->old_used_idx = old_used = READ_ONCE (region->used_idx);
          region->old_used_wrap_counter = old_wrap = READ_ONCE (region->used_wrap_counter) != 0;
        }
    }
  region->free_head = READ_ONCE (region->old_free_head);
  region->used_idx = old_used;
  region->used_wrap_counter = old_wrap;
  entry = region->free_head;
  for (guint k = 0; k < ring->num && entry < ring->num; k++)
    {
      __atomic_store_n (&region->desc[entry].inflight, 0, __ATOMIC_RELEASE);
      entry = READ_ONCE (region->desc[entry].next);
    }
  if (!count_inflight (ring, &n_chains, &n_descs))
    return FALSE;
  ring->used_idx = old_used;
  ring->used_wrap = old_wrap;
  pos = old_used + n_descs;
  ring->avail_wrap = old_wrap;
  if (pos >= ring->num)
    {
      pos -= ring->num;
      ring->avail_wrap = !ring->avail_wrap;
    }
  ring->last_avail = pos;
  return TRUE;
}

/* At every start: the first of a session takes up what the region holds (or
 * starts a new one); a later one starts the region again from the ring's
 * position, since a stopped queue holds no chain (its drain gave everything
 * back), unless chains of an earlier process are still to be given again, or
 * the queue was suspended (GET_VRING_BASE_INFLIGHT) with chains in flight: it
 * takes them up as a new process would. */
gboolean
vhost_ring_inflight_start (VhostRing *ring)
{
  guint16 version, desc_num;

  if (ring->packed)
    {
      version = READ_ONCE (((VhostInflightPacked *) ring->inflight)->version);
      desc_num = READ_ONCE (((VhostInflightPacked *) ring->inflight)->desc_num);
    }
  else
    {
      version = READ_ONCE (((VhostInflightSplit *) ring->inflight)->version);
      desc_num = READ_ONCE (((VhostInflightSplit *) ring->inflight)->desc_num);
    }
  if ((ring->inflight_recover && version == 0) || (!ring->inflight_recover && ring->n_resubmit == 0))
    {
      if (ring->packed)
        packed_init (ring, ring->inflight);
      else
        split_init (ring, ring->inflight);
      ring->inflight_counter = 0;
      ring->resubmit_end = 0;
      return TRUE;
    }
  if (version != VHOST_INFLIGHT_VERSION || desc_num != ring->num)
    {
      vhost_ring_fail (ring, "the inflight region has version %u for %u descriptors; this queue has %u", version,
                       desc_num, ring->num);
      return FALSE;
    }
  if (!ring->inflight_recover)
    return TRUE;
  return ring->packed ? packed_take_up (ring, ring->inflight) : split_take_up (ring, ring->inflight);
}
