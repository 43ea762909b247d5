/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The back-end's device IOTLB (VIRTIO_F_ACCESS_PLATFORM): VhostDriver → VhostUserMaster → VhostUserSlave in one process. */
#include <string.h>
#include <linux/virtio_ring.h>
#include <sys/socket.h>

#include "test-support.h"

#define QUEUE_SIZE 16
#define MEMORY_SIZE (1024 * 1024)
#define PAGE 4096
#define TIMEOUT_MS 10000
#define IOTLB_MISS 1
#define IOTLB_UPDATE 2
#define IOTLB_INVALIDATE 3
#define IOTLB_ACCESS_FAIL 4
#define PERM_READ 1
#define PERM_WRITE 2

/* The device: copies each chain's readable bytes into its writable buffers,
 * XORed with a key that depends on the queue, and pushes the chain with that
 * length. It records how many writable iovecs and bytes the last chain had. */
static gint last_n_in, last_writable;

static guint8
key_of (guint queue)
{
  return 0x5a ^ (guint8) queue;
}

static void
echo_handler (VhostVirtqueue *queue, gpointer user_data)
{
  guint8 key = key_of (vhost_virtqueue_get_index (queue));
  VhostVirtqueueElement elem;
  struct iovec iov[64];
  guint8 data[2 * PAGE];

  while (vhost_virtqueue_pop (queue, &elem, iov, G_N_ELEMENTS (iov)))
    {
      gsize len = vhost_virtqueue_element_read (&elem, 0, data, sizeof data);

      for (gsize i = 0; i < len; i++)
        data[i] ^= key;
      g_atomic_int_set (&last_n_in, elem.n_in);
      g_atomic_int_set (&last_writable, vhost_virtqueue_element_get_writable_size (&elem));
      vhost_virtqueue_push (queue, &elem, vhost_virtqueue_element_write (&elem, 0, data, len));
    }
}

/* The same device on the slave's main context, as a binding's would be. */
static void
kick_echo (VhostVirtqueue *queue, gpointer user_data)
{
  guint8 key = key_of (vhost_virtqueue_get_index (queue));
  g_autoptr(GError) error = NULL;
  VhostVirtqueueRequest *request;

  while ((request = vhost_virtqueue_pop_request (queue, &error)) != NULL)
    {
      g_autoptr(GBytes) in = vhost_virtqueue_request_read (request, &error);
      g_autoptr(GBytes) out = NULL;
      gsize len = 0;
      const guint8 *p = g_bytes_get_data (in, &len);
      guint8 *data = g_malloc (len + 1);

      g_assert_no_error (error);
      g_atomic_int_set (&last_writable, vhost_virtqueue_request_get_writable_size (request));
      for (gsize i = 0; i < len; i++)
        data[i] = p[i] ^ key;
      len = MIN (len, vhost_virtqueue_request_get_writable_size (request));
      out = g_bytes_new_take (data, len);
      g_assert_true (vhost_virtqueue_request_write (request, 0, out, &error));
      g_assert_true (vhost_virtqueue_push_request (queue, request, len, &error));
      g_assert_no_error (error);
      vhost_virtqueue_request_unref (request);
    }
  g_assert_no_error (error);
}

typedef struct
{
  gboolean packed;
  guint n_queues;
  gboolean main_context; /* the queues dispatched on the slave's main context */
} Config;

static guint64
features_of (const Config *config)
{
  return VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_ACCESS_PLATFORM) |
         VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_INDIRECT_DESC) |
         (config->packed ? VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED) : 0);
}

static void
setup_device (VhostUserSlave *slave, gpointer data)
{
  const Config *config = data;
  VhostTestDevice *device = VHOST_TEST_DEVICE (slave);

  device->features = features_of (config);
  device->num_queues = config->n_queues;
  for (guint i = 0; i < config->n_queues; i++)
    {
      VhostVirtqueue *queue = vhost_user_slave_get_virtqueue (slave, i);

      vhost_virtqueue_set_handler (queue, echo_handler, NULL, NULL);
      if (config->main_context)
        {
          vhost_virtqueue_set_dispatch (queue, VHOST_VIRTQUEUE_DISPATCH_MAIN_CONTEXT);
          g_signal_connect (queue, "kick", G_CALLBACK (kick_echo), NULL);
        }
    }
}

