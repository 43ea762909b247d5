/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzzes the driver side of split and packed rings (core/vhost-driver-ring.c) against a device that writes the rings from the input. */
#include <errno.h>

#include "fuzz-input.h"
#include "vhost-glib/core/vhost-driver-ring.h"

/*
 * The input:
 *   u8   configuration: bit 0 packed, 1 event idx, 2 indirect tables
 *   u8   the queue size - 1
 *   u8   the entries of an indirect table - 1 (modulo 8), if bit 2
 *   then operations, a byte each and their arguments, until the input ends: the
 *   driver submits chains and reaps completions; the device takes chains as an
 *   honest device would, then completes them with the ids, lengths, indices and
 *   wrap bits the input chooses, or writes any bytes into the rings.
 *
 * Checked: every completion the driver hands over is a chain in flight, given
 * back once, with no more bytes than its writable buffers hold (what else the
 * device writes is refused with -EPROTO, or its length clipped); the driver takes
 * a chain exactly when it has room for it, and counts the chains in flight
 * right. AddressSanitizer catches any access outside the ring areas and indirect
 * tables, each allocated at its exact size.
 */

#define MAX_BUFS 4
#define MAX_CHAINS 512  /* submitted per input */
#define INDIRECT_GPA G_GUINT64_CONSTANT (0x40000000)
#define TAG(serial) (G_GUINT64_CONSTANT (0xfeed) << 48 | (serial))
#define F_AVAIL ((guint16) (1u << VRING_PACKED_DESC_F_AVAIL))
#define F_USED ((guint16) (1u << VRING_PACKED_DESC_F_USED))

enum
{
  OP_SUBMIT,
  OP_REAP,
  OP_KICK,
  OP_NOTIFY,
  OP_TAKE,         /* the device takes the next available chain */
  OP_COMPLETE,     /* the device writes a used entry for a chain it took, or not quite */
  OP_USED_IDX,     /* the device moves its used index (split) or position (packed) */
  OP_DEVICE_WRITE, /* the device writes bytes anywhere in the rings */
  N_OPS
};

/* A chain the driver was given: what the harness expects back. */
typedef struct
{
  gboolean in_flight;
  guint n_descs;     /* ring descriptors it takes */
  guint64 writable;  /* bytes */
} Chain;

/* A chain the device took. */
typedef struct
{
  guint16 id;
  guint16 n_descs;
  guint64 writable;
} Taken;

typedef struct
{
  FuzzInput in;
  VhostDriverRing ring;
  guint8 *area[3];   /* descriptors, available ring (packed: driver event), used ring (packed: device event) */
  guint64 area_size[3];
  guint8 *indirect;
  gsize indirect_size;
  /* The driver as the harness sees it: chain k has tag TAG (k + 1). */
  Chain chains[MAX_CHAINS];
  guint n_chains;
  guint n_in_flight;
  guint descs_in_flight;
  /* The device: its next available index (split) or position and wrap counter
   * (packed), the same for used entries, and the chains it took. */
  guint16 dev_avail;
  gboolean dev_avail_wrap;
  guint16 dev_used;
  gboolean dev_used_wrap;
  Taken taken[256];
  guint n_taken;
} Fuzz;

