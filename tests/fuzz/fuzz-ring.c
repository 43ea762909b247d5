/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fuzzes the device side of split and packed rings (core/vhost-ring.c) against a driver that writes guest memory from the input. */
#include <sys/eventfd.h>
#include <unistd.h>

#include "fuzz-input.h"
#include "vhost-glib/core/vhost-ring.h"

/*
 * The input:
 *   u8   configuration: bit 0 packed, 1 event idx, 2 indirect, 3 in order,
 *        4 dirty log, 5 a base is set before mapping, 6 a raw queue size,
 *        7 VIRTIO_F_ACCESS_PLATFORM: addresses are IOVAs, through an IOTLB
 *   the queue size: u16 if bit 6, else 1 + u8
 *   u8   regions - 1 (modulo 3), then for each region after the first a u8
 *        (where it starts, in 64-byte units), then for each region a u8
 *        (which of 4 guest-physical windows it sits in)
 *   with bit 7: u8 initial IOTLB updates (modulo 8), each as OP_IOTLB_UPDATE
 *   u16  x 3: where the descriptor ring, the available ring (packed: the driver
 *        event area) and the used ring (packed: the device event area) are, as
 *        offsets into guest memory (with bit 7: IOVAs)
 *   u8   the dirty log's size in bytes, if bit 4
 *   u16  the base, if bit 5
 *   u16  offset, u16 length, then that many bytes: guest memory's first contents
 *   then operations, a byte each and their arguments, until the input ends:
 *   the device pops, pushes, flushes and notifies while the driver writes memory.
 *
 * Checked: every iovec lies inside guest memory and within the caller's limit; a
 * failed pop marks the ring broken with a message; a broken ring stays broken
 * and fails every call (until the front-end sets a new base); the device writes
 * guest memory only where it may (the used ring, or the packed descriptors and
 * device event area) and only when it may (pushing, flushing, asking for kicks;
 * never once broken). With the IOTLB, every buffer of a chain lies in memory
 * that an entry of the IOTLB maps for the access the buffer is for (checked
 * against a model of the table kept here), misses and access failures are
 * reported with what they need, and an update that covers the miss a ring
 * waits for wakes it. AddressSanitizer catches any access outside guest memory
 * (allocated at its exact size) and the dirty log.
 */

#define MEM_SIZE 0x2000
#define WINDOW G_GUINT64_CONSTANT (0x100000) /* apart from each other in guest-physical addresses */
#define UADDR_BASE G_GUINT64_CONSTANT (0x7f0000000000)
#define MAX_REGIONS 3
#define MAX_IOV 8
#define MAX_HELD 64
#define BATCH 8
#define F_AVAIL ((guint16) (1u << VRING_PACKED_DESC_F_AVAIL))
#define F_USED ((guint16) (1u << VRING_PACKED_DESC_F_USED))
/* IOVAs: a small space, in blocks that the model follows. */
#define IOVA_BLOCK 64
#define IOVA_BLOCKS 256
#define IOVA_SPACE (IOVA_BLOCK * IOVA_BLOCKS)

/* The device's operations come first, the driver's after them. */
enum
{
  OP_POP,
  OP_POP_BATCH,
  OP_PUSH,
  OP_UNPOP,
  OP_FLUSH,
  OP_NOTIFY,
  OP_SET_KICKS,
  OP_HAS_AVAIL,
  OP_WRITE,     /* the driver writes bytes anywhere */
  OP_DESC,      /* the driver writes a descriptor of the ring */
  OP_PUBLISH,   /* the driver makes a chain (split) or a descriptor (packed) available */
  OP_AVAIL_IDX, /* the driver moves its available index (split) or position (packed) */
  OP_EVENT,     /* the driver writes its event suppression fields */
  OP_RESTART,   /* the front-end stops the ring and sets a base again */
  OP_IOTLB_UPDATE,     /* the front-end maps IOVA blocks (with the IOTLB) */
  OP_IOTLB_INVALIDATE, /* the front-end unmaps them */
  N_OPS
};

/* The model of the IOTLB: what each block of IOVAs maps to. */
typedef struct
{
  gboolean valid;
  guint64 uaddr;
  guint8 perm;
} Block;

