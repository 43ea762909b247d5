/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The dirty log as a migration turns it on under traffic, through VhostUserMaster, the socket and
 * VhostUserSlave: the bitmap is exactly the pages the device wrote. */
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test-support.h"
#include "vhost-glib/core/vhost-driver-ring.h"

/* Guest memory: two regions, contiguous in guest physical addresses (a buffer
 * may cross from one into the other) and mapped apart by the back-end. */
#define REGION_SIZE (8u << 20)
#define MEM_SIZE (2 * REGION_SIZE)
#define PAGE 4096u
#define N_PAGES (MEM_SIZE / PAGE)
#define QUEUE_SIZE 1024u
/* The ring areas, in guest physical addresses. A packed descriptor ring (16 KiB)
 * starts in the middle of a page; the event areas have a page each. */
#define DESC_AREA 0x10800u
#define AVAIL_AREA 0x15000u    /* split: the available ring; packed: the driver event area */
#define USED_AREA 0x16000u     /* split: the used ring; packed: the device event area */
/* Where SET_VRING_ADDR says the used ring's writes are logged: a guest address
 * nothing else uses, not the used ring's own. The 8198 bytes of a split used
 * ring take four pages there: flags and index at the end of the first, 512
 * elements in each of the next two, avail_event at the start of the last. */
#define LOG_GUEST_ADDR (MEM_SIZE - PAGE - 4 - 8 * QUEUE_SIZE)
/* A split ring starts at this index, so that its used elements cross a page. */
#define SPLIT_START 400u
#define CMD_AREA 0x20000u      /* each chain's readable 8-byte command */
#define DATA_AREA 0x40000u     /* the writable buffers, each chain's apart */
#define LOG_OFFSET 4096u       /* the log at a non-zero offset in its memfd */
#define LOG_SIZE 4096u         /* bytes of bitmap: more than the memory needs */
#define CANARY 0xee
#define TIMEOUT_MS 10000

typedef struct
{
  gboolean packed;
  gboolean event_idx;
} Params;

/* What the driver asks of the device: write `length` bytes (of a pattern that
 * depends on `tag`) into the chain's writable buffers, at most all of them. */
typedef struct
{
  guint32 length;
  guint32 tag;
} Command;

static guint8
pattern (guint32 tag, guint32 i)
{
  return (guint8) (tag * 131 + i * 7 + (i >> 8));
}

/* The device, in its worker. */
static void
write_handler (VhostVirtqueue *queue, gpointer user_data)
{
  VhostVirtqueueElement elem;
  struct iovec iov[16];

  while (vhost_virtqueue_pop (queue, &elem, iov, G_N_ELEMENTS (iov)))
    {
      Command command = { 0 };
      guint8 data[4 * PAGE * 3];
      gsize n;

      g_assert_cmpuint (vhost_virtqueue_element_read (&elem, 0, &command, sizeof command), ==, sizeof command);
      n = MIN (command.length, vhost_virtqueue_element_get_writable_size (&elem));
      g_assert_cmpuint (n, <=, sizeof data);
      for (guint32 i = 0; i < n; i++)
        data[i] = pattern (command.tag, i);
      g_assert_cmpuint (vhost_virtqueue_element_write (&elem, 0, data, n), ==, n);
      vhost_virtqueue_push (queue, &elem, n);
    }
}

static void
setup_device (VhostUserSlave *slave, gpointer data)
{
  VhostTestDevice *device = VHOST_TEST_DEVICE (slave);

  device->features = VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED) |
                     VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_LOG_ALL);
  device->num_queues = 1;
  vhost_virtqueue_set_handler (vhost_user_slave_get_virtqueue (slave, 0), write_handler, NULL, NULL);
}

/* When a chain went through: its pages count as written by then. */
typedef enum
{
  PHASE_BEFORE,  /* completed before the log was given: its writes cannot be in it */
  PHASE_DURING,  /* submitted before logging was fully on: may or may not be logged */
  PHASE_AFTER,   /* submitted once logging was on: every write must be logged */
} Phase;