/* One IOTLB message of the back-end, as the master saw it. */
typedef struct
{
  guint64 iova;
  guint perm;
  guint type;
} Seen;

typedef struct Fixture Fixture;
/* Called on the master's signal before the driver answers. */
typedef void (*MissHook) (Fixture *f, const Seen *seen);

struct Fixture
{
  const Config *config;
  gint fds_before;
  VhostTestSlaveThread *thread;
  VhostUserMaster *master;
  VhostDriver *driver;
  GArray *seen;     /* (element-type Seen) */
  MissHook hook;
  gboolean withhold; /* the hook keeps the driver from answering this miss */
};

static void
iotlb_message_cb (VhostUserMaster *master, guint64 iova, guint64 size, guint64 uaddr, guint perm, guint type,
                  Fixture *f)
{
  Seen seen = { iova, perm, type };

  g_array_append_val (f->seen, seen);
  f->withhold = FALSE;
  if (f->hook != NULL)
    f->hook (f, &seen);
  if (f->withhold)
    g_signal_stop_emission_by_name (master, "iotlb-message");
}

/* How many messages of `type` for an address in [first, first + len), with `perm`, the master saw. */
static guint
count_seen (Fixture *f, guint type, guint64 first, guint64 len, guint perm)
{
  guint n = 0;

  for (guint i = 0; i < f->seen->len; i++)
    {
      const Seen *s = &g_array_index (f->seen, Seen, i);

      n += s->type == type && s->iova >= first && s->iova - first < len && s->perm == perm;
    }
  return n;
}

/* Iterate this thread's context until the master saw `n` such messages. */
static void
wait_seen (Fixture *f, guint type, guint64 first, guint64 len, guint perm, guint n)
{
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;

  while (count_seen (f, type, first, len, perm) < n)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("%u IOTLB messages of type %u with permission %u were not seen within %u ms", n, type, perm,
                 TIMEOUT_MS);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  int sv[2];

  f->config = data;
  f->fds_before = vhost_test_count_open_fds ();
  f->seen = g_array_new (FALSE, FALSE, sizeof (Seen));
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  f->thread = vhost_test_slave_thread_new (VHOST_TYPE_TEST_DEVICE, sv[0], setup_device, (gpointer) f->config);
  f->master = vhost_user_master_new_for_fd (sv[1]);
  g_assert_true (vhost_user_master_connect (f->master, NULL, &error));
  g_assert_no_error (error);
  /* Before the driver's handler: the test sees every message first. */
  g_signal_connect (f->master, "iotlb-message", G_CALLBACK (iotlb_message_cb), f);
  f->driver = vhost_driver_new (VHOST_BACKEND (f->master), MEMORY_SIZE, &error);
  g_assert_no_error (error);
  /* A vIOMMU that maps pages: every page the device touches first misses. */
  vhost_driver_set_access_platform (f->driver, TRUE);
  vhost_driver_set_iotlb_page_size (f->driver, PAGE);
  g_assert_true (vhost_driver_start (f->driver, f->config->n_queues, QUEUE_SIZE, features_of (f->config), &error));
  g_assert_no_error (error);
  g_assert_cmphex (vhost_driver_get_acked_features (f->driver) & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_ACCESS_PLATFORM),
                   !=, 0);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->driver);
  g_clear_object (&f->master);
  vhost_test_slave_thread_free (f->thread);
  g_array_unref (f->seen);
  vhost_test_assert_fd_count (f->fds_before);
}

