/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The device side of split and packed virtqueues against a hostile driver: rings written by hand into plain memory. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test-support.h"
#include "vhost-glib/core/vhost-ring.h"
#include "vhost-glib/core/vhost-driver-ring.h"
#include "vhost-glib/core/vhost-worker.h"
#include "vhost-glib/core/vhost-queue.h"

/* Two regions, adjacent in guest physical addresses, apart in our address space. */
#define REGION_SIZE 0x10000
#define GPA0 G_GUINT64_CONSTANT (0x10000)
#define GPA1 G_GUINT64_CONSTANT (0x20000)
#define UADDR0 G_GUINT64_CONSTANT (0x7000000000)
#define UADDR1 G_GUINT64_CONSTANT (0x7000010000)

/* Where things go in region 0 (offsets). The used ring has a page of its own
 * (gpa page 0x15) so that the dirty-log tests can tell it apart. */
#define DESC_OFF 0x0000
#define AVAIL_OFF 0x0800
#define USED_OFF 0x5000
#define TABLE_GPA (GPA0 + 0x6000)          /* indirect tables */
#define BUF_GPA(n) (GPA0 + 0x8000 + (n) * 0x100) /* data buffers */

#define F_NEXT VRING_DESC_F_NEXT
#define F_WRITE VRING_DESC_F_WRITE
#define F_INDIRECT VRING_DESC_F_INDIRECT
#define F_AVAIL ((guint16) (1u << VRING_PACKED_DESC_F_AVAIL))
#define F_USED ((guint16) (1u << VRING_PACKED_DESC_F_USED))

#define MAX_IOV 64

typedef struct
{
  guint8 *buf[2];   /* the regions: exactly REGION_SIZE bytes each */
  VhostMem mem;
  VhostRing ring;
  guint16 avail_idx; /* split driver: the next avail->idx */
  guint16 next;      /* packed driver: the next descriptor to make available... */
  gboolean wrap;     /* ...and its wrap counter */
  VhostRingElement elem;
  struct iovec iov[MAX_IOV];
} Fixture;

/* A ring over fresh zeroed memory, configured but not mapped. */
static Fixture *
fixture_new (gboolean packed, guint num, gboolean indirect)
{
  Fixture *fx = g_new0 (Fixture, 1);

  fx->buf[0] = g_malloc0 (REGION_SIZE);
  fx->buf[1] = g_malloc0 (REGION_SIZE);
  fx->mem.n_regions = 2;
  fx->mem.log_call_fd = -1;
  fx->mem.regions[0] = (VhostMemRegion) { GPA0, REGION_SIZE, UADDR0, fx->buf[0] };
  fx->mem.regions[1] = (VhostMemRegion) { GPA1, REGION_SIZE, UADDR1, fx->buf[1] };
  vhost_ring_init (&fx->ring, 0);
  fx->ring.mem = &fx->mem;
  fx->ring.num = num;
  fx->ring.packed = packed;
  fx->ring.indirect = indirect;
  fx->ring.desc_uaddr = UADDR0 + DESC_OFF;
  fx->ring.avail_uaddr = UADDR0 + AVAIL_OFF;
  fx->ring.used_uaddr = UADDR0 + USED_OFF;
  fx->ring.call_fd = -1;
  fx->wrap = TRUE;
  return fx;
}

static void
fixture_map (Fixture *fx)
{
  g_assert_true (vhost_ring_map (&fx->ring));
  g_assert_false (fx->ring.broken);
}

/* A mapped ring. */
static Fixture *
fixture_new_mapped (gboolean packed, guint num, gboolean indirect)
{
  Fixture *fx = fixture_new (packed, num, indirect);

  fixture_map (fx);
  return fx;
}

static void
fixture_free (Fixture *fx)
{
  g_free (fx->mem.log);
  g_free (fx->buf[0]);
  g_free (fx->buf[1]);
  g_free (fx);
}

/* Our address of guest physical address @gpa. */
static guint8 *
hva (Fixture *fx, guint64 gpa)
{
  if (gpa >= GPA0 && gpa < GPA0 + REGION_SIZE)
    return fx->buf[0] + (gpa - GPA0);
  g_assert_true (gpa >= GPA1 && gpa < GPA1 + REGION_SIZE);
  return fx->buf[1] + (gpa - GPA1);
}

static struct vring_desc *
split_desc (Fixture *fx)
{
  return (struct vring_desc *) (fx->buf[0] + DESC_OFF);
}

static struct vring_avail *
split_avail (Fixture *fx)
{
  return (struct vring_avail *) (fx->buf[0] + AVAIL_OFF);
}

static struct vring_used *
split_used (Fixture *fx)
{
  return (struct vring_used *) (fx->buf[0] + USED_OFF);
}

static struct vring_packed_desc *
packed_desc (Fixture *fx)
{
  return (struct vring_packed_desc *) (fx->buf[0] + DESC_OFF);
}

static void
set_desc (struct vring_desc *d, guint64 addr, guint32 len, guint16 flags, guint16 next)
{
  d->addr = addr;
  d->len = len;
  d->flags = flags;
  d->next = next;
}

/* Split driver: make the chain at @head available. */
static void
split_publish (Fixture *fx, guint16 head)
{
  struct vring_avail *avail = split_avail (fx);

  avail->ring[fx->avail_idx % fx->ring.num] = head;
  fx->avail_idx++;
  __atomic_store_n (&avail->idx, fx->avail_idx, __ATOMIC_RELEASE);
}

typedef struct
{
  guint64 addr;
  guint32 len;
  guint16 id;
  guint16 flags; /* F_NEXT, F_WRITE, F_INDIRECT; the avail/used bits are added */
} PDesc;

static void
set_pdesc (struct vring_packed_desc *d, const PDesc *p)
{
  d->addr = p->addr;
  d->len = p->len;
  d->id = p->id;
  d->flags = p->flags;
}

/* Packed driver: make @n descriptors available from the driver's position on, the
 * head's flags written last. */
static void
packed_publish (Fixture *fx, const PDesc *chain, guint n)
{
  struct vring_packed_desc *ring = packed_desc (fx);
  guint16 head = fx->next, head_flags = 0;

  for (guint j = 0; j < n; j++)
    {
      struct vring_packed_desc *d = &ring[fx->next];
      guint16 flags = chain[j].flags | (fx->wrap ? F_AVAIL : F_USED);

      d->addr = chain[j].addr;
      d->len = chain[j].len;
      d->id = chain[j].id;
      if (j == 0)
        head_flags = flags;
      else
        d->flags = flags;
      if (++fx->next == fx->ring.num)
        {
          fx->next = 0;
          fx->wrap = !fx->wrap;
        }
    }
  __atomic_store_n (&ring[head].flags, head_flags, __ATOMIC_RELEASE);
}

static int
pop (Fixture *fx, guint max_iov)
{
  return vhost_ring_pop (&fx->ring, &fx->elem, fx->iov, max_iov);
}

static void
assert_iov (Fixture *fx, guint i, guint64 gpa, gsize len)
{
  g_assert_true (fx->iov[i].iov_base == (void *) hva (fx, gpa));
  g_assert_cmpuint (fx->iov[i].iov_len, ==, len);
}

/* A broken ring stays broken and looks at guest memory no more. */
static void
assert_stays_broken (Fixture *fx)
{
  g_autofree char *error = g_strdup (fx->ring.error);
  g_autofree guint8 *copy0 = g_memdup2 (fx->buf[0], REGION_SIZE);
  g_autofree guint8 *copy1 = g_memdup2 (fx->buf[1], REGION_SIZE);
  VhostRing blind = fx->ring;
  VhostRingElement elem = { 0x1234, 0x5678, 77, 88, 0, NULL };

  /* A copy whose every pointer to memory faults if followed. */
  blind.mem = NULL;
  blind.desc = NULL;
  blind.avail = NULL;
  blind.used = NULL;
  blind.pdesc = NULL;
  blind.driver_event = NULL;
  blind.device_event = NULL;
  blind.log_all = FALSE;
  g_assert_cmpint (vhost_ring_pop (&blind, &elem, fx->iov, MAX_IOV), ==, -1);
  g_assert_cmpuint (elem.id, ==, 0x1234);
  g_assert_cmpuint (elem.n_descs, ==, 0x5678);
  g_assert_cmpuint (elem.n_out, ==, 77);
  g_assert_cmpuint (elem.n_in, ==, 88);
  g_assert_null (elem.iov);
  g_assert_false (vhost_ring_has_avail (&blind));
  vhost_ring_push (&blind, &fx->elem, 16);
  vhost_ring_flush (&blind);
  g_assert_false (vhost_ring_should_notify (&blind));
  vhost_ring_set_kicks (&blind, TRUE);
  g_assert_false (vhost_ring_map (&blind));

  /* And the real one. */
  g_assert_false (vhost_ring_map (&fx->ring));
  g_assert_cmpint (pop (fx, MAX_IOV), ==, -1);
  g_assert_false (vhost_ring_has_avail (&fx->ring));
  vhost_ring_push (&fx->ring, &fx->elem, 16);
  vhost_ring_flush (&fx->ring);
  vhost_ring_set_kicks (&fx->ring, TRUE);
  vhost_ring_set_kicks (&fx->ring, FALSE);
  g_assert_false (vhost_ring_should_notify (&fx->ring));
  g_assert_false (vhost_ring_notify (&fx->ring));
  g_assert_true (fx->ring.broken);
  g_assert_cmpstr (fx->ring.error, ==, error);
  g_assert_cmpmem (fx->buf[0], REGION_SIZE, copy0, REGION_SIZE);
  g_assert_cmpmem (fx->buf[1], REGION_SIZE, copy1, REGION_SIZE);
}

static void
assert_error (Fixture *fx, const char *message)
{
  g_assert_true (fx->ring.broken);
  g_test_message ("error: %s", fx->ring.error);
  g_assert_true (g_str_has_prefix (fx->ring.error, "vring 0: "));
  g_assert_nonnull (strstr (fx->ring.error, message));
}

/* Pop, expect the ring to break with @message, and check that it stays broken. */
static void
assert_pop_breaks (Fixture *fx, guint max_iov, const char *message)
{
  g_autofree guint8 *copy0 = g_memdup2 (fx->buf[0], REGION_SIZE);
  g_autofree guint8 *copy1 = g_memdup2 (fx->buf[1], REGION_SIZE);

  g_assert_cmpint (pop (fx, max_iov), ==, -1);
  assert_error (fx, message);
  /* Popping writes nothing to guest memory, even when it fails. */
  g_assert_cmpmem (fx->buf[0], REGION_SIZE, copy0, REGION_SIZE);
  g_assert_cmpmem (fx->buf[1], REGION_SIZE, copy1, REGION_SIZE);
  assert_stays_broken (fx);
}

/* Good paths: split. */

/* A device gives back the chains it popped last (a frame that did not fit), in
 * reverse order; popping again yields them again, the packed wrap counter
 * included. */
static void
test_unpop (gconstpointer data)
{
  gboolean packed = GPOINTER_TO_INT (data);
  Fixture *fx = fixture_new_mapped (packed, 4, FALSE);
  VhostRingElement first;
  struct iovec first_iov[MAX_IOV];
  guint32 base = vhost_ring_get_base (&fx->ring);

  if (packed)
    {
      const PDesc a[] = { { BUF_GPA (0), 0x10, 7, F_NEXT }, { BUF_GPA (1), 0x10, 7, F_WRITE } };
      const PDesc b[] = { { BUF_GPA (2), 0x10, 9, F_NEXT }, { BUF_GPA (3), 0x10, 9, F_WRITE } };

      packed_publish (fx, a, 2);
      packed_publish (fx, b, 2);
    }
  else
    {
      set_desc (&split_desc (fx)[0], BUF_GPA (0), 0x10, F_NEXT, 1);
      set_desc (&split_desc (fx)[1], BUF_GPA (1), 0x10, F_WRITE, 0);
      set_desc (&split_desc (fx)[2], BUF_GPA (2), 0x10, F_NEXT, 3);
      set_desc (&split_desc (fx)[3], BUF_GPA (3), 0x10, F_WRITE, 0);
      split_publish (fx, 0);
      split_publish (fx, 2);
    }
  for (guint round = 0; round < 2; round++)
    {
      g_assert_cmpint (vhost_ring_pop (&fx->ring, &first, first_iov, MAX_IOV), ==, 1);
      g_assert_cmpuint (first.id, ==, packed ? 7 : 0);
      g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
      g_assert_cmpuint (fx->elem.id, ==, packed ? 9 : 2);
      assert_iov (fx, 0, BUF_GPA (2), 0x10);
      /* Both taken: a packed ring of 4 wrapped; its used position (bits 16-31) is still 0 in wrap 1. */
      g_assert_cmphex (vhost_ring_get_base (&fx->ring), ==, packed ? 0x80000000 : base + 2);
      g_assert_cmpint (pop (fx, MAX_IOV), ==, 0);
      if (round == 1)
        break;
      vhost_ring_unpop (&fx->ring, &fx->elem);
      vhost_ring_unpop (&fx->ring, &first);
      g_assert_cmpuint (vhost_ring_get_base (&fx->ring), ==, base);
      g_assert_true (vhost_ring_has_avail (&fx->ring));
    }
  g_assert_false (fx->ring.broken);
  fixture_free (fx);
}

static void
test_split_empty (void)
{
  Fixture *fx = fixture_new_mapped (FALSE, 8, FALSE);

  g_assert_false (vhost_ring_has_avail (&fx->ring));
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 0);
  vhost_ring_flush (&fx->ring);
  g_assert_false (vhost_ring_should_notify (&fx->ring));
  g_assert_cmpuint (split_used (fx)->idx, ==, 0);
  g_assert_false (fx->ring.broken);
  fixture_free (fx);
}

static void
test_split_chain (void)
{
  Fixture *fx = fixture_new_mapped (FALSE, 8, FALSE);
  struct vring_desc *desc = split_desc (fx);
  struct vring_used *used = split_used (fx);

  set_desc (&desc[5], BUF_GPA (0), 0x10, F_NEXT, 2);
  set_desc (&desc[2], BUF_GPA (1), 0x20, F_NEXT, 7);
  set_desc (&desc[7], BUF_GPA (2), 0x80, F_WRITE, 0);
  split_publish (fx, 5);
  g_assert_true (vhost_ring_has_avail (&fx->ring));
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
  g_assert_cmpuint (fx->elem.id, ==, 5);
  g_assert_cmpuint (fx->elem.n_out, ==, 2);
  g_assert_cmpuint (fx->elem.n_in, ==, 1);
  g_assert_true (fx->elem.iov == fx->iov);
  assert_iov (fx, 0, BUF_GPA (0), 0x10);
  assert_iov (fx, 1, BUF_GPA (1), 0x20);
  assert_iov (fx, 2, BUF_GPA (2), 0x80);
  g_assert_cmpuint (vhost_ring_get_base (&fx->ring), ==, 1);
  g_assert_false (vhost_ring_has_avail (&fx->ring));
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 0);

  vhost_ring_push (&fx->ring, &fx->elem, 0x42);
  /* Written, but not published before the flush. */
  g_assert_cmpuint (used->ring[0].id, ==, 5);
  g_assert_cmpuint (used->ring[0].len, ==, 0x42);
  g_assert_cmpuint (used->idx, ==, 0);
  g_assert_false (vhost_ring_should_notify (&fx->ring));
  vhost_ring_flush (&fx->ring);
  g_assert_cmpuint (used->idx, ==, 1);
  g_assert_true (vhost_ring_should_notify (&fx->ring));
  g_assert_false (vhost_ring_should_notify (&fx->ring));
  g_assert_false (fx->ring.broken);
  fixture_free (fx);
}

/* Several chains popped, pushed out of order, published by one flush. */
static void
test_split_batch (void)
{
  Fixture *fx = fixture_new_mapped (FALSE, 8, FALSE);
  struct vring_desc *desc = split_desc (fx);
  struct vring_used *used = split_used (fx);
  VhostRingElement elems[3];
  struct iovec iovs[3][4];

  for (guint i = 0; i < 3; i++)
    {
      set_desc (&desc[i], BUF_GPA (i), 0x10 + i, F_WRITE, 0);
      split_publish (fx, i);
    }
  for (guint i = 0; i < 3; i++)
    {
      g_assert_cmpint (vhost_ring_pop (&fx->ring, &elems[i], iovs[i], 4), ==, 1);
      g_assert_cmpuint (elems[i].id, ==, i);
      g_assert_cmpuint (elems[i].n_in, ==, 1);
      g_assert_true (iovs[i][0].iov_base == (void *) hva (fx, BUF_GPA (i)));
    }
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 0);
  vhost_ring_push (&fx->ring, &elems[2], 2);
  vhost_ring_push (&fx->ring, &elems[0], 0);
  vhost_ring_push (&fx->ring, &elems[1], 1);
  g_assert_cmpuint (used->idx, ==, 0);
  vhost_ring_flush (&fx->ring);
  g_assert_cmpuint (used->idx, ==, 3);
  g_assert_cmpuint (used->ring[0].id, ==, 2);
  g_assert_cmpuint (used->ring[1].id, ==, 0);
  g_assert_cmpuint (used->ring[2].id, ==, 1);
  g_assert_cmpuint (used->ring[2].len, ==, 1);
  fixture_free (fx);
}

/* The used index moves every VHOST_RING_PUBLISH_BATCH pushes without a flush. */
static void
test_split_publish_batch (void)
{
  Fixture *fx = fixture_new_mapped (FALSE, 64, FALSE);
  struct vring_desc *desc = split_desc (fx);
  struct vring_used *used = split_used (fx);
  const guint batch = VHOST_RING_PUBLISH_BATCH, total = 2 * VHOST_RING_PUBLISH_BATCH + 8;
  VhostRingElement elems[64];
  struct iovec iovs[64][2];

  for (guint i = 0; i < total; i++)
    {
      set_desc (&desc[i], BUF_GPA (i % 16), 0x10, F_WRITE, 0);
      split_publish (fx, i);
    }
  g_assert_cmpuint (vhost_ring_pop_batch (&fx->ring, elems, &iovs[0][0], 2, total), ==, total);
  for (guint i = 0; i < total; i++)
    {
      vhost_ring_push (&fx->ring, &elems[i], i + 1);
      g_assert_cmpuint (used->idx, ==, (i + 1) / batch * batch);
      g_assert_cmpuint (used->ring[i].id, ==, i);
      g_assert_cmpuint (used->ring[i].len, ==, i + 1);
    }
  g_assert_true (vhost_ring_should_notify (&fx->ring));
  vhost_ring_flush (&fx->ring);
  g_assert_cmpuint (used->idx, ==, total);
  fixture_free (fx);
}