/* What a page of the bitmap may be, from the least to the most demanding. */
typedef enum
{
  PAGE_CLEAR,    /* never written while logging: must be clear */
  PAGE_MAY,      /* may be set */
  PAGE_SET,      /* must be set */
} PageRule;

typedef struct
{
  Phase phase;
  guint n_in;
  VhostDriverRingBuffer in[3];
  guint32 asked;
  guint32 used_len;      /* what the device reported */
  guint16 used_pos;      /* where its used entry was: split used index, packed descriptor slot */
  gboolean done;
} Chain;

typedef struct
{
  const Params *params;
  gint fds_before;
  VhostTestSlaveThread *thread;
  VhostUserMaster *master;
  int mem_fd, log_fd, log_call_fd, kick_fd, call_fd;
  guint8 *mem;
  guint8 *log_map;
  VhostDriverRing ring;
  guint64 features;
  GArray *chains;        /* (element-type Chain) indexed by tag */
  guint64 next_data;     /* the writable buffers' allocator */
  guint32 event_area[2]; /* the device's event words when logging was fully on, and since */
  gboolean event_area_changed;
} Fixture;

static guint64
uaddr (Fixture *f, guint64 gpa)
{
  return (guint64) (guintptr) f->mem + gpa;
}

/* What the device writes to steer notifications: split, the used ring's flags
 * or (event idx) avail_event; packed, the device event area. */
static guint32
event_words (Fixture *f)
{
  if (f->params->packed)
    return __atomic_load_n ((guint32 *) (f->mem + USED_AREA), __ATOMIC_ACQUIRE);
  if (f->params->event_idx)
    return __atomic_load_n ((guint16 *) (f->mem + USED_AREA + 4 + 8 * QUEUE_SIZE), __ATOMIC_ACQUIRE);
  return __atomic_load_n ((guint16 *) (f->mem + USED_AREA), __ATOMIC_ACQUIRE);
}