static void
setup (Fuzz *fz)
{
  VhostDriverRing *ring = &fz->ring;
  guint8 cfg = fuzz_u8 (&fz->in);
  guint num = 1 + fuzz_u8 (&fz->in);
  gboolean packed = (cfg & 1) != 0, indirect = (cfg & 4) != 0;

  vhost_driver_ring_sizes (num, packed, &fz->area_size[0], &fz->area_size[1], &fz->area_size[2]);
  for (guint j = 0; j < 3; j++)
    fz->area[j] = g_malloc0 (fz->area_size[j]);
  if (packed)
    {
      ring->pdesc = (struct vring_packed_desc *) fz->area[0];
      ring->driver_event = (struct vring_packed_desc_event *) fz->area[1];
      ring->device_event = (struct vring_packed_desc_event *) fz->area[2];
    }
  else
    {
      ring->desc = (struct vring_desc *) fz->area[0];
      ring->avail = (struct vring_avail *) fz->area[1];
      ring->used = (struct vring_used *) fz->area[2];
    }
  if (indirect)
    {
      ring->max_indirect = 1 + fuzz_u8 (&fz->in) % 8;
      fz->indirect_size = (gsize) num * ring->max_indirect * 16;
      fz->indirect = g_malloc0 (fz->indirect_size);
      ring->indirect_hva = fz->indirect;
      ring->indirect_gpa = INDIRECT_GPA;
    }
  vhost_driver_ring_init (ring, num, packed, (cfg & 2) != 0, indirect);
  fz->dev_avail_wrap = fz->dev_used_wrap = TRUE;
}

static void
op_submit (Fuzz *fz)
{
  VhostDriverRing *ring = &fz->ring;
  VhostDriverRingBuffer out[MAX_BUFS], in[MAX_BUFS];
  guint n_out = fuzz_u8 (&fz->in) % (MAX_BUFS + 1), n_in = fuzz_u8 (&fz->in) % (MAX_BUFS + 1);
  guint n = n_out + n_in, needed;
  guint64 writable = 0;
  gboolean room;
  int r;

  if (fz->n_chains == MAX_CHAINS)
    return;
  for (guint j = 0; j < n; j++)
    {
      VhostDriverRingBuffer *b = j < n_out ? &out[j] : &in[j - n_out];

      b->addr = fuzz_u32 (&fz->in);
      b->len = fuzz_u8 (&fz->in) & 1 ? fuzz_u32 (&fz->in) : fuzz_u16 (&fz->in);
      if (j >= n_out)
        writable += b->len;
    }
  needed = ring->indirect && n > 1 && n <= ring->max_indirect ? 1 : n;
  /* Room: enough free descriptors and, packed, a free buffer id. */
  room = n > 0 && fz->descs_in_flight + needed <= ring->num && (!ring->packed || fz->n_in_flight < ring->num);
  r = vhost_driver_ring_add (ring, out, n_out, in, n_in, TAG (fz->n_chains + 1));
  g_assert_cmpint (r, ==, room ? 0 : -ENOSPC);
  if (r == 0)
    {
      fz->chains[fz->n_chains] = (Chain) { TRUE, needed, writable };
      fz->n_in_flight++;
      fz->descs_in_flight += needed;
      fz->n_chains++;
    }
}

static void
op_reap (Fuzz *fz)
{
  guint tries = 1 + fuzz_u8 (&fz->in) % 8;

  for (guint t = 0; t < tries; t++)
    {
      guint64 tag = 0;
      guint32 len = 0;
      int r = vhost_driver_ring_get_used (&fz->ring, &tag, &len);
      Chain *c;

      if (r <= 0)
        {
          g_assert_true (r == 0 || r == -EPROTO);
          return;
        }
      g_assert_cmpint (r, ==, 1);
      /* A chain in flight, once, with no more than its writable bytes. */
      g_assert_cmphex (tag >> 48, ==, 0xfeed);
      g_assert_cmpuint (tag & 0xffff, >=, 1);
      g_assert_cmpuint (tag & 0xffff, <=, fz->n_chains);
      c = &fz->chains[(tag & 0xffff) - 1];
      g_assert_true (c->in_flight);
      g_assert_cmpuint (len, <=, c->writable);
      c->in_flight = FALSE;
      fz->n_in_flight--;
      fz->descs_in_flight -= c->n_descs;
    }
}

/* The host address of an indirect table the driver named, or NULL. */
static const void *
indirect_table (Fuzz *fz, guint64 addr, guint32 len)
{
  if (fz->indirect == NULL || addr < INDIRECT_GPA || addr - INDIRECT_GPA > fz->indirect_size ||
      len > fz->indirect_size - (addr - INDIRECT_GPA))
    return NULL;
  return fz->indirect + (addr - INDIRECT_GPA);
}