/* The 16-bit indices wrap; the used index is taken from the ring after set_base. */
static void
test_split_index_wrap (void)
{
  Fixture *fx = fixture_new (FALSE, 8, FALSE);
  struct vring_desc *desc = split_desc (fx);
  struct vring_used *used = split_used (fx);

  used->idx = 0xfffd;
  fx->avail_idx = 0xfffe;
  vhost_ring_set_base (&fx->ring, 0xfffe);
  fixture_map (fx);
  g_assert_cmpuint (vhost_ring_get_base (&fx->ring), ==, 0xfffe);
  for (guint round = 0; round < 20; round++)
    {
      guint16 head = round % 8;

      set_desc (&desc[head], BUF_GPA (head), 0x10, F_WRITE, 0);
      split_publish (fx, head);
      g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
      g_assert_cmpuint (fx->elem.id, ==, head);
      vhost_ring_push (&fx->ring, &fx->elem, round);
      vhost_ring_flush (&fx->ring);
      g_assert_cmpuint (used->idx, ==, (guint16) (0xfffd + round + 1));
      g_assert_cmpuint (used->ring[(guint16) (0xfffd + round) % 8].id, ==, head);
      g_assert_cmpuint (used->ring[(guint16) (0xfffd + round) % 8].len, ==, round);
      g_assert_cmpuint (vhost_ring_get_base (&fx->ring), ==, (guint16) (0xfffe + round + 1));
    }
  g_assert_false (fx->ring.broken);
  fixture_free (fx);
}

static void
test_split_span_regions (void)
{
  Fixture *fx = fixture_new_mapped (FALSE, 8, FALSE);

  set_desc (&split_desc (fx)[0], GPA1 - 0x100, 0x200, F_WRITE, 0);
  split_publish (fx, 0);
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
  g_assert_cmpuint (fx->elem.n_out, ==, 0);
  g_assert_cmpuint (fx->elem.n_in, ==, 2);
  g_assert_true (fx->iov[0].iov_base == (void *) (fx->buf[0] + REGION_SIZE - 0x100));
  g_assert_cmpuint (fx->iov[0].iov_len, ==, 0x100);
  g_assert_true (fx->iov[1].iov_base == (void *) fx->buf[1]);
  g_assert_cmpuint (fx->iov[1].iov_len, ==, 0x100);
  fixture_free (fx);
}

/* Buffers right up to the last byte of memory, and empty ones, are fine. */
static void
test_split_edges (void)
{
  Fixture *fx = fixture_new_mapped (FALSE, 8, FALSE);
  struct vring_desc *desc = split_desc (fx);

  set_desc (&desc[0], GPA1 + REGION_SIZE - 0x10, 0x10, F_NEXT, 1);
  set_desc (&desc[1], 0xdead00000000, 0, F_NEXT, 2); /* empty: no iovec, not translated */
  set_desc (&desc[2], GPA0, 1, F_WRITE, 0);
  split_publish (fx, 0);
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
  g_assert_cmpuint (fx->elem.n_out, ==, 1);
  g_assert_cmpuint (fx->elem.n_in, ==, 1);
  assert_iov (fx, 0, GPA1 + REGION_SIZE - 0x10, 0x10);
  assert_iov (fx, 1, GPA0, 1);
  fixture_free (fx);
}

static void
test_split_indirect (void)
{
  Fixture *fx = fixture_new_mapped (FALSE, 8, TRUE);
  struct vring_desc *table = (struct vring_desc *) hva (fx, TABLE_GPA);

  /* The table may be as long as the queue; its next fields index the table. */
  set_desc (&table[0], BUF_GPA (0), 0x10, F_NEXT, 2);
  set_desc (&table[2], BUF_GPA (1), 0x20, F_NEXT | F_WRITE, 1);
  set_desc (&table[1], BUF_GPA (2), 0x30, F_WRITE, 0);
  set_desc (&split_desc (fx)[4], TABLE_GPA, 3 * 16, F_INDIRECT, 0);
  split_publish (fx, 4);
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
  g_assert_cmpuint (fx->elem.id, ==, 4);
  g_assert_cmpuint (fx->elem.n_out, ==, 1);
  g_assert_cmpuint (fx->elem.n_in, ==, 2);
  assert_iov (fx, 0, BUF_GPA (0), 0x10);
  assert_iov (fx, 1, BUF_GPA (1), 0x20);
  assert_iov (fx, 2, BUF_GPA (2), 0x30);
  vhost_ring_push (&fx->ring, &fx->elem, 0x50);
  vhost_ring_flush (&fx->ring);
  g_assert_cmpuint (split_used (fx)->idx, ==, 1);
  g_assert_cmpuint (split_used (fx)->ring[0].id, ==, 4);
  g_assert_cmpuint (split_used (fx)->ring[0].len, ==, 0x50);

  /* A table of exactly num descriptors. */
  for (guint i = 0; i < 8; i++)
    set_desc (&table[i], BUF_GPA (i), 0x10, i < 7 ? F_NEXT : 0, i + 1);
  set_desc (&split_desc (fx)[0], TABLE_GPA, 8 * 16, F_INDIRECT, 0);
  split_publish (fx, 0);
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
  g_assert_cmpuint (fx->elem.n_out, ==, 8);
  g_assert_false (fx->ring.broken);
  fixture_free (fx);
}

/* A chain of exactly num descriptors is not a loop. */
static void
test_split_full_chain (void)
{
  Fixture *fx = fixture_new_mapped (FALSE, 8, FALSE);

  for (guint i = 0; i < 8; i++)
    set_desc (&split_desc (fx)[i], BUF_GPA (i), 0x10, i < 7 ? F_NEXT : F_WRITE, i + 1);
  split_publish (fx, 0);
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
  g_assert_cmpuint (fx->elem.n_out, ==, 7);
  g_assert_cmpuint (fx->elem.n_in, ==, 1);
  fixture_free (fx);
}

static void
push_flush_one (Fixture *fx, guint16 head)
{
  set_desc (&split_desc (fx)[head], BUF_GPA (head), 0x10, F_WRITE, 0);
  split_publish (fx, head);
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
  vhost_ring_push (&fx->ring, &fx->elem, 0x10);
  vhost_ring_flush (&fx->ring);
}

static void
test_split_event_idx (void)
{
  Fixture *fx = fixture_new_mapped (FALSE, 8, FALSE);
  struct vring_avail *avail = split_avail (fx);
  guint16 *used_event = &avail->ring[8];

  fx->ring.event_idx = TRUE;
  /* The device ignores the flags with event idx. */
  avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
  *used_event = 100;

  /* The first decision has nothing to compare with: notify. */
  push_flush_one (fx, 0); /* used 0 -> 1 */
  g_assert_true (vhost_ring_should_notify (&fx->ring));
  g_assert_false (vhost_ring_should_notify (&fx->ring));

  /* The driver wants a notification once entry 5 is used: not yet. */
  *used_event = 5;
  push_flush_one (fx, 1); /* 1 -> 2 */
  g_assert_false (vhost_ring_should_notify (&fx->ring));

  /* Entry 2 is the one this push writes: notify. */
  *used_event = 2;
  push_flush_one (fx, 2); /* 2 -> 3 */
  g_assert_true (vhost_ring_should_notify (&fx->ring));

  /* A batch 3 -> 6 passes entry 5. */
  *used_event = 5;
  for (guint i = 3; i < 6; i++)
    {
      set_desc (&split_desc (fx)[i], BUF_GPA (i), 0x10, F_WRITE, 0);
      split_publish (fx, i);
      g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
      vhost_ring_push (&fx->ring, &fx->elem, 0x10);
    }
  vhost_ring_flush (&fx->ring);
  g_assert_cmpuint (split_used (fx)->idx, ==, 6);
  g_assert_true (vhost_ring_should_notify (&fx->ring));

  /* An event behind: 6 -> 7 does not pass entry 3. */
  *used_event = 3;
  push_flush_one (fx, 6);
  g_assert_false (vhost_ring_should_notify (&fx->ring));

  /* ... but an event right at the old index does: 7 -> 8 writes entry 7. */
  *used_event = 7;
  push_flush_one (fx, 7);
  g_assert_true (vhost_ring_should_notify (&fx->ring));

  /* set_kicks writes avail_event after the used ring. */
  vhost_ring_set_kicks (&fx->ring, TRUE);
  g_assert_cmpuint (*(guint16 *) &split_used (fx)->ring[8], ==, 8);
  fixture_free (fx);
}

static void
test_split_no_interrupt (void)
{
  Fixture *fx = fixture_new_mapped (FALSE, 8, FALSE);
  int efd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  eventfd_t value;

  g_assert_cmpint (efd, >=, 0);
  fx->ring.call_fd = efd;
  split_avail (fx)->ring[8] = 0; /* used_event: must be ignored without event idx */

  split_avail (fx)->flags = VRING_AVAIL_F_NO_INTERRUPT;
  push_flush_one (fx, 0);
  g_assert_false (vhost_ring_notify (&fx->ring));
  g_assert_cmpint (eventfd_read (efd, &value), ==, -1);
  g_assert_cmpint (errno, ==, EAGAIN);

  split_avail (fx)->flags = 0;
  push_flush_one (fx, 1);
  g_assert_true (vhost_ring_notify (&fx->ring));
  g_assert_cmpint (eventfd_read (efd, &value), ==, 0);
  g_assert_cmpuint (value, ==, 1);
  /* Nothing new since. */
  g_assert_false (vhost_ring_notify (&fx->ring));

  split_avail (fx)->flags = VRING_AVAIL_F_NO_INTERRUPT;
  push_flush_one (fx, 2);
  g_assert_false (vhost_ring_should_notify (&fx->ring));
  split_avail (fx)->flags = 0;
  push_flush_one (fx, 3);
  g_assert_true (vhost_ring_should_notify (&fx->ring));
  close (efd);
  fixture_free (fx);
}

static void
test_split_kicks (void)
{
  Fixture *fx = fixture_new_mapped (FALSE, 8, FALSE);

  vhost_ring_set_kicks (&fx->ring, FALSE);
  g_assert_cmpuint (split_used (fx)->flags, ==, VRING_USED_F_NO_NOTIFY);
  vhost_ring_set_kicks (&fx->ring, TRUE);
  g_assert_cmpuint (split_used (fx)->flags, ==, 0);
  fixture_free (fx);
}

/* Good paths: packed. */

static void
test_packed_chain (void)
{
  Fixture *fx = fixture_new_mapped (TRUE, 8, FALSE);
  struct vring_packed_desc *ring = packed_desc (fx);
  const PDesc chain[] = {
    { BUF_GPA (0), 0x10, 0xaaaa, F_NEXT },
    { BUF_GPA (1), 0x20, 0x1234, F_WRITE },
  };

  /* Available and used positions: 0 in wrap 1. */
  g_assert_cmphex (vhost_ring_get_base (&fx->ring), ==, 0x80008000);
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 0);

  /* Not available while the head is not. */
  set_pdesc (&ring[1], &chain[1]);
  ring[1].flags |= F_AVAIL;
  g_assert_false (vhost_ring_has_avail (&fx->ring));
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 0);
  /* Both bits set is not available in wrap 1 either. */
  set_pdesc (&ring[0], &chain[0]);
  ring[0].flags |= F_AVAIL | F_USED;
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 0);

  packed_publish (fx, chain, 2);
  g_assert_true (vhost_ring_has_avail (&fx->ring));
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
  g_assert_cmpuint (fx->elem.id, ==, 0x1234); /* the last descriptor's */
  g_assert_cmpuint (fx->elem.n_descs, ==, 2);
  g_assert_cmpuint (fx->elem.n_out, ==, 1);
  g_assert_cmpuint (fx->elem.n_in, ==, 1);
  assert_iov (fx, 0, BUF_GPA (0), 0x10);
  assert_iov (fx, 1, BUF_GPA (1), 0x20);
  g_assert_cmphex (vhost_ring_get_base (&fx->ring), ==, 0x80008000 | 2);
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 0);

  vhost_ring_push (&fx->ring, &fx->elem, 0x20);
  /* The head of a batch is published by the flush. */
  g_assert_cmpuint (ring[0].flags, ==, F_NEXT | F_AVAIL);
  g_assert_false (vhost_ring_should_notify (&fx->ring));
  vhost_ring_flush (&fx->ring);
  g_assert_cmpuint (ring[0].id, ==, 0x1234);
  g_assert_cmpuint (ring[0].len, ==, 0x20);
  g_assert_cmpuint (ring[0].flags, ==, F_AVAIL | F_USED);
  g_assert_cmpuint (ring[0].addr, ==, BUF_GPA (0)); /* untouched */
  /* The device skips the chain's other descriptor. */
  g_assert_cmpuint (ring[1].flags, ==, F_WRITE | F_AVAIL);
  g_assert_true (vhost_ring_should_notify (&fx->ring));
  g_assert_false (fx->ring.broken);
  fixture_free (fx);
}

/* Chains of several lengths around a ring of 4, many times: the wrap counters of
 * both sides, the used flags, the base. */
static void
test_packed_wrap (void)
{
  static const guint lengths[] = { 1, 2, 3, 1, 3, 2, 4, 1, 1, 3, 3, 2, 4, 4, 1 };
  Fixture *fx = fixture_new_mapped (TRUE, 4, FALSE);
  struct vring_packed_desc *ring = packed_desc (fx);
  gboolean seen_wrap[2] = { FALSE, FALSE };

  for (guint round = 0; round < G_N_ELEMENTS (lengths); round++)
    {
      guint k = lengths[round];
      guint16 head = fx->next;
      gboolean head_wrap = fx->wrap;
      PDesc chain[4];

      for (guint j = 0; j < k; j++)
        chain[j] = (PDesc) { BUF_GPA (j), 0x10 * (j + 1), round + 100, j + 1 < k ? F_NEXT : F_WRITE };
      packed_publish (fx, chain, k);
      g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
      g_assert_cmpuint (fx->elem.id, ==, round + 100);
      g_assert_cmpuint (fx->elem.n_descs, ==, k);
      g_assert_cmpuint (fx->elem.n_out, ==, k - 1);
      g_assert_cmpuint (fx->elem.n_in, ==, 1);
      for (guint j = 0; j < k; j++)
        assert_iov (fx, j, BUF_GPA (j), 0x10 * (j + 1));
      g_assert_cmpint (pop (fx, MAX_IOV), ==, 0);
      /* The available position, in bits 0-15: the used one lags until the push. */
      g_assert_cmpuint (vhost_ring_get_base (&fx->ring) & 0xffff, ==, fx->next | ((guint32) fx->wrap << 15));
      seen_wrap[fx->wrap] = TRUE;

      vhost_ring_push (&fx->ring, &fx->elem, round);
      vhost_ring_flush (&fx->ring);
      g_assert_cmpuint (ring[head].id, ==, round + 100);
      g_assert_cmpuint (ring[head].len, ==, round);
      g_assert_cmpuint (ring[head].flags, ==, head_wrap ? F_AVAIL | F_USED : 0);
      g_assert_cmpuint (fx->ring.used_idx, ==, fx->next);
      g_assert_cmpint (fx->ring.used_wrap, ==, fx->wrap);
    }
  g_assert_true (seen_wrap[0]);
  g_assert_true (seen_wrap[1]);

  /* The base carries the wrap counter into a restarted ring. */
  {
    guint32 base = vhost_ring_get_base (&fx->ring);
    PDesc one = { BUF_GPA (0), 0x10, 9, 0 };

    vhost_ring_init (&fx->ring, 0);
    fx->ring.mem = &fx->mem;
    fx->ring.num = 4;
    fx->ring.packed = TRUE;
    fx->ring.desc_uaddr = UADDR0 + DESC_OFF;
    fx->ring.avail_uaddr = UADDR0 + AVAIL_OFF;
    fx->ring.used_uaddr = UADDR0 + USED_OFF;
    vhost_ring_set_base (&fx->ring, base);
    fixture_map (fx);
    g_assert_cmpuint (vhost_ring_get_base (&fx->ring), ==, base);
    g_assert_cmpint (pop (fx, MAX_IOV), ==, 0);
    packed_publish (fx, &one, 1);
    g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
    g_assert_cmpuint (fx->elem.id, ==, 9);
  }
  fixture_free (fx);
}

/* Several chains pushed then one flush: the head is published last. */
static void
test_packed_batch (void)
{
  Fixture *fx = fixture_new_mapped (TRUE, 8, FALSE);
  struct vring_packed_desc *ring = packed_desc (fx);
  VhostRingElement elems[3];
  struct iovec iovs[3][4];

  for (guint i = 0; i < 3; i++)
    {
      PDesc d = { BUF_GPA (i), 0x10, 50 + i, F_WRITE };

      packed_publish (fx, &d, 1);
    }
  for (guint i = 0; i < 3; i++)
    g_assert_cmpint (vhost_ring_pop (&fx->ring, &elems[i], iovs[i], 4), ==, 1);
  vhost_ring_push (&fx->ring, &elems[1], 1);
  vhost_ring_push (&fx->ring, &elems[0], 0);
  vhost_ring_push (&fx->ring, &elems[2], 2);
  /* Nothing written before the flush: the used descriptors go out together. */
  for (guint i = 0; i < 3; i++)
    {
      g_assert_cmpuint (ring[i].flags, ==, F_WRITE | F_AVAIL);
      g_assert_cmpuint (ring[i].id, ==, 50 + i);
    }
  vhost_ring_flush (&fx->ring);
  g_assert_cmpuint (ring[0].flags, ==, F_AVAIL | F_USED);
  g_assert_cmpuint (ring[1].flags, ==, F_AVAIL | F_USED);
  g_assert_cmpuint (ring[2].flags, ==, F_AVAIL | F_USED);
  g_assert_cmpuint (ring[0].id, ==, 51);
  g_assert_cmpuint (ring[1].id, ==, 50);
  g_assert_cmpuint (ring[2].id, ==, 52);
  fixture_free (fx);
}

/* The guest physical address of our address @p. */
static guint64
gpa_of (Fixture *fx, const void *p)
{
  const guint8 *b = p;

  if (b >= fx->buf[0] && b < fx->buf[0] + REGION_SIZE)
    return GPA0 + (b - fx->buf[0]);
  g_assert_true (b >= fx->buf[1] && b < fx->buf[1] + REGION_SIZE);
  return GPA1 + (b - fx->buf[1]);
}