/* A page of its own, and its host address. */
static guint64
alloc_page (Fixture *f, guint8 **host)
{
  g_autoptr(GError) error = NULL;
  guint64 addr;

  g_assert_true (vhost_driver_alloc (f->driver, PAGE, &addr, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (addr % 64, ==, 0);
  *host = vhost_driver_get_host_address (f->driver, addr, PAGE);
  return addr;
}

static void
submit (Fixture *f, guint queue, guint64 out, guint32 out_len, guint64 in, guint32 in_len, guint64 tag)
{
  VhostDriverBuffer out_buf = { out, out_len }, in_buf = { in, in_len };
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_driver_submit (f->driver, queue, &out_buf, 1, &in_buf, 1, tag, &error));
  g_assert_no_error (error);
  vhost_driver_kick (f->driver, queue);
}

/* The next completion of `queue`, while this thread's context answers the
 * back-end's misses. */
static void
wait_completion (Fixture *f, guint queue, guint64 *tag, guint *len)
{
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
  g_autoptr(GError) error = NULL;

  while (!vhost_driver_reap (f->driver, queue, tag, len, &error))
    {
      g_assert_no_error (error);
      if (g_get_monotonic_time () > deadline)
        g_error ("queue %u: no completion within %u ms", queue, TIMEOUT_MS);
      while (g_main_context_iteration (NULL, FALSE))
        ;
      vhost_driver_wait (f->driver, queue, 5, NULL);
    }
}

/* A request of `len` bytes from `out` into `in` that comes back whole and echoed. */
static void
echo (Fixture *f, guint queue, guint64 out, guint8 *out_host, guint64 in, guint8 *in_host, guint32 len, guint64 tag)
{
  guint64 done_tag;
  guint done_len;

  for (guint32 i = 0; i < len; i++)
    out_host[i] = g_test_rand_int ();
  memset (in_host, 0, len);
  submit (f, queue, out, len, in, len, tag);
  wait_completion (f, queue, &done_tag, &done_len);
  g_assert_cmpuint (done_tag, ==, tag);
  g_assert_cmpuint (done_len, ==, len);
  for (guint32 i = 0; i < len; i++)
    g_assert_cmphex (in_host[i], ==, out_host[i] ^ key_of (queue));
}

/* How many entries the slave's IOTLB holds (read under its lock). */
static guint
n_entries (Fixture *f)
{
  return vhost_user_dev_get_iotlb_n_entries (vhost_user_slave_get_dev (vhost_test_slave_thread_get_slave (f->thread)));
}

static void
iotlb_msg (Fixture *f, guint64 iova, guint64 size, gpointer host, VhostIotlbAccess perm, VhostIotlbMessageType type)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_user_master_iotlb_msg (f->master, iova, size, (guint64) (guintptr) host, perm, type, &error));
  g_assert_no_error (error);
}

/* A miss, answered by an update, completes the request; an invalidation makes
 * the next access miss again, rings included. */