static void
sample_event_area (Fixture *f)
{
  if (event_words (f) != f->event_area[0])
    f->event_area_changed = TRUE;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostMemoryRegion) r0 = NULL;
  g_autoptr(VhostMemoryRegion) r1 = NULL;
  g_autoptr(VhostVringAddr) addr = NULL;
  VhostMemoryRegion *regions[2];
  guint64 offered;
  int sv[2];

  f->params = data;
  f->fds_before = vhost_test_count_open_fds ();
  f->chains = g_array_new (FALSE, TRUE, sizeof (Chain));
  f->next_data = DATA_AREA;
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  f->thread = vhost_test_slave_thread_new (VHOST_TYPE_TEST_DEVICE, sv[0], setup_device, NULL);
  f->master = vhost_user_master_new_for_fd (sv[1]);
  g_assert_true (vhost_user_master_connect (f->master, NULL, &error));
  g_assert_no_error (error);

  f->mem_fd = vhost_test_memfd (MEM_SIZE);
  f->mem = mmap (NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->mem_fd, 0);
  g_assert_true (f->mem != MAP_FAILED);
  f->log_fd = vhost_test_memfd (LOG_OFFSET + LOG_SIZE);
  f->log_map = mmap (NULL, LOG_OFFSET + LOG_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->log_fd, 0);
  g_assert_true (f->log_map != MAP_FAILED);
  f->log_call_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  f->kick_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  f->call_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);

  /* The driver's ring. */
  if (f->params->packed)
    {
      f->ring.pdesc = (gpointer) (f->mem + DESC_AREA);
      f->ring.driver_event = (gpointer) (f->mem + AVAIL_AREA);
      f->ring.device_event = (gpointer) (f->mem + USED_AREA);
    }
  else
    {
      f->ring.desc = (gpointer) (f->mem + DESC_AREA);
      f->ring.avail = (gpointer) (f->mem + AVAIL_AREA);
      f->ring.used = (gpointer) (f->mem + USED_AREA);
    }
  vhost_driver_ring_init (&f->ring, QUEUE_SIZE, f->params->packed, f->params->event_idx, FALSE);
  if (!f->params->packed)
    {
      f->ring.avail_idx = f->ring.last_used = SPLIT_START;
      f->ring.avail->idx = f->ring.used->idx = SPLIT_START;
    }
  vhost_driver_ring_enable_notify (&f->ring, TRUE);

  /* The device brought up as QEMU does, without logging. */
  g_assert_true (vhost_backend_get_features (VHOST_BACKEND (f->master), &offered, &error));
  g_assert_no_error (error);
  g_assert_true (offered & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_LOG_ALL));
  g_assert_true (vhost_user_master_set_protocol_features (f->master,
                                                          VHOST_USER_PROTOCOL_F_REPLY_ACK |
                                                            VHOST_USER_PROTOCOL_F_LOG_SHMFD,
                                                          &error));
  g_assert_true (vhost_backend_set_owner (VHOST_BACKEND (f->master), &error));
  f->features = VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) |
                VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES) |
                (f->params->packed ? VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED) : 0) |
                (f->params->event_idx ? VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX) : 0);
  g_assert_true (vhost_backend_set_features (VHOST_BACKEND (f->master), f->features, &error));
  r0 = vhost_memory_region_new (0, REGION_SIZE, uaddr (f, 0), f->mem_fd, 0);
  r1 = vhost_memory_region_new (REGION_SIZE, REGION_SIZE, uaddr (f, REGION_SIZE), f->mem_fd, REGION_SIZE);
  regions[0] = r0;
  regions[1] = r1;
  g_assert_true (vhost_backend_set_mem_table (VHOST_BACKEND (f->master), regions, 2, &error));
  addr = vhost_vring_addr_new (0, 0, uaddr (f, DESC_AREA), uaddr (f, USED_AREA), uaddr (f, AVAIL_AREA), USED_AREA);
  g_assert_true (vhost_backend_set_vring_num (VHOST_BACKEND (f->master), 0, QUEUE_SIZE, &error));
  g_assert_true (vhost_backend_set_vring_base (VHOST_BACKEND (f->master), 0, f->params->packed ? 0x8000 : SPLIT_START,
                                              &error));
  g_assert_true (vhost_backend_set_vring_addr (VHOST_BACKEND (f->master), addr, &error));
  g_assert_true (vhost_backend_set_vring_kick (VHOST_BACKEND (f->master), 0, f->kick_fd, &error));
  g_assert_true (vhost_backend_set_vring_call (VHOST_BACKEND (f->master), 0, f->call_fd, &error));
  g_assert_true (vhost_backend_set_vring_enable (VHOST_BACKEND (f->master), 0, TRUE, &error));
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->master);
  vhost_test_slave_thread_free (f->thread);
  vhost_driver_ring_clear (&f->ring);
  munmap (f->mem, MEM_SIZE);
  munmap (f->log_map, LOG_OFFSET + LOG_SIZE);
  close (f->mem_fd);
  close (f->log_fd);
  close (f->log_call_fd);
  close (f->kick_fd);
  close (f->call_fd);
  g_array_unref (f->chains);
  vhost_test_assert_fd_count (f->fds_before);
}

/* Queue one chain: its command, and 1-3 writable buffers (canaries in them) at
 * addresses of its own, some pages apart, some crossing pages; from `at` if
 * that is further. */
static void
submit (Fixture *f, Phase phase, guint64 at)
{
  guint32 tag = f->chains->len;
  Chain chain = { .phase = phase, .n_in = g_test_rand_int_range (1, 4) };
  VhostDriverRingBuffer out = { CMD_AREA + tag * sizeof (Command), sizeof (Command) };
  Command command;
  guint32 writable = 0;

  g_assert_cmpuint (out.addr + out.len, <=, DATA_AREA);
  f->next_data = MAX (f->next_data, at);
  for (guint i = 0; i < chain.n_in; i++)
    {
      f->next_data += g_test_rand_int_range (0, 2 * PAGE);
      chain.in[i].addr = f->next_data;
      chain.in[i].len = g_test_rand_int_range (1, 3 * PAGE);
      f->next_data += chain.in[i].len;
      writable += chain.in[i].len;
      g_assert_cmpuint (f->next_data, <, LOG_GUEST_ADDR);
      memset (f->mem + chain.in[i].addr, CANARY, chain.in[i].len);
    }
  /* Nothing, everything, or a part. */
  switch (g_test_rand_int_range (0, 6))
    {
    case 0:
      chain.asked = 0;
      break;
    case 1:
      chain.asked = writable;
      break;
    default:
      chain.asked = g_test_rand_int_range (1, writable + 1);
      break;
    }
  command = (Command) { chain.asked, tag };
  memcpy (f->mem + out.addr, &command, sizeof command);
  g_array_append_val (f->chains, chain);
  g_assert_cmpint (vhost_driver_ring_add (&f->ring, &out, 1, chain.in, chain.n_in, tag), ==, 0);
}