/* vhost_ring_pop_batch() gives the chains that single pops give: lines of four
 * single-buffer chains taken at once, and everything else (chains of several
 * descriptors, indirect ones, buffers over two regions, empty ones, lines the
 * driver has not filled yet, the wrap, a size that is not a multiple of four) one
 * at a time. Pushing them back writes the same used descriptors, also when more
 * are pushed before a flush than one publish batch (VHOST_RING_PUBLISH_BATCH). */
static void
test_packed_pop_batch (gconstpointer data)
{
  guint num = GPOINTER_TO_UINT (data);
  Fixture *fx[2] = { fixture_new_mapped (TRUE, num, TRUE), fixture_new_mapped (TRUE, num, TRUE) };
  /* 0: one readable buffer, 1: one writable, 2: a chain of 2, 3: of 3, 4: indirect,
   * 5: over two regions, 6: empty. */
  static const guint8 kinds[] = { 0, 1, 1, 0, 1, 1, 1, 1, 2, 1, 1, 1, 1, 3, 0, 0, 4, 1, 1, 1, 5, 1, 1, 6, 1, 1, 1, 1 };
  static const guint batch_sizes[] = { 32, 5, 4, 7, 1, 3, 32, 8 };
  guint next_kind = 0, seen_wrap = 0;

  for (guint f = 0; f < 2; f++)
    {
      struct vring_packed_desc *table = (struct vring_packed_desc *) hva (fx[f], TABLE_GPA);

      table[0] = (struct vring_packed_desc) { BUF_GPA (20), 0x30, 0, 0 };
      table[1] = (struct vring_packed_desc) { BUF_GPA (21), 0x40, 0, F_WRITE };
    }
  for (guint round = 0; round < 40; round++)
    {
      VhostRingElement elems[2][64];
      static struct iovec iovs[2][64][4];
      guint n[2] = { 0, 0 }, used = 0, budget = num - round % 3;

      /* The driver makes chains available, as many descriptors as fit. */
      for (guint c = 0;; c++)
        {
          guint kind = kinds[next_kind % G_N_ELEMENTS (kinds)];
          guint16 id = round * 64 + c;
          PDesc chain[3];
          guint k = 1;

          switch (kind)
            {
            case 0:
            case 1:
              chain[0] = (PDesc) { BUF_GPA (c % 16), 0x40 + c, id, kind ? F_WRITE : 0 };
              break;
            case 2:
            case 3:
              k = kind;
              for (guint j = 0; j < k; j++)
                chain[j] = (PDesc) { BUF_GPA (j), 0x10 * (j + 1), id, j + 1 < k ? F_NEXT : F_WRITE };
              break;
            case 4:
              chain[0] = (PDesc) { TABLE_GPA, 2 * 16, id, F_INDIRECT };
              break;
            case 5:
              chain[0] = (PDesc) { GPA0 + REGION_SIZE - 0x10, 0x30, id, F_WRITE };
              break;
            default:
              chain[0] = (PDesc) { BUF_GPA (0), 0, id, F_WRITE };
              break;
            }
          if (used + k > budget)
            break;
          next_kind++;
          used += k;
          for (guint f = 0; f < 2; f++)
            packed_publish (fx[f], chain, k);
        }

      /* Fixture 0 pops one at a time, fixture 1 in batches. */
      while (vhost_ring_pop (&fx[0]->ring, &elems[0][n[0]], iovs[0][n[0]], 4) == 1)
        n[0]++;
      for (guint b = round;; b++)
        {
          guint want = MIN (batch_sizes[b % G_N_ELEMENTS (batch_sizes)], 64 - n[1]);
          guint got;

          if (want == 0)
            break;
          got = vhost_ring_pop_batch (&fx[1]->ring, &elems[1][n[1]], iovs[1][n[1]], 4, want);

          g_assert_cmpuint (got, <=, want);
          n[1] += got;
          if (got < want)
            break;
        }
      g_assert_false (fx[0]->ring.broken);
      g_assert_false (fx[1]->ring.broken);
      g_assert_cmpuint (n[0], ==, n[1]);
      g_assert_cmpuint (vhost_ring_get_base (&fx[0]->ring), ==, vhost_ring_get_base (&fx[1]->ring));
      for (guint i = 0; i < n[0]; i++)
        {
          const VhostRingElement *a = &elems[0][i], *b = &elems[1][i];

          g_assert_cmpuint (a->id, ==, b->id);
          g_assert_cmpuint (a->n_descs, ==, b->n_descs);
          g_assert_cmpuint (a->n_out, ==, b->n_out);
          g_assert_cmpuint (a->n_in, ==, b->n_in);
          g_assert_true (a->iov == iovs[0][i]);
          g_assert_true (b->iov == iovs[1][i]);
          for (guint j = 0; j < a->n_out + a->n_in; j++)
            {
              /* The same guest address: the fixtures' memories differ. */
              g_assert_cmpuint (gpa_of (fx[0], a->iov[j].iov_base), ==, gpa_of (fx[1], b->iov[j].iov_base));
              g_assert_cmpuint (a->iov[j].iov_len, ==, b->iov[j].iov_len);
            }
        }

      /* Both push everything back: the rings end up the same. */
      for (guint f = 0; f < 2; f++)
        {
          for (guint i = 0; i < n[f]; i++)
            vhost_ring_push (&fx[f]->ring, &elems[f][i], i % 2 ? 0 : i + 1);
          vhost_ring_flush (&fx[f]->ring);
        }
      g_assert_cmpmem (packed_desc (fx[0]), 16 * num, packed_desc (fx[1]), 16 * num);
      g_assert_cmpuint (fx[0]->ring.used_idx, ==, fx[0]->next);
      g_assert_cmpuint (fx[1]->ring.used_idx, ==, fx[1]->next);
      seen_wrap |= 1u << fx[0]->wrap;
    }
  g_assert_cmpuint (seen_wrap, ==, 3);
  fixture_free (fx[0]);
  fixture_free (fx[1]);
}

/* Pushes are published every VHOST_RING_PUBLISH_BATCH without a flush, the
 * batch's head last; the rest stay unwritten until the flush. */
static void
test_packed_publish_batch (void)
{
  Fixture *fx = fixture_new_mapped (TRUE, 64, FALSE);
  struct vring_packed_desc *ring = packed_desc (fx);
  const guint batch = VHOST_RING_PUBLISH_BATCH, total = 2 * VHOST_RING_PUBLISH_BATCH + 8;
  VhostRingElement elems[64];
  struct iovec iovs[64][2];

  for (guint i = 0; i < total; i++)
    {
      PDesc d = { BUF_GPA (i % 16), 0x10, 300 + i, F_WRITE };

      packed_publish (fx, &d, 1);
    }
  g_assert_cmpuint (vhost_ring_pop_batch (&fx->ring, elems, &iovs[0][0], 2, total), ==, total);
  for (guint i = 0; i < total; i++)
    {
      vhost_ring_push (&fx->ring, &elems[i], i + 1);
      /* Nothing of the batch under way is written before it is complete. */
      g_assert_cmpuint (ring[i / batch * batch].flags, ==, i % batch == batch - 1 ? F_AVAIL | F_USED : F_WRITE | F_AVAIL);
      g_assert_cmpuint (ring[i].flags, ==, i % batch == batch - 1 ? F_AVAIL | F_USED : F_WRITE | F_AVAIL);
    }
  for (guint i = 0; i < total; i++)
    {
      g_assert_cmpuint (ring[i].flags, ==, i < 2 * batch ? F_AVAIL | F_USED : F_WRITE | F_AVAIL);
      if (i < 2 * batch)
        {
          g_assert_cmpuint (ring[i].id, ==, 300 + i);
          g_assert_cmpuint (ring[i].len, ==, i + 1);
        }
    }
  g_assert_true (vhost_ring_should_notify (&fx->ring));
  vhost_ring_flush (&fx->ring);
  for (guint i = 0; i < total; i++)
    {
      g_assert_cmpuint (ring[i].flags, ==, F_AVAIL | F_USED);
      g_assert_cmpuint (ring[i].id, ==, 300 + i);
      g_assert_cmpuint (ring[i].len, ==, i + 1);
    }
  fixture_free (fx);
}

/* In order, a run of chains pushed back empty takes one used descriptor, at the
 * run's first slot with the last chain's id; the slots it covers stay as they were.
 * A chain with data ends the run; a run may wrap. */
static void
test_packed_in_order (void)
{
  Fixture *fx = fixture_new_mapped (TRUE, 8, FALSE);
  struct vring_packed_desc *ring = packed_desc (fx);
  VhostRingElement elems[8];
  struct iovec iovs[8][4];

  fx->ring.in_order = TRUE;
  for (guint i = 0; i < 6; i++)
    {
      PDesc d = { BUF_GPA (i), 0x10, 60 + i, i == 3 ? F_WRITE : 0 };

      packed_publish (fx, &d, 1);
    }
  for (guint i = 0; i < 6; i++)
    g_assert_cmpint (vhost_ring_pop (&fx->ring, &elems[i], iovs[i], 4), ==, 1);
  /* Three empty, one with data, two empty. */
  for (guint i = 0; i < 6; i++)
    vhost_ring_push (&fx->ring, &elems[i], i == 3 ? 7 : 0);
  g_assert_cmpuint (ring[0].flags, ==, F_AVAIL); /* the batch's head: not yet */
  vhost_ring_flush (&fx->ring);
  g_assert_cmpuint (ring[0].flags, ==, F_AVAIL | F_USED);
  g_assert_cmpuint (ring[0].id, ==, 62);
  g_assert_cmpuint (ring[0].len, ==, 0);
  g_assert_cmpuint (ring[1].flags, ==, F_AVAIL); /* covered by slot 0 */
  g_assert_cmpuint (ring[2].flags, ==, F_AVAIL);
  g_assert_cmpuint (ring[3].flags, ==, F_AVAIL | F_USED);
  g_assert_cmpuint (ring[3].id, ==, 63);
  g_assert_cmpuint (ring[3].len, ==, 7);
  g_assert_cmpuint (ring[4].flags, ==, F_AVAIL | F_USED);
  g_assert_cmpuint (ring[4].id, ==, 65);
  g_assert_cmpuint (ring[5].flags, ==, F_AVAIL);
  g_assert_cmpuint (fx->ring.used_idx, ==, 6);

  /* A run across the end of the ring: written at slot 6, with the old wrap counter. */
  for (guint i = 0; i < 4; i++)
    {
      PDesc d = { BUF_GPA (i), 0x10, 70 + i, 0 };

      packed_publish (fx, &d, 1);
    }
  for (guint i = 0; i < 4; i++)
    g_assert_cmpint (vhost_ring_pop (&fx->ring, &elems[i], iovs[i], 4), ==, 1);
  for (guint i = 0; i < 4; i++)
    vhost_ring_push (&fx->ring, &elems[i], 0);
  vhost_ring_flush (&fx->ring);
  g_assert_cmpuint (ring[6].flags, ==, F_AVAIL | F_USED);
  g_assert_cmpuint (ring[6].id, ==, 73);
  /* The next lap's slots hold what the driver made available there, untouched. */
  g_assert_cmpuint (ring[0].id, ==, 72);
  g_assert_cmpuint (ring[0].flags, ==, F_USED);
  g_assert_cmpuint (ring[7].id, ==, 71);
  g_assert_cmpuint (ring[7].flags, ==, F_AVAIL);
  g_assert_cmpuint (fx->ring.used_idx, ==, 2);
  g_assert_false (fx->ring.used_wrap);
  g_assert_false (fx->ring.broken);
  fixture_free (fx);
}

static void
test_packed_indirect (void)
{
  Fixture *fx = fixture_new_mapped (TRUE, 8, TRUE);
  struct vring_packed_desc *table = (struct vring_packed_desc *) hva (fx, TABLE_GPA);
  const PDesc entries[] = {
    /* Flags other than WRITE mean nothing in a packed table: it is read in order. */
    { BUF_GPA (0), 0x10, 0, 0 },
    { BUF_GPA (1), 0x20, 0, F_NEXT },
    { GPA1 - 0x10, 0x30, 0, F_WRITE },
  };
  const PDesc head = { TABLE_GPA, 3 * 16, 77, F_INDIRECT };

  for (guint i = 0; i < 3; i++)
    set_pdesc (&table[i], &entries[i]);
  packed_publish (fx, &head, 1);
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
  g_assert_cmpuint (fx->elem.id, ==, 77);
  g_assert_cmpuint (fx->elem.n_descs, ==, 1);
  g_assert_cmpuint (fx->elem.n_out, ==, 2);
  g_assert_cmpuint (fx->elem.n_in, ==, 2);
  assert_iov (fx, 0, BUF_GPA (0), 0x10);
  assert_iov (fx, 1, BUF_GPA (1), 0x20);
  assert_iov (fx, 2, GPA1 - 0x10, 0x10);
  assert_iov (fx, 3, GPA1, 0x20);
  g_assert_cmphex (vhost_ring_get_base (&fx->ring), ==, 0x80008000 | 1);
  vhost_ring_push (&fx->ring, &fx->elem, 0x30);
  vhost_ring_flush (&fx->ring);
  g_assert_cmpuint (packed_desc (fx)[0].flags, ==, F_AVAIL | F_USED);
  g_assert_cmpuint (packed_desc (fx)[0].id, ==, 77);
  g_assert_cmpuint (packed_desc (fx)[0].len, ==, 0x30);
  g_assert_false (fx->ring.broken);
  fixture_free (fx);
}

static void
test_packed_notify (void)
{
  Fixture *fx = fixture_new_mapped (TRUE, 4, FALSE);
  struct vring_packed_desc_event *driver_event = (struct vring_packed_desc_event *) (fx->buf[0] + AVAIL_OFF);
  struct vring_packed_desc_event *device_event = (struct vring_packed_desc_event *) (fx->buf[0] + USED_OFF);
  PDesc d = { BUF_GPA (0), 0x10, 1, F_WRITE };

  driver_event->flags = VRING_PACKED_EVENT_FLAG_DISABLE;
  packed_publish (fx, &d, 1);
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
  vhost_ring_push (&fx->ring, &fx->elem, 1);
  vhost_ring_flush (&fx->ring);
  g_assert_false (vhost_ring_should_notify (&fx->ring));

  driver_event->flags = VRING_PACKED_EVENT_FLAG_ENABLE;
  packed_publish (fx, &d, 1);
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
  vhost_ring_push (&fx->ring, &fx->elem, 1);
  vhost_ring_flush (&fx->ring);
  g_assert_true (vhost_ring_should_notify (&fx->ring));

  /* Kicks. */
  vhost_ring_set_kicks (&fx->ring, FALSE);
  g_assert_cmpuint (device_event->flags, ==, VRING_PACKED_EVENT_FLAG_DISABLE);
  vhost_ring_set_kicks (&fx->ring, TRUE);
  g_assert_cmpuint (device_event->flags, ==, VRING_PACKED_EVENT_FLAG_ENABLE);
  fx->ring.event_idx = TRUE;
  vhost_ring_set_kicks (&fx->ring, TRUE);
  g_assert_cmpuint (device_event->flags, ==, VRING_PACKED_EVENT_FLAG_DESC);
  g_assert_cmpuint (device_event->off_wrap, ==, 2 | 0x8000);

  /* Event idx: the device is at 2 (wrap 1); notify once descriptor 3 is used. */
  driver_event->flags = VRING_PACKED_EVENT_FLAG_DESC;
  driver_event->off_wrap = 3 | 0x8000;
  packed_publish (fx, &d, 1);
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
  vhost_ring_push (&fx->ring, &fx->elem, 1); /* writes 2 */
  vhost_ring_flush (&fx->ring);
  g_assert_false (vhost_ring_should_notify (&fx->ring));
  packed_publish (fx, &d, 1);
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
  vhost_ring_push (&fx->ring, &fx->elem, 1); /* writes 3, wraps */
  vhost_ring_flush (&fx->ring);
  g_assert_true (vhost_ring_should_notify (&fx->ring));
  /* Now at 0 (wrap 0): descriptor 1 of this lap. */
  driver_event->off_wrap = 1;
  packed_publish (fx, &d, 1);
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
  vhost_ring_push (&fx->ring, &fx->elem, 1); /* writes 0 */
  vhost_ring_flush (&fx->ring);
  g_assert_false (vhost_ring_should_notify (&fx->ring));
  packed_publish (fx, &d, 1);
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
  vhost_ring_push (&fx->ring, &fx->elem, 1); /* writes 1 */
  vhost_ring_flush (&fx->ring);
  g_assert_true (vhost_ring_should_notify (&fx->ring));
  g_assert_false (fx->ring.broken);
  fixture_free (fx);
}

/* SET_VRING_BASE comes from the front-end: a packed base past the ring must not
 * become an index into it. */
static void
test_packed_base_outside (void)
{
  Fixture *fx = fixture_new (TRUE, 8, FALSE);
  gboolean mapped;

  vhost_ring_set_base (&fx->ring, 0x8000 | 100);
  mapped = vhost_ring_map (&fx->ring);
  g_assert_false (mapped);
  g_assert_true (fx->ring.broken);
  g_assert_cmpint (pop (fx, MAX_IOV), ==, -1);
  fixture_free (fx);
}

/* The same index from the ring's own state: stopped at 6 of 8, restarted with a
 * size of 4 and no new base. */
static void
test_packed_num_shrunk (void)
{
  Fixture *fx = fixture_new_mapped (TRUE, 8, FALSE);
  const PDesc d = { BUF_GPA (0), 0x10, 1, F_WRITE };
  gboolean mapped;

  for (guint i = 0; i < 6; i++)
    {
      packed_publish (fx, &d, 1);
      g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
      vhost_ring_push (&fx->ring, &fx->elem, 0);
      vhost_ring_flush (&fx->ring);
    }
  fx->ring.num = 4;
  mapped = vhost_ring_map (&fx->ring);
  g_assert_false (mapped);
  g_assert_true (fx->ring.broken);
  fixture_free (fx);
}

/* Bad paths: pop breaks the ring. */

typedef struct
{
  const char *path;
  gboolean packed;
  gboolean indirect; /* VIRTIO_F_INDIRECT_DESC negotiated */
  guint max_iov;
  void (*setup) (Fixture *fx);
  const char *message;
} BadCase;