typedef struct
{
  FuzzInput in;
  guint8 *buf;    /* guest memory: exactly MEM_SIZE bytes */
  guint8 *seen;   /* guest memory as the harness last left it: what differs, the device wrote */
  guint region_start[MAX_REGIONS + 1];
  VhostMem mem;
  VhostRing ring;
  gboolean mapped;
  /* Chains popped and not pushed, in the order they were popped. */
  VhostRingElement held[MAX_HELD];
  struct iovec held_iov[MAX_HELD][MAX_IOV];
  guint n_held;
  guint n_unpoppable; /* the last this many held may go back with vhost_ring_unpop() */
  /* The driver: the next avail index (split), the next descriptor and its wrap counter (packed). */
  guint16 avail_idx;
  guint16 pos;
  gboolean wrap;
  /* With the IOTLB: the table, its model, and what the model lets the device
   * read and write of guest memory. */
  VhostIotlb iotlb;
  Block blocks[IOVA_BLOCKS];
  guint8 allowed[MEM_SIZE]; /* VHOST_IOTLB_PERM_* bits */
} Fuzz;

/* The guest-physical address of the byte at @off in guest memory. */
static guint64
gpa_at (Fuzz *fz, guint off)
{
  for (guint i = 0; i < fz->mem.n_regions; i++)
    if (off < fz->region_start[i + 1])
      return fz->mem.regions[i].gpa + (off - fz->region_start[i]);
  g_assert_not_reached ();
}

/* A guest-physical address from the input, mostly inside guest memory; with
 * the IOTLB an IOVA, mostly inside the IOVA space. */
static guint64
input_gpa (Fuzz *fz)
{
  guint16 v = fuzz_u16 (&fz->in);

  if (v == 0xffff)
    return fuzz_u64 (&fz->in);
  if (fz->ring.iotlb != NULL)
    return v % IOVA_SPACE;
  return gpa_at (fz, v % MEM_SIZE);
}

/* The model's view: which bytes of guest memory the IOTLB lets the device read or write. */
static void
model_allowed (Fuzz *fz)
{
  memset (fz->allowed, 0, sizeof fz->allowed);
  for (guint b = 0; b < IOVA_BLOCKS; b++)
    for (guint k = 0; fz->blocks[b].valid && k < IOVA_BLOCK; k++)
      {
        guint64 u = fz->blocks[b].uaddr + k, len = 1;
        guint8 *p = vhost_mem_uaddr_to_hva_clip (&fz->mem, u, &len);

        if (p != NULL)
          fz->allowed[p - fz->buf] |= fz->blocks[b].perm;
      }
}

/* The front-end updates the IOTLB: whole blocks, to a user address mostly in guest
 * memory. A ring that waits for a translation in the range is woken (as the
 * engine does). */
static void
op_iotlb_update (Fuzz *fz)
{
  guint first = fuzz_u8 (&fz->in) % IOVA_BLOCKS, n = 1 + fuzz_u8 (&fz->in) % 16;
  guint16 where = fuzz_u16 (&fz->in);
  guint8 perm = fuzz_u8 (&fz->in) & VHOST_IOTLB_PERM_RW;
  guint64 uaddr = where == 0xffff ? fuzz_u64 (&fz->in) : UADDR_BASE + gpa_at (fz, where % MEM_SIZE);
  guint64 iova = first * IOVA_BLOCK, size;
  guint serial;

  n = MIN (n, IOVA_BLOCKS - first);
  size = n * IOVA_BLOCK;
  if (!vhost_iotlb_update (&fz->iotlb, iova, size, uaddr, perm, NULL))
    {
      /* Refused: a range whose user addresses wrap. */
      g_assert_true (uaddr + (size - 1) < uaddr);
      return;
    }
  for (guint b = first; b < first + n; b++)
    fz->blocks[b] = (Block) { TRUE, uaddr + (b - first) * IOVA_BLOCK, perm };
  model_allowed (fz);
  serial = (guint) g_atomic_int_get (&fz->ring.miss_serial);
  if (serial != 0 && fz->ring.miss_iova >= iova && fz->ring.miss_iova - iova < size)
    g_atomic_int_set (&fz->ring.miss_serial, 0);
}