/* The writable bytes of the indirect table at @addr, as an honest device reads them. */
static guint64
indirect_writable (Fuzz *fz, guint64 addr, guint32 len)
{
  const guint8 *table = indirect_table (fz, addr, len);
  guint64 writable = 0;

  for (guint j = 0; table != NULL && j < len / 16; j++)
    {
      /* Split and packed table entries have their length and flags at the same
       * place. Copied out: the device may have moved the table off alignment. */
      struct vring_desc d;

      memcpy (&d, table + 16 * j, sizeof d);
      if (GUINT16_FROM_LE (d.flags) & VRING_DESC_F_WRITE)
        writable += GUINT32_FROM_LE (d.len);
    }
  return writable;
}

static gboolean
take_split (Fuzz *fz, Taken *t)
{
  VhostDriverRing *ring = &fz->ring;
  guint16 i;

  if (GUINT16_FROM_LE (ring->avail->idx) == fz->dev_avail)
    return FALSE;
  i = t->id = GUINT16_FROM_LE (ring->avail->ring[fz->dev_avail++ % ring->num]);
  t->n_descs = 1;
  for (guint count = 0; i < ring->num && count < ring->num; count++)
    {
      const struct vring_desc *d = &ring->desc[i];
      guint16 flags = GUINT16_FROM_LE (d->flags);

      if (flags & VRING_DESC_F_INDIRECT)
        t->writable += indirect_writable (fz, GUINT64_FROM_LE (d->addr), GUINT32_FROM_LE (d->len));
      else if (flags & VRING_DESC_F_WRITE)
        t->writable += GUINT32_FROM_LE (d->len);
      if (!(flags & VRING_DESC_F_NEXT))
        break;
      i = GUINT16_FROM_LE (d->next);
    }
  return TRUE;
}

static gboolean
take_packed (Fuzz *fz, Taken *t)
{
  VhostDriverRing *ring = &fz->ring;
  guint16 flags = GUINT16_FROM_LE (ring->pdesc[fz->dev_avail].flags);

  if (((flags & F_AVAIL) != 0) != fz->dev_avail_wrap || ((flags & F_USED) != 0) == fz->dev_avail_wrap)
    return FALSE;
  for (;;)
    {
      const struct vring_packed_desc *d = &ring->pdesc[fz->dev_avail];

      flags = GUINT16_FROM_LE (d->flags);
      t->id = GUINT16_FROM_LE (d->id);
      t->n_descs++;
      if (flags & VRING_DESC_F_INDIRECT)
        t->writable += indirect_writable (fz, GUINT64_FROM_LE (d->addr), GUINT32_FROM_LE (d->len));
      else if (flags & VRING_DESC_F_WRITE)
        t->writable += GUINT32_FROM_LE (d->len);
      if (++fz->dev_avail == ring->num)
        {
          fz->dev_avail = 0;
          fz->dev_avail_wrap = !fz->dev_avail_wrap;
        }
      if (!(flags & VRING_DESC_F_NEXT) || t->n_descs == ring->num)
        return TRUE;
    }
}

/* The device takes the next available chain, as an honest device would. */
static void
op_take (Fuzz *fz)
{
  Taken t = { 0 };

  if (fz->n_taken == G_N_ELEMENTS (fz->taken))
    return;
  if (fz->ring.packed ? take_packed (fz, &t) : take_split (fz, &t))
    fz->taken[fz->n_taken++] = t;
}

/* The device writes a used entry: for a chain it took, with a length it may have
 * written, or (as the input says) with any id, any length, twice, ahead of the
 * used index, or past the chain's descriptors. */
