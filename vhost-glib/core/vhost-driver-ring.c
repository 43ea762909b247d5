/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The driver side of split and packed virtqueues, as a guest's virtio driver does it. */
#include <errno.h>
#include <string.h>

#include "vhost-driver-ring.h"

#define READ_ONCE(x) (*(const volatile __typeof__ (x) *) &(x))
#define PACKED_AVAIL ((guint16) (1u << VRING_PACKED_DESC_F_AVAIL))
#define PACKED_USED ((guint16) (1u << VRING_PACKED_DESC_F_USED))

void
vhost_driver_ring_sizes (guint num, gboolean packed, guint64 *desc, guint64 *avail, guint64 *used)
{
  *desc = 16 * (guint64) num;
  if (packed)
    *avail = *used = sizeof (struct vring_packed_desc_event);
  else
    {
      *avail = 6 + 2 * (guint64) num;
      *used = 6 + 8 * (guint64) num;
    }
}

void
vhost_driver_ring_init (VhostDriverRing *ring, guint num, gboolean packed, gboolean event_idx, gboolean indirect)
{
  ring->num = num;
  ring->packed = packed;
  ring->event_idx = event_idx;
  ring->indirect = indirect;
  ring->n_free = num;
  ring->free_head = 0;
  ring->avail_idx = 0;
  ring->last_used = 0;
  ring->avail_wrap = ring->used_wrap = TRUE;
  ring->n_added = 0;
  ring->chain_len = g_new0 (guint16, num);
  ring->writable = g_new0 (guint32, num);
  ring->tags = g_new0 (guint64, num);
  if (packed)
    {
      memset (ring->pdesc, 0, 16 * (gsize) num);
      memset (ring->driver_event, 0, sizeof *ring->driver_event);
      ring->free_ids = g_new (guint16, num);
      for (guint i = 0; i < num; i++)
        ring->free_ids[i] = num - 1 - i;
      ring->n_free_ids = num;
    }
  else
    {
      memset (ring->desc, 0, 16 * (gsize) num);
      memset (ring->avail, 0, 6 + 2 * (gsize) num);
      ring->next = g_new (guint16, num);
      ring->desc_shadow = g_new0 (struct vring_desc, num);
      for (guint i = 0; i < num; i++)
        ring->next[i] = (i + 1) % num;
    }
}

void
vhost_driver_ring_clear (VhostDriverRing *ring)
{
  g_clear_pointer (&ring->chain_len, g_free);
  g_clear_pointer (&ring->writable, g_free);
  g_clear_pointer (&ring->tags, g_free);
  g_clear_pointer (&ring->free_ids, g_free);
  g_clear_pointer (&ring->next, g_free);
  g_clear_pointer (&ring->desc_shadow, g_free);
}

guint
vhost_driver_ring_in_flight (const VhostDriverRing *ring)
{
  /* Chains, not descriptors: split, one available-ring entry each. */
  return ring->packed ? ring->num - ring->n_free_ids : (guint16) (ring->avail_idx - ring->last_used);
}

/* The bytes of @in: the most a device can write into the chain. */
static guint32
writable_bytes (const VhostDriverRingBuffer *in, guint n_in)
{
  guint64 sum = 0;

  for (guint j = 0; j < n_in; j++)
    sum += in[j].len;
  return MIN (sum, G_MAXUINT32);
}

guint
vhost_driver_ring_unused (const VhostDriverRing *ring)
{
  guint in_flight = vhost_driver_ring_in_flight (ring), pos = ring->last_used, used = 0;
  gboolean wrap = ring->used_wrap;

  if (!ring->packed)
    return MIN ((guint16) (ring->avail_idx - GUINT16_FROM_LE (__atomic_load_n (&ring->used->idx, __ATOMIC_ACQUIRE))),
                in_flight);
  /* Walk the used descriptors not taken yet, chain by chain. */
  while (used < in_flight)
    {
      guint16 flags = GUINT16_FROM_LE (__atomic_load_n (&ring->pdesc[pos].flags, __ATOMIC_ACQUIRE));
      guint16 id = GUINT16_FROM_LE (READ_ONCE (ring->pdesc[pos].id));

      if (((flags & PACKED_AVAIL) != 0) != wrap || ((flags & PACKED_USED) != 0) != wrap || id >= ring->num ||
          ring->chain_len[id] == 0)
        break;
      used++;
      pos += ring->chain_len[id];
      if (pos >= ring->num)
        {
          pos -= ring->num;
          wrap = !wrap;
        }
    }
  return in_flight - used;
}

