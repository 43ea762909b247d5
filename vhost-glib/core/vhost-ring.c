/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The device side of split and packed virtqueues. Every index, address and length
 * read from guest memory is checked before use; a bad one marks the ring broken. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/eventfd.h>

#include "vhost-ring.h"

#define READ_ONCE(x) (*(const volatile __typeof__ (x) *) &(x))
#define PACKED_AVAIL ((guint16) (1u << VRING_PACKED_DESC_F_AVAIL))
#define PACKED_USED ((guint16) (1u << VRING_PACKED_DESC_F_USED))

void
vhost_ring_init (VhostRing *ring, guint index)
{
  memset (ring, 0, sizeof *ring);
  ring->index = index;
  ring->call_fd = -1;
  ring->avail_wrap = ring->used_wrap = TRUE;
}

void
vhost_ring_fail (VhostRing *ring, const char *format, ...)
{
  va_list args;
  int n;

  if (ring->broken)
    return;
  ring->broken = TRUE;
  n = snprintf (ring->error, sizeof ring->error, "vring %u: ", ring->index);
  va_start (args, format);
  vsnprintf (ring->error + n, sizeof ring->error - n, format, args);
  va_end (args);
}

void
vhost_ring_set_base (VhostRing *ring, guint32 base)
{
  if (ring->packed)
    {
      ring->last_avail = ring->used_idx = base & 0x7fff;
      ring->avail_wrap = ring->used_wrap = (base >> 15) & 1;
    }
  else
    {
      ring->last_avail = ring->used_idx = ring->shadow_avail = base;
      ring->used_from_ring = TRUE;
    }
  ring->signalled_valid = FALSE;
  ring->n_pending = 0;
  ring->n_shadow = 0;
  ring->run_open = FALSE;
  ring->unsignalled = 0;
  ring->broken = FALSE;
  ring->error[0] = '\0';
}

guint32
vhost_ring_get_base (const VhostRing *ring)
{
  if (ring->packed)
    return ring->last_avail | ((guint32) ring->avail_wrap << 15);
  return ring->last_avail;
}

static void *
map_area (VhostRing *ring, const char *what, guint64 uaddr, guint64 size, guint64 align)
{
  void *hva;

  if (uaddr % align != 0)
    {
      vhost_ring_fail (ring, "the %s at 0x%" G_GINT64_MODIFIER "x is not %" G_GUINT64_FORMAT "-byte aligned", what,
                       uaddr, align);
      return NULL;
    }
  hva = vhost_mem_uaddr_to_hva (ring->mem, uaddr, size);
  if (hva == NULL)
    vhost_ring_fail (ring, "the %s at 0x%" G_GINT64_MODIFIER "x (%" G_GUINT64_FORMAT " bytes) is not inside guest memory",
                     what, uaddr, size);
  return hva;
}

gboolean
vhost_ring_map (VhostRing *ring)
{
  guint64 num = ring->num;

  if (ring->broken)
    return FALSE;
  if (num == 0 || num > 32768)
    {
      vhost_ring_fail (ring, "a queue size of %u", ring->num);
      return FALSE;
    }
  if (ring->packed)
    {
      /* The base comes from the front-end, or from a run with another size. */
      if (ring->last_avail >= num || ring->used_idx >= num)
        {
          vhost_ring_fail (ring, "the packed ring position %u is outside a queue of %u",
                           MAX (ring->last_avail, ring->used_idx), ring->num);
          return FALSE;
        }
      ring->pdesc = map_area (ring, "descriptor ring", ring->desc_uaddr, 16 * num, 16);
      ring->driver_event = map_area (ring, "driver event area", ring->avail_uaddr, 4, 4);
      ring->device_event = map_area (ring, "device event area", ring->used_uaddr, 4, 4);
      return !ring->broken;
    }
  ring->desc = map_area (ring, "descriptor table", ring->desc_uaddr, 16 * num, 16);
  ring->avail = map_area (ring, "available ring", ring->avail_uaddr, 6 + 2 * num, 2);
  ring->used = map_area (ring, "used ring", ring->used_uaddr, 6 + 8 * num, 4);
  if (ring->broken)
    return FALSE;
  if (ring->used_from_ring)
    {
      ring->used_idx = __atomic_load_n (&ring->used->idx, __ATOMIC_ACQUIRE);
      ring->used_from_ring = FALSE;
    }
  return TRUE;
}