static void
split_one (Fixture *fx, guint64 addr, guint32 len, guint16 flags)
{
  set_desc (&split_desc (fx)[0], addr, len, flags, 0);
  split_publish (fx, 0);
}

static void
packed_one (Fixture *fx, guint64 addr, guint32 len, guint16 flags)
{
  PDesc d = { addr, len, 0, flags };

  packed_publish (fx, &d, 1);
}

static void
one (Fixture *fx, guint64 addr, guint32 len, guint16 flags)
{
  if (fx->ring.packed)
    packed_one (fx, addr, len, flags);
  else
    split_one (fx, addr, len, flags);
}

static void
setup_split_loop (Fixture *fx)
{
  set_desc (&split_desc (fx)[0], BUF_GPA (0), 0x10, F_NEXT, 1);
  set_desc (&split_desc (fx)[1], BUF_GPA (1), 0x10, F_NEXT, 0);
  split_publish (fx, 0);
}

static void
setup_split_self_loop (Fixture *fx)
{
  set_desc (&split_desc (fx)[3], BUF_GPA (0), 0x10, F_NEXT | F_WRITE, 3);
  split_publish (fx, 3);
}

/* Through all 8 descriptors, then back to the first. */
static void
setup_split_long_loop (Fixture *fx)
{
  for (guint i = 0; i < 8; i++)
    set_desc (&split_desc (fx)[i], BUF_GPA (i), 0x10, F_NEXT, (i + 1) % 8);
  split_publish (fx, 0);
}

/* Through all 8 descriptors, then to index 8. */
static void
setup_split_next_outside (Fixture *fx)
{
  for (guint i = 0; i < 8; i++)
    set_desc (&split_desc (fx)[i], BUF_GPA (i), 0x10, F_NEXT, i + 1);
  split_publish (fx, 0);
}

static void
setup_split_next_far (Fixture *fx)
{
  set_desc (&split_desc (fx)[0], BUF_GPA (0), 0x10, F_NEXT, 0xffff);
  split_publish (fx, 0);
}

static void
indirect_head (Fixture *fx, guint32 len, guint16 extra_flags)
{
  one (fx, TABLE_GPA, len, F_INDIRECT | extra_flags);
}

static void
setup_split_indirect_in_indirect (Fixture *fx)
{
  struct vring_desc *table = (struct vring_desc *) hva (fx, TABLE_GPA);

  set_desc (&table[0], BUF_GPA (0), 0x10, F_NEXT, 1);
  set_desc (&table[1], TABLE_GPA, 2 * 16, F_INDIRECT, 0);
  indirect_head (fx, 2 * 16, 0);
}

static void
setup_packed_indirect_in_indirect (Fixture *fx)
{
  struct vring_packed_desc *table = (struct vring_packed_desc *) hva (fx, TABLE_GPA);

  set_pdesc (&table[0], &(PDesc) { BUF_GPA (0), 0x10, 0, 0 });
  set_pdesc (&table[1], &(PDesc) { TABLE_GPA, 2 * 16, 0, F_INDIRECT });
  indirect_head (fx, 2 * 16, 0);
}

static void
setup_indirect_empty (Fixture *fx)
{
  indirect_head (fx, 0, 0);
}

static void
setup_indirect_24 (Fixture *fx)
{
  indirect_head (fx, 24, 0);
}

/* A table whose descriptors would straddle their natural alignment. */
static void
setup_indirect_misaligned (Fixture *fx)
{
  one (fx, TABLE_GPA + 4, 32, F_INDIRECT);
}

/* A table of 3 good readable descriptors, its length given by the head. */
static void
fill_table (Fixture *fx)
{
  if (fx->ring.packed)
    {
      struct vring_packed_desc *table = (struct vring_packed_desc *) hva (fx, TABLE_GPA);

      for (guint i = 0; i < 3; i++)
        set_pdesc (&table[i], &(PDesc) { BUF_GPA (i), 0x10, 0, 0 });
    }
  else
    {
      struct vring_desc *table = (struct vring_desc *) hva (fx, TABLE_GPA);

      for (guint i = 0; i < 3; i++)
        set_desc (&table[i], BUF_GPA (i), 0x10, i < 2 ? F_NEXT : 0, i + 1);
    }
}

static void
setup_indirect_good (Fixture *fx)
{
  fill_table (fx);
  indirect_head (fx, 3 * 16, 0);
}

static void
setup_indirect_with_next (Fixture *fx)
{
  fill_table (fx);
  if (fx->ring.packed)
    {
      const PDesc chain[] = { { TABLE_GPA, 3 * 16, 0, F_INDIRECT | F_NEXT }, { BUF_GPA (5), 0x10, 0, 0 } };

      packed_publish (fx, chain, 2);
    }
  else
    {
      set_desc (&split_desc (fx)[0], TABLE_GPA, 3 * 16, F_INDIRECT | F_NEXT, 1);
      set_desc (&split_desc (fx)[1], BUF_GPA (5), 0x10, 0, 0);
      split_publish (fx, 0);
    }
}

static void
setup_indirect_after_direct (Fixture *fx)
{
  fill_table (fx);
  if (fx->ring.packed)
    {
      const PDesc chain[] = { { BUF_GPA (5), 0x10, 0, F_NEXT }, { TABLE_GPA, 3 * 16, 0, F_INDIRECT } };

      packed_publish (fx, chain, 2);
    }
  else
    {
      set_desc (&split_desc (fx)[0], BUF_GPA (5), 0x10, F_NEXT, 1);
      set_desc (&split_desc (fx)[1], TABLE_GPA, 3 * 16, F_INDIRECT, 0);
      split_publish (fx, 0);
    }
}

static void
setup_indirect_too_long (Fixture *fx)
{
  indirect_head (fx, 9 * 16, 0);
}

static void
setup_indirect_huge (Fixture *fx)
{
  indirect_head (fx, 0xfffffff0, 0);
}

static void
setup_indirect_outside (Fixture *fx)
{
  one (fx, 0x40000, 3 * 16, F_INDIRECT);
}

static void
setup_indirect_spans_regions (Fixture *fx)
{
  one (fx, GPA1 - 16, 2 * 16, F_INDIRECT);
}

static void
setup_indirect_wraps (Fixture *fx)
{
  one (fx, G_GUINT64_CONSTANT (0xfffffffffffffff0), 2 * 16, F_INDIRECT);
}

static void
setup_split_indirect_loop (Fixture *fx)
{
  struct vring_desc *table = (struct vring_desc *) hva (fx, TABLE_GPA);

  set_desc (&table[0], BUF_GPA (0), 0x10, F_NEXT, 1);
  set_desc (&table[1], BUF_GPA (1), 0x10, F_NEXT, 2);
  set_desc (&table[2], BUF_GPA (2), 0x10, F_NEXT, 0);
  indirect_head (fx, 3 * 16, 0);
}

static void
setup_split_indirect_next_outside (Fixture *fx)
{
  struct vring_desc *table = (struct vring_desc *) hva (fx, TABLE_GPA);

  /* In the queue's range, not in the table's. */
  set_desc (&table[0], BUF_GPA (0), 0x10, F_NEXT, 1);
  set_desc (&table[1], BUF_GPA (1), 0x10, F_NEXT, 5);
  indirect_head (fx, 2 * 16, 0);
}

static void
setup_indirect_bad_buffer (Fixture *fx)
{
  fill_table (fx);
  if (fx->ring.packed)
    ((struct vring_packed_desc *) hva (fx, TABLE_GPA))[1].addr = 0x40000;
  else
    ((struct vring_desc *) hva (fx, TABLE_GPA))[1].addr = 0x40000;
  indirect_head (fx, 3 * 16, 0);
}

static void
setup_indirect_readable_after_writable (Fixture *fx)
{
  fill_table (fx);
  if (fx->ring.packed)
    ((struct vring_packed_desc *) hva (fx, TABLE_GPA))[0].flags = F_WRITE;
  else
    ((struct vring_desc *) hva (fx, TABLE_GPA))[0].flags = F_WRITE | F_NEXT;
  indirect_head (fx, 3 * 16, 0);
}

static void
setup_buffer_outside (Fixture *fx)
{
  one (fx, 0x40000, 0x10, 0);
}

static void
setup_buffer_below (Fixture *fx)
{
  one (fx, GPA0 - 0x100, 0x200, F_WRITE);
}

static void
setup_buffer_wraps (Fixture *fx)
{
  one (fx, G_GUINT64_CONSTANT (0xffffffffffffff00), 0x200, 0);
}

static void
setup_buffer_past_region1 (Fixture *fx)
{
  one (fx, GPA1 + REGION_SIZE - 0x100, 0x200, F_WRITE);
}

static void
setup_buffer_huge (Fixture *fx)
{
  one (fx, GPA0, 0xffffffff, F_WRITE);
}

/* A bad buffer after good ones in the same chain. */
static void
setup_buffer_outside_late (Fixture *fx)
{
  if (fx->ring.packed)
    {
      const PDesc chain[] = {
        { BUF_GPA (0), 0x10, 0, F_NEXT },
        { BUF_GPA (1), 0x10, 0, F_NEXT | F_WRITE },
        { 0x40000, 0x10, 0, F_WRITE },
      };

      packed_publish (fx, chain, 3);
    }
  else
    {
      set_desc (&split_desc (fx)[0], BUF_GPA (0), 0x10, F_NEXT, 1);
      set_desc (&split_desc (fx)[1], BUF_GPA (1), 0x10, F_NEXT | F_WRITE, 2);
      set_desc (&split_desc (fx)[2], 0x40000, 0x10, F_WRITE, 0);
      split_publish (fx, 0);
    }
}

static void
setup_readable_after_writable (Fixture *fx)
{
  if (fx->ring.packed)
    {
      const PDesc chain[] = { { BUF_GPA (0), 0x10, 0, F_NEXT | F_WRITE }, { BUF_GPA (1), 0x10, 0, 0 } };

      packed_publish (fx, chain, 2);
    }
  else
    {
      set_desc (&split_desc (fx)[0], BUF_GPA (0), 0x10, F_NEXT | F_WRITE, 1);
      set_desc (&split_desc (fx)[1], BUF_GPA (1), 0x10, 0, 0);
      split_publish (fx, 0);
    }
}

/* Three buffers, for max_iov 2. */
static void
setup_three (Fixture *fx)
{
  if (fx->ring.packed)
    {
      const PDesc chain[] = {
        { BUF_GPA (0), 0x10, 0, F_NEXT },
        { BUF_GPA (1), 0x10, 0, F_NEXT },
        { BUF_GPA (2), 0x10, 0, F_WRITE },
      };

      packed_publish (fx, chain, 3);
    }
  else
    {
      set_desc (&split_desc (fx)[0], BUF_GPA (0), 0x10, F_NEXT, 1);
      set_desc (&split_desc (fx)[1], BUF_GPA (1), 0x10, F_NEXT, 2);
      set_desc (&split_desc (fx)[2], BUF_GPA (2), 0x10, F_WRITE, 0);
      split_publish (fx, 0);
    }
}

/* One descriptor that spans the two regions: two iovecs, for max_iov 1. */
static void
setup_spanning (Fixture *fx)
{
  one (fx, GPA1 - 0x100, 0x200, F_WRITE);
}

static void
setup_split_avail_jump (Fixture *fx)
{
  set_desc (&split_desc (fx)[0], BUF_GPA (0), 0x10, 0, 0);
  split_avail (fx)->idx = 8 + 1;
}

static void
setup_split_avail_backwards (Fixture *fx)
{
  set_desc (&split_desc (fx)[0], BUF_GPA (0), 0x10, 0, 0);
  split_avail (fx)->idx = 0xffff;
}

static void
setup_split_head_outside (Fixture *fx)
{
  split_publish (fx, 8);
}

static void
setup_split_head_far (Fixture *fx)
{
  split_publish (fx, 0xffff);
}

/* All 8 descriptors available, all with NEXT. */
static void
setup_packed_too_long (Fixture *fx)
{
  PDesc chain[8];

  for (guint i = 0; i < 8; i++)
    chain[i] = (PDesc) { BUF_GPA (i), 0x10, i, F_NEXT };
  packed_publish (fx, chain, 8);
}

/* The same after the ring has turned: the chain starts mid-ring in wrap 1 and runs
 * into wrap 0. */
static void
setup_packed_too_long_wrapped (Fixture *fx)
{
  PDesc chain[8];
  const PDesc d = { BUF_GPA (0), 0x10, 0, F_WRITE };

  for (guint i = 0; i < 5; i++)
    {
      packed_publish (fx, &d, 1);
      g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
      vhost_ring_push (&fx->ring, &fx->elem, 0);
      vhost_ring_flush (&fx->ring);
    }
  for (guint i = 0; i < 8; i++)
    chain[i] = (PDesc) { BUF_GPA (i), 0x10, i, F_NEXT };
  packed_publish (fx, chain, 8);
}

static const BadCase bad_cases[] = {
  /* Loops and chains too long. */
  { "/vhost/ring/split/loop", FALSE, FALSE, MAX_IOV, setup_split_loop, "a loop" },
  { "/vhost/ring/split/self-loop", FALSE, FALSE, MAX_IOV, setup_split_self_loop, "longer than its table (8): a loop" },
  { "/vhost/ring/split/long-loop", FALSE, FALSE, MAX_IOV, setup_split_long_loop, "longer than its table (8): a loop" },
  { "/vhost/ring/split/next-outside", FALSE, FALSE, MAX_IOV, setup_split_next_outside,
    "next index 8 is outside its table (8)" },
  { "/vhost/ring/split/next-far", FALSE, FALSE, MAX_IOV, setup_split_next_far,
    "next index 65535 is outside its table (8)" },
  { "/vhost/ring/packed/too-long", TRUE, FALSE, MAX_IOV, setup_packed_too_long,
    "a descriptor chain longer than the queue (8)" },
  { "/vhost/ring/packed/too-long-wrapped", TRUE, FALSE, MAX_IOV, setup_packed_too_long_wrapped,
    "a descriptor chain longer than the queue (8)" },

  /* Indirect tables. */
  { "/vhost/ring/split/indirect/in-indirect", FALSE, TRUE, MAX_IOV, setup_split_indirect_in_indirect,
    "an indirect table inside an indirect table" },
  { "/vhost/ring/packed/indirect/in-indirect", TRUE, TRUE, MAX_IOV, setup_packed_indirect_in_indirect,
    "an indirect table inside an indirect table" },
  { "/vhost/ring/split/indirect/empty", FALSE, TRUE, MAX_IOV, setup_indirect_empty,
    "an indirect table of 0 bytes (not a positive multiple of 16)" },
  { "/vhost/ring/packed/indirect/empty", TRUE, TRUE, MAX_IOV, setup_indirect_empty,
    "an indirect table of 0 bytes (not a positive multiple of 16)" },
  { "/vhost/ring/split/indirect/misaligned", FALSE, TRUE, MAX_IOV, setup_indirect_misaligned,
    "is not 8-byte aligned" },
  { "/vhost/ring/packed/indirect/misaligned", TRUE, TRUE, MAX_IOV, setup_indirect_misaligned,
    "is not 8-byte aligned" },
  { "/vhost/ring/split/indirect/len-24", FALSE, TRUE, MAX_IOV, setup_indirect_24,
    "an indirect table of 24 bytes (not a positive multiple of 16)" },
  { "/vhost/ring/packed/indirect/len-24", TRUE, TRUE, MAX_IOV, setup_indirect_24,
    "an indirect table of 24 bytes (not a positive multiple of 16)" },
  { "/vhost/ring/split/indirect/not-negotiated", FALSE, FALSE, MAX_IOV, setup_indirect_good,
    "VIRTIO_F_INDIRECT_DESC was not negotiated" },
  { "/vhost/ring/packed/indirect/not-negotiated", TRUE, FALSE, MAX_IOV, setup_indirect_good,
    "VIRTIO_F_INDIRECT_DESC was not negotiated" },
  { "/vhost/ring/split/indirect/with-next", FALSE, TRUE, MAX_IOV, setup_indirect_with_next,
    "an indirect descriptor that is not alone in its chain" },
  { "/vhost/ring/packed/indirect/with-next", TRUE, TRUE, MAX_IOV, setup_indirect_with_next,
    "an indirect descriptor that is not alone in its chain" },
  { "/vhost/ring/split/indirect/after-direct", FALSE, TRUE, MAX_IOV, setup_indirect_after_direct,
    "an indirect descriptor that is not alone in its chain" },
  { "/vhost/ring/packed/indirect/after-direct", TRUE, TRUE, MAX_IOV, setup_indirect_after_direct,
    "an indirect descriptor that is not alone in its chain" },
  { "/vhost/ring/split/indirect/too-long", FALSE, TRUE, MAX_IOV, setup_indirect_too_long,
    "an indirect table of 9 descriptors, longer than the queue (8)" },
  { "/vhost/ring/packed/indirect/too-long", TRUE, TRUE, MAX_IOV, setup_indirect_too_long,
    "an indirect table of 9 descriptors, longer than the queue (8)" },
  { "/vhost/ring/split/indirect/huge", FALSE, TRUE, MAX_IOV, setup_indirect_huge, "longer than the queue (8)" },
  { "/vhost/ring/packed/indirect/huge", TRUE, TRUE, MAX_IOV, setup_indirect_huge, "longer than the queue (8)" },
  { "/vhost/ring/split/indirect/outside", FALSE, TRUE, MAX_IOV, setup_indirect_outside,
    "the indirect table at 0x40000 (48 bytes) is not inside one region of guest memory" },
  { "/vhost/ring/packed/indirect/outside", TRUE, TRUE, MAX_IOV, setup_indirect_outside,
    "the indirect table at 0x40000 (48 bytes) is not inside one region of guest memory" },
  { "/vhost/ring/split/indirect/spans-regions", FALSE, TRUE, MAX_IOV, setup_indirect_spans_regions,
    "the indirect table at 0x1fff0 (32 bytes) is not inside one region of guest memory" },
  { "/vhost/ring/packed/indirect/spans-regions", TRUE, TRUE, MAX_IOV, setup_indirect_spans_regions,
    "the indirect table at 0x1fff0 (32 bytes) is not inside one region of guest memory" },
  { "/vhost/ring/split/indirect/wraps", FALSE, TRUE, MAX_IOV, setup_indirect_wraps,
    "is not inside one region of guest memory" },
  { "/vhost/ring/split/indirect/loop", FALSE, TRUE, MAX_IOV, setup_split_indirect_loop,
    "a descriptor chain longer than its table (3): a loop" },
  { "/vhost/ring/split/indirect/next-outside", FALSE, TRUE, MAX_IOV, setup_split_indirect_next_outside,
    "next index 5 is outside its table (2)" },
  { "/vhost/ring/split/indirect/bad-buffer", FALSE, TRUE, MAX_IOV, setup_indirect_bad_buffer,
    "the buffer at 0x40000 (16 bytes) is not inside guest memory" },
  { "/vhost/ring/packed/indirect/bad-buffer", TRUE, TRUE, MAX_IOV, setup_indirect_bad_buffer,
    "the buffer at 0x40000 (16 bytes) is not inside guest memory" },
  { "/vhost/ring/split/indirect/readable-after-writable", FALSE, TRUE, MAX_IOV,
    setup_indirect_readable_after_writable, "a readable descriptor follows a writable one" },
  { "/vhost/ring/packed/indirect/readable-after-writable", TRUE, TRUE, MAX_IOV,
    setup_indirect_readable_after_writable, "a readable descriptor follows a writable one" },
  { "/vhost/ring/split/indirect/too-many-iovecs", FALSE, TRUE, 2, setup_indirect_good,
    "a descriptor chain needs more than 2 iovecs" },
  { "/vhost/ring/packed/indirect/too-many-iovecs", TRUE, TRUE, 2, setup_indirect_good,
    "a descriptor chain needs more than 2 iovecs" },

  /* Buffers. */
  { "/vhost/ring/split/buffer/outside", FALSE, FALSE, MAX_IOV, setup_buffer_outside,
    "the buffer at 0x40000 (16 bytes) is not inside guest memory" },
  { "/vhost/ring/packed/buffer/outside", TRUE, FALSE, MAX_IOV, setup_buffer_outside,
    "the buffer at 0x40000 (16 bytes) is not inside guest memory" },
  { "/vhost/ring/split/buffer/below", FALSE, FALSE, MAX_IOV, setup_buffer_below,
    "the buffer at 0xff00 (512 bytes) is not inside guest memory" },
  { "/vhost/ring/split/buffer/wraps", FALSE, FALSE, MAX_IOV, setup_buffer_wraps,
    "the buffer at 0xffffffffffffff00 (512 bytes) wraps past 2^64" },
  { "/vhost/ring/packed/buffer/wraps", TRUE, FALSE, MAX_IOV, setup_buffer_wraps,
    "the buffer at 0xffffffffffffff00 (512 bytes) wraps past 2^64" },
  { "/vhost/ring/split/buffer/past-region", FALSE, FALSE, MAX_IOV, setup_buffer_past_region1,
    "the buffer at 0x30000 (256 bytes) is not inside guest memory" },
  { "/vhost/ring/packed/buffer/past-region", TRUE, FALSE, MAX_IOV, setup_buffer_past_region1,
    "the buffer at 0x30000 (256 bytes) is not inside guest memory" },
  { "/vhost/ring/split/buffer/huge", FALSE, FALSE, MAX_IOV, setup_buffer_huge, "is not inside guest memory" },
  { "/vhost/ring/split/buffer/outside-late", FALSE, FALSE, MAX_IOV, setup_buffer_outside_late,
    "the buffer at 0x40000 (16 bytes) is not inside guest memory" },
  { "/vhost/ring/packed/buffer/outside-late", TRUE, FALSE, MAX_IOV, setup_buffer_outside_late,
    "the buffer at 0x40000 (16 bytes) is not inside guest memory" },
  { "/vhost/ring/split/readable-after-writable", FALSE, FALSE, MAX_IOV, setup_readable_after_writable,
    "a readable descriptor follows a writable one" },
  { "/vhost/ring/packed/readable-after-writable", TRUE, FALSE, MAX_IOV, setup_readable_after_writable,
    "a readable descriptor follows a writable one" },
  { "/vhost/ring/split/too-many-iovecs", FALSE, FALSE, 2, setup_three, "a descriptor chain needs more than 2 iovecs" },
  { "/vhost/ring/packed/too-many-iovecs", TRUE, FALSE, 2, setup_three, "a descriptor chain needs more than 2 iovecs" },
  { "/vhost/ring/split/too-many-iovecs-spanning", FALSE, FALSE, 1, setup_spanning,
    "a descriptor chain needs more than 1 iovecs" },
  { "/vhost/ring/split/no-iovecs", FALSE, FALSE, 0, setup_three, "a descriptor chain needs more than 0 iovecs" },

  /* The available ring. */
  { "/vhost/ring/split/avail-jump", FALSE, FALSE, MAX_IOV, setup_split_avail_jump,
    "the available index jumped from 0 to 9, more than the queue size 8" },
  { "/vhost/ring/split/avail-backwards", FALSE, FALSE, MAX_IOV, setup_split_avail_backwards,
    "the available index jumped from 0 to 65535" },
  { "/vhost/ring/split/head-outside", FALSE, FALSE, MAX_IOV, setup_split_head_outside,
    "the available ring names descriptor 8 of a queue of 8" },
  { "/vhost/ring/split/head-far", FALSE, FALSE, MAX_IOV, setup_split_head_far,
    "the available ring names descriptor 65535 of a queue of 8" },
};