static void
test_miss (Fixture *f, gconstpointer data)
{
  guint8 *out_host, *in_host;
  guint64 out = alloc_page (f, &out_host), in = alloc_page (f, &in_host);
  /* The rings come first in the driver's memory, in its first page: the
   * device reads the descriptors (and writes them too, in a packed ring). */
  guint desc_perm = f->config->packed ? PERM_READ | PERM_WRITE : PERM_READ;
  guint before;

  /* The rings' areas missed when the queue started. */
  wait_seen (f, IOTLB_MISS, 0, PAGE, desc_perm, 1);

  echo (f, 0, out, out_host, in, in_host, 200, 1);
  g_assert_cmpuint (count_seen (f, IOTLB_MISS, out, PAGE, PERM_READ), ==, 1);
  g_assert_cmpuint (count_seen (f, IOTLB_MISS, in, PAGE, PERM_WRITE), ==, 1);

  /* Mapped now: no miss. */
  echo (f, 0, out, out_host, in, in_host, 300, 2);
  g_assert_cmpuint (count_seen (f, IOTLB_MISS, out, PAGE, PERM_READ), ==, 1);
  g_assert_cmpuint (count_seen (f, IOTLB_MISS, in, PAGE, PERM_WRITE), ==, 1);

  /* The device's buffer invalidated: it misses again, the other buffer does not. */
  iotlb_msg (f, in, PAGE, NULL, 0, IOTLB_INVALIDATE);
  echo (f, 0, out, out_host, in, in_host, 400, 3);
  g_assert_cmpuint (count_seen (f, IOTLB_MISS, out, PAGE, PERM_READ), ==, 1);
  g_assert_cmpuint (count_seen (f, IOTLB_MISS, in, PAGE, PERM_WRITE), ==, 2);

  /* Everything invalidated: the rings are translated again before the next
   * chain, and miss, and so do both buffers. The IOTLB holds nothing but what
   * the device asked for since: a worker still polling after the last
   * completion may look at its rings at once, and the driver answers that miss
   * while the invalidation waits for its reply (the entry is read after the
   * miss was seen). */
  before = count_seen (f, IOTLB_MISS, 0, PAGE, desc_perm);
  iotlb_msg (f, 0, MEMORY_SIZE, NULL, 0, IOTLB_INVALIDATE);
  g_assert_cmpuint (n_entries (f), <=, count_seen (f, IOTLB_MISS, 0, PAGE, desc_perm) - before);
  echo (f, 0, out, out_host, in, in_host, 500, 4);
  g_assert_cmpuint (count_seen (f, IOTLB_MISS, out, PAGE, PERM_READ), ==, 2);
  g_assert_cmpuint (count_seen (f, IOTLB_MISS, in, PAGE, PERM_WRITE), ==, 3);
  g_assert_cmpuint (count_seen (f, IOTLB_MISS, 0, PAGE, desc_perm), ==, before + 1);
  g_assert_cmpuint (count_seen (f, IOTLB_ACCESS_FAIL, 0, G_MAXUINT64, PERM_WRITE), ==, 0);
}

/* A device-writable buffer that the IOTLB maps read-only: the front-end hears of
 * it (ACCESS_FAIL), the device gets the chain without buffers and gives it back
 * with nothing written, and the queue serves the next request. */
static void
test_read_only (Fixture *f, gconstpointer data)
{
  guint8 *out_host, *in_host, *ro_host, saved[PAGE];
  guint64 out = alloc_page (f, &out_host), in = alloc_page (f, &in_host), ro = alloc_page (f, &ro_host);
  guint64 tag;
  guint len;

  memset (ro_host, 0xee, PAGE);
  memcpy (saved, ro_host, PAGE);
  iotlb_msg (f, ro, PAGE, ro_host, PERM_READ, IOTLB_UPDATE);
  memset (out_host, 0x11, 100);
  submit (f, 0, out, 100, ro, 100, 7);
  wait_completion (f, 0, &tag, &len);
  g_assert_cmpuint (tag, ==, 7);
  g_assert_cmpuint (len, ==, 0);
  g_assert_cmpint (g_atomic_int_get (&last_writable), ==, 0);
  g_assert_cmpmem (ro_host, PAGE, saved, PAGE);
  wait_seen (f, IOTLB_ACCESS_FAIL, ro, PAGE, PERM_WRITE, 1);
  g_assert_cmpuint (count_seen (f, IOTLB_ACCESS_FAIL, ro, PAGE, PERM_WRITE), ==, 1);
  /* Refused, not missed: the entry is there. */
  g_assert_cmpuint (count_seen (f, IOTLB_MISS, ro, PAGE, PERM_WRITE), ==, 0);

  /* The queue goes on. */
  echo (f, 0, out, out_host, in, in_host, 100, 8);
  g_assert_cmpmem (ro_host, PAGE, saved, PAGE);
}

/* A buffer over two IOTLB entries that map apart: the device sees two pieces,
 * each in the memory its entry gives. */
