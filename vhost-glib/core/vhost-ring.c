/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The device side of split and packed virtqueues. Every index, address and length
 * read from guest memory is checked before use; a bad one marks the ring broken. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/eventfd.h>

#include "vhost-ring.h"
#include "vhost-inflight.h"

#define READ_ONCE(x) (*(const volatile __typeof__ (x) *) &(x))
#define PACKED_AVAIL ((guint16) (1u << VRING_PACKED_DESC_F_AVAIL))
#define PACKED_USED ((guint16) (1u << VRING_PACKED_DESC_F_USED))

/* Dirty logging, as the specification says: the device's writes to buffers
 * when VHOST_F_LOG_ALL is on, at their guest addresses; its writes to the ring
 * when the vring asks (VHOST_VRING_F_LOG): a split used ring's at
 * log_guest_addr (which need not be a guest address of the memory table),
 * a packed ring's (used descriptors, the device event area) at theirs. */
static inline void
log_buffer (VhostRing *ring, const void *hva, guint64 len)
{
  if (!ring->log_all || ring->mem->log == NULL)
    return;
  vhost_mem_log_write (ring->mem, hva, len);
  ring->logged = TRUE;
}

static inline void
log_ring (VhostRing *ring, const void *hva, guint64 len)
{
  if (!(ring->log_used || ring->log_all) || ring->mem->log == NULL)
    return;
  if (ring->packed)
    vhost_mem_log_write (ring->mem, hva, len);
  else if (ring->log_used)
    vhost_mem_log_gpa (ring->mem, ring->log_guest_addr + ((const guint8 *) hva - (const guint8 *) ring->used), len);
  else
    return;
  ring->logged = TRUE;
}

/* Tell the front-end the log changed, once a batch of writes is logged. */
static inline void
log_kick (VhostRing *ring)
{
  if (!ring->logged)
    return;
  ring->logged = FALSE;
  vhost_mem_log_kick (ring->mem);
}

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
      /* Bits 0-15: the next available descriptor and its wrap counter; bits
       * 16-31: the next used one and its wrap counter. A front-end that sends
       * only the first half stopped the ring where both are the same. */
      ring->last_avail = base & 0x7fff;
      ring->avail_wrap = (base >> 15) & 1;
      if (base >> 16 == 0)
        base |= base << 16;
      ring->used_idx = (base >> 16) & 0x7fff;
      ring->used_wrap = (base >> 31) & 1;
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
  ring->n_resubmit = 0;
  ring->broken = FALSE;
  ring->error[0] = '\0';
}

guint32
vhost_ring_get_base (const VhostRing *ring)
{
  if (ring->packed)
    return ring->last_avail | ((guint32) ring->avail_wrap << 15) | ((guint32) ring->used_idx << 16) |
           ((guint32) ring->used_wrap << 31);
  return ring->last_avail;
}

/* How many places of the available ring (descriptors of a packed ring) the device
 * took since vhost_ring_get_base() gave @base (for an estimate of the load). */
guint
vhost_ring_taken_since (const VhostRing *ring, guint32 base)
{
  guint before, now;

  if (!ring->packed)
    return MAX ((gint16) (ring->last_avail - base), 0); /* chains given back since: none */
  if (ring->num == 0)
    return 0;
  before = (base & 0x7fff) + (base & 0x8000 ? ring->num : 0);
  now = ring->last_avail + (ring->avail_wrap ? ring->num : 0);
  return (now + 2 * ring->num - before) % (2 * ring->num);
}

/* With an IOTLB: the translation of @iova for @perm is missing. The ring waits
 * for it, and the front-end is asked for it unless it already was. */
static void
ring_miss (VhostRing *ring, guint64 iova, guint8 perm)
{
  static gint serials;
  guint serial = (guint) g_atomic_int_get (&ring->miss_serial);

  if (serial != 0 && __atomic_load_n (&ring->miss_iova, __ATOMIC_RELAXED) == iova &&
      __atomic_load_n (&ring->miss_perm, __ATOMIC_RELAXED) == perm)
    return;
  /* The control thread reads the address only with the serial it goes with. */
  g_atomic_int_set (&ring->miss_serial, 0);
  __atomic_store_n (&ring->miss_iova, iova, __ATOMIC_RELAXED);
  __atomic_store_n (&ring->miss_perm, perm, __ATOMIC_RELAXED);
  do
    serial = (guint) g_atomic_int_add (&serials, 1) + 1;
  while (serial == 0);
  g_atomic_int_set (&ring->miss_serial, serial);
  if (ring->iotlb_report != NULL)
    ring->iotlb_report (ring, VHOST_IOTLB_MISS, iova, perm, serial, ring->iotlb_report_data);
}