static void
kick (Fixture *f)
{
  if (vhost_driver_ring_kick_needed (&f->ring))
    g_assert_cmpint (eventfd_write (f->kick_fd, 1), ==, 0);
}

/* Take every chain back, noting where its used entry was, and check that the
 * device wrote exactly the length it reported. */
static void
reap_all (Fixture *f)
{
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;

  while (vhost_driver_ring_in_flight (&f->ring) > 0)
    {
      guint16 pos = f->ring.last_used;
      guint64 tag;
      guint32 len;
      int r = vhost_driver_ring_get_used (&f->ring, &tag, &len);

      g_assert_cmpint (r, >=, 0);
      if (r == 1)
        {
          Chain *chain = &g_array_index (f->chains, Chain, tag);
          guint32 offset = 0;

          g_assert_false (chain->done);
          g_assert_cmpuint (len, ==, chain->asked);
          chain->done = TRUE;
          chain->used_len = len;
          chain->used_pos = pos;
          for (guint i = 0; i < chain->n_in; i++)
            for (guint32 j = 0; j < chain->in[i].len; j++, offset++)
              {
                guint8 byte = f->mem[chain->in[i].addr + j];

                if (byte != (offset < len ? pattern (tag, offset) : CANARY))
                  g_error ("chain %u: byte %u of %u reported is 0x%02x", (guint) tag, offset, len, byte);
              }
          continue;
        }
      if (vhost_driver_ring_enable_notify (&f->ring, TRUE))
        continue;
      {
        struct pollfd pfd = { f->call_fd, POLLIN, 0 };
        eventfd_t value;

        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        if (poll (&pfd, 1, 100) == 1)
          eventfd_read (f->call_fd, &value);
      }
    }
}

static void
rule_range (PageRule *rules, guint64 gpa, guint64 len, PageRule rule)
{
  for (guint64 page = gpa / PAGE; len > 0 && page <= (gpa + len - 1) / PAGE; page++)
    rules[page] = MAX (rules[page], rule);
}

/* The rule for each page, from what the driver gave and the device reported. */
static PageRule *
expected_pages (Fixture *f)
{
  PageRule *rules = g_new0 (PageRule, N_PAGES);
  gboolean packed = f->params->packed;

  for (guint tag = 0; tag < f->chains->len; tag++)
    {
      const Chain *chain = &g_array_index (f->chains, Chain, tag);
      PageRule rule = chain->phase == PHASE_AFTER ? PAGE_SET : chain->phase == PHASE_DURING ? PAGE_MAY : PAGE_CLEAR;
      guint32 left = chain->used_len;

      g_assert_true (chain->done);
      /* The buffers, as far as the device wrote... */
      for (guint i = 0; i < chain->n_in && left > 0; i++)
        {
          guint32 n = MIN (left, chain->in[i].len);

          rule_range (rules, chain->in[i].addr, n, rule);
          left -= n;
        }
      /* ...and its used entry: a split ring's where log_guest_addr says, a packed
       * ring's at the descriptor itself. */
      if (packed)
        rule_range (rules, DESC_AREA + chain->used_pos * 16u, 16, rule);
      else
        rule_range (rules, LOG_GUEST_ADDR + 4 + (chain->used_pos % QUEUE_SIZE) * 8u, 8, rule);
    }
  if (!packed)
    {
      /* The used index, published after logging was on. */
      rule_range (rules, LOG_GUEST_ADDR + 2, 2, PAGE_SET);
      /* The flags, or with event idx avail_event: set if the driver saw them
       * change since. */
      if (f->params->event_idx)
        rule_range (rules, LOG_GUEST_ADDR + 4 + 8 * QUEUE_SIZE, 2, f->event_area_changed ? PAGE_SET : PAGE_MAY);
      else
        rule_range (rules, LOG_GUEST_ADDR, 2, f->event_area_changed ? PAGE_SET : PAGE_MAY);
      /* The used ring's own page is written, but logged at log_guest_addr. */
      rule_range (rules, USED_AREA, 6 + 8 * QUEUE_SIZE, PAGE_MAY);
    }
  else
    rule_range (rules, USED_AREA, 4, f->event_area_changed ? PAGE_SET : PAGE_MAY);
  return rules;
}