/* The walk of one chain: where its iovecs go. */
typedef struct
{
  VhostRingElement *elem;
  struct iovec *iov;
  guint max_iov;
} Walk;

/* Append the buffer [addr, addr + len) to the walk, one iovec per region it touches. */
static gboolean
walk_add (VhostRing *ring, Walk *walk, guint64 addr, guint32 len, gboolean writable)
{
  VhostRingElement *elem = walk->elem;

  if (!writable && elem->n_in > 0)
    {
      vhost_ring_fail (ring, "a readable descriptor follows a writable one");
      return FALSE;
    }
  if (addr + len < addr)
    {
      vhost_ring_fail (ring, "the buffer at 0x%" G_GINT64_MODIFIER "x (%u bytes) wraps past 2^64", addr, len);
      return FALSE;
    }
  while (len > 0)
    {
      guint64 n = len;
      void *hva = vhost_mem_gpa_to_hva (ring->mem, addr, &n);
      guint i = elem->n_out + elem->n_in;

      if (hva == NULL)
        {
          vhost_ring_fail (ring, "the buffer at 0x%" G_GINT64_MODIFIER "x (%u bytes) is not inside guest memory", addr,
                           len);
          return FALSE;
        }
      if (i >= walk->max_iov)
        {
          vhost_ring_fail (ring, "a descriptor chain needs more than %u iovecs", walk->max_iov);
          return FALSE;
        }
      walk->iov[i].iov_base = hva;
      walk->iov[i].iov_len = n;
      if (writable)
        elem->n_in++;
      else
        elem->n_out++;
      addr += n;
      len -= n;
    }
  return TRUE;
}

/* Map an indirect table; NULL (ring broken) unless it is well formed. */
static const void *
map_indirect (VhostRing *ring, guint64 addr, guint32 len, guint *n)
{
  const void *table;

  if (!ring->indirect)
    {
      vhost_ring_fail (ring, "an indirect descriptor, but VIRTIO_F_INDIRECT_DESC was not negotiated");
      return NULL;
    }
  if (len == 0 || len % 16 != 0)
    {
      vhost_ring_fail (ring, "an indirect table of %u bytes (not a positive multiple of 16)", len);
      return NULL;
    }
  if (len / 16 > ring->num)
    {
      vhost_ring_fail (ring, "an indirect table of %u descriptors, longer than the queue (%u)", len / 16, ring->num);
      return NULL;
    }
  table = vhost_mem_gpa_to_hva_whole (ring->mem, addr, len);
  if (table == NULL)
    {
      vhost_ring_fail (ring, "the indirect table at 0x%" G_GINT64_MODIFIER "x (%u bytes) is not inside one region of guest memory",
                       addr, len);
      return NULL;
    }
  /* An array of descriptors (8-byte fields): read in place, it must be aligned. */
  if ((guintptr) table % 8 != 0)
    {
      vhost_ring_fail (ring, "the indirect table at 0x%" G_GINT64_MODIFIER "x is not 8-byte aligned", addr);
      return NULL;
    }
  *n = len / 16;
  return table;
}