/* With an IOTLB, its lock held: the host address of [iova, iova + size) for
 * @perm, which must be one stretch of our memory (a ring area, an indirect
 * table). VHOST_IOTLB_MISSING: the miss is recorded; VHOST_IOTLB_DENIED: the
 * caller decides; VHOST_IOTLB_OUTSIDE: the ring is broken. */
static VhostIotlbResult
translate_range (VhostRing *ring, const char *what, guint64 iova, guint64 size, guint8 perm, void **hva)
{
  guint8 *start = NULL;

  if (iova + (size - 1) < iova)
    {
      vhost_ring_fail (ring, "the %s at IOVA 0x%" G_GINT64_MODIFIER "x (%" G_GUINT64_FORMAT " bytes) wraps past 2^64",
                       what, iova, size);
      return VHOST_IOTLB_OUTSIDE;
    }
  for (guint64 done = 0; done < size;)
    {
      guint64 n = size - done, uaddr = 0;
      void *p = NULL;
      VhostIotlbResult r = vhost_iotlb_translate (ring->iotlb, ring->mem, iova + done, perm, &n, &p, &uaddr);

      if (r == VHOST_IOTLB_MISSING)
        ring_miss (ring, iova + done, perm);
      else if (r == VHOST_IOTLB_OUTSIDE)
        vhost_ring_fail (ring, "the %s at IOVA 0x%" G_GINT64_MODIFIER "x translates to user address 0x%"
                         G_GINT64_MODIFIER "x, outside guest memory", what, iova + done, uaddr);
      else if (r == VHOST_IOTLB_OK && done > 0 && (guint8 *) p != start + done)
        {
          vhost_ring_fail (ring, "the %s at IOVA 0x%" G_GINT64_MODIFIER "x (%" G_GUINT64_FORMAT " bytes) is not one "
                           "stretch of guest memory: the IOTLB maps its parts apart", what, iova, size);
          r = VHOST_IOTLB_OUTSIDE;
        }
      if (r != VHOST_IOTLB_OK)
        return r;
      if (done == 0)
        start = p;
      done += n;
    }
  *hva = start;
  return VHOST_IOTLB_OK;
}

/* The host address of a ring area: its user address, or with an IOTLB its
 * I/O virtual address translated for @perm. NULL when it is not there: the
 * ring broken, or a miss recorded. */
static void *
map_area (VhostRing *ring, const char *what, guint64 addr, guint64 size, guint64 align, guint8 perm)
{
  void *hva = NULL;

  if (addr % align != 0)
    {
      vhost_ring_fail (ring, "the %s at 0x%" G_GINT64_MODIFIER "x is not %" G_GUINT64_FORMAT "-byte aligned", what,
                       addr, align);
      return NULL;
    }
  if (ring->iotlb != NULL)
    {
      VhostIotlbResult r = translate_range (ring, what, addr, size, perm, &hva);

      if (r == VHOST_IOTLB_DENIED)
        {
          ring->iotlb_report (ring, VHOST_IOTLB_ACCESS_FAIL, addr, perm, 0, ring->iotlb_report_data);
          vhost_ring_fail (ring, "the %s at IOVA 0x%" G_GINT64_MODIFIER "x needs %s access, which the IOTLB does not give",
                           what, addr, vhost_iotlb_perm_name (perm));
        }
      if (r != VHOST_IOTLB_OK)
        return NULL;
    }
  else if ((hva = vhost_mem_uaddr_to_hva (ring->mem, addr, size)) == NULL)
    {
      vhost_ring_fail (ring, "the %s at 0x%" G_GINT64_MODIFIER "x (%" G_GUINT64_FORMAT " bytes) is not inside guest "
                       "memory", what, addr, size);
      return NULL;
    }
  /* Read in place: our address must be aligned too (an IOTLB entry, or a region,
   * may move an aligned address off its alignment). */
  if ((guintptr) hva % align != 0)
    {
      vhost_ring_fail (ring, "the %s at 0x%" G_GINT64_MODIFIER "x lies at an address of the back-end's that is not %"
                       G_GUINT64_FORMAT "-byte aligned", what, addr, align);
      return NULL;
    }
  return hva;
}

/* Map the three areas of the ring; the pointers change only when all three are
 * there (with an IOTLB, a miss keeps the last ones). */