static void
op_iotlb_invalidate (Fuzz *fz)
{
  guint first = fuzz_u8 (&fz->in) % IOVA_BLOCKS, n = 1 + fuzz_u8 (&fz->in) % 64;

  n = MIN (n, IOVA_BLOCKS - first);
  vhost_iotlb_invalidate (&fz->iotlb, first * IOVA_BLOCK, n * IOVA_BLOCK);
  for (guint b = first; b < first + n; b++)
    fz->blocks[b].valid = FALSE;
  model_allowed (fz);
}

/* The ring's reports: what the front-end would be sent. */
static void
iotlb_report (VhostRing *ring, guint8 type, guint64 iova, guint8 perm, guint serial, gpointer data)
{
  g_assert_true (type == VHOST_IOTLB_MISS || type == VHOST_IOTLB_ACCESS_FAIL);
  g_assert_true (perm >= VHOST_IOTLB_PERM_READ && perm <= VHOST_IOTLB_PERM_RW);
  if (type == VHOST_IOTLB_MISS)
    {
      /* The ring waits for exactly this. */
      g_assert_cmpuint (serial, !=, 0);
      g_assert_cmpuint (serial, ==, (guint) g_atomic_int_get (&ring->miss_serial));
      g_assert_cmpuint (iova, ==, ring->miss_iova);
    }
}

/* The driver writes @len bytes at @dest, inside guest memory. */
static void
driver_write (Fuzz *fz, void *dest, const void *src, gsize len)
{
  gsize off = (guint8 *) dest - fz->buf;

  g_assert_true ((guint8 *) dest >= fz->buf && off <= MEM_SIZE && len <= MEM_SIZE - off);
  memcpy (dest, src, len);
  memcpy (fz->seen + off, src, len);
}

static void
driver_write16 (Fuzz *fz, void *dest, guint16 value)
{
  value = GUINT16_TO_LE (value);
  driver_write (fz, dest, &value, sizeof value);
}

static void
setup_memory (Fuzz *fz)
{
  guint n = 1 + fuzz_u8 (&fz->in) % MAX_REGIONS, starts[MAX_REGIONS] = { 0 }, k = 1;

  for (guint i = 1; i < n; i++)
    starts[i] = (fuzz_u8 (&fz->in) * 64u) % MEM_SIZE;
  /* Sorted, without empty regions. */
  for (guint i = 1; i < n; i++)
    for (guint j = i + 1; j < n; j++)
      if (starts[j] < starts[i])
        {
          guint t = starts[i];

          starts[i] = starts[j];
          starts[j] = t;
        }
  fz->region_start[0] = 0;
  for (guint i = 1; i < n; i++)
    if (starts[i] != fz->region_start[k - 1])
      fz->region_start[k++] = starts[i];
  fz->region_start[k] = MEM_SIZE;
  fz->buf = g_malloc0 (MEM_SIZE);
  fz->mem.n_regions = k;
  for (guint i = 0; i < k; i++)
    {
      VhostMemRegion *r = &fz->mem.regions[i];

      /* Regions in one window are adjacent in guest-physical addresses, so a
       * buffer can span them; regions in different windows are apart. */
      r->gpa = (fuzz_u8 (&fz->in) % 4) * WINDOW + fz->region_start[i];
      r->size = fz->region_start[i + 1] - fz->region_start[i];
      r->uaddr = UADDR_BASE + r->gpa;
      r->hva = fz->buf + fz->region_start[i];
    }
}