static void
test_span (Fixture *f, gconstpointer data)
{
  guint8 *out_host, *a_host, *b_host, *x1_host, *x2_host, *gap_host;
  guint64 out = alloc_page (f, &out_host), a = alloc_page (f, &a_host), b = alloc_page (f, &b_host);
  guint64 x1 = alloc_page (f, &x1_host), gap = alloc_page (f, &gap_host), x2 = alloc_page (f, &x2_host);
  guint64 tag;
  guint len, before;

  /* Two pages that follow each other in IOVAs, mapped to two pages that do not
   * follow each other in memory (the allocator gives pages in order). */
  g_assert_cmpuint (b, ==, a + PAGE);
  g_assert_cmpuint (x2, ==, gap + PAGE);
  g_assert_cmpuint (gap, ==, x1 + PAGE);
  (void) gap_host;
  iotlb_msg (f, a, PAGE, x1_host, PERM_READ | PERM_WRITE, IOTLB_UPDATE);
  iotlb_msg (f, b, PAGE, x2_host, PERM_READ | PERM_WRITE, IOTLB_UPDATE);
  memset (a_host, 0, PAGE);
  memset (b_host, 0, PAGE);
  memset (x1_host, 0, PAGE);
  memset (x2_host, 0, PAGE);
  for (guint i = 0; i < 128; i++)
    out_host[i] = i + 1;
  submit (f, 0, out, 128, a + PAGE - 64, 128, 9);
  wait_completion (f, 0, &tag, &len);
  g_assert_cmpuint (len, ==, 128);
  g_assert_cmpint (g_atomic_int_get (&last_n_in), ==, 2);
  for (guint i = 0; i < 64; i++)
    {
      g_assert_cmphex (x1_host[PAGE - 64 + i], ==, out_host[i] ^ key_of (0));
      g_assert_cmphex (x2_host[i], ==, out_host[64 + i] ^ key_of (0));
    }
  /* The driver's own pages at those IOVAs were not touched. */
  for (guint i = 0; i < PAGE; i++)
    g_assert_true (a_host[i] == 0 && b_host[i] == 0);
  g_assert_cmpuint (count_seen (f, IOTLB_MISS, a, 2 * PAGE, PERM_WRITE), ==, 0);

  /* Where the entries go on in memory, one piece, and one entry. */
  before = n_entries (f);
  iotlb_msg (f, b, PAGE, x1_host + PAGE, PERM_READ | PERM_WRITE, IOTLB_UPDATE);
  g_assert_cmpuint (n_entries (f), ==, before - 1);
  submit (f, 0, out, 128, a + PAGE - 64, 128, 10);
  wait_completion (f, 0, &tag, &len);
  g_assert_cmpuint (len, ==, 128);
  g_assert_cmpint (g_atomic_int_get (&last_n_in), ==, 1);
  g_assert_cmphex (x1_host[PAGE], ==, out_host[64] ^ key_of (0));
}

/* While queue 0 waits for its miss to be answered, queue 1 completes a
 * request and the slave answers a control request: nothing else waits. */
static guint64 stall_page;

static void
stall_hook (Fixture *f, const Seen *seen)
{
  guint8 *out_host, *in_host;
  guint64 out, in, tag;
  guint64 features = 0;
  g_autoptr(GError) error = NULL;
  guint len;

  if (seen->type != IOTLB_MISS || seen->iova < stall_page || seen->iova - stall_page >= PAGE)
    return;
  f->hook = NULL;
  /* Queue 0's chain waits: nothing came back. */
  g_assert_false (vhost_driver_reap (f->driver, 0, &tag, &len, &error));
  g_assert_no_error (error);
  /* Queue 1's buffers and rings are mapped: it goes on. */
  out = alloc_page (f, &out_host);
  in = alloc_page (f, &in_host);
  iotlb_msg (f, out, PAGE, out_host, PERM_READ, IOTLB_UPDATE);
  iotlb_msg (f, in, PAGE, in_host, PERM_WRITE, IOTLB_UPDATE);
  echo (f, 1, out, out_host, in, in_host, 64, 100);
  g_assert_true (vhost_backend_get_features (VHOST_BACKEND (f->master), &features, &error));
  g_assert_no_error (error);
  g_assert_cmphex (features & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_ACCESS_PLATFORM), !=, 0);
  /* Still waiting, until the driver answers after this hook. */
  g_assert_false (vhost_driver_reap (f->driver, 0, &tag, &len, &error));
}