static int
split_walk (VhostRing *ring, guint16 head, Walk *walk)
{
  const struct vring_desc *table = ring->desc;
  guint max = ring->num, i = head, count = 0;
  gboolean in_indirect = FALSE;

  if (head >= ring->num)
    {
      vhost_ring_fail (ring, "the available ring names descriptor %u of a queue of %u", head, ring->num);
      return -1;
    }
  for (;;)
    {
      guint64 addr = GUINT64_FROM_LE (READ_ONCE (table[i].addr));
      guint32 len = GUINT32_FROM_LE (READ_ONCE (table[i].len));
      guint16 flags = GUINT16_FROM_LE (READ_ONCE (table[i].flags));
      guint16 next = GUINT16_FROM_LE (READ_ONCE (table[i].next));

      if (flags & VRING_DESC_F_INDIRECT)
        {
          if (in_indirect)
            {
              vhost_ring_fail (ring, "an indirect table inside an indirect table");
              return -1;
            }
          if (count > 0 || (flags & VRING_DESC_F_NEXT))
            {
              vhost_ring_fail (ring, "an indirect descriptor that is not alone in its chain");
              return -1;
            }
          table = map_indirect (ring, addr, len, &max);
          if (table == NULL)
            return -1;
          in_indirect = TRUE;
          i = 0;
          continue;
        }
      if (++count > max)
        {
          vhost_ring_fail (ring, "a descriptor chain longer than its table (%u): a loop", max);
          return -1;
        }
      if (!walk_add (ring, walk, addr, len, (flags & VRING_DESC_F_WRITE) != 0))
        return -1;
      if (!(flags & VRING_DESC_F_NEXT))
        break;
      i = next;
      if (i >= max)
        {
          vhost_ring_fail (ring, "a descriptor's next index %u is outside its table (%u)", i, max);
          return -1;
        }
    }
  walk->elem->id = head;
  walk->elem->n_descs = 1;
  return 1;
}

/* Whether the available ring holds chains past last_avail. The driver's index is
 * read only when the copy from the last read is used up: that cache line is the
 * one the driver writes most. */
static gboolean
split_has_avail (VhostRing *ring)
{
  guint16 avail_idx;

  if (ring->shadow_avail != ring->last_avail)
    return TRUE;
  avail_idx = GUINT16_FROM_LE (__atomic_load_n (&ring->avail->idx, __ATOMIC_ACQUIRE));
  if ((guint16) (avail_idx - ring->last_avail) > ring->num)
    {
      vhost_ring_fail (ring, "the available index jumped from %u to %u, more than the queue size %u", ring->last_avail,
                       avail_idx, ring->num);
      return FALSE;
    }
  ring->shadow_avail = avail_idx;
  return avail_idx != ring->last_avail;
}

static int
split_pop (VhostRing *ring, Walk *walk)
{
  guint16 head;

  if (!split_has_avail (ring))
    return ring->broken ? -1 : 0;
  head = GUINT16_FROM_LE (READ_ONCE (ring->avail->ring[ring->last_avail % ring->num]));
  if (split_walk (ring, head, walk) < 0)
    return -1;
  ring->last_avail++;
  return 1;
}

static gboolean
packed_is_avail (guint16 flags, gboolean wrap)
{
  return ((flags & PACKED_AVAIL) != 0) == wrap && ((flags & PACKED_USED) != 0) != wrap;
}