static void
setup_ring (Fuzz *fz)
{
  VhostRing *ring = &fz->ring;
  guint8 cfg = fuzz_u8 (&fz->in);
  guint16 off, len;

  vhost_ring_init (ring, 0);
  ring->mem = &fz->mem;
  ring->packed = (cfg & 1) != 0;
  ring->event_idx = (cfg & 2) != 0;
  ring->indirect = (cfg & 4) != 0;
  ring->in_order = (cfg & 8) != 0;
  ring->num = (cfg & 64) ? fuzz_u16 (&fz->in) : 1u + fuzz_u8 (&fz->in);
  setup_memory (fz);
  vhost_iotlb_init (&fz->iotlb);
  if (cfg & 128)
    {
      guint n = fuzz_u8 (&fz->in) % 8;

      ring->iotlb = &fz->iotlb;
      ring->iotlb_report = iotlb_report;
      for (guint i = 0; i < n; i++)
        op_iotlb_update (fz);
      ring->desc_uaddr = fuzz_u16 (&fz->in) % IOVA_SPACE;
      ring->avail_uaddr = fuzz_u16 (&fz->in) % IOVA_SPACE;
      ring->used_uaddr = fuzz_u16 (&fz->in) % IOVA_SPACE;
    }
  else
    {
      ring->desc_uaddr = UADDR_BASE + gpa_at (fz, fuzz_u16 (&fz->in) % MEM_SIZE);
      ring->avail_uaddr = UADDR_BASE + gpa_at (fz, fuzz_u16 (&fz->in) % MEM_SIZE);
      ring->used_uaddr = UADDR_BASE + gpa_at (fz, fuzz_u16 (&fz->in) % MEM_SIZE);
    }
  if (cfg & 16)
    {
      fz->mem.log_size = fuzz_u8 (&fz->in);
      /* Exactly its size, so that a bit set past its end is caught. */
      fz->mem.log = fz->mem.log_size > 0 ? g_malloc0 (fz->mem.log_size) : NULL;
      ring->log_all = TRUE;
    }
  if (cfg & 32)
    vhost_ring_set_base (ring, fuzz_u16 (&fz->in));
  off = fuzz_u16 (&fz->in) % MEM_SIZE;
  len = fuzz_u16 (&fz->in);
  fuzz_bytes (&fz->in, fz->buf + off, MIN (len, MEM_SIZE - off));
  fz->wrap = TRUE;
}

static gboolean
inside_memory (Fuzz *fz, const struct iovec *v)
{
  const guint8 *p = v->iov_base;

  return p >= fz->buf && p < fz->buf + MEM_SIZE && v->iov_len <= (gsize) (fz->buf + MEM_SIZE - p);
}

/* Check a chain just popped, read its readable buffers and fill its writable ones. */
static void
check_chain (Fuzz *fz, const VhostRingElement *elem, const struct iovec *iov, guint max_iov)
{
  g_assert_true (elem->iov == iov);
  g_assert_cmpuint (elem->n_out + elem->n_in, <=, max_iov);
  g_assert_cmpuint (elem->n_descs, >=, 1);
  g_assert_cmpuint (elem->n_descs, <=, fz->ring.num);
  if (!fz->ring.packed)
    g_assert_cmpuint (elem->id, <, fz->ring.num);
  for (guint i = 0; i < elem->n_out + elem->n_in; i++)
    {
      volatile guint8 *p = iov[i].iov_base;

      g_assert_cmpuint (iov[i].iov_len, >, 0);
      g_assert_true (inside_memory (fz, &iov[i]));
      /* With the IOTLB, only what it maps for this access. */
      for (gsize k = 0; fz->ring.iotlb != NULL && k < iov[i].iov_len; k++)
        g_assert_true (fz->allowed[(guint8 *) iov[i].iov_base + k - fz->buf] &
                       (i < elem->n_out ? VHOST_IOTLB_PERM_READ : VHOST_IOTLB_PERM_WRITE));
      if (i < elem->n_out)
        (void) (p[0] + p[iov[i].iov_len - 1]);
      else
        {
          /* Written by the harness, as the device's handler. */
          memset (iov[i].iov_base, 0xa5, iov[i].iov_len);
          memset (fz->seen + ((guint8 *) iov[i].iov_base - fz->buf), 0xa5, iov[i].iov_len);
        }
    }
}

static void
hold (Fuzz *fz, const VhostRingElement *elem)
{
  guint k = fz->n_held++;

  fz->held[k] = *elem;
  fz->held[k].iov = fz->held_iov[k];
  memcpy (fz->held_iov[k], elem->iov, (elem->n_out + elem->n_in) * sizeof *elem->iov);
  fz->n_unpoppable++;
}

static void
release (Fuzz *fz, guint k)
{
  fz->n_held--;
  for (guint j = k; j < fz->n_held; j++)
    {
      fz->held[j] = fz->held[j + 1];
      fz->held[j].iov = fz->held_iov[j];
      memcpy (fz->held_iov[j], fz->held_iov[j + 1], sizeof fz->held_iov[j]);
    }
}