static void
test_other_queue (Fixture *f, gconstpointer data)
{
  guint8 *out_host, *in_host, *stall_host;
  guint64 out = alloc_page (f, &out_host), in = alloc_page (f, &in_host);
  guint64 stall = alloc_page (f, &stall_host);

  /* Both queues' rings mapped by a first request each. */
  echo (f, 0, out, out_host, in, in_host, 32, 1);
  echo (f, 1, out, out_host, in, in_host, 32, 2);
  stall_page = stall;
  f->hook = stall_hook;
  echo (f, 0, out, out_host, stall, stall_host, 48, 3);
  g_assert_null (f->hook);
}

/* A miss the front-end acknowledges without a translation: nothing would
 * ever wake the queue, so it breaks, and the device needs a reset. */
static void
withhold_hook (Fixture *f, const Seen *seen)
{
  if (seen->type == IOTLB_MISS && seen->iova >= stall_page && seen->iova - stall_page < PAGE)
    f->withhold = TRUE;
}

static void
test_unanswered (Fixture *f, gconstpointer data)
{
  guint8 *out_host, *in_host, *stall_host;
  guint64 out = alloc_page (f, &out_host), in = alloc_page (f, &in_host);
  guint64 stall = alloc_page (f, &stall_host);
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
  g_autoptr(GError) error = NULL;
  guint8 status = 0;

  echo (f, 0, out, out_host, in, in_host, 32, 1);
  stall_page = stall;
  f->hook = withhold_hook;
  submit (f, 0, out, 32, stall, 32, 2);
  while (!(status & VHOST_VIRTIO_STATUS_NEEDS_RESET))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
      g_assert_true (vhost_backend_get_status (VHOST_BACKEND (f->master), &status, &error));
      g_assert_no_error (error);
    }
  g_assert_cmpuint (count_seen (f, IOTLB_MISS, stall, PAGE, PERM_WRITE), ==, 1);
}

/* IOTLB_MSG that the slave refuses, each with a failure status: the connection
 * and the queue go on. */
static void
test_bad_messages (Fixture *f, gconstpointer data)
{
  static const struct
  {
    guint64 iova, size, uaddr;
    guint perm, type;
  } bad[] = {
    { 0x1000, 0, 0x7f0000000000, PERM_READ, IOTLB_UPDATE },                  /* empty */
    { G_MAXUINT64 - 10, 0x1000, 0x7f0000000000, PERM_READ, IOTLB_UPDATE },   /* its IOVAs wrap */
    { 0x1000, 0x1000, G_MAXUINT64 - 10, PERM_READ, IOTLB_UPDATE },           /* its user addresses wrap */
    { 0x1000, 0x1000, 0x7f0000000000, 4, IOTLB_UPDATE },                     /* no such permission */
    { 0x1000, 0x1000, 0, PERM_READ, IOTLB_MISS },                            /* the back-end's types */
    { 0x1000, 0x1000, 0, PERM_READ, IOTLB_ACCESS_FAIL },
    { 0x1000, 0x1000, 0, PERM_READ, 9 },
  };
  guint8 *out_host, *in_host;
  guint64 out = alloc_page (f, &out_host), in = alloc_page (f, &in_host);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_false (vhost_user_master_iotlb_msg (f->master, bad[i].iova, bad[i].size, bad[i].uaddr, bad[i].perm,
                                                   bad[i].type, &error));
      g_assert_error (error, VHOST_ERROR, VHOST_ERROR_REJECTED);
    }
  /* An invalidation of everything from an address on, clipped at 2^64. */
  iotlb_msg (f, 0x1000, G_MAXUINT64, NULL, 0, IOTLB_INVALIDATE);
  echo (f, 0, out, out_host, in, in_host, 100, 1);
}

/* The slave offers ACCESS_PLATFORM only with what misses need, and refuses it
 * without: the front-end must give it the back-end channel and REPLY_ACK. */