static void
test_bad (gconstpointer data)
{
  const BadCase *c = data;
  Fixture *fx = fixture_new_mapped (c->packed, 8, c->indirect);

  c->setup (fx);
  assert_pop_breaks (fx, c->max_iov, c->message);
  fixture_free (fx);
}

/* A chain of exactly 8 avail entries is fine, the 9th is a jump. */
static void
test_split_avail_full (void)
{
  Fixture *fx = fixture_new_mapped (FALSE, 8, FALSE);

  for (guint i = 0; i < 8; i++)
    {
      set_desc (&split_desc (fx)[i], BUF_GPA (i), 0x10, 0, 0);
      split_publish (fx, i);
    }
  for (guint i = 0; i < 8; i++)
    {
      g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
      g_assert_cmpuint (fx->elem.id, ==, i);
    }
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 0);
  /* The driver may reuse entries the device has not given back yet only by
   * breaking the protocol, but the device can only tell by the index. */
  split_avail (fx)->idx = 8 + 9;
  assert_pop_breaks (fx, MAX_IOV, "the available index jumped from 8 to 17");
  fixture_free (fx);
}

/* Ring areas outside memory. */

typedef struct
{
  const char *path;
  gboolean packed;
  guint num;
  guint64 desc, avail, used;
  const char *message;
} MapCase;

#define D0 (UADDR0 + DESC_OFF)
#define A0 (UADDR0 + AVAIL_OFF)
#define U0 (UADDR0 + USED_OFF)

static const MapCase map_cases[] = {
  { "/vhost/ring/map/split/desc-outside", FALSE, 8, G_GUINT64_CONSTANT (0x6000000000), A0, U0,
    "the descriptor table at 0x6000000000 (128 bytes) is not inside guest memory" },
  { "/vhost/ring/map/split/desc-is-a-gpa", FALSE, 8, GPA0, A0, U0,
    "the descriptor table at 0x10000 (128 bytes) is not inside guest memory" },
  { "/vhost/ring/map/split/desc-below", FALSE, 8, UADDR0 - 0x10, A0, U0,
    "the descriptor table at 0x6ffffffff0 (128 bytes) is not inside guest memory" },
  { "/vhost/ring/map/split/desc-misaligned", FALSE, 8, UADDR0 + 8, A0, U0,
    "the descriptor table at 0x7000000008 is not 16-byte aligned" },
  { "/vhost/ring/map/split/desc-too-big", FALSE, 32768, D0, A0, U0,
    "the descriptor table at 0x7000000000 (524288 bytes) is not inside guest memory" },
  { "/vhost/ring/map/split/desc-wraps", FALSE, 8, G_GUINT64_CONSTANT (0xfffffffffffffff0), A0, U0,
    "is not inside guest memory" },
  { "/vhost/ring/map/split/avail-misaligned", FALSE, 8, D0, A0 + 1, U0,
    "the available ring at 0x7000000801 is not 2-byte aligned" },
  { "/vhost/ring/map/split/avail-past-region", FALSE, 8, D0, UADDR1 + REGION_SIZE - 4, U0,
    "the available ring at 0x700001fffc (22 bytes) is not inside guest memory" },
  { "/vhost/ring/map/split/used-misaligned", FALSE, 8, D0, A0, U0 + 2,
    "the used ring at 0x7000005002 is not 4-byte aligned" },
  { "/vhost/ring/map/split/used-spans-regions", FALSE, 8, D0, A0, UADDR1 - 0x20,
    "the used ring at 0x700000ffe0 (70 bytes) is not inside guest memory" },
  { "/vhost/ring/map/split/used-event-past-region", FALSE, 8, D0, A0, UADDR1 + REGION_SIZE - 68,
    "the used ring at 0x700001ffbc (70 bytes) is not inside guest memory" },
  { "/vhost/ring/map/packed/desc-outside", TRUE, 8, G_GUINT64_CONSTANT (0x6000000000), A0, U0,
    "the descriptor ring at 0x6000000000 (128 bytes) is not inside guest memory" },
  { "/vhost/ring/map/packed/desc-misaligned", TRUE, 8, UADDR0 + 4, A0, U0,
    "the descriptor ring at 0x7000000004 is not 16-byte aligned" },
  { "/vhost/ring/map/packed/desc-spans-regions", TRUE, 8, UADDR1 - 0x40, A0, U0,
    "the descriptor ring at 0x700000ffc0 (128 bytes) is not inside guest memory" },
  { "/vhost/ring/map/packed/driver-event-misaligned", TRUE, 8, D0, A0 + 2, U0,
    "the driver event area at 0x7000000802 is not 4-byte aligned" },
  { "/vhost/ring/map/packed/driver-event-outside", TRUE, 8, D0, UADDR1 + REGION_SIZE, U0,
    "the driver event area at 0x7000020000 (4 bytes) is not inside guest memory" },
  { "/vhost/ring/map/packed/device-event-outside", TRUE, 8, D0, A0, UADDR1 + REGION_SIZE,
    "the device event area at 0x7000020000 (4 bytes) is not inside guest memory" },
};

static void
test_map_bad (gconstpointer data)
{
  const MapCase *c = data;
  Fixture *fx = fixture_new (c->packed, c->num, FALSE);

  fx->ring.desc_uaddr = c->desc;
  fx->ring.avail_uaddr = c->avail;
  fx->ring.used_uaddr = c->used;
  g_assert_false (vhost_ring_map (&fx->ring));
  assert_error (fx, c->message);
  assert_stays_broken (fx);
  fixture_free (fx);
}

/* Rings at the very ends of the regions are fine. */
static void
test_map_edges (void)
{
  Fixture *fx = fixture_new (FALSE, 8, FALSE);

  fx->ring.desc_uaddr = UADDR1 + REGION_SIZE - 128;
  fx->ring.avail_uaddr = UADDR0 + REGION_SIZE - 22;
  fx->ring.used_uaddr = UADDR0;
  fixture_map (fx);
  fixture_free (fx);

  fx = fixture_new (TRUE, 8, FALSE);
  fx->ring.desc_uaddr = UADDR1 + REGION_SIZE - 128;
  fx->ring.avail_uaddr = UADDR0 + REGION_SIZE - 4;
  fx->ring.used_uaddr = UADDR1 + REGION_SIZE - 4;
  fixture_map (fx);
  fixture_free (fx);
}

/* The dirty log. */

#define LOG_SIZE 8 /* bytes: pages 0 to 0x3f, guest memory ends at page 0x2f */

static gboolean
log_bit (Fixture *fx, guint64 page)
{
  g_assert_cmpuint (page / 8, <, fx->mem.log_size);
  return (fx->mem.log[page / 8] >> (page % 8)) & 1;
}

static guint
log_count (Fixture *fx)
{
  guint n = 0;

  for (guint64 i = 0; i < fx->mem.log_size; i++)
    n += __builtin_popcount (fx->mem.log[i]);
  return n;
}

static void
log_clear (Fixture *fx)
{
  memset (fx->mem.log, 0, fx->mem.log_size);
}

static void
test_log_split (void)
{
  Fixture *fx = fixture_new_mapped (FALSE, 8, FALSE);
  struct vring_desc *desc = split_desc (fx);

  fx->mem.log = g_malloc0 (LOG_SIZE);
  fx->mem.log_size = LOG_SIZE;
  fx->ring.log_all = TRUE;
  /* VHOST_VRING_F_LOG: the used ring's writes are logged at log_guest_addr, which
   * the front-end chooses (page 0x30 here, outside guest memory; the ring is at
   * page 0x15). */
  fx->ring.log_used = TRUE;
  fx->ring.log_guest_addr = 0x30000;

  set_desc (&desc[0], 0x11000, 0x100, F_NEXT, 1); /* read by the device: not logged */
  set_desc (&desc[1], 0x12000, 0x2000, F_WRITE, 0);
  split_publish (fx, 0);
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
  g_assert_cmpuint (log_count (fx), ==, 0);
  vhost_ring_push (&fx->ring, &fx->elem, 0x2000);
  g_assert_true (log_bit (fx, 0x12));
  g_assert_true (log_bit (fx, 0x13));
  g_assert_false (log_bit (fx, 0x11));
  g_assert_false (log_bit (fx, 0x14));
  g_assert_false (log_bit (fx, 0x10)); /* the descriptor table and available ring */
  g_assert_true (log_bit (fx, 0x30));  /* the used element, at log_guest_addr */
  g_assert_false (log_bit (fx, 0x15)); /* not at the ring's own address */
  g_assert_cmpuint (log_count (fx), ==, 3);
  log_clear (fx);
  vhost_ring_flush (&fx->ring);
  g_assert_true (log_bit (fx, 0x30)); /* the used index */
  g_assert_cmpuint (log_count (fx), ==, 1);

  /* Only what the device says it wrote. */
  log_clear (fx);
  split_publish (fx, 0);
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
  vhost_ring_push (&fx->ring, &fx->elem, 0x800);
  g_assert_true (log_bit (fx, 0x12));
  g_assert_false (log_bit (fx, 0x13));
  g_assert_cmpuint (log_count (fx), ==, 2);
  vhost_ring_flush (&fx->ring);

  /* Nothing written, nothing but the used ring logged. */
  log_clear (fx);
  split_publish (fx, 0);
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
  vhost_ring_push (&fx->ring, &fx->elem, 0);
  vhost_ring_flush (&fx->ring);
  g_assert_cmpuint (log_count (fx), ==, 1);
  g_assert_true (log_bit (fx, 0x30));

  /* A write across the two regions: the pages of both. */
  log_clear (fx);
  set_desc (&desc[2], GPA1 - 0x100, 0x200, F_WRITE, 0);
  split_publish (fx, 2);
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
  g_assert_cmpuint (fx->elem.n_in, ==, 2);
  vhost_ring_push (&fx->ring, &fx->elem, 0x200);
  vhost_ring_flush (&fx->ring);
  g_assert_true (log_bit (fx, 0x1f));
  g_assert_true (log_bit (fx, 0x20));
  g_assert_false (log_bit (fx, 0x21));
  g_assert_cmpuint (log_count (fx), ==, 3);

  /* Without log_all, only the used ring. */
  log_clear (fx);
  fx->ring.log_all = FALSE;
  split_publish (fx, 0);
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
  vhost_ring_push (&fx->ring, &fx->elem, 0x2000);
  vhost_ring_flush (&fx->ring);
  g_assert_cmpuint (log_count (fx), ==, 1);
  g_assert_true (log_bit (fx, 0x30));

  /* Without VHOST_VRING_F_LOG either, nothing. */
  log_clear (fx);
  fx->ring.log_used = FALSE;
  split_publish (fx, 0);
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
  vhost_ring_push (&fx->ring, &fx->elem, 0x2000);
  vhost_ring_flush (&fx->ring);
  g_assert_cmpuint (log_count (fx), ==, 0);
  fixture_free (fx);
}

static void
test_log_packed (void)
{
  Fixture *fx = fixture_new_mapped (TRUE, 8, FALSE);
  const PDesc chain[] = { { 0x11000, 0x100, 0, F_NEXT }, { 0x12000, 0x2000, 3, F_WRITE } };

  fx->mem.log = g_malloc0 (LOG_SIZE);
  fx->mem.log_size = LOG_SIZE;
  fx->ring.log_all = TRUE;
  packed_publish (fx, chain, 2);
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
  vhost_ring_push (&fx->ring, &fx->elem, 0x1001);
  vhost_ring_flush (&fx->ring);
  g_assert_true (log_bit (fx, 0x10)); /* the used descriptor */
  g_assert_false (log_bit (fx, 0x11));
  g_assert_true (log_bit (fx, 0x12));
  g_assert_true (log_bit (fx, 0x13));
  g_assert_cmpuint (log_count (fx), ==, 3);
  fixture_free (fx);
}

/* The front-end may collect (and clear) the log at any moment. A packed ring
 * publishes the head of a batch at the flush, so the flush must mark its page
 * again, after the write. */
static void
test_log_packed_flush (void)
{
  Fixture *fx = fixture_new_mapped (TRUE, 8, FALSE);
  const PDesc d = { 0x12000, 0x100, 3, F_WRITE };

  fx->mem.log = g_malloc0 (LOG_SIZE);
  fx->mem.log_size = LOG_SIZE;
  fx->ring.log_all = TRUE;
  packed_publish (fx, &d, 1);
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
  vhost_ring_push (&fx->ring, &fx->elem, 0x100);
  g_assert_true (log_bit (fx, 0x12)); /* the data, at the push; the used descriptor is written at the flush */
  log_clear (fx); /* a sync: the page is copied with the head not yet used */
  vhost_ring_flush (&fx->ring);
  g_assert_cmpuint (packed_desc (fx)[0].flags, ==, F_AVAIL | F_USED);
  g_assert_true (log_bit (fx, 0x10));
  fixture_free (fx);
}