static void
op_complete (Fuzz *fz)
{
  VhostDriverRing *ring = &fz->ring;
  guint k = fuzz_u8 (&fz->in), mode = fuzz_u8 (&fz->in);
  Taken t = { 0 };
  guint32 len;

  if (fz->n_taken > 0)
    {
      k %= fz->n_taken;
      t = fz->taken[k];
      if (!(mode & 8))
        fz->taken[k] = fz->taken[--fz->n_taken];
    }
  switch (mode & 3)
    {
    case 0:
      len = fuzz_u32 (&fz->in) % (MIN (t.writable, G_MAXUINT32 - 1) + 1);
      break;
    case 1:
      len = MIN (t.writable, G_MAXUINT32);
      break;
    case 2:
      len = fuzz_u32 (&fz->in);
      break;
    default:
      len = 0;
      break;
    }
  if (mode & 4)
    t.id = fuzz_u16 (&fz->in);
  if (!ring->packed)
    {
      struct vring_used_elem *e = &ring->used->ring[fz->dev_used++ % ring->num];

      e->id = GUINT32_TO_LE (t.id);
      e->len = GUINT32_TO_LE (len);
      if (!(mode & 16))
        __atomic_store_n (&ring->used->idx, GUINT16_TO_LE (fz->dev_used), __ATOMIC_RELEASE);
    }
  else
    {
      struct vring_packed_desc *d = &ring->pdesc[fz->dev_used];
      guint skip = mode & 16 ? 1 + fuzz_u8 (&fz->in) % 4 : MAX (t.n_descs, 1);

      d->id = GUINT16_TO_LE (t.id);
      d->len = GUINT32_TO_LE (len);
      __atomic_store_n (&d->flags, GUINT16_TO_LE (fz->dev_used_wrap ? F_AVAIL | F_USED : 0), __ATOMIC_RELEASE);
      for (guint j = 0; j < skip; j++)
        if (++fz->dev_used == ring->num)
          {
            fz->dev_used = 0;
            fz->dev_used_wrap = !fz->dev_used_wrap;
          }
    }
}

static void
op_used_idx (Fuzz *fz)
{
  guint16 v = fuzz_u16 (&fz->in);

  if (!fz->ring.packed)
    {
      fz->dev_used = v;
      __atomic_store_n (&fz->ring.used->idx, GUINT16_TO_LE (v), __ATOMIC_RELEASE);
    }
  else
    {
      fz->dev_used = (v & 0x7fff) % fz->ring.num;
      fz->dev_used_wrap = v >> 15;
    }
}

/* A device may write anywhere the driver shares with it, the descriptors included. */
static void
op_device_write (Fuzz *fz)
{
  guint which = fuzz_u8 (&fz->in) % 4;
  guint8 *area = which < 3 ? fz->area[which] : fz->indirect;
  gsize size = which < 3 ? fz->area_size[which] : fz->indirect_size;
  gsize off = fuzz_u16 (&fz->in), len = fuzz_u8 (&fz->in);

  if (size == 0)
    return;
  off %= size;
  fuzz_bytes (&fz->in, area + off, MIN (len, size - off));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  Fuzz *fz = g_new0 (Fuzz, 1);

  fz->in = (FuzzInput) { data, size };
  setup (fz);
  while (fz->in.left > 0)
    {
      switch (fuzz_u8 (&fz->in) % N_OPS)
        {
        case OP_SUBMIT:
          op_submit (fz);
          break;
        case OP_REAP:
          op_reap (fz);
          break;
        case OP_KICK:
          vhost_driver_ring_kick_needed (&fz->ring);
          break;
        case OP_NOTIFY:
          vhost_driver_ring_enable_notify (&fz->ring, fuzz_u8 (&fz->in) & 1);
          break;
        case OP_TAKE:
          op_take (fz);
          break;
        case OP_COMPLETE:
          op_complete (fz);
          break;
        case OP_USED_IDX:
          op_used_idx (fz);
          break;
        default:
          op_device_write (fz);
          break;
        }
      g_assert_cmpuint (vhost_driver_ring_in_flight (&fz->ring), ==, fz->n_in_flight);
    }
  vhost_driver_ring_clear (&fz->ring);
  for (guint j = 0; j < 3; j++)
    g_free (fz->area[j]);
  g_free (fz->indirect);
  g_free (fz);
  return 0;
}