static int
packed_pop (VhostRing *ring, Walk *walk)
{
  guint i = ring->last_avail, count = 0;
  gboolean wrap = ring->avail_wrap;
  guint16 flags = GUINT16_FROM_LE (__atomic_load_n (&ring->pdesc[i].flags, __ATOMIC_ACQUIRE));
  guint16 id;

  if (!packed_is_avail (flags, wrap))
    return 0;
  /* The next chains' descriptors (the next cache line): on their way meanwhile. */
  if (ring->num >= 8)
    __builtin_prefetch (&ring->pdesc[i + 4 < ring->num ? i + 4 : i + 4 - ring->num]);
  for (;;)
    {
      const struct vring_packed_desc *d = &ring->pdesc[i];
      guint64 addr = GUINT64_FROM_LE (READ_ONCE (d->addr));
      guint32 len = GUINT32_FROM_LE (READ_ONCE (d->len));

      id = GUINT16_FROM_LE (READ_ONCE (d->id));
      if (count > 0)
        flags = GUINT16_FROM_LE (READ_ONCE (d->flags));
      if (++count > ring->num)
        {
          vhost_ring_fail (ring, "a descriptor chain longer than the queue (%u)", ring->num);
          return -1;
        }
      if (flags & VRING_DESC_F_INDIRECT)
        {
          const struct vring_packed_desc *table;
          guint n;

          if (count > 1 || (flags & VRING_DESC_F_NEXT))
            {
              vhost_ring_fail (ring, "an indirect descriptor that is not alone in its chain");
              return -1;
            }
          table = map_indirect (ring, addr, len, &n);
          if (table == NULL)
            return -1;
          for (guint j = 0; j < n; j++)
            {
              guint16 f = GUINT16_FROM_LE (READ_ONCE (table[j].flags));

              if (f & VRING_DESC_F_INDIRECT)
                {
                  vhost_ring_fail (ring, "an indirect table inside an indirect table");
                  return -1;
                }
              if (!walk_add (ring, walk, GUINT64_FROM_LE (READ_ONCE (table[j].addr)),
                             GUINT32_FROM_LE (READ_ONCE (table[j].len)), (f & VRING_DESC_F_WRITE) != 0))
                return -1;
            }
          break;
        }
      if (!walk_add (ring, walk, addr, len, (flags & VRING_DESC_F_WRITE) != 0))
        return -1;
      if (!(flags & VRING_DESC_F_NEXT))
        break;
      if (++i == ring->num)
        {
          i = 0;
          wrap = !wrap;
        }
    }
  walk->elem->id = id;
  walk->elem->n_descs = count;
  i = ring->last_avail + count;
  if (i >= ring->num)
    {
      i -= ring->num;
      ring->avail_wrap = !ring->avail_wrap;
    }
  ring->last_avail = i;
  return 1;
}

int
vhost_ring_pop (VhostRing *ring, VhostRingElement *elem, struct iovec *iov, guint max_iov)
{
  Walk walk = { elem, iov, max_iov };

  if (ring->broken)
    return -1;
  elem->n_out = elem->n_in = 0;
  elem->iov = iov;
  return ring->packed ? packed_pop (ring, &walk) : split_pop (ring, &walk);
}

/* Packed: pop the four single-descriptor chains at last_avail in one go, when
 * last_avail is at the start of a cache line (four descriptors) and all four are
 * available, each alone in its chain and direct. Returns how many were popped: 4,
 * fewer if the ring broke on the way (those before are popped), or 0 when the
 * line does not qualify (nothing done; pop them one at a time). */
static guint
packed_pop_line (VhostRing *ring, VhostRingElement *elems, struct iovec *iov, guint max_iov)
{
  const struct vring_packed_desc *d = &ring->pdesc[ring->last_avail];
  gboolean wrap = ring->avail_wrap;
  guint16 flags[4];
  guint k;

  for (k = 0; k < 4; k++)
    {
      flags[k] = GUINT16_FROM_LE (READ_ONCE (d[k].flags));
      if (!packed_is_avail (flags[k], wrap) || (flags[k] & (VRING_DESC_F_NEXT | VRING_DESC_F_INDIRECT)))
        return 0;
    }
  /* The descriptors' other fields are read after their flags. */
  __atomic_thread_fence (__ATOMIC_ACQUIRE);
  if (ring->num >= 16)
    __builtin_prefetch (&ring->pdesc[(ring->last_avail + 8u) % ring->num]);
  for (k = 0; k < 4; k++)
    {
      VhostRingElement *elem = &elems[k];
      struct iovec *v = iov + (gsize) k * max_iov;
      guint64 addr = GUINT64_FROM_LE (READ_ONCE (d[k].addr));
      guint32 len = GUINT32_FROM_LE (READ_ONCE (d[k].len));
      guint64 got = len;
      void *hva = vhost_mem_gpa_to_hva (ring->mem, addr, &got);
      gboolean writable = (flags[k] & VRING_DESC_F_WRITE) != 0;

      elem->iov = v;
      elem->id = GUINT16_FROM_LE (READ_ONCE (d[k].id));
      elem->n_descs = 1;
      elem->n_out = elem->n_in = 0;
      if (len > 0 && hva != NULL && got == len && max_iov > 0 && addr + len > addr)
        {
          /* The usual case: one buffer in one region, one iovec. */
          v[0].iov_base = hva;
          v[0].iov_len = len;
          if (writable)
            elem->n_in = 1;
          else
            elem->n_out = 1;
        }
      else
        {
          Walk walk = { elem, v, max_iov };

          if (!walk_add (ring, &walk, addr, len, writable))
            break;
        }
    }
  ring->last_avail += k;
  if (ring->last_avail == ring->num)
    {
      ring->last_avail = 0;
      ring->avail_wrap = !ring->avail_wrap;
    }
  return k;
}