static gboolean
map_areas (VhostRing *ring)
{
  static const char *const names[2][3] = { { "descriptor table", "available ring", "used ring" },
                                           { "descriptor ring", "driver event area", "device event area" } };
  guint64 num = ring->num;
  /* The device reads the descriptors and the driver's area and writes its own;
   * it writes a packed ring's descriptors too. */
  const guint64 sizes[2][3] = { { 16 * num, 6 + 2 * num, 6 + 8 * num }, { 16 * num, 4, 4 } };
  const guint64 aligns[2][3] = { { 16, 2, 4 }, { 16, 4, 4 } };
  const guint8 perms[2][3] = { { VHOST_IOTLB_PERM_READ, VHOST_IOTLB_PERM_READ, VHOST_IOTLB_PERM_WRITE },
                               { VHOST_IOTLB_PERM_RW, VHOST_IOTLB_PERM_READ, VHOST_IOTLB_PERM_WRITE } };
  const guint64 addrs[3] = { ring->desc_uaddr, ring->avail_uaddr, ring->used_uaddr };
  guint k = ring->packed ? 1 : 0;
  void *area[3];

  for (guint j = 0; j < 3; j++)
    {
      area[j] = map_area (ring, names[k][j], addrs[j], sizes[k][j], aligns[k][j], perms[k][j]);
      if (area[j] == NULL)
        return FALSE;
    }
  if (ring->packed)
    {
      ring->pdesc = area[0];
      ring->driver_event = area[1];
      ring->device_event = area[2];
    }
  else
    {
      ring->desc = area[0];
      ring->avail = area[1];
      ring->used = area[2];
    }
  return TRUE;
}

/* Inflight tracking: take the region up (once per session, the first time the
 * ring starts after SET_INFLIGHT_FD). */
static gboolean
map_inflight (VhostRing *ring)
{
  gboolean ok;

  if (ring->inflight == NULL)
    return TRUE;
  ok = vhost_ring_inflight_start (ring);
  ring->inflight_recover = FALSE;
  return ok;
}

/* The rest of a map, once the areas are there: the used index a split ring goes
 * on from, and the inflight area. */
static gboolean
finish_map (VhostRing *ring)
{
  if (!ring->packed && ring->used_from_ring)
    {
      ring->used_idx = __atomic_load_n (&ring->used->idx, __ATOMIC_ACQUIRE);
      ring->used_from_ring = FALSE;
    }
  return map_inflight (ring);
}

/* With an IOTLB, its lock held for reading: whether the areas are there to use,
 * translated again if the IOTLB lost translations since they last were. FALSE
 * while a translation is missing, or when the ring broke. */
static gboolean
areas_ready_locked (VhostRing *ring)
{
  guint generation = vhost_iotlb_get_generation (ring->iotlb);

  if (!ring->areas_pending && generation == ring->iotlb_generation)
    return TRUE;
  if (ring->broken)
    return FALSE;
  if (!map_areas (ring))
    {
      ring->areas_pending = TRUE;
      return FALSE;
    }
  ring->iotlb_generation = generation;
  ring->areas_pending = FALSE;
  if (!ring->map_pending)
    return TRUE;
  ring->map_pending = FALSE;
  return finish_map (ring);
}

static inline void
iotlb_lock (VhostRing *ring)
{
  if (ring->iotlb != NULL)
    g_rw_lock_reader_lock (&ring->iotlb->lock);
}

static inline void
iotlb_unlock (VhostRing *ring)
{
  if (ring->iotlb != NULL)
    g_rw_lock_reader_unlock (&ring->iotlb->lock);
}

/* Whether the areas are there to use (always, without an IOTLB, once mapped). */
static inline gboolean
areas_ready (VhostRing *ring)
{
  gboolean ready;

  if (ring->iotlb == NULL ||
      (!ring->areas_pending && vhost_iotlb_get_generation (ring->iotlb) == ring->iotlb_generation))
    return TRUE;
  iotlb_lock (ring);
  ready = areas_ready_locked (ring);
  iotlb_unlock (ring);
  return ready;
}

/* Whether the areas were ever there: the ring may write its own. */
static inline gboolean
areas_known (VhostRing *ring)
{
  return ring->packed ? ring->pdesc != NULL : ring->desc != NULL;
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
  /* The base comes from the front-end, or from a run with another size. */
  if (ring->packed && (ring->last_avail >= num || ring->used_idx >= num))
    {
      vhost_ring_fail (ring, "the packed ring position %u is outside a queue of %u",
                       MAX (ring->last_avail, ring->used_idx), ring->num);
      return FALSE;
    }
  if (ring->iotlb != NULL)
    {
      /* The areas may wait for their translations: the rest of the map waits with them. */
      ring->desc = NULL;
      ring->avail = NULL;
      ring->used = NULL;
      ring->pdesc = NULL;
      ring->driver_event = NULL;
      ring->device_event = NULL;
      g_atomic_int_set (&ring->miss_serial, 0);
      ring->areas_pending = TRUE;
      ring->map_pending = TRUE;
      areas_ready (ring);
      return !ring->broken;
    }
  return map_areas (ring) && finish_map (ring);
}

/* The walk of one chain: where its iovecs go. With an IOTLB, a buffer it does
 * not let the device reach as it must makes the chain refused: the walk goes
 * on to its end without translating, and the device gets no buffer of it. */
typedef struct
{
  VhostRingElement *elem;
  struct iovec *iov;
  guint max_iov;
  gboolean denied;
  guint64 denied_iova;
  guint8 denied_perm;
} Walk;