static guint16
buffer_flags (gboolean writable, gboolean next)
{
  return (writable ? VRING_DESC_F_WRITE : 0) | (next ? VRING_DESC_F_NEXT : 0);
}

/* Write descriptor @i of the split table, unless it already holds these values.
 * A chain submitted again with the same buffers (the usual case: the free list
 * hands back the chain freed last) then leaves the table's lines shared with the
 * device, which reads them, instead of taking them back from it. The comparison
 * is with a private copy, so that it does not read the shared line either (a
 * device that writes the table spoils only what it reads itself). */
static void
store_split_desc (VhostDriverRing *ring, guint16 i, guint64 addr, guint32 len, guint16 flags, guint16 next)
{
  struct vring_desc *shadow = &ring->desc_shadow[i], *d = &ring->desc[i];
  __virtio64 a = GUINT64_TO_LE (addr);
  __virtio32 l = GUINT32_TO_LE (len);
  __virtio16 f = GUINT16_TO_LE (flags), n = GUINT16_TO_LE (next);

  /* Field by field, from registers: a descriptor built on the stack and read
   * back whole would wait for its own stores, and so for every store before
   * them, such as the previous chain's to lines the device holds. */
  if (shadow->addr == a && shadow->len == l && shadow->flags == f && shadow->next == n)
    return;
  shadow->addr = d->addr = a;
  shadow->len = d->len = l;
  shadow->flags = d->flags = f;
  shadow->next = d->next = n;
}

/* Fill an indirect table for @id and return its guest address. */
static guint64
fill_indirect (VhostDriverRing *ring, guint id, const VhostDriverRingBuffer *out, guint n_out,
               const VhostDriverRingBuffer *in, guint n_in)
{
  guint n = n_out + n_in;
  guint8 *table = ring->indirect_hva + (gsize) id * ring->max_indirect * 16;

  for (guint j = 0; j < n; j++)
    {
      const VhostDriverRingBuffer *b = j < n_out ? &out[j] : &in[j - n_out];
      guint16 flags = buffer_flags (j >= n_out, !ring->packed && j + 1 < n);

      if (ring->packed)
        {
          struct vring_packed_desc *d = (struct vring_packed_desc *) table + j;

          d->addr = GUINT64_TO_LE (b->addr);
          d->len = GUINT32_TO_LE (b->len);
          d->id = 0;
          d->flags = GUINT16_TO_LE (flags);
        }
      else
        {
          struct vring_desc *d = (struct vring_desc *) table + j;

          d->addr = GUINT64_TO_LE (b->addr);
          d->len = GUINT32_TO_LE (b->len);
          d->flags = GUINT16_TO_LE (flags);
          d->next = GUINT16_TO_LE (j + 1);
        }
    }
  return ring->indirect_gpa + (guint64) id * ring->max_indirect * 16;
}

static int
split_add (VhostDriverRing *ring, const VhostDriverRingBuffer *out, guint n_out, const VhostDriverRingBuffer *in,
           guint n_in, guint64 tag)
{
  guint n = n_out + n_in;
  gboolean use_indirect = ring->indirect && n > 1 && n <= ring->max_indirect;
  guint needed = use_indirect ? 1 : n;
  guint16 head = ring->free_head, i = head;

  if (ring->n_free < needed || n == 0)
    return -ENOSPC;
  if (use_indirect)
    {
      store_split_desc (ring, head, fill_indirect (ring, head, out, n_out, in, n_in), n * 16, VRING_DESC_F_INDIRECT,
                        ring->next[head]);
      i = ring->next[head];
    }
  else
    for (guint j = 0; j < n; j++)
      {
        const VhostDriverRingBuffer *b = j < n_out ? &out[j] : &in[j - n_out];

        store_split_desc (ring, i, b->addr, b->len, buffer_flags (j >= n_out, j + 1 < n), ring->next[i]);
        i = ring->next[i];
      }
  ring->free_head = i;
  ring->n_free -= needed;
  ring->n_added++; /* split event suppression counts available-ring entries */
  ring->chain_len[head] = needed;
  ring->writable[head] = writable_bytes (in, n_in);
  ring->tags[head] = tag;
  ring->avail->ring[ring->avail_idx % ring->num] = GUINT16_TO_LE (head);
  ring->avail_idx++;
  __atomic_store_n (&ring->avail->idx, GUINT16_TO_LE (ring->avail_idx), __ATOMIC_RELEASE);
  return 0;
}