guint
vhost_ring_pop_batch (VhostRing *ring, VhostRingElement *elems, struct iovec *iov, guint max_iov, guint n)
{
  guint got = 0;

  while (got < n && !ring->broken)
    {
      Walk walk = { &elems[got], iov + (gsize) got * max_iov, max_iov };

      if (ring->packed && n - got >= 4 && ring->last_avail % 4 == 0 && ring->last_avail + 4u <= ring->num)
        {
          guint k = packed_pop_line (ring, &elems[got], walk.iov, max_iov);

          got += k;
          if (k > 0)
            continue;
        }
      elems[got].n_out = elems[got].n_in = 0;
      elems[got].iov = walk.iov;
      if ((ring->packed ? packed_pop (ring, &walk) : split_pop (ring, &walk)) <= 0)
        break;
      got++;
    }
  return got;
}

void
vhost_ring_unpop (VhostRing *ring, const VhostRingElement *elem)
{
  if (ring->broken)
    return;
  if (!ring->packed)
    {
      ring->last_avail--;
      return;
    }
  if (ring->last_avail < elem->n_descs)
    {
      ring->last_avail += ring->num;
      ring->avail_wrap = !ring->avail_wrap;
    }
  ring->last_avail -= elem->n_descs;
}

/* Log the device's writes: the first @len bytes of the chain's writable buffers. */
static void
log_element (VhostRing *ring, const VhostRingElement *elem, guint32 len)
{
  for (guint i = elem->n_out; i < elem->n_out + elem->n_in && len > 0; i++)
    {
      gsize n = MIN (len, elem->iov[i].iov_len);

      vhost_mem_log_write (ring->mem, elem->iov[i].iov_base, n);
      len -= n;
    }
}

/* Packed: write the used descriptors kept back: ids and lengths first, then the
 * flags of all but the first, then the first's, so that the driver sees them at
 * once. Written together, each cache line is taken from the driver once, and not
 * while the driver polls it between pushes. */
static void
packed_write_shadow (VhostRing *ring)
{
  guint n = ring->n_shadow;

  if (n == 0)
    return;
  for (guint k = 0; k < n; k++)
    {
      struct vring_packed_desc *d = &ring->pdesc[ring->shadow[k].pos];

      d->id = GUINT16_TO_LE (ring->shadow[k].id);
      d->len = GUINT32_TO_LE (ring->shadow[k].len);
    }
  for (guint k = n; k-- > 0;)
    __atomic_store_n (&ring->pdesc[ring->shadow[k].pos].flags, GUINT16_TO_LE (ring->shadow[k].flags),
                      __ATOMIC_RELEASE);
  if (ring->log_all && ring->mem->log != NULL)
    for (guint k = 0; k < n; k++)
      vhost_mem_log_write (ring->mem, &ring->pdesc[ring->shadow[k].pos], sizeof *ring->pdesc);
  ring->n_shadow = 0;
}

/* Packed: push a used descriptor at @pos: kept back until the flush. There is
 * room: each push adds one at most, and a flush follows every
 * VHOST_RING_PUBLISH_BATCH pushes. */
static void
packed_write_used (VhostRing *ring, guint16 pos, gboolean wrap, guint16 id, guint32 len)
{
  guint k = ring->n_shadow++;

  ring->shadow[k].pos = pos;
  ring->shadow[k].id = id;
  ring->shadow[k].len = len;
  ring->shadow[k].flags = wrap ? (PACKED_AVAIL | PACKED_USED) : 0;
}