static guint32
writable_size (const VhostRingElement *elem)
{
  guint64 size = 0;

  for (guint i = elem->n_out; i < elem->n_out + elem->n_in; i++)
    size += elem->iov[i].iov_len;
  return MIN (size, G_MAXUINT32);
}

static void
op_pop (Fuzz *fz)
{
  VhostRingElement elem;
  struct iovec iov[MAX_IOV];
  guint max_iov = fuzz_u8 (&fz->in) % (MAX_IOV + 1);
  gboolean was_broken = fz->ring.broken;
  int r;

  if (fz->n_held == MAX_HELD)
    return;
  r = vhost_ring_pop (&fz->ring, &elem, iov, max_iov);
  g_assert_cmpint (r, >=, -1);
  g_assert_cmpint (r, <=, 1);
  g_assert_true ((r < 0) == fz->ring.broken);
  g_assert_true (!was_broken || r < 0);
  if (r == 1)
    {
      check_chain (fz, &elem, iov, max_iov);
      hold (fz, &elem);
    }
}

static void
op_pop_batch (Fuzz *fz)
{
  VhostRingElement elems[BATCH];
  struct iovec iov[BATCH * MAX_IOV];
  guint n = 1 + fuzz_u8 (&fz->in) % BATCH, max_iov = fuzz_u8 (&fz->in) % (MAX_IOV + 1);
  gboolean was_broken = fz->ring.broken;
  guint got;

  n = MIN (n, MAX_HELD - fz->n_held);
  got = vhost_ring_pop_batch (&fz->ring, elems, iov, max_iov, n);
  g_assert_cmpuint (got, <=, n);
  g_assert_true (!was_broken || got == 0);
  for (guint k = 0; k < got; k++)
    {
      check_chain (fz, &elems[k], iov + k * max_iov, max_iov);
      hold (fz, &elems[k]);
    }
}

static void
op_push (Fuzz *fz)
{
  guint k = fuzz_u8 (&fz->in), mode = fuzz_u8 (&fz->in);
  guint32 len;

  if (fz->n_held == 0)
    return;
  /* In order, the device gives chains back in the order it took them. */
  k = fz->ring.in_order ? 0 : k % fz->n_held;
  if (mode % 3 == 0)
    len = writable_size (&fz->held[k]);
  else if (mode % 3 == 1)
    len = 0;
  else
    len = fuzz_u32 (&fz->in);
  vhost_ring_push (&fz->ring, &fz->held[k], len);
  release (fz, k);
  fz->n_unpoppable = 0;
}

static void
op_unpop (Fuzz *fz)
{
  if (fz->n_unpoppable == 0)
    return;
  vhost_ring_unpop (&fz->ring, &fz->held[fz->n_held - 1]);
  fz->n_held--;
  fz->n_unpoppable--;
}

/* The device decides whether to notify the driver, and with a call eventfd
 * signals it exactly when it decided to. */
static void
op_notify (Fuzz *fz)
{
  gboolean was_broken = fz->ring.broken, notified;
  eventfd_t count = 0;
  int fd;

  if (!(fuzz_u8 (&fz->in) & 1))
    {
      g_assert_true (!vhost_ring_should_notify (&fz->ring) || !was_broken);
      return;
    }
  fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  g_assert_cmpint (fd, >=, 0);
  fz->ring.call_fd = fd;
  notified = vhost_ring_notify (&fz->ring);
  fz->ring.call_fd = -1;
  g_assert_true (!notified || !was_broken);
  g_assert_cmpint (eventfd_read (fd, &count) == 0, ==, notified);
  g_assert_cmpuint (count, ==, notified ? 1 : 0);
  close (fd);
}

/* The driver writes descriptor i of the ring. */
static void
op_desc (Fuzz *fz)
{
  guint i = fuzz_u16 (&fz->in) % fz->ring.num;
  guint64 addr = GUINT64_TO_LE (input_gpa (fz));
  guint32 len = GUINT32_TO_LE (fuzz_u8 (&fz->in) & 1 ? fuzz_u32 (&fz->in) : fuzz_u16 (&fz->in));
  guint16 flags = GUINT16_TO_LE (fuzz_u16 (&fz->in)), last = GUINT16_TO_LE (fuzz_u16 (&fz->in));

  if (!fz->ring.packed)
    {
      struct vring_desc d = { addr, len, flags, last };

      driver_write (fz, &fz->ring.desc[i], &d, sizeof d);
    }
  else
    {
      struct vring_packed_desc d = { addr, len, last, flags };

      driver_write (fz, &fz->ring.pdesc[i], &d, sizeof d);
    }
}