static int
packed_add (VhostDriverRing *ring, const VhostDriverRingBuffer *out, guint n_out, const VhostDriverRingBuffer *in,
            guint n_in, guint64 tag)
{
  guint n = n_out + n_in;
  gboolean use_indirect = ring->indirect && n > 1 && n <= ring->max_indirect;
  guint needed = use_indirect ? 1 : n;
  guint16 id, head = ring->avail_idx, first_flags = 0;
  guint i = head;
  gboolean wrap = ring->avail_wrap;

  if (ring->n_free < needed || ring->n_free_ids == 0 || n == 0)
    return -ENOSPC;
  id = ring->free_ids[--ring->n_free_ids];
  for (guint j = 0; j < needed; j++)
    {
      struct vring_packed_desc *d = &ring->pdesc[i];
      guint16 flags = (wrap ? PACKED_AVAIL : PACKED_USED);

      if (use_indirect)
        {
          d->addr = GUINT64_TO_LE (fill_indirect (ring, id, out, n_out, in, n_in));
          d->len = GUINT32_TO_LE (n * 16);
          flags |= VRING_DESC_F_INDIRECT;
        }
      else
        {
          const VhostDriverRingBuffer *b = j < n_out ? &out[j] : &in[j - n_out];

          d->addr = GUINT64_TO_LE (b->addr);
          d->len = GUINT32_TO_LE (b->len);
          flags |= buffer_flags (j >= n_out, j + 1 < n);
        }
      d->id = GUINT16_TO_LE (id);
      if (j == 0)
        first_flags = flags; /* published last */
      else
        d->flags = GUINT16_TO_LE (flags);
      if (++i == ring->num)
        {
          i = 0;
          wrap = !wrap;
        }
    }
  ring->n_free -= needed;
  ring->n_added += needed; /* packed event suppression counts descriptors */
  ring->chain_len[id] = needed;
  ring->writable[id] = writable_bytes (in, n_in);
  ring->tags[id] = tag;
  ring->avail_idx = i;
  ring->avail_wrap = wrap;
  __atomic_store_n (&ring->pdesc[head].flags, GUINT16_TO_LE (first_flags), __ATOMIC_RELEASE);
  return 0;
}

int
vhost_driver_ring_add (VhostDriverRing *ring, const VhostDriverRingBuffer *out, guint n_out,
                       const VhostDriverRingBuffer *in, guint n_in, guint64 tag)
{
  return ring->packed ? packed_add (ring, out, n_out, in, n_in, tag) : split_add (ring, out, n_out, in, n_in, tag);
}

gboolean
vhost_driver_ring_kick_needed (VhostDriverRing *ring)
{
  guint16 added = ring->n_added;

  if (added == 0)
    return FALSE;
  ring->n_added = 0;
  /* Our avail publication must be visible before we read the device's wishes. */
  __atomic_thread_fence (__ATOMIC_SEQ_CST);
  if (!ring->packed)
    {
      guint16 new = ring->avail_idx, old = new - added;

      if (ring->event_idx)
        return vring_need_event (GUINT16_FROM_LE (READ_ONCE (*(guint16 *) &ring->used->ring[ring->num])), new, old);
      return !(GUINT16_FROM_LE (READ_ONCE (ring->used->flags)) & VRING_USED_F_NO_NOTIFY);
    }
  else
    {
      guint16 flags = GUINT16_FROM_LE (READ_ONCE (ring->device_event->flags));
      guint16 off_wrap, event, new = ring->avail_idx, old = new - added;

      if (flags != VRING_PACKED_EVENT_FLAG_DESC || !ring->event_idx)
        return flags != VRING_PACKED_EVENT_FLAG_DISABLE;
      off_wrap = GUINT16_FROM_LE (READ_ONCE (ring->device_event->off_wrap));
      event = off_wrap & 0x7fff;
      if ((off_wrap >> 15) != ring->avail_wrap)
        event -= ring->num;
      return vring_need_event (event, new, old);
    }
}

/* A device cannot have written more than the chain's writable buffers hold, and
 * the caller must not be told it did. Some leave a chain with none the length the
 * driver gave its descriptor (DPDK's packed ring, transmitting): so the length is
 * clipped, not refused. */
static guint32
clip_len (const VhostDriverRing *ring, guint id, guint32 len)
{
  return MIN (len, ring->writable[id]);
}