/* The IOTLB refuses the walk's chain @perm access at @iova. */
static void
walk_deny (Walk *walk, guint64 iova, guint8 perm)
{
  walk->denied = TRUE;
  walk->denied_iova = iova;
  walk->denied_perm = perm;
}

/* Append the buffer [addr, addr + len) to the walk, one iovec per region it
 * touches (with an IOTLB: per stretch of our memory its entries map it to).
 * FALSE when the walk stops: the ring broken, or a translation missing. */
static gboolean
walk_add (VhostRing *ring, Walk *walk, guint64 addr, guint32 len, gboolean writable)
{
  VhostRingElement *elem = walk->elem;
  guint first = elem->n_out + elem->n_in;

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
  if (walk->denied)
    return TRUE;
  while (len > 0)
    {
      guint64 n = len, uaddr = 0;
      void *hva = NULL;
      guint i = elem->n_out + elem->n_in;

      if (ring->iotlb != NULL)
        {
          guint8 perm = writable ? VHOST_IOTLB_PERM_WRITE : VHOST_IOTLB_PERM_READ;

          switch (vhost_iotlb_translate (ring->iotlb, ring->mem, addr, perm, &n, &hva, &uaddr))
            {
            case VHOST_IOTLB_OK:
              break;
            case VHOST_IOTLB_MISSING:
              ring_miss (ring, addr, perm);
              return FALSE;
            case VHOST_IOTLB_DENIED:
              walk_deny (walk, addr, perm);
              return TRUE;
            default:
              vhost_ring_fail (ring, "the buffer at IOVA 0x%" G_GINT64_MODIFIER "x translates to user address 0x%"
                               G_GINT64_MODIFIER "x, outside guest memory", addr, uaddr);
              return FALSE;
            }
          /* Entries that go on from each other in our memory make one iovec. */
          if (i > first && (guint8 *) walk->iov[i - 1].iov_base + walk->iov[i - 1].iov_len == hva)
            {
              walk->iov[i - 1].iov_len += n;
              addr += n;
              len -= n;
              continue;
            }
        }
      else if ((hva = vhost_mem_gpa_to_hva (ring->mem, addr, &n)) == NULL)
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

/* Map an indirect table; NULL unless it is well formed (the ring broken), or
 * with an IOTLB, while its translation is missing or when it is refused
 * (walk->denied: the chain ends at its indirect descriptor). */
static const void *
map_indirect (VhostRing *ring, Walk *walk, guint64 addr, guint32 len, guint *n)
{
  const void *table = NULL;

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
  if (ring->iotlb != NULL)
    {
      void *hva = NULL;

      switch (translate_range (ring, "indirect table", addr, len, VHOST_IOTLB_PERM_READ, &hva))
        {
        case VHOST_IOTLB_OK:
          table = hva;
          break;
        case VHOST_IOTLB_DENIED:
          walk_deny (walk, addr, VHOST_IOTLB_PERM_READ);
          return NULL;
        default:
          return NULL;
        }
    }
  else if ((table = vhost_mem_gpa_to_hva_whole (ring->mem, addr, len)) == NULL)
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
          table = map_indirect (ring, walk, addr, len, &max);
          if (table == NULL && walk->denied)
            break;
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

/* Inflight tracking, split: the head is in flight from now on (the
 * specification's order: its order number, then the flag). */
static inline void
split_track_pop (VhostRing *ring, guint16 head)
{
  VhostInflightSplit *region = ring->inflight;

  if (region == NULL)
    return;
  region->desc[head].counter = ring->inflight_counter++;
  __atomic_store_n (&region->desc[head].inflight, 1, __ATOMIC_RELEASE);
}

/* Inflight tracking: the entry of the region in flight with the smallest order
 * number from resubmit_next on, among those an earlier process left; -1 if none
 * is left (the region changed under us). */
static int
resubmit_find (VhostRing *ring, guint64 *counter)
{
  guint64 best = G_MAXUINT64;
  int entry = -1;

  for (guint i = 0; i < ring->num; i++)
    {
      guint8 inflight;
      guint64 c;

      if (ring->packed)
        {
          VhostInflightPacked *region = ring->inflight;

          inflight = READ_ONCE (region->desc[i].inflight);
          c = READ_ONCE (region->desc[i].counter);
        }
      else
        {
          VhostInflightSplit *region = ring->inflight;

          inflight = READ_ONCE (region->desc[i].inflight);
          c = READ_ONCE (region->desc[i].counter);
        }
      if (inflight == 1 && c >= ring->resubmit_next && c < ring->resubmit_end && c < best)
        {
          best = c;
          entry = i;
        }
    }
  *counter = best;
  return entry;
}

static int split_pop (VhostRing *ring, Walk *walk);

/* With an IOTLB: a chain taken whose buffers the IOTLB does not let the device
 * reach as it must. The front-end is told (ACCESS_FAIL), and the device gets
 * the chain without any buffer, as if its descriptors were all empty: it can
 * write nothing into it, and gives it back as any chain it cannot use (with
 * length 0). Not a refusal done here: the device keeps its order of pushes
 * (in order) and of unpops. */
static int
refuse (VhostRing *ring, Walk *walk)
{
  ring->iotlb_report (ring, VHOST_IOTLB_ACCESS_FAIL, walk->denied_iova, walk->denied_perm, 0, ring->iotlb_report_data);
  walk->elem->n_out = walk->elem->n_in = 0;
  return 1;
}

/* Split: give the device again a chain an earlier process took and did not
 * complete; its descriptors are still in the table (the driver keeps them until
 * they come back used). */
static int
split_resubmit (VhostRing *ring, Walk *walk)
{
  guint64 counter;
  int head = resubmit_find (ring, &counter);

  if (head < 0)
    {
      ring->n_resubmit = 0;
      return split_pop (ring, walk);
    }
  if (split_walk (ring, head, walk) < 0)
    return -1;
  walk->elem->slot = head;
  ring->resubmit_next = counter + 1;
  ring->n_resubmit--;
  return walk->denied ? refuse (ring, walk) : 1;
}

static int
split_pop (VhostRing *ring, Walk *walk)
{
  guint16 head;

  if (ring->n_resubmit > 0)
    return split_resubmit (ring, walk);
  if (!split_has_avail (ring))
    return ring->broken ? -1 : 0;
  head = GUINT16_FROM_LE (READ_ONCE (ring->avail->ring[ring->last_avail % ring->num]));
  if (split_walk (ring, head, walk) < 0)
    return -1;
  walk->elem->slot = head;
  split_track_pop (ring, head);
  ring->last_avail++;
  return walk->denied ? refuse (ring, walk) : 1;
}

static gboolean
packed_is_avail (guint16 flags, gboolean wrap)
{
  return ((flags & PACKED_AVAIL) != 0) == wrap && ((flags & PACKED_USED) != 0) != wrap;
}

/* One descriptor of a packed chain, the `count`th: its buffer, or the buffers
 * of the indirect table it points to (then it must be alone in its chain). */
static gboolean
packed_add_desc (VhostRing *ring, Walk *walk, guint64 addr, guint32 len, guint16 flags, guint count)
{
  const struct vring_packed_desc *table;
  guint n;

  if (!(flags & VRING_DESC_F_INDIRECT))
    return walk_add (ring, walk, addr, len, (flags & VRING_DESC_F_WRITE) != 0);
  if (count > 1 || (flags & VRING_DESC_F_NEXT))
    {
      vhost_ring_fail (ring, "an indirect descriptor that is not alone in its chain");
      return FALSE;
    }
  table = map_indirect (ring, walk, addr, len, &n);
  if (table == NULL)
    return walk->denied;
  for (guint j = 0; j < n; j++)
    {
      guint16 f = GUINT16_FROM_LE (READ_ONCE (table[j].flags));

      if (f & VRING_DESC_F_INDIRECT)
        {
          vhost_ring_fail (ring, "an indirect table inside an indirect table");
          return FALSE;
        }
      if (!walk_add (ring, walk, GUINT64_FROM_LE (READ_ONCE (table[j].addr)),
                     GUINT32_FROM_LE (READ_ONCE (table[j].len)), (f & VRING_DESC_F_WRITE) != 0))
        return FALSE;
    }
  return TRUE;
}

/* Inflight tracking, packed: the chain of `count` descriptors at `pos` is in
 * flight, recorded in entries taken from the region's free list, in the
 * specification's order (the head entry's order number and flag first, each
 * descriptor copied, the free list committed last). */
static gboolean
packed_track_pop (VhostRing *ring, guint pos, guint count, VhostRingElement *elem)
{
  VhostInflightPacked *region = ring->inflight;
  guint16 head, entry;

  elem->slot = 0;
  if (region == NULL)
    return TRUE;
  head = entry = READ_ONCE (region->old_free_head);
  if (head >= ring->num)
    {
      vhost_ring_fail (ring, "the inflight region's free list starts at %u, outside a queue of %u", head, ring->num);
      return FALSE;
    }
  region->desc[head].num = 0;
  region->desc[head].counter = ring->inflight_counter++;
  __atomic_store_n (&region->desc[head].inflight, 1, __ATOMIC_RELEASE);
  for (guint k = 0; k < count; k++)
    {
      const struct vring_packed_desc *d = &ring->pdesc[(pos + k) % ring->num];
      VhostInflightPackedDesc *e;

      if (entry >= ring->num)
        {
          vhost_ring_fail (ring, "the inflight region's free list ran out (entry %u)", entry);
          return FALSE;
        }
      e = &region->desc[entry];
      if (k == count - 1)
        region->desc[head].last = entry;
      region->desc[head].num++;
      e->addr = GUINT64_FROM_LE (READ_ONCE (d->addr));
      e->len = GUINT32_FROM_LE (READ_ONCE (d->len));
      e->flags = GUINT16_FROM_LE (READ_ONCE (d->flags));
      e->id = GUINT16_FROM_LE (READ_ONCE (d->id));
      entry = READ_ONCE (e->next);
      __atomic_store_n (&region->free_head, entry, __ATOMIC_RELEASE);
    }
  __atomic_store_n (&region->old_free_head, entry, __ATOMIC_RELEASE);
  elem->slot = head;
  return TRUE;
}

/* Packed: give the device again a chain an earlier process took and did not
 * complete, from the copies of its descriptors in the region (the ring's slots
 * may hold used descriptors by now). */
static int packed_pop (VhostRing *ring, Walk *walk);

static int
packed_resubmit (VhostRing *ring, Walk *walk)
{
  VhostInflightPacked *region = ring->inflight;
  guint64 counter;
  int head = resubmit_find (ring, &counter);
  guint num, entry;
  guint16 id = 0;

  if (head < 0)
    {
      ring->n_resubmit = 0;
      return packed_pop (ring, walk);
    }
  num = READ_ONCE (region->desc[head].num);
  if (num == 0 || num > ring->num)
    {
      vhost_ring_fail (ring, "the inflight region records a chain of %u descriptors at entry %d", num, head);
      return -1;
    }
  entry = head;
  for (guint k = 1; k <= num; k++)
    {
      const VhostInflightPackedDesc *e;

      if (entry >= ring->num)
        {
          vhost_ring_fail (ring, "the inflight region links entry %u, outside a queue of %u", entry, ring->num);
          return -1;
        }
      e = &region->desc[entry];
      id = READ_ONCE (e->id);
      if (!packed_add_desc (ring, walk, READ_ONCE (e->addr), READ_ONCE (e->len), READ_ONCE (e->flags), k))
        return -1;
      if (k < num)
        entry = READ_ONCE (e->next);
    }
  if (entry != READ_ONCE (region->desc[head].last))
    {
      vhost_ring_fail (ring, "the inflight region's chain at entry %d does not end where its head says", head);
      return -1;
    }
  walk->elem->id = id;
  walk->elem->n_descs = num;
  walk->elem->slot = head;
  ring->resubmit_next = counter + 1;
  ring->n_resubmit--;
  return walk->denied ? refuse (ring, walk) : 1;
}

static int
packed_pop (VhostRing *ring, Walk *walk)
{
  guint i = ring->last_avail, count = 0;
  guint16 flags, id;

  if (ring->n_resubmit > 0)
    return packed_resubmit (ring, walk);
  flags = GUINT16_FROM_LE (__atomic_load_n (&ring->pdesc[i].flags, __ATOMIC_ACQUIRE));
  if (!packed_is_avail (flags, ring->avail_wrap))
    return 0;
  /* The next chains' descriptors (the next cache line): on their way meanwhile. */
  if (ring->num >= 8)
    __builtin_prefetch (&ring->pdesc[i + 4 < ring->num ? i + 4 : i + 4 - ring->num]);
  for (;;)
    {
      const struct vring_packed_desc *d = &ring->pdesc[i];

      id = GUINT16_FROM_LE (READ_ONCE (d->id));
      if (count > 0)
        flags = GUINT16_FROM_LE (READ_ONCE (d->flags));
      if (++count > ring->num)
        {
          vhost_ring_fail (ring, "a descriptor chain longer than the queue (%u)", ring->num);
          return -1;
        }
      if (!packed_add_desc (ring, walk, GUINT64_FROM_LE (READ_ONCE (d->addr)), GUINT32_FROM_LE (READ_ONCE (d->len)),
                            flags, count))
        return -1;
      if ((flags & VRING_DESC_F_INDIRECT) || !(flags & VRING_DESC_F_NEXT))
        break;
      if (++i == ring->num)
        i = 0;
    }
  walk->elem->id = id;
  walk->elem->n_descs = count;
  if (!packed_track_pop (ring, ring->last_avail, count, walk->elem))
    return -1;
  i = ring->last_avail + count;
  if (i >= ring->num)
    {
      i -= ring->num;
      ring->avail_wrap = !ring->avail_wrap;
    }
  ring->last_avail = i;
  return walk->denied ? refuse (ring, walk) : 1;
}

/* Inflight tracking, packed: pushes return their entries to the region's free
 * list, which the next publication commits. A chain taken before that would
 * reuse them while a crash could still roll the pushes back, so the pushes are
 * published first. */
static inline void
flush_before_pop (VhostRing *ring)
{
  if (ring->inflight != NULL && ring->packed && ring->n_pending > 0)
    vhost_ring_flush (ring);
}

/* One chain (with an IOTLB, its lock held): 1 popped, 0 none (or a translation
 * missing), -1 broken. */
static int
pop_one (VhostRing *ring, VhostRingElement *elem, struct iovec *iov, guint max_iov)
{
  Walk walk = { elem, iov, max_iov, FALSE, 0, 0 };
  int r;

  if (ring->iotlb != NULL && !areas_ready_locked (ring))
    return ring->broken ? -1 : 0;
  elem->n_out = elem->n_in = 0;
  elem->iov = iov;
  r = ring->packed ? packed_pop (ring, &walk) : split_pop (ring, &walk);
  /* A walk that stopped without breaking the ring waits for a translation. */
  return r < 0 && !ring->broken ? 0 : r;
}

int
vhost_ring_pop (VhostRing *ring, VhostRingElement *elem, struct iovec *iov, guint max_iov)
{
  int r;

  if (ring->broken)
    return -1;
  flush_before_pop (ring);
  iotlb_lock (ring);
  r = pop_one (ring, elem, iov, max_iov);
  iotlb_unlock (ring);
  return r;
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
      if (!packed_track_pop (ring, ring->last_avail + k, 1, elem))
        break;
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

  flush_before_pop (ring);
  iotlb_lock (ring);
  while (got < n && !ring->broken)
    {
      struct iovec *v = iov + (gsize) got * max_iov;

      /* The fast path reads guest-physical addresses. */
      if (ring->packed && ring->iotlb == NULL && ring->n_resubmit == 0 && n - got >= 4 && ring->last_avail % 4 == 0 &&
          ring->last_avail + 4u <= ring->num)
        {
          guint k = packed_pop_line (ring, &elems[got], v, max_iov);

          got += k;
          if (k > 0)
            continue;
        }
      if (pop_one (ring, &elems[got], v, max_iov) <= 0)
        break;
      got++;
    }
  iotlb_unlock (ring);
  return got;
}

/* Inflight tracking: the chain goes back to the ring, so it is no longer in
 * flight; FALSE if it was a resubmission (it goes back to the chains to give
 * again, and the ring position stays). */
static gboolean
untrack_pop (VhostRing *ring, const VhostRingElement *elem)
{
  guint slot = elem->slot;
  guint64 counter;

  if (ring->inflight == NULL || slot >= ring->num)
    return TRUE;
  if (ring->packed)
    {
      VhostInflightPacked *region = ring->inflight;
      VhostInflightPackedDesc *head = &region->desc[slot];

      counter = head->counter;
      if (counter >= ring->resubmit_end)
        {
          guint16 last = READ_ONCE (head->last);

          /* Its entries back to the free list, committed, then the flag: a
           * crash in between leaves an entry of the free list flagged, which
           * taking the region up clears. */
          flush_before_pop (ring);
          if (last < ring->num)
            region->desc[last].next = READ_ONCE (region->free_head);
          __atomic_store_n (&region->free_head, slot, __ATOMIC_RELEASE);
          __atomic_store_n (&region->old_free_head, slot, __ATOMIC_RELEASE);
          __atomic_store_n (&head->inflight, 0, __ATOMIC_RELEASE);
        }
    }
  else
    {
      VhostInflightSplit *region = ring->inflight;

      counter = region->desc[slot].counter;
      if (counter >= ring->resubmit_end)
        __atomic_store_n (&region->desc[slot].inflight, 0, __ATOMIC_RELEASE);
    }
  if (counter >= ring->resubmit_end)
    return TRUE;
  ring->resubmit_next = counter;
  ring->n_resubmit++;
  return FALSE;
}

void
vhost_ring_unpop (VhostRing *ring, const VhostRingElement *elem)
{
  if (ring->broken || !untrack_pop (ring, elem))
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

      log_buffer (ring, elem->iov[i].iov_base, n);
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
  for (guint k = 0; k < n; k++)
    log_ring (ring, &ring->pdesc[ring->shadow[k].pos], sizeof *ring->pdesc);
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

/* Inflight tracking: the pushed chain joins the batch the next publication
 * completes (split: the last-batch list; packed: its entries back to the free
 * list), in the specification's order. */
static gboolean
track_push (VhostRing *ring, const VhostRingElement *elem)
{
  guint slot = elem->slot;

  if (slot >= ring->num)
    {
      vhost_ring_fail (ring, "a pushed chain's inflight entry %u is outside a queue of %u", slot, ring->num);
      return FALSE;
    }
  if (ring->packed)
    {
      VhostInflightPacked *region = ring->inflight;
      guint16 last = READ_ONCE (region->desc[slot].last);

      if (last >= ring->num)
        {
          vhost_ring_fail (ring, "the inflight region's chain at entry %u ends at entry %u", slot, last);
          return FALSE;
        }
      region->desc[last].next = READ_ONCE (region->free_head);
      __atomic_store_n (&region->free_head, slot, __ATOMIC_RELEASE);
    }
  else
    {
      VhostInflightSplit *region = ring->inflight;

      region->desc[slot].next = READ_ONCE (region->last_batch_head);
      __atomic_store_n (&region->last_batch_head, slot, __ATOMIC_RELEASE);
    }
  ring->batch[ring->n_pending] = slot;
  return TRUE;
}

void
vhost_ring_push (VhostRing *ring, const VhostRingElement *elem, guint32 len)
{
  if (ring->broken)
    return;
  if (ring->log_all && ring->mem->log != NULL)
    {
      /* The front-end may copy a page as soon as its bit is set. */
      vhost_ring_fence_streaming ();
      log_element (ring, elem, len);
    }
  if (ring->inflight != NULL && !track_push (ring, elem))
    return;
  if (!ring->packed)
    {
      struct vring_used_elem *u = &ring->used->ring[ring->used_idx % ring->num];

      u->id = GUINT32_TO_LE (elem->id);
      u->len = GUINT32_TO_LE (len);
      log_ring (ring, u, sizeof *u);
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

/* Inflight tracking, once a batch is published: its heads are no longer in
 * flight, and the region records the new position (packed: commits the free
 * list and the used position, which a crash before this rolls back). */
static void
commit_batch (VhostRing *ring)
{
  if (ring->packed)
    {
      VhostInflightPacked *region = ring->inflight;

      for (guint k = 0; k < ring->n_pending; k++)
        __atomic_store_n (&region->desc[ring->batch[k]].inflight, 0, __ATOMIC_RELEASE);
      region->old_free_head = READ_ONCE (region->free_head);
      region->old_used_wrap_counter = ring->used_wrap;
      __atomic_store_n (&region->old_used_idx, ring->used_idx, __ATOMIC_RELEASE);
    }
  else
    {
      VhostInflightSplit *region = ring->inflight;

      for (guint k = 0; k < ring->n_pending; k++)
        __atomic_store_n (&region->desc[ring->batch[k]].inflight, 0, __ATOMIC_RELEASE);
      __atomic_store_n (&region->used_idx, ring->used_idx, __ATOMIC_RELEASE);
    }
}

void
vhost_ring_flush (VhostRing *ring)
{
  if (ring->n_pending == 0 || ring->broken)
    return;
  vhost_ring_fence_streaming ();
  if (ring->inflight != NULL && ring->packed)
    {
      VhostInflightPacked *region = ring->inflight;

      /* The position the batch takes the used ring to, then the batch itself. */
      region->used_wrap_counter = ring->used_wrap;
      __atomic_store_n (&region->used_idx, ring->used_idx, __ATOMIC_RELEASE);
    }
  if (!ring->packed)
    {
      __atomic_store_n (&ring->used->idx, GUINT16_TO_LE (ring->used_idx), __ATOMIC_RELEASE);
      log_ring (ring, &ring->used->idx, sizeof ring->used->idx);
    }
  else
    {
      packed_close_run (ring);
      packed_write_shadow (ring);
    }
  if (ring->inflight != NULL)
    commit_batch (ring);
  log_kick (ring);
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
  if ((ring->call_fd < 0 && ring->call_inband == NULL) || !vhost_ring_should_notify (ring))
    return FALSE;
  if (ring->call_fd < 0)
    {
      ring->call_inband (ring, ring->call_inband_data);
      return TRUE;
    }
  while (eventfd_write (ring->call_fd, 1) < 0 && errno == EINTR)
    ;
  return TRUE;
}

gboolean
vhost_ring_has_avail (VhostRing *ring)
{
  /* A ring that waits for a translation has nothing to take until it comes. */
  if (ring->broken || !areas_ready (ring) || (ring->iotlb != NULL && g_atomic_int_get (&ring->miss_serial) != 0))
    return FALSE;
  if (ring->n_resubmit > 0)
    return TRUE;
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

  /* With an IOTLB, the areas may not have been there yet: the driver's
   * defaults (kicks on) hold until they are. */
  if (ring->broken || !areas_known (ring))
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
      log_ring (ring, ring->device_event, sizeof *ring->device_event);
      log_kick (ring);
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
          log_ring (ring, &ring->used->ring[ring->num], sizeof (guint16));
          log_kick (ring);
          __atomic_thread_fence (__ATOMIC_SEQ_CST);
          more = __atomic_load_n (&ring->avail->idx, __ATOMIC_ACQUIRE) != idx;
        }
      return more;
    }
  __atomic_store_n (&ring->used->flags, GUINT16_TO_LE (enable ? 0 : VRING_USED_F_NO_NOTIFY), __ATOMIC_RELEASE);
  log_ring (ring, &ring->used->flags, sizeof ring->used->flags);
  log_kick (ring);
  /* The caller looks at the ring again after this: order that read after our store. */
  __atomic_thread_fence (__ATOMIC_SEQ_CST);
  return FALSE;
}