/* SET_LOG_FD: the front-end is told when a publication logged writes, and only then. */
static void
test_log_kick (void)
{
  Fixture *fx = fixture_new_mapped (FALSE, 8, FALSE);
  eventfd_t value = 0;

  fx->mem.log = g_malloc0 (LOG_SIZE);
  fx->mem.log_size = LOG_SIZE;
  fx->mem.log_call_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  fx->ring.log_all = TRUE;
  set_desc (&split_desc (fx)[0], 0x12000, 0x100, F_WRITE, 0);
  split_publish (fx, 0);
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
  g_assert_cmpint (eventfd_read (fx->mem.log_call_fd, &value), <, 0); /* nothing logged yet */
  vhost_ring_push (&fx->ring, &fx->elem, 0x100);
  vhost_ring_flush (&fx->ring);
  g_assert_cmpint (eventfd_read (fx->mem.log_call_fd, &value), ==, 0);
  g_assert_cmpuint (value, ==, 1);
  /* Logging off: a publication says nothing. */
  fx->ring.log_all = FALSE;
  split_publish (fx, 0);
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
  vhost_ring_push (&fx->ring, &fx->elem, 0x100);
  vhost_ring_flush (&fx->ring);
  g_assert_cmpint (eventfd_read (fx->mem.log_call_fd, &value), <, 0);
  close (fx->mem.log_call_fd);
  fixture_free (fx);
}

/* A log too short for guest memory: pages past it are not marked, and nothing is
 * written past it (ASan checks). */
static void
test_log_short (void)
{
  Fixture *fx = fixture_new_mapped (FALSE, 8, FALSE);

  fx->mem.log = g_malloc0 (3); /* pages 0 to 0x17 */
  fx->mem.log_size = 3;
  fx->ring.log_all = TRUE;
  fx->ring.log_used = TRUE;
  fx->ring.log_guest_addr = 0x15000; /* the used ring's own guest address */
  set_desc (&split_desc (fx)[0], 0x17000, 0x2000, F_WRITE, 0);
  split_publish (fx, 0);
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
  vhost_ring_push (&fx->ring, &fx->elem, 0x2000);
  vhost_ring_flush (&fx->ring);
  g_assert_true (log_bit (fx, 0x17));
  g_assert_true (log_bit (fx, 0x15));
  g_assert_cmpuint (log_count (fx), ==, 2);

  set_desc (&split_desc (fx)[0], GPA1 + 0x1000, 0x10, F_WRITE, 0);
  split_publish (fx, 0);
  g_assert_cmpint (pop (fx, MAX_IOV), ==, 1);
  vhost_ring_push (&fx->ring, &fx->elem, 0x10);
  vhost_ring_flush (&fx->ring);
  g_assert_cmpuint (log_count (fx), ==, 2);
  fixture_free (fx);
}

/* With event idx, a device that leaves a chain in the ring (a handler that
 * declined it) and turns kicks back on is still kicked for the next chain: the
 * event index points past what is already there. The driver side is the
 * library's own driver ring. */
static void
test_event_idx_after_declined (gconstpointer data)
{
  gboolean packed = GPOINTER_TO_INT (data);
  guint8 *m = g_malloc0 (1 << 16);
  VhostMem mem = { 1, { { 0, 1 << 16, 0x40000000, m } } };
  VhostDriverRing d = { 0 };
  VhostDriverRingBuffer b = { 0x8000, 64 };
  VhostRing r;

  if (packed)
    {
      d.pdesc = (void *) m;
      d.driver_event = (void *) (m + 0x1000);
      d.device_event = (void *) (m + 0x2000);
    }
  else
    {
      d.desc = (void *) m;
      d.avail = (void *) (m + 0x1000);
      d.used = (void *) (m + 0x2000);
    }
  vhost_driver_ring_init (&d, 8, packed, TRUE, FALSE);
  vhost_ring_init (&r, 0);
  r.mem = &mem;
  r.num = 8;
  r.packed = packed;
  r.event_idx = TRUE;
  r.desc_uaddr = 0x40000000;
  r.avail_uaddr = 0x40001000;
  r.used_uaddr = 0x40002000;
  vhost_ring_set_base (&r, packed ? 0x8000 : 0);
  g_assert_true (vhost_ring_map (&r));
  g_assert_false (vhost_ring_set_kicks (&r, TRUE));
  g_assert_cmpint (vhost_driver_ring_add (&d, &b, 1, NULL, 0, 1), ==, 0);
  g_assert_true (vhost_driver_ring_kick_needed (&d));
  /* The device sees the chain, leaves it, and asks for kicks again. */
  g_assert_true (vhost_ring_has_avail (&r));
  vhost_ring_set_kicks (&r, FALSE);
  g_assert_false (vhost_ring_set_kicks (&r, TRUE));
  g_assert_cmpint (vhost_driver_ring_add (&d, &b, 1, NULL, 0, 2), ==, 0);
  g_assert_true (vhost_driver_ring_kick_needed (&d));
  vhost_driver_ring_clear (&d);
  g_free (m);
}


/* Two queues whose handlers both move chains from the first (transmit) to the
 * second (receive), as an echo device's do; each pops from both rings. */
typedef struct
{
  VhostQueue tx, rx;
  guint echoed;
} CrossPair;

static void
cross_echo (VhostQueue *queue, gpointer data)
{
  CrossPair *p = data;
  VhostRingElement t, r;
  struct iovec t_iov[4], r_iov[4];

  while (vhost_ring_pop (&p->tx.ring, &t, t_iov, G_N_ELEMENTS (t_iov)) > 0)
    {
      if (vhost_ring_pop (&p->rx.ring, &r, r_iov, G_N_ELEMENTS (r_iov)) <= 0)
        {
          vhost_ring_unpop (&p->tx.ring, &t);
          break;
        }
      vhost_ring_push (&p->rx.ring, &r, 1);
      vhost_ring_push (&p->tx.ring, &t, 0);
      p->echoed++;
    }
  vhost_queue_notify (queue == &p->tx ? &p->rx : &p->tx);
}

/* A queue over the rings of driver ring `d` at `offset` of `m` (guest address 0,
 * user address 0x40000000), started without a worker: the test calls its worker
 * entry points. */
static void
cross_queue_start (VhostQueue *q, CrossPair *p, VhostMem *mem, VhostDriverRing *d, guint8 *m, gsize offset,
                   gboolean packed)
{
  if (packed)
    {
      d->pdesc = (void *) (m + offset);
      d->driver_event = (void *) (m + offset + 0x1000);
      d->device_event = (void *) (m + offset + 0x2000);
    }
  else
    {
      d->desc = (void *) (m + offset);
      d->avail = (void *) (m + offset + 0x1000);
      d->used = (void *) (m + offset + 0x2000);
    }
  vhost_driver_ring_init (d, 8, packed, TRUE, FALSE);
  vhost_queue_init (q, q == &p->tx, NULL, NULL);
  q->ring.mem = mem;
  q->ring.num = 8;
  q->ring.packed = packed;
  q->ring.event_idx = TRUE;
  q->ring.desc_uaddr = 0x40000000 + offset;
  q->ring.avail_uaddr = 0x40001000 + offset;
  q->ring.used_uaddr = 0x40002000 + offset;
  q->ring.call_fd = -1;
  vhost_ring_set_base (&q->ring, packed ? 0x8000 : 0);
  q->handler = cross_echo;
  q->handler_data = p;
  g_assert_true (vhost_queue_start (q, NULL, -1));
}

/* A polling round of the worker: the receive queue's entry point, then the
 * transmit queue's (the order in which an echo device attaches them). */
static void
cross_round (CrossPair *p)
{
  p->rx.item.func (&p->rx.item, TRUE);
  p->tx.item.func (&p->tx.item, TRUE);
}

/* A queue whose handler declined its chains (the transmit queue, no receive
 * buffers yet) and whose chains another queue's handler then took: a chain made
 * available afterwards, while the worker polled with kicks off, must not be left
 * behind when the worker turns kicks on to sleep. The driver asks for no kick
 * (the event index is past it), so the worker must see it and go on polling.
 * The declined state held for the chains the handler saw, not for the ring. */
static void
test_queue_declined_taken_elsewhere (gconstpointer data)
{
  gboolean packed = GPOINTER_TO_INT (data);
  guint8 *m = g_malloc0 (1 << 16);
  VhostMem mem = { 1, { { 0, 1 << 16, 0x40000000, m } } };
  VhostDriverRing dtx = { 0 }, drx = { 0 };
  VhostDriverRingBuffer frame = { 0x8000, 64 }, buffer[2] = { { 0x9000, 64 }, { 0xa000, 64 } };
  CrossPair p = { 0 };
  gboolean more;

  cross_queue_start (&p.tx, &p, &mem, &dtx, m, 0, packed);
  cross_queue_start (&p.rx, &p, &mem, &drx, m, 0x4000, packed);

  /* A frame, no receive buffer: the transmit queue's handler leaves it. */
  g_assert_cmpint (vhost_driver_ring_add (&dtx, &frame, 1, NULL, 0, 1), ==, 0);
  vhost_driver_ring_kick_needed (&dtx); /* the kick that woke the worker */
  cross_round (&p);
  g_assert_cmpuint (p.echoed, ==, 0);
  /* Two receive buffers: the receive queue's handler echoes the frame. */
  g_assert_cmpint (vhost_driver_ring_add (&drx, NULL, 0, &buffer[0], 1, 1), ==, 0);
  g_assert_cmpint (vhost_driver_ring_add (&drx, NULL, 0, &buffer[1], 1, 2), ==, 0);
  cross_round (&p);
  g_assert_cmpuint (p.echoed, ==, 1);
  /* A round with nothing to echo (the receive queue declines its buffer). */
  cross_round (&p);
  /* A frame while the worker polls, kicks off: the driver does not kick. */
  g_assert_cmpint (vhost_driver_ring_add (&dtx, &frame, 1, NULL, 0, 2), ==, 0);
  g_assert_false (vhost_driver_ring_kick_needed (&dtx));
  /* The worker is about to sleep: it must see the frame (or be kicked for it). */
  more = p.rx.item.arm (&p.rx.item);
  more |= p.tx.item.arm (&p.tx.item);
  g_assert_true (more);
  cross_round (&p);
  g_assert_cmpuint (p.echoed, ==, 2);

  vhost_queue_stop (&p.rx);
  vhost_queue_stop (&p.tx);
  vhost_driver_ring_clear (&dtx);
  vhost_driver_ring_clear (&drx);
  g_free (m);
}
/* The driver ring writes a split descriptor only when it changes: a chain
 * submitted again with the same buffers leaves the table untouched (its page is
 * read-only here, so a store would fault), and the device still gets the chain;
 * a chain with other buffers is written out. */
static void
test_driver_unchanged_descriptors (void)
{
  gsize page = sysconf (_SC_PAGESIZE);
  guint8 *m = mmap (NULL, 16 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  VhostMem mem = { 1, { { 0, 16 * page, 0x40000000, m } } };
  VhostDriverRing d = { .desc = (void *) m, .avail = (void *) (m + page), .used = (void *) (m + 2 * page) };
  /* Buffers are guest-physical addresses; the rings, user addresses. */
  VhostDriverRingBuffer out = { 4 * page, 16 }, in[2] = { { 5 * page, 512 }, { 4 * page + 16, 1 } };
  VhostRing r;

  g_assert_true (m != MAP_FAILED);
  vhost_driver_ring_init (&d, 8, FALSE, TRUE, FALSE);
  vhost_ring_init (&r, 0);
  r.mem = &mem;
  r.num = 8;
  r.desc_uaddr = 0x40000000;
  r.avail_uaddr = 0x40000000 + page;
  r.used_uaddr = 0x40000000 + 2 * page;
  g_assert_true (vhost_ring_map (&r));

  for (guint round = 0; round < 4; round++)
    {
      VhostRingElement elem;
      struct iovec iov[4];
      guint64 tag;
      guint32 len;

      /* Rounds 1 and 3 submit what round 0 and 2 did; round 2 has a longer buffer. */
      in[0].len = round < 2 ? 512 : 1024;
      if (round % 2 == 1)
        g_assert_cmpint (mprotect (m, page, PROT_READ), ==, 0);
      g_assert_cmpint (vhost_driver_ring_add (&d, &out, 1, in, 2, round), ==, 0);
      g_assert_cmpint (mprotect (m, page, PROT_READ | PROT_WRITE), ==, 0);

      g_assert_cmpint (vhost_ring_pop (&r, &elem, iov, G_N_ELEMENTS (iov)), ==, 1);
      g_assert_cmpuint (elem.n_out, ==, 1);
      g_assert_cmpuint (elem.n_in, ==, 2);
      g_assert_true (iov[0].iov_base == m + 4 * page && iov[0].iov_len == 16);
      g_assert_true (iov[1].iov_base == m + 5 * page && iov[1].iov_len == in[0].len);
      g_assert_true (iov[2].iov_base == m + 4 * page + 16 && iov[2].iov_len == 1);
      vhost_ring_push (&r, &elem, 1);
      vhost_ring_flush (&r);
      g_assert_cmpint (vhost_driver_ring_get_used (&d, &tag, &len), ==, 1);
      g_assert_cmpuint (tag, ==, round);
      g_assert_cmpuint (len, ==, 1);
    }
  vhost_driver_ring_clear (&d);
  munmap (m, 16 * page);
}

/* A driver ring over areas of exactly their size, and a device played by hand:
 * it writes used entries (split) or used descriptors (packed) itself. */
typedef struct
{
  VhostDriverRing ring;
  guint8 *area[3];
  guint16 used_idx;   /* split: the device's next used index */
  guint16 used_pos;   /* packed: the device's next used descriptor... */
  gboolean used_wrap; /* ...and its wrap counter */
} DriverFixture;

#define DRIVER_NUM 8

static DriverFixture *
driver_fixture_new (gboolean packed)
{
  DriverFixture *df = g_new0 (DriverFixture, 1);
  guint64 sizes[3];

  vhost_driver_ring_sizes (DRIVER_NUM, packed, &sizes[0], &sizes[1], &sizes[2]);
  for (guint j = 0; j < 3; j++)
    df->area[j] = g_malloc0 (sizes[j]);
  if (packed)
    {
      df->ring.pdesc = (void *) df->area[0];
      df->ring.driver_event = (void *) df->area[1];
      df->ring.device_event = (void *) df->area[2];
    }
  else
    {
      df->ring.desc = (void *) df->area[0];
      df->ring.avail = (void *) df->area[1];
      df->ring.used = (void *) df->area[2];
    }
  vhost_driver_ring_init (&df->ring, DRIVER_NUM, packed, FALSE, FALSE);
  df->used_wrap = TRUE;
  return df;
}

static void
driver_fixture_free (DriverFixture *df)
{
  vhost_driver_ring_clear (&df->ring);
  for (guint j = 0; j < 3; j++)
    g_free (df->area[j]);
  g_free (df);
}

/* The device uses chain @id (split: a head; packed: a buffer id taking @n_descs
 * descriptors) with @len bytes, and publishes it. */
static void
driver_fixture_use (DriverFixture *df, guint32 id, guint32 len, guint n_descs)
{
  VhostDriverRing *ring = &df->ring;

  if (!ring->packed)
    {
      ring->used->ring[df->used_idx % DRIVER_NUM] = (struct vring_used_elem) { GUINT32_TO_LE (id), GUINT32_TO_LE (len) };
      ring->used->idx = GUINT16_TO_LE (++df->used_idx);
      return;
    }
  ring->pdesc[df->used_pos].id = GUINT16_TO_LE (id);
  ring->pdesc[df->used_pos].len = GUINT32_TO_LE (len);
  ring->pdesc[df->used_pos].flags = GUINT16_TO_LE (df->used_wrap ? F_AVAIL | F_USED : 0);
  df->used_pos += n_descs;
  if (df->used_pos >= DRIVER_NUM)
    {
      df->used_pos -= DRIVER_NUM;
      df->used_wrap = !df->used_wrap;
    }
}

/* Two chains in flight: A (tag 100: 16 readable bytes, then 64 writable), then B
 * (tag 200: 32 writable bytes). Split heads: A 0, B 2; packed buffer ids: A 0, B 1. */
static void
driver_fixture_submit_two (DriverFixture *df)
{
  VhostDriverRingBuffer out = { 0x1000, 16 }, in = { 0x2000, 64 }, in_b = { 0x3000, 32 };

  g_assert_cmpint (vhost_driver_ring_add (&df->ring, &out, 1, &in, 1, 100), ==, 0);
  g_assert_cmpint (vhost_driver_ring_add (&df->ring, NULL, 0, &in_b, 1, 200), ==, 0);
  g_assert_cmpuint (vhost_driver_ring_in_flight (&df->ring), ==, 2);
}

static void
assert_reaped (DriverFixture *df, guint64 tag, guint32 len)
{
  guint64 got_tag = 0;
  guint32 got_len = 0;

  g_assert_cmpint (vhost_driver_ring_get_used (&df->ring, &got_tag, &got_len), ==, 1);
  g_assert_cmpuint (got_tag, ==, tag);
  g_assert_cmpuint (got_len, ==, len);
}

/* The driver counts chains in flight, not the descriptors they take. */
static void
test_driver_in_flight (gconstpointer data)
{
  DriverFixture *df = driver_fixture_new (GPOINTER_TO_INT (data));
  VhostDriverRingBuffer b[3] = { { 0x1000, 16 }, { 0x2000, 16 }, { 0x3000, 16 } };

  g_assert_cmpint (vhost_driver_ring_add (&df->ring, b, 1, b + 1, 2, 1), ==, 0);
  g_assert_cmpuint (vhost_driver_ring_in_flight (&df->ring), ==, 1);
  g_assert_cmpint (vhost_driver_ring_add (&df->ring, b, 1, NULL, 0, 2), ==, 0);
  g_assert_cmpuint (vhost_driver_ring_in_flight (&df->ring), ==, 2);
  driver_fixture_use (df, 0, 32, 3);
  assert_reaped (df, 1, 32);
  g_assert_cmpuint (vhost_driver_ring_in_flight (&df->ring), ==, 1);
  driver_fixture_free (df);
}

/* A device cannot have written more than a chain's writable buffers hold: a
 * longer used length is clipped to them. (DPDK's packed ring leaves a transmitted
 * chain, with no writable buffer, the length of its first descriptor.) */
static void
test_driver_len_clipped (gconstpointer data)
{
  DriverFixture *df = driver_fixture_new (GPOINTER_TO_INT (data));
  VhostDriverRingBuffer out = { 0x4000, 12 };

  driver_fixture_submit_two (df);
  driver_fixture_use (df, 0, 65, 2);
  assert_reaped (df, 100, 64);
  /* Chain A's head (split) or buffer id (packed) is free again: C takes it. */
  g_assert_cmpint (vhost_driver_ring_add (&df->ring, &out, 1, NULL, 0, 300), ==, 0);
  driver_fixture_use (df, 0, 12, 1);
  assert_reaped (df, 300, 0);
  g_assert_cmpuint (vhost_driver_ring_in_flight (&df->ring), ==, 1);
  driver_fixture_free (df);
}

typedef struct
{
  const char *path;
  gboolean packed;
  void (*use) (DriverFixture *df); /* what the device writes */
  guint in_flight;                 /* chains in flight when the bad entry is met */
} BadUsedCase;

static void
use_unknown_id (DriverFixture *df)
{
  driver_fixture_use (df, 5, 0, 1);
}

static void
use_id_outside (DriverFixture *df)
{
  driver_fixture_use (df, DRIVER_NUM, 0, 1);
}

/* Split: descriptor 1 is in flight, but as the second of chain A, not a head. */
static void
use_mid_chain (DriverFixture *df)
{
  driver_fixture_use (df, 1, 0, 1);
}

static void
use_twice (DriverFixture *df)
{
  driver_fixture_use (df, 0, 64, 2);
  assert_reaped (df, 100, 64);
  driver_fixture_use (df, 0, 64, 2);
}

/* Split: three used entries while two chains are in flight; the first two are
 * right, but the index says more chains than were ever given. */
static void
use_index_ahead (DriverFixture *df)
{
  driver_fixture_use (df, 0, 0, 1);
  driver_fixture_use (df, 2, 0, 1);
  driver_fixture_use (df, 2, 0, 1);
}

static const BadUsedCase bad_used_cases[] = {
  { "/vhost/ring/driver/split/bad-used/unknown-id", FALSE, use_unknown_id, 2 },
  { "/vhost/ring/driver/packed/bad-used/unknown-id", TRUE, use_unknown_id, 2 },
  { "/vhost/ring/driver/split/bad-used/id-outside", FALSE, use_id_outside, 2 },
  { "/vhost/ring/driver/packed/bad-used/id-outside", TRUE, use_id_outside, 2 },
  { "/vhost/ring/driver/split/bad-used/mid-chain", FALSE, use_mid_chain, 2 },
  { "/vhost/ring/driver/split/bad-used/twice", FALSE, use_twice, 1 },
  { "/vhost/ring/driver/packed/bad-used/twice", TRUE, use_twice, 1 },
  { "/vhost/ring/driver/split/bad-used/index-ahead", FALSE, use_index_ahead, 2 },
};

/* A device that writes a bad used entry gets -EPROTO: no completion is handed
 * over, nothing is taken off the ring, and asking again gives the same answer. */
static void
test_driver_bad_used (gconstpointer data)
{
  const BadUsedCase *c = data;
  DriverFixture *df = driver_fixture_new (c->packed);

  driver_fixture_submit_two (df);
  c->use (df);
  for (guint attempt = 0; attempt < 2; attempt++)
    {
      guint64 tag = 0;
      guint32 len;

      g_assert_cmpint (vhost_driver_ring_get_used (&df->ring, &tag, &len), ==, -EPROTO);
      g_assert_cmpuint (tag, ==, 0);
      g_assert_cmpuint (vhost_driver_ring_in_flight (&df->ring), ==, c->in_flight);
    }
  driver_fixture_free (df);
}

static gboolean
idle_item (VhostWorkerItem *item, gboolean poll)
{
  return FALSE;
}

static gboolean
idle_arm (VhostWorkerItem *item)
{
  return FALSE;
}

/* Pause and resume back to back, as the slave does around every request that
 * changes the queues, with kicks and no busy polling: the pause must never wait
 * on a worker that went back to sleep (a lost control wake-up). */
static void
test_worker_pause_resume (void)
{
  g_autoptr(GError) error = NULL;
  VhostWorker *w = vhost_worker_new ("test-worker", &error);
  VhostWorkerItem item = { .kick_fd = -1, .event_fd = -1, .func = idle_item, .arm = idle_arm };
  int kick = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);

  g_assert_no_error (error);
  vhost_worker_set_poll_us (w, 0);
  item.kick_fd = kick;
  g_assert_true (vhost_worker_attach (w, &item, &error));
  for (guint i = 0; i < 200000; i++)
    {
      if (i % 7 == 0)
        eventfd_write (kick, 1);
      vhost_worker_pause (w);
      vhost_worker_resume (w);
    }
  vhost_worker_detach (&item);
  vhost_worker_free (w);
  close (kick);
}

