/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Inflight tracking in the ring core: the area's byte layout as the specification writes it, and a device that dies at random points. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "vhost-glib/core/vhost-driver-ring.h"
#include "vhost-glib/core/vhost-inflight.h"
#include "vhost-glib/core/vhost-ring.h"

#define MEM_SIZE 0x40000
#define DESC_OFF 0x1000
#define AVAIL_OFF 0x2000
#define USED_OFF 0x3000
#define TABLE_OFF 0x4000        /* indirect tables */
#define DATA_OFF 0x10000        /* each request's buffers: 0x100 bytes at DATA_OFF + tag % 512 * 0x100 */
#define NUM 16
#define MAX_INDIRECT 4
#define MAX_IOV 8

/* The layout, transcribed from the specification's "Inflight I/O tracking"
 * section (C structures with natural alignment): field, byte offset, size. */
typedef struct
{
  const char *field;
  gsize offset;
  gsize size;
} Field;

static const Field split_header[] = {
  { "features", 0, 8 }, { "version", 8, 2 }, { "desc_num", 10, 2 }, { "last_batch_head", 12, 2 },
  { "used_idx", 14, 2 }, { "desc", 16, 0 },
};
static const Field split_desc[] = {
  { "inflight", 0, 1 }, { "padding", 1, 5 }, { "next", 6, 2 }, { "counter", 8, 8 },
};
static const Field packed_header[] = {
  { "features", 0, 8 }, { "version", 8, 2 }, { "desc_num", 10, 2 }, { "free_head", 12, 2 },
  { "old_free_head", 14, 2 }, { "used_idx", 16, 2 }, { "old_used_idx", 18, 2 }, { "used_wrap_counter", 20, 1 },
  { "old_used_wrap_counter", 21, 1 }, { "padding", 22, 7 }, { "desc", 32, 0 },
};
static const Field packed_desc[] = {
  { "inflight", 0, 1 }, { "padding", 1, 1 }, { "next", 2, 2 }, { "last", 4, 2 }, { "num", 6, 2 },
  { "counter", 8, 8 }, { "id", 16, 2 }, { "flags", 18, 2 }, { "len", 20, 4 }, { "addr", 24, 8 },
};