static gboolean
log_bit (Fixture *f, guint page)
{
  return (f->log_map[LOG_OFFSET + page / 8] >> (page % 8)) & 1;
}

/* Logging turned on as QEMU does when a migration starts (SET_LOG_BASE,
 * SET_LOG_FD, SET_FEATURES with VHOST_F_LOG_ALL, SET_VRING_ADDR with
 * VHOST_VRING_F_LOG and log_guest_addr), with chains in flight between each of
 * them; then more traffic; then the bitmap compared page by page with what the
 * driver computes from the buffers it gave and the lengths the device reported. */
static void
test_mid_run (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostVringAddr) logged = NULL;
  g_autofree PageRule *rules = NULL;
  guint counts[3] = { 0 }, set = 0, base = 0;
  eventfd_t signalled = 0;

  /* Before: nothing is logged, there is no log. */
  for (guint batch = 0; batch < 3; batch++)
    {
      for (guint i = 0; i < 20; i++)
        submit (f, PHASE_BEFORE, 0);
      kick (f);
      reap_all (f);
    }

  /* During: the requests while the device works. */
  for (guint i = 0; i < 16; i++)
    submit (f, PHASE_DURING, 0);
  kick (f);
  g_assert_true (vhost_backend_set_log_base (VHOST_BACKEND (f->master), LOG_OFFSET, LOG_SIZE, f->log_fd, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < 16; i++)
    submit (f, PHASE_DURING, 0);
  kick (f);
  g_assert_true (vhost_backend_set_log_fd (VHOST_BACKEND (f->master), f->log_call_fd, &error));
  g_assert_true (vhost_backend_set_features (VHOST_BACKEND (f->master),
                                             f->features | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_LOG_ALL), &error));
  g_assert_no_error (error);
  for (guint i = 0; i < 16; i++)
    submit (f, PHASE_DURING, 0);
  kick (f);
  logged = vhost_vring_addr_new (0, 1u << VHOST_VRING_F_LOG, uaddr (f, DESC_AREA), uaddr (f, USED_AREA),
                                 uaddr (f, AVAIL_AREA), LOG_GUEST_ADDR);
  g_assert_true (vhost_backend_set_vring_addr (VHOST_BACKEND (f->master), logged, &error));
  g_assert_no_error (error);
  f->event_area[0] = event_words (f);
  reap_all (f);
  sample_event_area (f);

  /* After: everything the device writes is logged. The first chains' buffers
   * cross from one region into the other. */
  for (guint batch = 0; batch < 4; batch++)
    {
      for (guint i = 0; i < 32; i++)
        submit (f, PHASE_AFTER, batch == 0 && i == 0 ? REGION_SIZE - 2 * PAGE - 100 : 0);
      kick (f);
      sample_event_area (f);
      reap_all (f);
      sample_event_area (f);
    }
  /* The ring stops: the device writes nothing more. */
  g_assert_true (vhost_backend_get_vring_base (VHOST_BACKEND (f->master), 0, &base, &error));
  g_assert_no_error (error);
  sample_event_area (f);

  rules = expected_pages (f);
  for (guint page = 0; page < N_PAGES; page++)
    {
      gboolean bit = log_bit (f, page);

      counts[rules[page]]++;
      set += bit;
      if (rules[page] == PAGE_SET && !bit)
        g_error ("page 0x%x was written with logging on, but its bit is clear", page);
      if (rules[page] == PAGE_CLEAR && bit)
        g_error ("page 0x%x was not written with logging on, but its bit is set", page);
    }
  /* The bitmap has nothing beyond the memory, and nothing before its offset. */
  for (guint i = N_PAGES / 8; i < LOG_SIZE; i++)
    g_assert_cmpuint (f->log_map[LOG_OFFSET + i], ==, 0);
  for (guint i = 0; i < LOG_OFFSET; i++)
    g_assert_cmpuint (f->log_map[i], ==, 0);
  g_test_message ("%u pages: %u to be set, %u that may be, %u to be clear; %u set; the event area %s", N_PAGES,
                  counts[PAGE_SET], counts[PAGE_MAY], counts[PAGE_CLEAR], set,
                  f->event_area_changed ? "changed" : "did not change");
  g_assert_cmpuint (counts[PAGE_SET], >, 100);
  /* The front-end was told the log changed. */
  g_assert_cmpint (eventfd_read (f->log_call_fd, &signalled), ==, 0);
  g_assert_cmpuint (signalled, >, 0);
}