/* Packed in-order: write the one used descriptor of the zero-length run. */
static void
packed_close_run (VhostRing *ring)
{
  if (!ring->run_open)
    return;
  ring->run_open = FALSE;
  packed_write_used (ring, ring->run_pos, ring->run_wrap, ring->run_id, 0);
}

void
vhost_ring_push (VhostRing *ring, const VhostRingElement *elem, guint32 len)
{
  gboolean log;

  if (ring->broken)
    return;
  log = ring->log_all && ring->mem->log != NULL;
  if (log)
    {
      /* The front-end may copy a page as soon as its bit is set. */
      vhost_ring_fence_streaming ();
      log_element (ring, elem, len);
    }
  if (!ring->packed)
    {
      struct vring_used_elem *u = &ring->used->ring[ring->used_idx % ring->num];

      u->id = GUINT32_TO_LE (elem->id);
      u->len = GUINT32_TO_LE (len);
      if (log)
        vhost_mem_log_write (ring->mem, u, sizeof *u);
      ring->used_idx++;
    }
  else
    {
      guint next;

      /* In order, a run of chains that come back empty (transmitted frames) takes
       * one used descriptor, with the last one's id: the driver frees every chain
       * up to it. That saves a store to a line the driver owns per chain. */
      if (ring->in_order && len == 0)
        {
          if (!ring->run_open)
            {
              ring->run_open = TRUE;
              ring->run_pos = ring->used_idx;
              ring->run_wrap = ring->used_wrap;
            }
          ring->run_id = elem->id;
        }
      else
        {
          packed_close_run (ring);
          packed_write_used (ring, ring->used_idx, ring->used_wrap, elem->id, len);
        }
      next = ring->used_idx + elem->n_descs;
      if (next >= ring->num)
        {
          next -= ring->num;
          ring->used_wrap = !ring->used_wrap;
        }
      ring->used_idx = next;
    }
  if (++ring->n_pending == VHOST_RING_PUBLISH_BATCH)
    vhost_ring_flush (ring);
}

void
vhost_ring_flush (VhostRing *ring)
{
  if (ring->n_pending == 0 || ring->broken)
    return;
  vhost_ring_fence_streaming ();
  if (!ring->packed)
    {
      __atomic_store_n (&ring->used->idx, GUINT16_TO_LE (ring->used_idx), __ATOMIC_RELEASE);
      if (ring->log_all && ring->mem->log != NULL)
        vhost_mem_log_write (ring->mem, &ring->used->idx, sizeof ring->used->idx);
    }
  else
    {
      packed_close_run (ring);
      packed_write_shadow (ring);
    }
  ring->unsignalled += ring->n_pending;
  ring->n_pending = 0;
}

static gboolean
split_should_notify (VhostRing *ring)
{
  guint16 old = ring->signalled_used, new = ring->used_idx;
  gboolean valid = ring->signalled_valid;

  if (!ring->event_idx)
    return !(GUINT16_FROM_LE (READ_ONCE (ring->avail->flags)) & VRING_AVAIL_F_NO_INTERRUPT);
  ring->signalled_used = new;
  ring->signalled_valid = TRUE;
  /* used_event sits after the available ring. */
  return !valid || vring_need_event (GUINT16_FROM_LE (READ_ONCE (ring->avail->ring[ring->num])), new, old);
}

static gboolean
packed_should_notify (VhostRing *ring)
{
  guint16 flags = GUINT16_FROM_LE (READ_ONCE (ring->driver_event->flags));
  guint16 old = ring->signalled_used, new = ring->used_idx, off_wrap, off;
  gboolean valid = ring->signalled_valid;

  ring->signalled_used = new;
  ring->signalled_valid = TRUE;
  if (flags != VRING_PACKED_EVENT_FLAG_DESC || !ring->event_idx)
    return flags != VRING_PACKED_EVENT_FLAG_DISABLE;
  if (!valid)
    return TRUE;
  off_wrap = GUINT16_FROM_LE (READ_ONCE (ring->driver_event->off_wrap));
  off = off_wrap & 0x7fff;
  /* Compare positions on one line: unwrap old and the event offset. */
  if (new <= old)
    old -= ring->num;
  if (ring->used_wrap != (off_wrap >> 15))
    off -= ring->num;
  return vring_need_event (off, new, old);
}