static void
setup_negotiation (VhostUserSlave *slave, gpointer data)
{
  VhostTestDevice *device = VHOST_TEST_DEVICE (slave);

  device->features = VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_ACCESS_PLATFORM);
  device->protocol_features = GPOINTER_TO_UINT (data) ? G_MAXUINT64 : ~(guint64) VHOST_USER_PROTOCOL_F_REPLY_ACK;
}

static void
test_negotiation (void)
{
  const guint64 access_platform = VHOST_FEATURE_MASK (VHOST_VIRTIO_F_ACCESS_PLATFORM);
  gint fds_before = vhost_test_count_open_fds ();

  for (guint with_reply_ack = 0; with_reply_ack < 2; with_reply_ack++)
    {
      g_autoptr(VhostUserMaster) master = NULL;
      g_autoptr(GError) error = NULL;
      VhostTestSlaveThread *thread;
      guint64 features = 0;
      int sv[2];

      g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
      thread = vhost_test_slave_thread_new (VHOST_TYPE_TEST_DEVICE, sv[0], setup_negotiation,
                                            GUINT_TO_POINTER (with_reply_ack));
      master = vhost_user_master_new_for_fd (sv[1]);
      g_assert_true (vhost_user_master_connect (master, NULL, &error));
      g_assert_true (vhost_backend_get_features (VHOST_BACKEND (master), &features, &error));
      g_assert_no_error (error);
      if (!with_reply_ack)
        /* The device offers it, the slave does not: misses could not be answered. */
        g_assert_cmphex (features & access_platform, ==, 0);
      else
        {
          g_assert_cmphex (features & access_platform, !=, 0);
          /* Without the back-end channel, SET_FEATURES fails (REPLY_ACK says so). */
          g_assert_true (vhost_user_master_set_protocol_features (master, VHOST_USER_PROTOCOL_F_REPLY_ACK, &error));
          g_assert_no_error (error);
          g_assert_false (vhost_backend_set_features (VHOST_BACKEND (master), features, &error));
          g_assert_error (error, VHOST_ERROR, VHOST_ERROR_REJECTED);
          g_clear_error (&error);
          /* And without ACCESS_PLATFORM the device goes on. */
          g_assert_true (vhost_backend_set_features (VHOST_BACKEND (master), features & ~access_platform, &error));
          g_assert_no_error (error);
        }
      g_clear_object (&master);
      vhost_test_slave_thread_free (thread);
    }
  vhost_test_assert_fd_count (fds_before);
}

static const Config split1 = { FALSE, 1, FALSE }, packed1 = { TRUE, 1, FALSE }, split2 = { FALSE, 2, FALSE },
                    packed2 = { TRUE, 2, FALSE }, split_main = { FALSE, 2, TRUE }, packed_main = { TRUE, 2, TRUE };

int
main (int argc, char **argv)
{
  vhost_test_init (&argc, &argv);
#define ADD(path, config, func) g_test_add ("/vhost/iotlb/" path, Fixture, &config, fixture_setup, func, fixture_teardown)
  ADD ("split/miss", split1, test_miss);
  ADD ("packed/miss", packed1, test_miss);
  ADD ("split/read-only", split1, test_read_only);
  ADD ("packed/read-only", packed1, test_read_only);
  ADD ("split/span", split1, test_span);
  ADD ("packed/span", packed1, test_span);
  ADD ("split/other-queue", split2, test_other_queue);
  ADD ("packed/other-queue", packed2, test_other_queue);
  ADD ("split/unanswered-miss", split1, test_unanswered);
  ADD ("split/bad-messages", split1, test_bad_messages);
  ADD ("split/main-context/miss", split_main, test_miss);
  ADD ("packed/main-context/miss", packed_main, test_miss);
  ADD ("split/main-context/read-only", split_main, test_read_only);
#undef ADD
  g_test_add_func ("/vhost/iotlb/negotiation", test_negotiation);
  return g_test_run ();
}