/* VHOST_GLIB_TEST_NO_DIRTY_LOG, the testing aid that migration tests use to show
 * they catch a back-end that does not log: with it set, logging turned on logs
 * nothing, and the back-end says so. */
static void
test_disabled_for_testing (gconstpointer data)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(VhostVringAddr) logged = NULL;
      Fixture fixture = { 0 }, *f = &fixture;
      eventfd_t signalled = 0;
      guint base;

      g_assert_true (g_setenv ("VHOST_GLIB_TEST_NO_DIRTY_LOG", "1", TRUE));
      g_test_expect_message ("Vhost", G_LOG_LEVEL_WARNING, "VHOST_GLIB_TEST_NO_DIRTY_LOG is set*");
      fixture_setup (f, data);
      g_assert_true (vhost_backend_set_log_base (VHOST_BACKEND (f->master), LOG_OFFSET, LOG_SIZE, f->log_fd, &error));
      g_assert_true (vhost_backend_set_log_fd (VHOST_BACKEND (f->master), f->log_call_fd, &error));
      g_assert_true (vhost_backend_set_features (VHOST_BACKEND (f->master),
                                                 f->features | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_LOG_ALL), &error));
      logged = vhost_vring_addr_new (0, 1u << VHOST_VRING_F_LOG, uaddr (f, DESC_AREA), uaddr (f, USED_AREA),
                                     uaddr (f, AVAIL_AREA), LOG_GUEST_ADDR);
      g_assert_true (vhost_backend_set_vring_addr (VHOST_BACKEND (f->master), logged, &error));
      g_assert_no_error (error);
      for (guint i = 0; i < 32; i++)
        submit (f, PHASE_AFTER, 0);
      kick (f);
      reap_all (f);
      g_assert_true (vhost_backend_get_vring_base (VHOST_BACKEND (f->master), 0, &base, &error));
      g_assert_no_error (error);
      g_test_assert_expected_messages ();
      for (guint i = 0; i < LOG_OFFSET + LOG_SIZE; i++)
        g_assert_cmpuint (f->log_map[i], ==, 0);
      g_assert_cmpint (eventfd_read (f->log_call_fd, &signalled), ==, -1);
      fixture_teardown (f, data);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

int
main (int argc, char **argv)
{
  static const Params params[] = {
    { FALSE, FALSE },
    { FALSE, TRUE },
    { TRUE, FALSE },
    { TRUE, TRUE },
  };

  vhost_test_init (&argc, &argv);
  for (guint i = 0; i < G_N_ELEMENTS (params); i++)
    {
      g_autofree char *path = g_strdup_printf ("/vhost/dirty-log/mid-run/%s%s", params[i].packed ? "packed" : "split",
                                               params[i].event_idx ? "/event-idx" : "");

      g_test_add (path, Fixture, &params[i], fixture_setup, test_mid_run, fixture_teardown);
    }
  g_test_add_data_func ("/vhost/dirty-log/disabled-for-testing", &params[0], test_disabled_for_testing);
  return g_test_run ();
}