/* The driver makes a chain (split: a head) or a descriptor (packed: the next one,
 * with its flags' wrap bits right) available. */
static void
op_publish (Fuzz *fz)
{
  VhostRing *ring = &fz->ring;

  if (!ring->packed)
    {
      guint16 head = fuzz_u16 (&fz->in);

      if (!(head & 0x8000))
        head %= ring->num;
      driver_write16 (fz, &ring->avail->ring[fz->avail_idx % ring->num], head);
      driver_write16 (fz, &ring->avail->idx, ++fz->avail_idx);
    }
  else
    {
      /* One after the other: the order in which an initializer's expressions run is unspecified. */
      guint16 flags = fuzz_u8 (&fz->in) & (VRING_DESC_F_NEXT | VRING_DESC_F_WRITE | VRING_DESC_F_INDIRECT);
      guint64 addr = input_gpa (fz);
      guint32 len = fuzz_u16 (&fz->in);
      guint16 id = fuzz_u16 (&fz->in);
      struct vring_packed_desc d = {
        .addr = GUINT64_TO_LE (addr),
        .len = GUINT32_TO_LE (len),
        .id = GUINT16_TO_LE (id),
        .flags = GUINT16_TO_LE (flags | (fz->wrap ? F_AVAIL : F_USED)),
      };

      driver_write (fz, &ring->pdesc[fz->pos], &d, sizeof d);
      if (++fz->pos == ring->num)
        {
          fz->pos = 0;
          fz->wrap = !fz->wrap;
        }
    }
}

/* The driver moves its index as it likes, at any time (a racing or hostile driver). */
static void
op_avail_idx (Fuzz *fz)
{
  guint16 v = fuzz_u16 (&fz->in);

  if (!fz->ring.packed)
    {
      fz->avail_idx = v;
      driver_write16 (fz, &fz->ring.avail->idx, v);
    }
  else
    {
      fz->pos = (v & 0x7fff) % fz->ring.num;
      fz->wrap = v >> 15;
    }
}

static void
op_event (Fuzz *fz)
{
  VhostRing *ring = &fz->ring;
  guint16 flags = fuzz_u16 (&fz->in), event = fuzz_u16 (&fz->in);

  if (!ring->packed)
    {
      driver_write16 (fz, &ring->avail->flags, flags);
      /* used_event sits after the available ring. */
      driver_write16 (fz, &ring->avail->ring[ring->num], event);
    }
  else
    {
      driver_write16 (fz, &ring->driver_event->flags, flags);
      driver_write16 (fz, &ring->driver_event->off_wrap, event);
    }
}

static void
op_write (Fuzz *fz)
{
  guint off = fuzz_u16 (&fz->in) % MEM_SIZE, len = fuzz_u8 (&fz->in);
  guint8 bytes[256];

  len = fuzz_bytes (&fz->in, bytes, MIN (len, MEM_SIZE - off));
  driver_write (fz, fz->buf + off, bytes, len);
}

static gboolean
inside_area (Fuzz *fz, const void *area, gsize size, gsize off)
{
  gsize start = (const guint8 *) area - fz->buf;

  return area != NULL && off >= start && off - start < size;
}

/* Whether the device may write the byte at @off of guest memory. */
static gboolean
device_may_write (Fuzz *fz, gsize off)
{
  VhostRing *ring = &fz->ring;

  if (!ring->packed)
    return inside_area (fz, ring->used, 6 + 8 * ring->num, off);
  return inside_area (fz, ring->pdesc, 16 * ring->num, off) ||
         inside_area (fz, ring->device_event, sizeof *ring->device_event, off);
}

/* The device wrote guest memory only where it may, and only if @may_write.
 * Run after every operation of the device, so it must cost little: most write
 * nothing, which one memcmp() tells; then blocks of 256 bytes. */