/* One field: its offset, name and size as the table has them. */
#define CHECK(type, member, table)                                                              \
  G_STMT_START                                                                                  \
  {                                                                                             \
    g_assert_cmpstr (#member, ==, table[i].field);                                              \
    g_assert_cmpuint (offsetof (type, member), ==, table[i].offset);                            \
    g_assert_cmpuint (sizeof (((type *) NULL)->member), ==, table[i].size);                     \
    i++;                                                                                        \
  }                                                                                             \
  G_STMT_END
/* The flexible array that ends a header: its offset. */
#define CHECK_ARRAY(type, member, table)                                                        \
  G_STMT_START                                                                                  \
  {                                                                                             \
    g_assert_cmpstr (#member, ==, table[i].field);                                              \
    g_assert_cmpuint (offsetof (type, member), ==, table[i].offset);                            \
    i++;                                                                                        \
  }                                                                                             \
  G_STMT_END

static void
test_layout (void)
{
  guint i;

  i = 0;
  CHECK (VhostInflightSplit, features, split_header);
  CHECK (VhostInflightSplit, version, split_header);
  CHECK (VhostInflightSplit, desc_num, split_header);
  CHECK (VhostInflightSplit, last_batch_head, split_header);
  CHECK (VhostInflightSplit, used_idx, split_header);
  CHECK_ARRAY (VhostInflightSplit, desc, split_header);
  g_assert_cmpuint (i, ==, G_N_ELEMENTS (split_header));
  i = 0;
  CHECK (VhostInflightSplitDesc, inflight, split_desc);
  CHECK (VhostInflightSplitDesc, padding, split_desc);
  CHECK (VhostInflightSplitDesc, next, split_desc);
  CHECK (VhostInflightSplitDesc, counter, split_desc);
  g_assert_cmpuint (i, ==, G_N_ELEMENTS (split_desc));
  g_assert_cmpuint (sizeof (VhostInflightSplitDesc), ==, 16);
  i = 0;
  CHECK (VhostInflightPacked, features, packed_header);
  CHECK (VhostInflightPacked, version, packed_header);
  CHECK (VhostInflightPacked, desc_num, packed_header);
  CHECK (VhostInflightPacked, free_head, packed_header);
  CHECK (VhostInflightPacked, old_free_head, packed_header);
  CHECK (VhostInflightPacked, used_idx, packed_header);
  CHECK (VhostInflightPacked, old_used_idx, packed_header);
  CHECK (VhostInflightPacked, used_wrap_counter, packed_header);
  CHECK (VhostInflightPacked, old_used_wrap_counter, packed_header);
  CHECK (VhostInflightPacked, padding, packed_header);
  CHECK_ARRAY (VhostInflightPacked, desc, packed_header);
  g_assert_cmpuint (i, ==, G_N_ELEMENTS (packed_header));
  i = 0;
  CHECK (VhostInflightPackedDesc, inflight, packed_desc);
  CHECK (VhostInflightPackedDesc, padding, packed_desc);
  CHECK (VhostInflightPackedDesc, next, packed_desc);
  CHECK (VhostInflightPackedDesc, last, packed_desc);
  CHECK (VhostInflightPackedDesc, num, packed_desc);
  CHECK (VhostInflightPackedDesc, counter, packed_desc);
  CHECK (VhostInflightPackedDesc, id, packed_desc);
  CHECK (VhostInflightPackedDesc, flags, packed_desc);
  CHECK (VhostInflightPackedDesc, len, packed_desc);
  CHECK (VhostInflightPackedDesc, addr, packed_desc);
  g_assert_cmpuint (i, ==, G_N_ELEMENTS (packed_desc));
  g_assert_cmpuint (sizeof (VhostInflightPackedDesc), ==, 32);
  /* One region per queue, 64-byte aligned. */
  g_assert_cmpuint (vhost_inflight_region_size (128, FALSE), ==, 16 + 128 * 16 + 48);
  g_assert_cmpuint (vhost_inflight_region_size (128, TRUE), ==, 32 + 128 * 32 + 32);
  g_assert_cmpuint (vhost_inflight_region_size (1, FALSE), ==, 64);
}

/* A driver (VhostDriverRing) and a device (VhostRing) on one buffer of guest
 * memory, and an inflight region the device tracks in. The device can die
 * (its VhostRing and what it holds are dropped) and a new one take over. */
typedef struct
{
  gboolean packed;
  gboolean indirect;
  guint8 *mem;
  VhostMem vmem;
  VhostDriverRing drv;
  VhostRing dev;
  guint8 *region;
  gsize region_size;

  GArray *held;                  /* (element-type Held) what the device popped and not pushed */
  guint recent;                  /* the last of them were popped in a row just now: they may go back */
  guint next_tag;
  guint8 *completed;             /* per tag: times the driver reaped it */
  guint n_completed;
  guint deaths;
  guint resubmitted;
} Fixture;

typedef struct
{
  VhostRingElement elem;
  struct iovec iov[MAX_IOV];
  guint tag;
} Held;

static guint64
gpa_of_tag (guint tag)
{
  return DATA_OFF + (tag % 512) * 0x100;
}

static void
device_start (Fixture *f, gboolean recover)
{
  guint32 base;

  if (f->packed)
    /* QEMU 7.2 cannot read a packed ring's position back from a dead back-end:
     * it sends the initial one again. */
    base = 0x80008000;
  else
    /* QEMU sets a split ring's base to the used index. */
    base = f->drv.used->idx;
  vhost_ring_init (&f->dev, 0);
  f->dev.mem = &f->vmem;
  f->dev.num = NUM;
  f->dev.packed = f->packed;
  f->dev.indirect = f->indirect;
  f->dev.desc_uaddr = (guint64) (guintptr) (f->mem + DESC_OFF);
  f->dev.avail_uaddr = (guint64) (guintptr) (f->mem + AVAIL_OFF);
  f->dev.used_uaddr = (guint64) (guintptr) (f->mem + USED_OFF);
  f->dev.call_fd = -1;
  vhost_ring_set_base (&f->dev, base);
  f->dev.inflight = f->region;
  f->dev.inflight_recover = recover;
  g_assert_true (vhost_ring_map (&f->dev));
  g_assert_false (f->dev.broken);
}

/* The device process dies: everything it held in memory is gone. */
static void
device_die (Fixture *f)
{
  g_array_set_size (f->held, 0);
  memset (&f->dev, 0xa5, sizeof f->dev);
  f->deaths++;
  device_start (f, TRUE);
  f->resubmitted += f->dev.n_resubmit;
}

static void
fixture_setup (Fixture *f, gboolean packed, gboolean indirect)
{
  guint64 sizes[3];

  f->packed = packed;
  f->indirect = indirect;
  f->mem = g_malloc0 (MEM_SIZE);
  f->vmem.n_regions = 1;
  f->vmem.log_call_fd = -1;
  f->vmem.regions[0] = (VhostMemRegion) { 0, MEM_SIZE, (guint64) (guintptr) f->mem, f->mem };
  vhost_driver_ring_sizes (NUM, packed, &sizes[0], &sizes[1], &sizes[2]);
  if (packed)
    {
      f->drv.pdesc = (gpointer) (f->mem + DESC_OFF);
      f->drv.driver_event = (gpointer) (f->mem + AVAIL_OFF);
      f->drv.device_event = (gpointer) (f->mem + USED_OFF);
    }
  else
    {
      f->drv.desc = (gpointer) (f->mem + DESC_OFF);
      f->drv.avail = (gpointer) (f->mem + AVAIL_OFF);
      f->drv.used = (gpointer) (f->mem + USED_OFF);
    }
  if (indirect)
    {
      f->drv.indirect_hva = f->mem + TABLE_OFF;
      f->drv.indirect_gpa = TABLE_OFF;
      f->drv.max_indirect = MAX_INDIRECT;
    }
  vhost_driver_ring_init (&f->drv, NUM, packed, FALSE, indirect);
  f->region_size = vhost_inflight_region_size (NUM, packed);
  f->region = g_malloc0 (f->region_size);
  f->held = g_array_new (FALSE, FALSE, sizeof (Held));
  f->completed = g_malloc0 (1 << 16);
  device_start (f, TRUE);
}

static void
fixture_teardown (Fixture *f)
{
  vhost_driver_ring_clear (&f->drv);
  g_array_unref (f->held);
  g_free (f->completed);
  g_free (f->region);
  g_free (f->mem);
}

/* The driver submits request `tag`: 1 to 3 readable buffers (the tag in the
 * first byte of each) and one writable. FALSE when the ring is full. */
static gboolean
driver_submit (Fixture *f)
{
  guint tag = f->next_tag, n_out = 1 + tag % 3;
  VhostDriverRingBuffer out[3], in;
  int r;

  for (guint j = 0; j < n_out; j++)
    {
      out[j] = (VhostDriverRingBuffer) { gpa_of_tag (tag) + j * 0x20, 0x20 };
      memset (f->mem + out[j].addr, tag & 0xff, 0x20);
    }
  in = (VhostDriverRingBuffer) { gpa_of_tag (tag) + 0x80, 0x40 };
  memset (f->mem + in.addr, 0, 0x40);
  r = vhost_driver_ring_add (&f->drv, out, n_out, &in, 1, tag);
  if (r == -ENOSPC)
    return FALSE;
  g_assert_cmpint (r, ==, 0);
  f->next_tag++;
  return TRUE;
}

/* The driver takes what came back: each request exactly once, with its data. */
static void
driver_reap (Fixture *f)
{
  guint64 tag;
  guint32 len;
  int r;

  while ((r = vhost_driver_ring_get_used (&f->drv, &tag, &len)) == 1)
    {
      guint8 *in = f->mem + gpa_of_tag (tag) + 0x80;

      g_assert_cmpuint (tag, <, f->next_tag);
      g_assert_cmpuint (f->completed[tag], ==, 0);
      f->completed[tag]++;
      f->n_completed++;
      g_assert_cmpuint (len, ==, 8);
      for (guint j = 0; j < 8; j++)
        g_assert_cmpuint (in[j], ==, (guint8) (tag + j));
    }
  g_assert_cmpint (r, ==, 0);
}

/* The device takes a chain: it must be one the driver submitted and that has
 * not come back, whole. */
static gboolean
device_pop (Fixture *f)
{
  Held h;
  guint n_out;
  guint64 gpa;

  if (vhost_ring_pop (&f->dev, &h.elem, h.iov, MAX_IOV) == 0)
    return FALSE;
  g_assert_false (f->dev.broken);
  gpa = (guint8 *) h.iov[0].iov_base - f->mem;
  h.tag = (gpa - DATA_OFF) / 0x100;
  /* Tags are unique within a window of 512 requests in flight or less. */
  while (h.tag + 512 < f->next_tag)
    h.tag += 512;
  n_out = 1 + h.tag % 3;
  g_assert_cmpuint (h.elem.n_out, ==, n_out);
  g_assert_cmpuint (h.elem.n_in, ==, 1);
  for (guint j = 0; j < n_out; j++)
    {
      g_assert_true (h.iov[j].iov_base == f->mem + gpa_of_tag (h.tag) + j * 0x20);
      g_assert_cmpuint (((guint8 *) h.iov[j].iov_base)[0], ==, h.tag & 0xff);
    }
  g_assert_cmpuint (f->completed[h.tag], ==, 0);
  for (guint k = 0; k < f->held->len; k++)
    g_assert_cmpuint (g_array_index (f->held, Held, k).tag, !=, h.tag);
  h.elem.iov = NULL; /* fixed when pushed: the array moves */
  g_array_append_val (f->held, h);
  return TRUE;
}

static void
device_push (Fixture *f, guint k)
{
  Held *h = &g_array_index (f->held, Held, k);
  guint8 *in = h->iov[h->elem.n_out].iov_base;

  h->elem.iov = h->iov;
  for (guint j = 0; j < 8; j++)
    in[j] = h->tag + j;
  vhost_ring_push (&f->dev, &h->elem, 8);
  g_assert_false (f->dev.broken);
  g_array_remove_index (f->held, k);
}

/* A publication torn by a death: what reached the driver stays, the region's
 * bookkeeping after it is lost. */
static void
device_flush_and_die (Fixture *f)
{
  g_autofree guint8 *before = g_memdup2 (f->region, f->region_size);

  vhost_ring_flush (&f->dev);
  if (f->packed)
    {
      VhostInflightPacked *now = (gpointer) f->region, *old = (gpointer) before;

      for (guint i = 0; i < NUM; i++)
        now->desc[i].inflight = old->desc[i].inflight;
      now->old_free_head = old->old_free_head;
      now->old_used_idx = old->old_used_idx;
      now->old_used_wrap_counter = old->old_used_wrap_counter;
    }
  else
    {
      VhostInflightSplit *now = (gpointer) f->region, *old = (gpointer) before;

      for (guint i = 0; i < NUM; i++)
        now->desc[i].inflight = old->desc[i].inflight;
      now->used_idx = old->used_idx;
    }
  device_die (f);
}

/* Random traffic with random deaths: every request completes exactly once. */
static void
test_random_deaths (gconstpointer data)
{
  guint config = GPOINTER_TO_UINT (data);
  Fixture f = { 0 };
  GRand *rand = g_rand_new_with_seed (g_test_rand_int ());

  fixture_setup (&f, config & 1, (config & 2) != 0);
  for (guint step = 0; step < 20000; step++)
    {
      guint action = g_rand_int_range (rand, 0, 100);

      if (action < 30)
        driver_submit (&f);
      else if (action < 55)
        {
          if (device_pop (&f))
            f.recent++;
          continue;
        }
      else if (action < 80 && f.held->len > 0)
        device_push (&f, g_rand_int_range (rand, 0, f.held->len));
      else if (action < 88)
        vhost_ring_flush (&f.dev);
      else if (action < 94)
        driver_reap (&f);
      else if (action < 96)
        {
          /* Chains the device cannot use yet go back, the last taken first. */
          if (f.recent > 0)
            {
              Held *h = &g_array_index (f.held, Held, f.held->len - 1);

              h->elem.iov = h->iov;
              vhost_ring_unpop (&f.dev, &h->elem);
              g_array_set_size (f.held, f.held->len - 1);
              f.recent--;
            }
          continue;
        }
      else if (action < 98)
        device_die (&f);
      else
        device_flush_and_die (&f);
      f.recent = 0;
    }
  /* Drain: everything submitted comes back once. */
  for (guint round = 0; round < 4 * NUM; round++)
    {
      while (device_pop (&f))
        ;
      while (f.held->len > 0)
        device_push (&f, 0);
      vhost_ring_flush (&f.dev);
      driver_reap (&f);
    }
  g_assert_cmpuint (f.n_completed, ==, f.next_tag);
  g_assert_cmpuint (vhost_driver_ring_in_flight (&f.drv), ==, 0);
  g_assert_cmpuint (f.deaths, >, 100);
  g_assert_cmpuint (f.resubmitted, >, 100);
  g_test_message ("%u requests, %u deaths, %u chains given again", f.next_tag, f.deaths, f.resubmitted);
  fixture_teardown (&f);
  g_rand_free (rand);
}

/* The region's bytes, read at the specification's offsets, after a known run:
 * a split ring with chains 0..3 taken, 1 and 3 completed. */
static void
test_split_bytes (void)
{
  Fixture f = { 0 };
  const guint8 *r;
  guint16 v16;
  guint64 v64;

  fixture_setup (&f, FALSE, FALSE);
  for (guint i = 0; i < 4; i++)
    g_assert_true (driver_submit (&f));
  for (guint i = 0; i < 4; i++)
    g_assert_true (device_pop (&f));
  device_push (&f, 3);
  device_push (&f, 1);
  vhost_ring_flush (&f.dev);
  r = f.region;
  memcpy (&v16, r + 8, 2);
  g_assert_cmpuint (v16, ==, 1);          /* version */
  memcpy (&v16, r + 10, 2);
  g_assert_cmpuint (v16, ==, NUM);        /* desc_num */
  memcpy (&v16, r + 14, 2);
  g_assert_cmpuint (v16, ==, 2);          /* used_idx */
  /* The driver's heads: requests of 2, 3, 4 and 2 descriptors from a fresh free list. */
  for (guint k = 0; k < 4; k++)
    {
      static const guint heads[] = { 0, 2, 5, 9 };
      guint head = heads[k];

      g_assert_cmpuint (r[16 + head * 16], ==, k == 0 || k == 2); /* inflight */
      memcpy (&v64, r + 16 + head * 16 + 8, 8);
      g_assert_cmpuint (v64, ==, k);      /* counter: the order taken */
    }
  memcpy (&v16, r + 12, 2);
  g_assert_cmpuint (v16, ==, 2);          /* last_batch_head: the last one pushed, request 1's head */
  memcpy (&v16, r + 16 + 2 * 16 + 6, 2);
  g_assert_cmpuint (v16, ==, 9);          /* its next: the one pushed before, request 3's head */
  fixture_teardown (&f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vhost/inflight/layout", test_layout);
  g_test_add_func ("/vhost/inflight/split-bytes", test_split_bytes);
  for (guint config = 0; config < 4; config++)
    {
      g_autofree char *path = g_strdup_printf ("/vhost/inflight/random-deaths/%s%s", config & 1 ? "packed" : "split",
                                               config & 2 ? "/indirect" : "");

      g_test_add_data_func (path, GUINT_TO_POINTER (config), test_random_deaths);
    }
  return g_test_run ();
}
