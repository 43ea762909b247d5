/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The device IOTLB: a sorted table of IOVA ranges, updated and invalidated by the control thread, read by the rings. */
#include "vhost-iotlb.h"
#include "vhost-glib/protocol/vhost-error.h"

#define ENTRY(iotlb, i) (&g_array_index ((iotlb)->entries, VhostIotlbEntry, (i)))

void
vhost_iotlb_init (VhostIotlb *iotlb)
{
  g_rw_lock_init (&iotlb->lock);
  iotlb->entries = g_array_new (FALSE, FALSE, sizeof (VhostIotlbEntry));
  iotlb->generation = 0;
  iotlb->evict_next = 0;
}

void
vhost_iotlb_destroy (VhostIotlb *iotlb)
{
  g_clear_pointer (&iotlb->entries, g_array_unref);
  g_rw_lock_clear (&iotlb->lock);
}

/* The index of the first entry that ends at or after @iova (entries->len if none). */
static guint
first_ending_after (VhostIotlb *iotlb, guint64 iova)
{
  guint lo = 0, hi = iotlb->entries->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;

      if (ENTRY (iotlb, mid)->last < iova)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

const VhostIotlbEntry *
vhost_iotlb_lookup (VhostIotlb *iotlb, guint64 iova)
{
  guint i = first_ending_after (iotlb, iova);

  if (i == iotlb->entries->len || ENTRY (iotlb, i)->iova > iova)
    return NULL;
  return ENTRY (iotlb, i);
}

/* With the lock held for writing: take [first, last] out of the table, trimming
 * or splitting the entries that reach into it. Returns where an entry for the
 * range goes, and whether anything was there. */
static guint
remove_range (VhostIotlb *iotlb, guint64 first, guint64 last, gboolean *removed)
{
  guint i = first_ending_after (iotlb, first), start;

  *removed = FALSE;
  if (i < iotlb->entries->len && ENTRY (iotlb, i)->iova < first)
    {
      VhostIotlbEntry *e = ENTRY (iotlb, i);

      *removed = e->last >= first && e->iova <= last;
      if (e->last > last)
        {
          /* The range is inside this entry: it becomes two. */
          VhostIotlbEntry tail = *e;

          tail.uaddr += last + 1 - e->iova;
          tail.iova = last + 1;
          e->last = first - 1;
          g_array_insert_val (iotlb->entries, i + 1, tail);
          return i + 1;
        }
      e->last = first - 1;
      i++;
    }
  start = i;
  while (i < iotlb->entries->len && ENTRY (iotlb, i)->last <= last)
    i++;
  if (i > start)
    {
      g_array_remove_range (iotlb->entries, start, i - start);
      *removed = TRUE;
    }
  if (start < iotlb->entries->len && ENTRY (iotlb, start)->iova <= last)
    {
      VhostIotlbEntry *e = ENTRY (iotlb, start);

      e->uaddr += last + 1 - e->iova;
      e->iova = last + 1;
      *removed = TRUE;
    }
  return start;
}

/* Whether @b goes on from @a: the next IOVA at the next user address, the same access. */
static gboolean
continues (const VhostIotlbEntry *a, const VhostIotlbEntry *b)
{
  return a->last != G_MAXUINT64 && a->last + 1 == b->iova && a->uaddr + (b->iova - a->iova) == b->uaddr &&
         a->perm == b->perm;
}

gboolean
vhost_iotlb_update (VhostIotlb *iotlb, guint64 iova, guint64 size, guint64 uaddr, guint8 perm, GError **error)
{
  VhostIotlbEntry entry = { iova, iova + size - 1, uaddr, perm };
  gboolean removed, evicted = FALSE;
  guint i;

  if (size == 0 || iova + (size - 1) < iova || uaddr + (size - 1) < uaddr)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "IOTLB_MSG: an update of 0x%" G_GINT64_MODIFIER "x bytes at IOVA 0x%" G_GINT64_MODIFIER
                   "x (user address 0x%" G_GINT64_MODIFIER "x) is empty or wraps past 2^64",
                   size, iova, uaddr);
      return FALSE;
    }
  if (perm > VHOST_IOTLB_PERM_RW)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "IOTLB_MSG: the permission %u of an update is not 0 (none), 1 (read), 2 (write) or 3 (both)",
                   perm);
      return FALSE;
    }
  g_rw_lock_writer_lock (&iotlb->lock);
  i = remove_range (iotlb, entry.iova, entry.last, &removed);
  /* Front-ends send a page at a time: pages that go on from each other make one entry. */
  if (i > 0 && continues (ENTRY (iotlb, i - 1), &entry))
    {
      entry.iova = ENTRY (iotlb, i - 1)->iova;
      entry.uaddr = ENTRY (iotlb, i - 1)->uaddr;
      g_array_remove_index (iotlb->entries, --i);
    }
  if (i < iotlb->entries->len && continues (&entry, ENTRY (iotlb, i)))
    {
      entry.last = ENTRY (iotlb, i)->last;
      g_array_remove_index (iotlb->entries, i);
    }
  g_array_insert_val (iotlb->entries, i, entry);
  if (iotlb->entries->len > VHOST_IOTLB_MAX_ENTRIES)
    {
      /* Evict another entry, round the table. */
      guint victim = iotlb->evict_next++ % (iotlb->entries->len - 1);

      g_array_remove_index (iotlb->entries, victim < i ? victim : victim + 1);
      evicted = TRUE;
    }
  if (removed || evicted)
    g_atomic_int_inc (&iotlb->generation);
  g_rw_lock_writer_unlock (&iotlb->lock);
  return TRUE;
}