/* A queue for the adaptive-poll test: work when the test says so; each call with
 * work and each arm (the worker about to sleep) counted under the lock. */
typedef struct
{
  VhostWorkerItem item;
  GMutex lock;
  GCond cond;
  gint pending; /* (atomic) */
  guint worked, armed;
} PollProbe;

static gboolean
probe_item (VhostWorkerItem *item, gboolean poll)
{
  PollProbe *p = item->data;

  if (!g_atomic_int_compare_and_exchange (&p->pending, 1, 0))
    return FALSE;
  g_mutex_lock (&p->lock);
  p->worked++;
  g_cond_broadcast (&p->cond);
  g_mutex_unlock (&p->lock);
  return TRUE;
}

static gboolean
probe_arm (VhostWorkerItem *item)
{
  PollProbe *p = item->data;

  g_mutex_lock (&p->lock);
  p->armed++;
  g_cond_broadcast (&p->cond);
  g_mutex_unlock (&p->lock);
  return FALSE;
}

static void
probe_wait (PollProbe *p, guint *counter, guint value)
{
  g_mutex_lock (&p->lock);
  while (*counter < value)
    g_cond_wait (&p->cond, &p->lock);
  g_mutex_unlock (&p->lock);
}

static void
probe_kick (PollProbe *p)
{
  g_atomic_int_set (&p->pending, 1);
  g_assert_cmpint (eventfd_write (p->item.kick_fd, 1), ==, 0);
}

/* The busy-poll interval halves after a sleep longer than the longest interval
 * (polling could not have saved it), and doubles back after a sleep shorter than
 * that (polling longer would have). */
static void
test_worker_adaptive_poll (void)
{
  g_autoptr(GError) error = NULL;
  VhostWorker *w = vhost_worker_new ("test-worker", &error);
  PollProbe p = { { .kick_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK), .event_fd = -1, .func = probe_item,
                    .arm = probe_arm } };
  /* Long enough that a busy machine wakes the test in time for the second step. */
  const guint longest = 400 * 1000;
  gint64 start, worked;

  g_assert_no_error (error);
  p.item.data = &p;
  g_mutex_init (&p.lock);
  g_cond_init (&p.cond);
  vhost_worker_set_poll_us (w, longest);
  g_assert_cmpuint (vhost_worker_get_poll_now_us (w), ==, longest);
  start = g_get_monotonic_time ();
  g_assert_true (vhost_worker_attach (w, &p.item, &error));
  /* Asleep after polling for the whole interval (or sooner, on a machine so busy
   * that the worker's CPU is taken: see worker_check_yield()), work 100 ms after
   * the interval: halved. */
  probe_wait (&p, &p.armed, 1);
  g_usleep (MAX (start + longest + 100 * 1000 - g_get_monotonic_time (), 0));
  probe_kick (&p);
  probe_wait (&p, &p.worked, 1);
  worked = g_get_monotonic_time ();
  g_assert_cmpuint (vhost_worker_get_poll_now_us (w), ==, longest / 2);
  /* Asleep after polling for half the interval (or sooner), work 250 ms after the
   * last, when polling a little longer than half the interval would have caught
   * it: back to the longest. (The pause of the call above may have woken the
   * worker; it polled again from there and slept.) */
  g_usleep (MAX (worked + 250 * 1000 - g_get_monotonic_time (), 0));
  probe_kick (&p);
  probe_wait (&p, &p.worked, 2);
  g_assert_cmpuint (vhost_worker_get_poll_now_us (w), ==, longest);

  vhost_worker_detach (&p.item);
  vhost_worker_free (w);
  close (p.item.kick_fd);
  g_mutex_clear (&p.lock);
  g_cond_clear (&p.cond);
}

/* A background job that spins on the worker's CPU (SCHED_IDLE: it runs only when
 * nothing else wants the CPU, and a wake-up preempts it at once). */
typedef struct
{
  int cpu;
  gint stop; /* (atomic) */
  gint started; /* (atomic) */
} Hog;

static gpointer
hog_thread (gpointer data)
{
  Hog *hog = data;
  struct sched_param param = { 0 };
  cpu_set_t set;

  CPU_ZERO (&set);
  CPU_SET (hog->cpu, &set);
  g_assert_cmpint (pthread_setaffinity_np (pthread_self (), sizeof set, &set), ==, 0);
  g_assert_cmpint (pthread_setschedparam (pthread_self (), SCHED_IDLE, &param), ==, 0);
  g_atomic_int_set (&hog->started, 1);
  while (!g_atomic_int_get (&hog->stop))
    ;
  return NULL;
}

static int
compare_gint64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

static void
pin_self (int cpu)
{
  cpu_set_t set;

  CPU_ZERO (&set);
  CPU_SET (cpu, &set);
  g_assert_cmpint (pthread_setaffinity_np (pthread_self (), sizeof set, &set), ==, 0);
}

/* A polling worker that shares its CPU with a job that keeps it whenever it gets it:
 * the yield of an idle polling round would hand the job the CPU for its whole time
 * slice (milliseconds) every polling period, and work that came meanwhile would
 * wait for it. The worker notices the first such yield and sleeps instead of
 * polling; a kick then wakes it at once. Work comes 100 us after the worker took
 * the last: nine waits in ten are far below a time slice. */
static void
test_worker_shared_cpu (void)
{
  g_autoptr(GError) error = NULL;
  PollProbe p = { { .kick_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK), .event_fd = -1, .func = probe_item,
                    .arm = probe_arm } };
  Hog hog = { 0 };
  gint64 waits[200];
  cpu_set_t allowed;
  int cpus[2], n = 0;
  GThread *thread;
  VhostWorker *w;

  g_assert_cmpint (sched_getaffinity (0, sizeof allowed, &allowed), ==, 0);
  for (int cpu = 0; cpu < CPU_SETSIZE && n < 2; cpu++)
    if (CPU_ISSET (cpu, &allowed))
      cpus[n++] = cpu;
  if (n < 2)
    {
      g_test_skip ("needs two CPUs (one for the worker and the job, one for the test)");
      close (p.item.kick_fd);
      return;
    }
  /* The worker's thread takes the CPU of the thread that creates it. */
  pin_self (cpus[1]);
  w = vhost_worker_new ("test-worker", &error);
  pin_self (cpus[0]);
  g_assert_no_error (error);
  p.item.data = &p;
  g_mutex_init (&p.lock);
  g_cond_init (&p.cond);
  vhost_worker_set_poll_us (w, 1000);
  g_assert_true (vhost_worker_attach (w, &p.item, &error));
  hog.cpu = cpus[1];
  thread = g_thread_new ("hog", hog_thread, &hog);
  while (!g_atomic_int_get (&hog.started))
    g_usleep (100);

  for (guint i = 0; i < G_N_ELEMENTS (waits); i++)
    {
      gint64 kicked = g_get_monotonic_time ();

      probe_kick (&p);
      probe_wait (&p, &p.worked, i + 1);
      waits[i] = g_get_monotonic_time () - kicked;
      g_usleep (100);
    }
  g_atomic_int_set (&hog.stop, 1);
  g_thread_join (thread);
  g_assert_cmpint (pthread_setaffinity_np (pthread_self (), sizeof allowed, &allowed), ==, 0);

  qsort (waits, G_N_ELEMENTS (waits), sizeof waits[0], compare_gint64);
  g_test_message ("waits: median %" G_GINT64_FORMAT " us, p90 %" G_GINT64_FORMAT " us, max %" G_GINT64_FORMAT
                  " us; %" G_GUINT64_FORMAT " contentions",
                  waits[G_N_ELEMENTS (waits) / 2], waits[G_N_ELEMENTS (waits) * 9 / 10],
                  waits[G_N_ELEMENTS (waits) - 1], vhost_worker_get_contentions (w));
  g_assert_cmpuint (vhost_worker_get_contentions (w), >=, 1);
  /* A slice lost at the first yield, and one per stretch after (about one in this
   * test); without the stretches, a wait of milliseconds every few kicks. */
  g_assert_cmpint (waits[G_N_ELEMENTS (waits) * 9 / 10], <, 500);

  vhost_worker_detach (&p.item);
  vhost_worker_free (w);
  close (p.item.kick_fd);
  g_mutex_clear (&p.lock);
  g_cond_clear (&p.cond);
}

/* A queue for the coalescing tests: a producer thread makes chains available (a
 * counter), open loop at a fixed interval or closed loop (each chain after the
 * worker took the one before), and kicks only while the queue asks for kicks, as
 * a driver does; the worker takes all there are at each call. With a bound, the
 * producer waits while that many are available (a full ring) and then catches up
 * with its schedule; with a backlog, that many chains wait behind a full ring from
 * 100 ms into the run on (each call of the worker leaves room that they fill); with
 * gaps, it stops for gap_us every gap_every_us (its schedule moves on, no backlog)
 * and counts the worker's calls in the 2 ms after each stop. */
typedef struct
{
  VhostWorkerItem item;
  VhostWorker *worker;
  gint bound;           /* 0: none */
  gint backlog;         /* chains that wait behind a full ring, 100 ms into the run; 0: none */
  gint waiting;         /* (atomic) those not made available yet */
  gint64 gap_every_us, gap_us;
  gint after_gap[8];    /* the calls in the 2 ms after each of the first stops */
  guint n_gaps;
  guint64 naps_before;  /* the worker's naps when the backlog came */
  guint64 drained_naps; /* and when its last chains were made available */
  guint64 contentions;  /* the worker's, at the end (vhost_worker_get_contentions()) */
  gint made;            /* (atomic) chains made available */
  gint taken;           /* (atomic) chains taken by the worker */
  gint kicks_on;        /* (atomic) the worker is about to sleep: kick */
  gint calls;           /* (atomic) the worker's calls that took chains */
  gint stop;            /* (atomic) */
  gboolean closed_loop;
  gint64 interval_us;   /* between two chains; in a closed loop, after each is taken */
} Stream;

static gboolean
stream_item (VhostWorkerItem *item, gboolean poll)
{
  Stream *st = item->data;
  gint made = g_atomic_int_get (&st->made), before = g_atomic_int_get (&st->taken);
  gint waiting = g_atomic_int_get (&st->waiting);

  g_atomic_int_set (&st->kicks_on, 0);
  item->taken = made - before;
  if (item->taken == 0)
    return FALSE;
  g_atomic_int_inc (&st->calls);
  g_atomic_int_set (&st->taken, made);
  /* A backlog fills the room at once, as a front-end held back by a full ring does. */
  if (waiting > 0)
    {
      gint n = MIN (waiting, st->bound);

      g_atomic_int_add (&st->made, n);
      g_atomic_int_add (&st->waiting, -n);
      if (n == waiting)
        st->drained_naps = vhost_worker_get_naps (st->worker);
    }
  return TRUE;
}

/* Kicks on, then a last look: a chain made before that was not kicked for. */
static gboolean
stream_arm (VhostWorkerItem *item)
{
  Stream *st = item->data;

  g_atomic_int_set (&st->kicks_on, 1);
  return g_atomic_int_get (&st->made) != g_atomic_int_get (&st->taken);
}

static gpointer
stream_produce (gpointer data)
{
  Stream *st = data;
  gint64 start = g_get_monotonic_time (), next = start, last_gap = start, counting = 0;
  gboolean backlog_sent = FALSE;
  gint calls_before = 0;

  while (!g_atomic_int_get (&st->stop))
    {
      if (st->closed_loop)
        {
          while (g_atomic_int_get (&st->taken) != g_atomic_int_get (&st->made) && !g_atomic_int_get (&st->stop))
            ;
          next = g_get_monotonic_time () + st->interval_us;
        }
      if (st->gap_every_us > 0 && next - last_gap >= st->gap_every_us)
        {
          next += st->gap_us;
          last_gap = next;
          counting = next;
          calls_before = g_atomic_int_get (&st->calls);
        }
      if (counting != 0 && next - counting >= 2000)
        {
          if (st->n_gaps < G_N_ELEMENTS (st->after_gap))
            st->after_gap[st->n_gaps++] = g_atomic_int_get (&st->calls) - calls_before;
          counting = 0;
        }
      while (g_get_monotonic_time () < next)
        ;
      while (st->bound > 0 && g_atomic_int_get (&st->made) - g_atomic_int_get (&st->taken) >= st->bound &&
             !g_atomic_int_get (&st->stop))
        ;
      g_atomic_int_inc (&st->made);
      if (g_atomic_int_get (&st->kicks_on))
        g_assert_cmpint (eventfd_write (st->item.kick_fd, 1), ==, 0);
      next += st->interval_us;
      if (st->backlog > 0 && !backlog_sent && next - start >= 100 * 1000)
        {
          st->naps_before = vhost_worker_get_naps (st->worker);
          g_atomic_int_set (&st->waiting, st->backlog);
          backlog_sent = TRUE;
        }
    }
  return NULL;
}

/* Runs a stream against a polling worker with naps of up to 400 us for `ms`
 * milliseconds, its queue of `capacity` chains (0: not said); the naps the worker
 * took. Every chain made is taken in the end, the worker asleep or not. */
static guint64
stream_run (Stream *st, guint capacity, guint ms)
{
  g_autoptr(GError) error = NULL;
  VhostWorker *w = vhost_worker_new ("test-worker", &error);
  GThread *producer;
  guint64 naps;
  gint64 deadline;

  g_assert_no_error (error);
  st->item = (VhostWorkerItem) { .kick_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK), .event_fd = -1,
                                 .func = stream_item, .arm = stream_arm, .data = st, .capacity = capacity };
  vhost_worker_set_poll_us (w, 100);
  vhost_worker_set_coalesce_us (w, 400);
  g_assert_true (vhost_worker_attach (w, &st->item, &error));
  st->worker = w;
  producer = g_thread_new ("producer", stream_produce, st);
  g_usleep (ms * 1000);
  g_atomic_int_set (&st->stop, 1);
  g_thread_join (producer);
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (g_atomic_int_get (&st->taken) != g_atomic_int_get (&st->made) && g_get_monotonic_time () < deadline)
    g_usleep (1000);
  g_assert_cmpint (g_atomic_int_get (&st->taken), ==, g_atomic_int_get (&st->made));
  naps = vhost_worker_get_naps (w);
  st->contentions = vhost_worker_get_contentions (w);
  vhost_worker_detach (&st->item);
  vhost_worker_free (w);
  close (st->item.kick_fd);
  return naps;
}