static int
split_get_used (VhostDriverRing *ring, guint64 *tag, guint32 *len)
{
  guint16 used_idx = GUINT16_FROM_LE (__atomic_load_n (&ring->used->idx, __ATOMIC_ACQUIRE));
  struct vring_used_elem *e;
  guint32 id;
  guint16 i;

  if (used_idx == ring->last_used)
    return 0;
  /* The device cannot have used more chains than are in flight. */
  if ((guint16) (used_idx - ring->last_used) > vhost_driver_ring_in_flight (ring))
    return -EPROTO;
  e = &ring->used->ring[ring->last_used % ring->num];
  id = GUINT32_FROM_LE (READ_ONCE (e->id));
  *len = GUINT32_FROM_LE (READ_ONCE (e->len));
  if (id >= ring->num || ring->chain_len[id] == 0)
    return -EPROTO;
  *len = clip_len (ring, id, *len);
  ring->last_used++;
  *tag = ring->tags[id];
  ring->tags[id] = 0;
  /* Put the chain back on the free list. */
  i = id;
  for (guint j = 1; j < ring->chain_len[id]; j++)
    i = ring->next[i];
  ring->next[i] = ring->free_head;
  ring->free_head = id;
  ring->n_free += ring->chain_len[id];
  ring->chain_len[id] = 0;
  return 1;
}

static int
packed_get_used (VhostDriverRing *ring, guint64 *tag, guint32 *len)
{
  struct vring_packed_desc *d = &ring->pdesc[ring->last_used];
  guint16 flags = GUINT16_FROM_LE (__atomic_load_n (&d->flags, __ATOMIC_ACQUIRE));
  gboolean avail = (flags & PACKED_AVAIL) != 0, used = (flags & PACKED_USED) != 0;
  guint16 id;
  guint next;

  if (avail != used || used != ring->used_wrap)
    return 0;
  id = GUINT16_FROM_LE (READ_ONCE (d->id));
  *len = GUINT32_FROM_LE (READ_ONCE (d->len));
  if (id >= ring->num || ring->chain_len[id] == 0)
    return -EPROTO;
  *len = clip_len (ring, id, *len);
  *tag = ring->tags[id];
  ring->tags[id] = 0;
  next = ring->last_used + ring->chain_len[id];
  if (next >= ring->num)
    {
      next -= ring->num;
      ring->used_wrap = !ring->used_wrap;
    }
  ring->last_used = next;
  ring->n_free += ring->chain_len[id];
  ring->chain_len[id] = 0;
  ring->free_ids[ring->n_free_ids++] = id;
  return 1;
}

int
vhost_driver_ring_get_used (VhostDriverRing *ring, guint64 *tag, guint32 *len)
{
  return ring->packed ? packed_get_used (ring, tag, len) : split_get_used (ring, tag, len);
}

static gboolean
has_used (VhostDriverRing *ring)
{
  if (ring->packed)
    {
      guint16 flags = GUINT16_FROM_LE (__atomic_load_n (&ring->pdesc[ring->last_used].flags, __ATOMIC_ACQUIRE));

      return ((flags & PACKED_AVAIL) != 0) == ring->used_wrap && ((flags & PACKED_USED) != 0) == ring->used_wrap;
    }
  return GUINT16_FROM_LE (__atomic_load_n (&ring->used->idx, __ATOMIC_ACQUIRE)) != ring->last_used;
}

gboolean
vhost_driver_ring_enable_notify (VhostDriverRing *ring, gboolean enable)
{
  if (ring->packed)
    {
      guint16 flags = VRING_PACKED_EVENT_FLAG_DISABLE;

      if (enable && ring->event_idx)
        {
          ring->driver_event->off_wrap = GUINT16_TO_LE (ring->last_used | ((guint16) ring->used_wrap << 15));
          flags = VRING_PACKED_EVENT_FLAG_DESC;
        }
      else if (enable)
        flags = VRING_PACKED_EVENT_FLAG_ENABLE;
      __atomic_store_n (&ring->driver_event->flags, GUINT16_TO_LE (flags), __ATOMIC_RELEASE);
    }
  else if (ring->event_idx)
    {
      /* used_event sits after the available ring. */
      if (enable)
        __atomic_store_n (&ring->avail->ring[ring->num], GUINT16_TO_LE (ring->last_used), __ATOMIC_RELEASE);
    }
  else
    __atomic_store_n (&ring->avail->flags, GUINT16_TO_LE (enable ? 0 : VRING_AVAIL_F_NO_INTERRUPT),
                      __ATOMIC_RELEASE);
  __atomic_thread_fence (__ATOMIC_SEQ_CST);
  return has_used (ring);
}