void
vhost_iotlb_invalidate (VhostIotlb *iotlb, guint64 iova, guint64 size)
{
  guint64 last;
  gboolean removed;

  if (size == 0)
    return;
  last = iova + (size - 1) < iova ? G_MAXUINT64 : iova + (size - 1);
  g_rw_lock_writer_lock (&iotlb->lock);
  remove_range (iotlb, iova, last, &removed);
  if (removed)
    g_atomic_int_inc (&iotlb->generation);
  g_rw_lock_writer_unlock (&iotlb->lock);
}

void
vhost_iotlb_clear (VhostIotlb *iotlb)
{
  g_rw_lock_writer_lock (&iotlb->lock);
  if (iotlb->entries->len > 0)
    {
      g_array_set_size (iotlb->entries, 0);
      g_atomic_int_inc (&iotlb->generation);
    }
  g_rw_lock_writer_unlock (&iotlb->lock);
}

guint
vhost_iotlb_get_n_entries (VhostIotlb *iotlb)
{
  guint n;

  g_rw_lock_reader_lock (&iotlb->lock);
  n = iotlb->entries->len;
  g_rw_lock_reader_unlock (&iotlb->lock);
  return n;
}

VhostIotlbResult
vhost_iotlb_translate (VhostIotlb *iotlb, const VhostMem *mem, guint64 iova, guint8 perm, guint64 *len, void **hva,
                       guint64 *uaddr)
{
  const VhostIotlbEntry *e = vhost_iotlb_lookup (iotlb, iova);

  if (e == NULL)
    return VHOST_IOTLB_MISSING;
  if ((e->perm & perm) != perm)
    return VHOST_IOTLB_DENIED;
  /* What is left of the entry from iova on: e->last - iova + 1, which may be 2^64. */
  if (*len - 1 > e->last - iova)
    *len = e->last - iova + 1;
  *uaddr = e->uaddr + (iova - e->iova);
  *hva = vhost_mem_uaddr_to_hva_clip (mem, *uaddr, len);
  return *hva != NULL ? VHOST_IOTLB_OK : VHOST_IOTLB_OUTSIDE;
}

const char *
vhost_iotlb_perm_name (guint8 perm)
{
  switch (perm & VHOST_IOTLB_PERM_RW)
    {
    case VHOST_IOTLB_PERM_READ:
      return "read";
    case VHOST_IOTLB_PERM_WRITE:
      return "write";
    case VHOST_IOTLB_PERM_RW:
      return "read-write";
    default:
      return "no";
    }
}