static void
check_device_writes (Fuzz *fz, gboolean may_write)
{
  if (memcmp (fz->seen, fz->buf, MEM_SIZE) == 0)
    return;
  for (gsize block = 0; block < MEM_SIZE; block += 256)
    if (memcmp (fz->seen + block, fz->buf + block, 256) != 0)
      for (gsize off = block; off < block + 256; off++)
        if (fz->seen[off] != fz->buf[off])
          {
            g_assert_true (may_write && device_may_write (fz, off));
            fz->seen[off] = fz->buf[off];
          }
}

/* The front-end stops the ring (GET_VRING_BASE), perhaps changes the base, and starts it again. */
static void
op_restart (Fuzz *fz)
{
  guint8 mode = fuzz_u8 (&fz->in);
  guint32 base = vhost_ring_get_base (&fz->ring);

  if (mode & 1)
    base = fuzz_u16 (&fz->in);
  vhost_ring_flush (&fz->ring);
  check_device_writes (fz, !fz->ring.broken && fz->mapped);
  fz->n_held = fz->n_unpoppable = 0;
  vhost_ring_set_base (&fz->ring, base);
  g_assert_false (fz->ring.broken);
  fz->mapped = vhost_ring_map (&fz->ring);
}

/* Run one operation; those of the driver need the ring's areas mapped. */
static void
run_op (Fuzz *fz, guint op)
{
  VhostRing *ring = &fz->ring;
  gboolean was_broken = ring->broken, may_write = !ring->broken && fz->mapped;

  switch (op)
    {
    case OP_POP:
      op_pop (fz);
      break;
    case OP_POP_BATCH:
      op_pop_batch (fz);
      break;
    case OP_PUSH:
      op_push (fz);
      break;
    case OP_UNPOP:
      op_unpop (fz);
      break;
    case OP_FLUSH:
      vhost_ring_flush (ring);
      break;
    case OP_NOTIFY:
      op_notify (fz);
      break;
    case OP_SET_KICKS:
      g_assert_true (!vhost_ring_set_kicks (ring, fuzz_u8 (&fz->in) & 1) || !was_broken);
      break;
    case OP_HAS_AVAIL:
      g_assert_true (!vhost_ring_has_avail (ring) || !ring->broken);
      break;
    case OP_WRITE:
      op_write (fz);
      break;
    case OP_RESTART:
      op_restart (fz);
      break;
    case OP_IOTLB_UPDATE:
      if (ring->iotlb != NULL)
        op_iotlb_update (fz);
      break;
    case OP_IOTLB_INVALIDATE:
      if (ring->iotlb != NULL)
        op_iotlb_invalidate (fz);
      break;
    default:
      /* With the IOTLB the areas may wait for their translation. */
      if (!fz->mapped || (ring->packed ? ring->pdesc == NULL || ring->driver_event == NULL
                                       : ring->desc == NULL || ring->avail == NULL))
        break;
      if (op == OP_DESC)
        op_desc (fz);
      else if (op == OP_PUBLISH)
        op_publish (fz);
      else if (op == OP_AVAIL_IDX)
        op_avail_idx (fz);
      else
        op_event (fz);
      break;
    }
  /* Popping, unpopping and looking only read guest memory. */
  if (op < OP_WRITE || op == OP_RESTART)
    check_device_writes (fz, may_write && (op == OP_PUSH || op == OP_FLUSH || op == OP_SET_KICKS || op == OP_RESTART));
  /* Broken with a reason, and broken for good. */
  if (ring->broken)
    g_assert_true (g_str_has_prefix (ring->error, "vring 0: "));
  else
    g_assert_true (!was_broken || op == OP_RESTART);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  Fuzz *fz = g_new0 (Fuzz, 1);

  fz->in = (FuzzInput) { data, size };
  setup_ring (fz);
  fz->seen = g_memdup2 (fz->buf, MEM_SIZE);
  fz->mapped = vhost_ring_map (&fz->ring);
  g_assert_true (fz->mapped == !fz->ring.broken);
  check_device_writes (fz, FALSE);
  while (fz->in.left > 0)
    run_op (fz, fuzz_u8 (&fz->in) % N_OPS);
  run_op (fz, OP_FLUSH);
  vhost_iotlb_destroy (&fz->iotlb);
  g_free (fz->mem.log);
  g_free (fz->seen);
  g_free (fz->buf);
  g_free (fz);
  return 0;
}