/* Whether another task kept the worker's CPU during the run (a machine busy with
 * other work): the worker then slept as soon as it found nothing instead of polling
 * (worker_check_yield()), and the coalescing checks, which assume it could poll, do
 * not apply. Says so. */
static gboolean
stream_contended (const Stream *st)
{
  if (st->contentions == 0)
    return FALSE;
  g_test_message ("another task kept the worker's CPU (%" G_GUINT64_FORMAT
                  " times): the worker stopped polling, the coalescing is not checked",
                  st->contentions);
  return TRUE;
}

/* Chains that come one by one, a chain every 10 us, from a front-end that does not
 * wait for them: the worker naps between its rounds and takes them in batches, as
 * many as it would by polling. */
static void
test_worker_coalesce_stream (void)
{
  Stream st = { .interval_us = 10 };
  guint64 naps = stream_run (&st, 0, 500);

  g_test_message ("%" G_GUINT64_FORMAT " naps, %d chains in %d calls", naps, st.taken, st.calls);
  g_assert_cmpint (st.taken, >, 0);
  if (stream_contended (&st))
    return;
  g_assert_cmpuint (naps, >, 0);
  /* Polling alone takes them one at a time; a nap of 400 us gathers about 40 (fewer
   * on a busy machine, where the producer stalls now and then). */
  g_assert_cmpint (st.calls * 2, <, st.taken);
}

/* The same with a ring of 32: the naps let about 24 chains come (3/4 of it, the
 * wake-up counted in), not 40, so that the ring does not fill. */
static void
test_worker_coalesce_small_ring (void)
{
  Stream st = { .interval_us = 10 };
  guint64 naps = stream_run (&st, 32, 500);

  g_test_message ("%" G_GUINT64_FORMAT " naps, %d chains in %d calls", naps, st.taken, st.calls);
  if (stream_contended (&st))
    return;
  g_assert_cmpuint (naps, >, 0);
  g_assert_cmpint (st.calls * 2, <, st.taken);
  g_assert_cmpint (st.calls * 32, >, st.taken);
}

/* A ring of 32 napped over, a chain every 10 us, then 3,000 chains waiting behind
 * it (a front-end that was held up; a nap that woke late has the same effect): the
 * ring is full at each of the worker's rounds while the backlog lasts. Napping on
 * would drain it 32 chains a nap (about 90 naps, at the naps' pace); the worker
 * polls instead until it has caught up, and then naps again. */
static void
test_worker_coalesce_backlog (void)
{
  Stream st = { .interval_us = 10, .bound = 32, .backlog = 3000 };
  guint64 naps = stream_run (&st, 32, 300);

  g_test_message ("%" G_GUINT64_FORMAT " naps, %d chains in %d calls; %" G_GUINT64_FORMAT
                  " naps while the backlog lasted",
                  naps, st.taken, st.calls, st.drained_naps - st.naps_before);
  g_assert_cmpint (g_atomic_int_get (&st.waiting), ==, 0);
  if (stream_contended (&st))
    return;
  g_assert_cmpuint ((st.drained_naps - st.naps_before) * 32 * 8, <, (guint64) st.backlog);
  /* The naps come back after the backlog: unless the worker could not nap before
   * it either (CPUs so busy that the producer fell behind and kept the ring full). */
  if (st.naps_before > 0)
    g_assert_cmpuint (naps, >, st.drained_naps);
  else
    g_test_message ("no naps before the backlog (a loaded machine): whether they came back is not checked");
}

static int
compare_int (gconstpointer a, gconstpointer b)
{
  return *(const gint *) a - *(const gint *) b;
}

/* A stream napped over (naps of 400 us) that stops for 900 us every 50 ms (a
 * front-end whose CPU the host takes for a moment): the worker finds nothing after
 * a nap, polls for its interval and sleeps. When the chains come again it naps on
 * as before: the 200 chains of the next 2 ms come in a few calls. Measuring the
 * load afresh after each sleep (two windows of a millisecond, polling) took them
 * one at a time. The median of 8 stops: one may fall where the naps pause to
 * measure anyway (every 64 ms). */
static void
test_worker_coalesce_gaps (void)
{
  Stream st = { .interval_us = 10, .gap_every_us = 50000, .gap_us = 900 };
  guint64 naps = stream_run (&st, 0, 450);
  g_autoptr(GString) counts = g_string_new (NULL);

  for (guint i = 0; i < st.n_gaps; i++)
    g_string_append_printf (counts, " %d", st.after_gap[i]);
  g_test_message ("%" G_GUINT64_FORMAT " naps, %d chains in %d calls; calls in the 2 ms after each stop:%s",
                  naps, st.taken, st.calls, counts->str);
  g_assert_cmpuint (st.n_gaps, ==, G_N_ELEMENTS (st.after_gap));
  if (stream_contended (&st))
    return;
  qsort (st.after_gap, st.n_gaps, sizeof st.after_gap[0], compare_int);
  g_assert_cmpint (st.after_gap[st.n_gaps / 2], <, 40);
}

/* A ping-pong: each chain comes 10 us after the worker took the one before. Napping
 * slows it down, so the worker stops, tries again after a backoff that doubles,
 * and stops again; the chains are taken one by one, at once, the rest of the
 * time. */
static void
test_worker_coalesce_ping_pong (void)
{
  Stream st = { .closed_loop = TRUE, .interval_us = 10 };
  guint64 naps = stream_run (&st, 0, 500);

  g_test_message ("%" G_GUINT64_FORMAT " naps, %d chains in %d calls", naps, st.taken, st.calls);
  /* Tries at 0, 20, 60, 140 and 300 ms, each for a window of a millisecond (a few
   * naps of 400 us): some 15 naps, where polling alone takes none. */
  g_assert_cmpuint (naps, <=, 40);
  g_assert_cmpint (st.taken, >, 0);
}

/* How much of the available ring the device took since a base, split and packed,
 * across the wrap of the index and of the packed ring. */
static void
test_ring_taken_since (void)
{
  VhostRing ring = { .num = 256 };
  guint32 base;

  ring.last_avail = 65530;
  base = vhost_ring_get_base (&ring);
  ring.last_avail = 4;
  g_assert_cmpuint (vhost_ring_taken_since (&ring, base), ==, 10);
  /* Given back since (unpopped): nothing taken. */
  g_assert_cmpuint (vhost_ring_taken_since (&ring, base + 20), ==, 0);

  ring.packed = TRUE;
  ring.last_avail = 250;
  ring.avail_wrap = TRUE;
  base = vhost_ring_get_base (&ring);
  ring.last_avail = 6;
  ring.avail_wrap = FALSE;
  g_assert_cmpuint (vhost_ring_taken_since (&ring, base), ==, 12);
  ring.last_avail = 250;
  ring.avail_wrap = TRUE;
  g_assert_cmpuint (vhost_ring_taken_since (&ring, base), ==, 0);
  ring.avail_wrap = FALSE;
  g_assert_cmpuint (vhost_ring_taken_since (&ring, base), ==, 256);
}

/* A random address: mostly near the regions' edges and inside them, sometimes
 * anywhere at all. */
static guint64
random_addr (GRand *rand)
{
  static const guint64 anchors[] = { GPA0, GPA1, GPA1 + REGION_SIZE, 0, G_MAXUINT64, TABLE_GPA };
  guint64 base = anchors[g_rand_int_range (rand, 0, G_N_ELEMENTS (anchors))];

  if (g_rand_int_range (rand, 0, 8) == 0)
    return ((guint64) g_rand_int (rand) << 32) | g_rand_int (rand);
  return base + g_rand_int_range (rand, -64, REGION_SIZE + 64);
}

static void
random_desc_fields (GRand *rand, guint64 *addr, guint32 *len, guint16 *flags, guint16 *next, guint num)
{
  *addr = random_addr (rand);
  *len = g_rand_int_range (rand, 0, 8) == 0 ? g_rand_int (rand) : (guint32) g_rand_int_range (rand, 0, 0x300);
  *flags = g_rand_int_range (rand, 0, 8) == 0 ? (guint16) g_rand_int (rand)
                                               : (guint16) g_rand_int_range (rand, 0, 8); /* NEXT/WRITE/INDIRECT */
  *next = g_rand_int_range (rand, 0, 4) == 0 ? (guint16) g_rand_int (rand) : (guint16) g_rand_int_range (rand, 0, num);
}

/* Rings full of random descriptors, avail entries, indirect tables and flags,
 * round after round: the device pops what it can and pushes it back, or breaks
 * the ring; every iovec it hands out lies inside a region (and ASan watches
 * every access). */
static void
test_random_rings (gconstpointer data)
{
  gboolean packed = GPOINTER_TO_INT (data);
  g_autoptr(GRand) rand = g_rand_new_with_seed (g_test_rand_int ());
  guint broken = 0, popped = 0;

  for (guint round = 0; round < 3000; round++)
    {
      guint num = 1u << g_rand_int_range (rand, 0, 6);
      Fixture *fx = fixture_new_mapped (packed, num, g_rand_boolean (rand));
      VhostRingElement elem;
      struct iovec iov[16];
      struct vring_desc *table = (struct vring_desc *) hva (fx, TABLE_GPA);
      int r = 1;

      for (guint i = 0; i < 64; i++)
        {
          guint64 addr;
          guint32 len;
          guint16 flags, next;

          random_desc_fields (rand, &addr, &len, &flags, &next, num);
          table[i] = (struct vring_desc) { addr, len, flags, next };
        }
      for (guint i = 0; i < num; i++)
        {
          guint64 addr;
          guint32 len;
          guint16 flags, next;

          random_desc_fields (rand, &addr, &len, &flags, &next, num);
          if (g_rand_boolean (rand))
            addr = TABLE_GPA + 16 * g_rand_int_range (rand, 0, 4), len = 16 * g_rand_int_range (rand, 0, 5);
          if (packed)
            {
              flags &= VRING_DESC_F_NEXT | VRING_DESC_F_WRITE | VRING_DESC_F_INDIRECT;
              if (g_rand_int_range (rand, 0, 4) != 0)
                flags |= F_AVAIL;
              else if (g_rand_boolean (rand))
                flags |= F_USED;
              packed_desc (fx)[i] = (struct vring_packed_desc) { addr, len, next, flags };
            }
          else
            {
              split_desc (fx)[i] = (struct vring_desc) { addr, len, flags, next };
              split_avail (fx)->ring[i] = g_rand_int_range (rand, 0, 8) == 0 ? (guint16) g_rand_int (rand)
                                                                             : (guint16) g_rand_int_range (rand, 0, num);
            }
        }
      if (!packed)
        split_avail (fx)->idx = g_rand_int_range (rand, 0, 8) == 0 ? (guint16) g_rand_int (rand)
                                                                   : (guint16) g_rand_int_range (rand, 0, num + 1);
      for (guint i = 0; i < 2 * num && r > 0; i++)
        {
          r = vhost_ring_pop (&fx->ring, &elem, iov, G_N_ELEMENTS (iov));
          if (r <= 0)
            break;
          popped++;
          for (guint j = 0; j < elem.n_out + elem.n_in; j++)
            {
              guint8 *base = iov[j].iov_base;
              gboolean inside = (base >= fx->buf[0] && base + iov[j].iov_len <= fx->buf[0] + REGION_SIZE) ||
                                (base >= fx->buf[1] && base + iov[j].iov_len <= fx->buf[1] + REGION_SIZE);

              g_assert_true (inside);
              if (iov[j].iov_len > 0)
                (void) *(volatile guint8 *) &base[iov[j].iov_len - 1]; /* touch: ASan checks */
            }
          vhost_ring_push (&fx->ring, &elem, g_rand_int_range (rand, 0, 0x400));
          vhost_ring_flush (&fx->ring);
        }
      if (fx->ring.broken)
        {
          broken++;
          g_assert_cmpint (vhost_ring_pop (&fx->ring, &elem, iov, G_N_ELEMENTS (iov)), ==, -1);
          g_assert_true (g_str_has_prefix (fx->ring.error, "vring 0: "));
        }
      fixture_free (fx);
    }
  g_test_message ("%u rings broken, %u chains popped", broken, popped);
  /* Both outcomes must have happened, or the generator tests nothing. */
  g_assert_cmpuint (broken, >, 100);
  g_assert_cmpuint (popped, >, 100);
}

int
main (int argc, char **argv)
{
  vhost_test_init (&argc, &argv);

  g_test_add_data_func ("/vhost/ring/split/unpop", GINT_TO_POINTER (FALSE), test_unpop);
  g_test_add_data_func ("/vhost/ring/packed/unpop", GINT_TO_POINTER (TRUE), test_unpop);
  g_test_add_func ("/vhost/ring/split/empty", test_split_empty);
  g_test_add_func ("/vhost/ring/split/chain", test_split_chain);
  g_test_add_func ("/vhost/ring/split/batch", test_split_batch);
  g_test_add_func ("/vhost/ring/split/index-wrap", test_split_index_wrap);
  g_test_add_func ("/vhost/ring/split/span-regions", test_split_span_regions);
  g_test_add_func ("/vhost/ring/split/edges", test_split_edges);
  g_test_add_func ("/vhost/ring/split/full-chain", test_split_full_chain);
  g_test_add_func ("/vhost/ring/split/avail-full", test_split_avail_full);
  g_test_add_func ("/vhost/ring/split/indirect/good", test_split_indirect);
  g_test_add_func ("/vhost/ring/split/event-idx", test_split_event_idx);
  g_test_add_func ("/vhost/ring/split/no-interrupt", test_split_no_interrupt);
  g_test_add_func ("/vhost/ring/split/kicks", test_split_kicks);
  g_test_add_func ("/vhost/ring/packed/chain", test_packed_chain);
  g_test_add_func ("/vhost/ring/packed/wrap", test_packed_wrap);
  g_test_add_func ("/vhost/ring/packed/batch", test_packed_batch);
  g_test_add_data_func ("/vhost/ring/packed/pop-batch/16", GUINT_TO_POINTER (16), test_packed_pop_batch);
  g_test_add_data_func ("/vhost/ring/packed/pop-batch/10", GUINT_TO_POINTER (10), test_packed_pop_batch);
  g_test_add_data_func ("/vhost/ring/packed/pop-batch/64", GUINT_TO_POINTER (64), test_packed_pop_batch);
  g_test_add_func ("/vhost/ring/packed/publish-batch", test_packed_publish_batch);
  g_test_add_func ("/vhost/ring/split/publish-batch", test_split_publish_batch);
  g_test_add_func ("/vhost/ring/packed/in-order", test_packed_in_order);
  g_test_add_func ("/vhost/ring/packed/indirect/good", test_packed_indirect);
  g_test_add_func ("/vhost/ring/packed/notify", test_packed_notify);
  g_test_add_func ("/vhost/ring/packed/base-outside", test_packed_base_outside);
  g_test_add_func ("/vhost/ring/packed/num-shrunk", test_packed_num_shrunk);
  for (guint i = 0; i < G_N_ELEMENTS (bad_cases); i++)
    g_test_add_data_func (bad_cases[i].path, &bad_cases[i], test_bad);
  for (guint i = 0; i < G_N_ELEMENTS (map_cases); i++)
    g_test_add_data_func (map_cases[i].path, &map_cases[i], test_map_bad);
  g_test_add_func ("/vhost/ring/map/edges", test_map_edges);
  g_test_add_func ("/vhost/ring/log/split", test_log_split);
  g_test_add_func ("/vhost/ring/log/packed", test_log_packed);
  g_test_add_func ("/vhost/ring/log/packed-flush", test_log_packed_flush);
  g_test_add_func ("/vhost/ring/log/short", test_log_short);
  g_test_add_func ("/vhost/ring/log/kick", test_log_kick);
  g_test_add_data_func ("/vhost/ring/split/event-idx-after-declined", GINT_TO_POINTER (FALSE),
                        test_event_idx_after_declined);
  g_test_add_data_func ("/vhost/ring/packed/event-idx-after-declined", GINT_TO_POINTER (TRUE),
                        test_event_idx_after_declined);
  g_test_add_data_func ("/vhost/ring/queue/split/declined-taken-elsewhere", GINT_TO_POINTER (FALSE),
                        test_queue_declined_taken_elsewhere);
  g_test_add_data_func ("/vhost/ring/queue/packed/declined-taken-elsewhere", GINT_TO_POINTER (TRUE),
                        test_queue_declined_taken_elsewhere);
  g_test_add_func ("/vhost/ring/driver/unchanged-descriptors", test_driver_unchanged_descriptors);
  g_test_add_data_func ("/vhost/ring/driver/split/in-flight", GINT_TO_POINTER (FALSE), test_driver_in_flight);
  g_test_add_data_func ("/vhost/ring/driver/packed/in-flight", GINT_TO_POINTER (TRUE), test_driver_in_flight);
  g_test_add_data_func ("/vhost/ring/driver/split/len-clipped", GINT_TO_POINTER (FALSE), test_driver_len_clipped);
  g_test_add_data_func ("/vhost/ring/driver/packed/len-clipped", GINT_TO_POINTER (TRUE), test_driver_len_clipped);
  for (guint i = 0; i < G_N_ELEMENTS (bad_used_cases); i++)
    g_test_add_data_func (bad_used_cases[i].path, &bad_used_cases[i], test_driver_bad_used);
  g_test_add_func ("/vhost/ring/worker/pause-resume", test_worker_pause_resume);
  g_test_add_func ("/vhost/ring/worker/adaptive-poll", test_worker_adaptive_poll);
  g_test_add_func ("/vhost/ring/worker/shared-cpu", test_worker_shared_cpu);
  g_test_add_func ("/vhost/ring/worker/coalesce/stream", test_worker_coalesce_stream);
  g_test_add_func ("/vhost/ring/worker/coalesce/ping-pong", test_worker_coalesce_ping_pong);
  g_test_add_func ("/vhost/ring/worker/coalesce/small-ring", test_worker_coalesce_small_ring);
  g_test_add_func ("/vhost/ring/worker/coalesce/backlog", test_worker_coalesce_backlog);
  g_test_add_func ("/vhost/ring/worker/coalesce/gaps", test_worker_coalesce_gaps);
  g_test_add_func ("/vhost/ring/taken-since", test_ring_taken_since);
  g_test_add_data_func ("/vhost/ring/split/random", GINT_TO_POINTER (FALSE), test_random_rings);
  g_test_add_data_func ("/vhost/ring/packed/random", GINT_TO_POINTER (TRUE), test_random_rings);
  return g_test_run ();
}