gboolean
vhost_ring_should_notify (VhostRing *ring)
{
  if (ring->unsignalled == 0 || ring->broken)
    return FALSE;
  ring->unsignalled = 0;
  /* Our used-index store must be visible before we read the driver's wishes. */
  __atomic_thread_fence (__ATOMIC_SEQ_CST);
  return ring->packed ? packed_should_notify (ring) : split_should_notify (ring);
}

gboolean
vhost_ring_notify (VhostRing *ring)
{
  if (!vhost_ring_should_notify (ring) || ring->call_fd < 0)
    return FALSE;
  while (eventfd_write (ring->call_fd, 1) < 0 && errno == EINTR)
    ;
  return TRUE;
}

gboolean
vhost_ring_has_avail (VhostRing *ring)
{
  if (ring->broken)
    return FALSE;
  if (ring->packed)
    return packed_is_avail (GUINT16_FROM_LE (__atomic_load_n (&ring->pdesc[ring->last_avail].flags, __ATOMIC_ACQUIRE)),
                            ring->avail_wrap);
  return split_has_avail (ring);
}

/* With event idx, kicks are asked for from the first chain the driver has not
 * made available yet: everything already there will be seen by the has-avail
 * check that follows, even chains a handler chose to leave. */
gboolean
vhost_ring_set_kicks (VhostRing *ring, gboolean enable)
{
  gboolean more = FALSE;

  if (ring->broken)
    return FALSE;
  if (ring->packed)
    {
      guint16 flags = VRING_PACKED_EVENT_FLAG_DISABLE;
      guint pos = ring->last_avail;
      gboolean wrap = ring->avail_wrap;

      if (enable && ring->event_idx)
        {
          for (guint i = 0; i < ring->num && packed_is_avail (GUINT16_FROM_LE (__atomic_load_n (&ring->pdesc[pos].flags,
                                                                                                 __ATOMIC_ACQUIRE)),
                                                               wrap);
               i++)
            if (++pos == ring->num)
              {
                pos = 0;
                wrap = !wrap;
              }
          ring->device_event->off_wrap = GUINT16_TO_LE (pos | ((guint16) wrap << 15));
          flags = VRING_PACKED_EVENT_FLAG_DESC;
        }
      else if (enable)
        flags = VRING_PACKED_EVENT_FLAG_ENABLE;
      __atomic_store_n (&ring->device_event->flags, GUINT16_TO_LE (flags), __ATOMIC_RELEASE);
      __atomic_thread_fence (__ATOMIC_SEQ_CST);
      if (enable && ring->event_idx)
        more = packed_is_avail (GUINT16_FROM_LE (__atomic_load_n (&ring->pdesc[pos].flags, __ATOMIC_ACQUIRE)), wrap);
      return more;
    }
  if (ring->event_idx)
    {
      /* avail_event sits after the used ring; leaving it behind suppresses kicks. */
      if (enable)
        {
          guint16 idx = __atomic_load_n (&ring->avail->idx, __ATOMIC_ACQUIRE);

          __atomic_store_n ((guint16 *) &ring->used->ring[ring->num], idx, __ATOMIC_RELEASE);
          __atomic_thread_fence (__ATOMIC_SEQ_CST);
          more = __atomic_load_n (&ring->avail->idx, __ATOMIC_ACQUIRE) != idx;
        }
      return more;
    }
  __atomic_store_n (&ring->used->flags, GUINT16_TO_LE (enable ? 0 : VRING_USED_F_NO_NOTIFY), __ATOMIC_RELEASE);
  /* The caller looks at the ring again after this: order that read after our store. */
  __atomic_thread_fence (__ATOMIC_SEQ_CST);
  return FALSE;
}
