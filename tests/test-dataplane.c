/* SPDX-License-Identifier: GPL-2.0-or-later */
/* End to end: VhostDriver → VhostUserMaster → socket → VhostUserSlave with an echo device, every ring layout. */
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <linux/userfaultfd.h>
#include <linux/virtio_ring.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test-support.h"

#define QUEUE_SIZE 64
#define SLOTS 10          /* chains in flight per queue: at most 6 descriptors each */
#define SLOT_BYTES 3008   /* not a divisor of the region size: some slot crosses a region boundary */
#define REGION_SIZE (1024 * 1024)

/* A count that a device thread raises and the test waits on, with a deadline. */
typedef struct
{
  GMutex mutex;
  GCond cond;
  gint value;
} Counter;

static void
counter_reset (Counter *c)
{
  g_mutex_lock (&c->mutex);
  c->value = 0;
  g_mutex_unlock (&c->mutex);
}

static void
counter_add (Counter *c)
{
  g_mutex_lock (&c->mutex);
  c->value++;
  g_cond_broadcast (&c->cond);
  g_mutex_unlock (&c->mutex);
}

static gint
counter_get (Counter *c)
{
  gint value;

  g_mutex_lock (&c->mutex);
  value = c->value;
  g_mutex_unlock (&c->mutex);
  return value;
}

/* Wait until the count reaches `value`; fail the test after `timeout_ms`. */
static void
counter_wait (Counter *c, gint value, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND;

  g_mutex_lock (&c->mutex);
  while (c->value < value)
    if (!g_cond_wait_until (&c->cond, &c->mutex, deadline))
      break;
  g_mutex_unlock (&c->mutex);
  g_assert_cmpint (counter_get (c), >=, value);
}

typedef struct
{
  gboolean packed;
  gboolean event_idx;
  gboolean indirect;
  guint n_queues;
  guint requests;   /* per queue */
} Config;

/* The device: copies each chain's readable bytes into its writable buffers, XORed
 * with a key that depends on the queue, and pushes the chain with that length.
 * Chains with an odd id go back with streaming stores, which the queue must fence
 * before the driver sees them used. */
static void
echo_handler (VhostVirtqueue *queue, gpointer user_data)
{
  guint8 key = 0x5a ^ (guint8) vhost_virtqueue_get_index (queue);
  VhostVirtqueueElement elem;
  struct iovec iov[64];
  guint8 data[SLOT_BYTES];

  while (vhost_virtqueue_pop (queue, &elem, iov, G_N_ELEMENTS (iov)))
    {
      gsize len = vhost_virtqueue_element_read (&elem, 0, data, sizeof data);
      gsize written;

      g_assert_cmpuint (len, ==, vhost_virtqueue_element_get_readable_size (&elem));
      for (gsize i = 0; i < len; i++)
        data[i] ^= key;
      if (elem.id & 1)
        written = vhost_virtqueue_element_write_streaming (&elem, 0, data, len);
      else
        written = vhost_virtqueue_element_write (&elem, 0, data, len);
      vhost_virtqueue_push (queue, &elem, written);
    }
}

static guint64
device_features (void)
{
  return VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED) |
         VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_INDIRECT_DESC) |
         VHOST_FEATURE_MASK (VHOST_VIRTIO_F_IN_ORDER);
}

static void
setup_echo (VhostUserSlave *slave, gpointer data)
{
  const Config *config = data;
  VhostTestDevice *device = VHOST_TEST_DEVICE (slave);

  device->features = device_features ();
  device->num_queues = config->n_queues;
  for (guint i = 0; i < config->n_queues; i++)
    vhost_virtqueue_set_handler (vhost_user_slave_get_virtqueue (slave, i), echo_handler, NULL, NULL);
}

typedef struct
{
  guint64 out_addr, in_addr; /* SLOT_BYTES each */
  guint8 *out, *in;
  guint32 len;
  gboolean busy;
} Slot;

typedef struct
{
  Slot slots[SLOTS];
  guint submitted, completed;
  guint64 descs; /* ring descriptors consumed: the packed ring's position */
} QueueState;

/* Split [0, len) into 1-3 buffers at random points. */
static guint
random_split (guint64 addr, guint32 len, VhostDriverBuffer *bufs)
{
  guint n = g_test_rand_int_range (1, 4);
  guint32 cut[4] = { 0 };

  n = MIN (n, len);
  cut[n] = len;
  for (guint i = 1; i < n; i++)
    cut[i] = cut[i - 1] + 1 + g_test_rand_int_range (0, len - cut[i - 1] - (n - i));
  for (guint i = 0; i < n; i++)
    bufs[i] = (VhostDriverBuffer) { addr + cut[i], cut[i + 1] - cut[i] };
  return n;
}

static void
submit_slot (VhostDriver *driver, guint queue, QueueState *state, guint s, gboolean indirect)
{
  Slot *slot = &state->slots[s];
  VhostDriverBuffer out[3], in[3];
  guint n_out, n_in;
  g_autoptr(GError) error = NULL;

  slot->len = g_test_rand_int_range (1, SLOT_BYTES + 1);
  for (guint32 i = 0; i < slot->len; i++)
    slot->out[i] = g_test_rand_int ();
  memset (slot->in, 0, SLOT_BYTES);
  n_out = random_split (slot->out_addr, slot->len, out);
  n_in = random_split (slot->in_addr, slot->len, in);
  g_assert_true (vhost_driver_submit (driver, queue, out, n_out, in, n_in, s, &error));
  g_assert_no_error (error);
  slot->busy = TRUE;
  state->submitted++;
  state->descs += indirect && n_out + n_in > 1 ? 1 : n_out + n_in;
}

static void
check_slot (guint queue, Slot *slot, guint len)
{
  guint8 key = 0x5a ^ (guint8) queue;

  g_assert_true (slot->busy);
  g_assert_cmpuint (len, ==, slot->len);
  for (guint32 i = 0; i < slot->len; i++)
    if (slot->in[i] != (slot->out[i] ^ key))
      g_error ("queue %u: byte %u of %u is 0x%02x, expected 0x%02x", queue, i, slot->len, slot->in[i],
               slot->out[i] ^ key);
  slot->busy = FALSE;
}

static void
test_echo (gconstpointer data)
{
  const Config *config = data;
  gint fds_before = vhost_test_count_open_fds ();
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserMaster) master = NULL;
  g_autoptr(VhostDriver) driver = NULL;
  VhostTestSlaveThread *thread;
  QueueState *states = g_new0 (QueueState, config->n_queues);
  guint64 features = device_features ();
  gboolean crossed = FALSE;
  int sv[2];

  if (!config->packed)
    features &= ~VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED);
  if (!config->event_idx)
    features &= ~VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX);
  if (!config->indirect)
    features &= ~VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_INDIRECT_DESC);

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  thread = vhost_test_slave_thread_new (VHOST_TYPE_TEST_DEVICE, sv[0], setup_echo, (gpointer) config);
  master = vhost_user_master_new_for_fd (sv[1]);
  g_assert_true (vhost_user_master_connect (master, NULL, &error));
  g_assert_no_error (error);

  driver = g_initable_new (VHOST_TYPE_DRIVER, NULL, &error, "backend", master, "memory-size",
                           (guint64) 2 * REGION_SIZE, "n-regions", 2, NULL);
  g_assert_no_error (error);
  g_assert_true (vhost_driver_start (driver, config->n_queues, QUEUE_SIZE, features, &error));
  g_assert_no_error (error);
  /* Everything asked for but IN_ORDER, which the driver never takes. */
  g_assert_cmphex (vhost_driver_get_acked_features (driver) & ~VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES),
                   ==, features & ~VHOST_FEATURE_MASK (VHOST_VIRTIO_F_IN_ORDER));

  /* Move the allocations up to the end of the first region, so that the slots
   * allocated next straddle the boundary. */
  {
    guint64 filler;

    do
      {
        g_assert_true (vhost_driver_alloc (driver, 1024, &filler, &error));
        g_assert_no_error (error);
      }
    while (filler + 1024 < REGION_SIZE - 2048);
  }
  for (guint q = 0; q < config->n_queues; q++)
    for (guint s = 0; s < SLOTS; s++)
      {
        Slot *slot = &states[q].slots[s];

        g_assert_true (vhost_driver_alloc (driver, SLOT_BYTES, &slot->out_addr, &error));
        g_assert_true (vhost_driver_alloc (driver, SLOT_BYTES, &slot->in_addr, &error));
        g_assert_no_error (error);
        slot->out = vhost_driver_get_host_address (driver, slot->out_addr, SLOT_BYTES);
        slot->in = vhost_driver_get_host_address (driver, slot->in_addr, SLOT_BYTES);
        crossed |= slot->out_addr / REGION_SIZE != (slot->out_addr + SLOT_BYTES - 1) / REGION_SIZE;
        crossed |= slot->in_addr / REGION_SIZE != (slot->in_addr + SLOT_BYTES - 1) / REGION_SIZE;
      }
  /* Some buffers span both regions: the device sees them as two pieces of memory. */
  g_assert_true (crossed);

  for (;;)
    {
      gboolean done = TRUE;

      for (guint q = 0; q < config->n_queues; q++)
        {
          QueueState *state = &states[q];

          for (guint s = 0; s < SLOTS && state->submitted < config->requests; s++)
            if (!state->slots[s].busy)
              submit_slot (driver, q, state, s, config->indirect);
          vhost_driver_kick (driver, q);
          done &= state->completed == config->requests;
        }
      if (done)
        break;
      for (guint q = 0; q < config->n_queues; q++)
        {
          QueueState *state = &states[q];
          guint64 tag;
          guint len;

          if (state->completed == state->submitted)
            continue;
          vhost_driver_wait (driver, q, 10000, &error);
          g_assert_no_error (error);
          while (vhost_driver_reap (driver, q, &tag, &len, &error))
            {
              g_assert_cmpuint (tag, <, SLOTS);
              check_slot (q, &state->slots[tag], len);
              state->completed++;
            }
          g_assert_no_error (error);
        }
    }

  g_assert_true (vhost_driver_stop (driver, &error));
  g_assert_no_error (error);
  for (guint q = 0; q < config->n_queues; q++)
    {
      guint base = vhost_driver_get_vring_base (driver, q);

      g_assert_cmpuint (vhost_driver_get_in_flight (driver, q), ==, 0);
      if (config->packed)
        {
          guint64 descs = states[q].descs;

          g_assert_cmpuint (base & 0x7fff, ==, descs % QUEUE_SIZE);
          g_assert_cmpuint ((base >> 15) & 1, ==, ((descs / QUEUE_SIZE) & 1) ^ 1);
          /* Everything came back: the used position (bits 16-31) is the available one. */
          g_assert_cmphex (base >> 16, ==, base & 0xffff);
        }
      else
        g_assert_cmpuint (base, ==, config->requests & 0xffff);
    }

  g_clear_object (&driver);
  g_clear_object (&master);
  vhost_test_slave_thread_free (thread);
  g_free (states);
  vhost_test_assert_fd_count (fds_before);
}

/* A driver that writes its split ring by hand, to break the rules. Guest memory:
 * region 0 at gpa 0 holds the ring and good buffers, region 1 at RAW_R1 more
 * buffers; both come from one memfd. */
#define RAW_NUM 8
#define RAW_R0 0x0
#define RAW_R1 0x100000
#define RAW_RSIZE 0x10000
#define RAW_BUF 0x8000 /* a good buffer in region 0 */
#define RAW_MARKER_RING 0x4000 /* queue 1's descriptors; its avail and used rings follow a page apart */
#define RAW_MARKER_BUF 0x7000

typedef struct
{
  gint fds_before;
  VhostTestSlaveThread *thread;
  VhostUserSlave *slave;      /* (unowned) lives in the thread */
  VhostUserMaster *master;
  int memfd;
  guint8 *mem;                /* both regions, back to back in our mapping */
  int kick, call, err;
  struct vring_desc *desc;
  struct vring_avail *avail;
  struct vring_used *used;
  guint16 avail_idx;
  /* Queue 1, in queue 0's worker: its chains are ordered markers (raw_marker()). */
  int kick1, call1;
  struct vring_desc *desc1;
  struct vring_avail *avail1;
  struct vring_used *used1;
  guint16 avail1_idx;
  int uffd;                   /* postcopy: the back-end's userfaultfd, or -1 */
} Raw;

/* The fixture's data for the postcopy test: guest memory is set while postcopy listens. */
static const char raw_postcopy[] = "postcopy";
/* The fixture's data for the device-state test: DEVICE_STATE negotiated. */
static const char raw_device_state[] = "device-state";

static Counter raw_broken;    /* broken signals seen */
static gint raw_popped;       /* (atomic) chains the device popped */

static void
count_handler (VhostVirtqueue *queue, gpointer user_data)
{
  VhostVirtqueueElement elem;
  struct iovec iov[16];

  while (vhost_virtqueue_pop (queue, &elem, iov, G_N_ELEMENTS (iov)))
    {
      guint32 written = 0;

      /* Claims to have written every writable byte (the dirty-log test looks). */
      for (guint i = elem.n_out; i < elem.n_out + elem.n_in; i++)
        written += iov[i].iov_len;
      g_atomic_int_inc (&raw_popped);
      vhost_virtqueue_push (queue, &elem, written);
    }
}

/* Postcopy: the readable bytes, reversed, into the writable buffer. */
static void
reverse_handler (VhostVirtqueue *queue, gpointer user_data)
{
  VhostVirtqueueElement elem;
  struct iovec iov[4];

  while (vhost_virtqueue_pop (queue, &elem, iov, G_N_ELEMENTS (iov)))
    {
      guint8 *in = iov[elem.n_out].iov_base;
      const guint8 *out = iov[0].iov_base;
      gsize len = MIN (iov[0].iov_len, iov[elem.n_out].iov_len);

      for (gsize i = 0; i < len; i++)
        in[i] = out[len - 1 - i];
      vhost_virtqueue_push (queue, &elem, len);
    }
}

/* Queue 1 gives every chain back at once. */
static void
marker_handler (VhostVirtqueue *queue, gpointer user_data)
{
  VhostVirtqueueElement elem;
  struct iovec iov[4];

  while (vhost_virtqueue_pop (queue, &elem, iov, G_N_ELEMENTS (iov)))
    vhost_virtqueue_push (queue, &elem, 0);
}

static void
broken_cb (VhostVirtqueue *queue, GError *error, gpointer user_data)
{
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_BROKEN);
  /* What broke it, even when the ring was set up again before the report came. */
  g_assert_cmpstr (error->message, !=, "");
  g_test_message ("broken: %s", error->message);
  counter_add (&raw_broken);
}

static void
setup_raw (VhostUserSlave *slave, gpointer data)
{
  VhostTestDevice *device = VHOST_TEST_DEVICE (slave);
  VhostVirtqueue *queue = vhost_user_slave_get_virtqueue (slave, 0);

  device->features = VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) |
                     VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_INDIRECT_DESC) |
                     VHOST_FEATURE_MASK (VHOST_VIRTIO_F_LOG_ALL);
  device->num_queues = 2;
  vhost_virtqueue_set_handler (queue, data == raw_postcopy ? reverse_handler : count_handler, NULL, NULL);
  g_signal_connect (queue, "broken", G_CALLBACK (broken_cb), NULL);
  queue = vhost_user_slave_get_virtqueue (slave, 1);
  vhost_virtqueue_set_handler (queue, marker_handler, NULL, NULL);
  vhost_virtqueue_set_worker_group (queue, 0);
}

static guint64
raw_uaddr (Raw *r, guint64 gpa)
{
  /* region 1 follows region 0 in our mapping and in the memfd */
  return (guint64) (guintptr) r->mem + (gpa >= RAW_R1 ? gpa - RAW_R1 + RAW_RSIZE : gpa);
}

/* A slave in a thread of its own, and a master connected to it. */
static VhostUserMaster *
raw_connect (gconstpointer data, VhostTestSlaveThread **thread)
{
  g_autoptr(GError) error = NULL;
  VhostUserMaster *master;
  int sv[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  *thread = vhost_test_slave_thread_new (VHOST_TYPE_TEST_DEVICE, sv[0], setup_raw, (gpointer) data);
  master = vhost_user_master_new_for_fd (sv[1]);
  g_assert_true (vhost_user_master_connect (master, NULL, &error));
  g_assert_no_error (error);
  return master;
}

/* Negotiate, share guest memory and set both vrings up through `master`; with
 * `start`, also their bases, enable them and set the status (a destination of a
 * device state leaves that to the state). */
static void
raw_bring_up (Raw *r, VhostUserMaster *master, gconstpointer data, gboolean start)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostMemoryRegion) r0 = NULL;
  g_autoptr(VhostMemoryRegion) r1 = NULL;
  g_autoptr(VhostVringAddr) addr = NULL;
  g_autoptr(VhostVringAddr) addr1 = NULL;
  VhostBackend *backend = VHOST_BACKEND (master);
  VhostMemoryRegion *regions[2];
  guint64 features;

  g_assert_true (vhost_backend_get_features (backend, &features, &error));
  g_assert_true (vhost_user_master_set_protocol_features (master,
                                                          VHOST_USER_PROTOCOL_F_REPLY_ACK |
                                                            VHOST_USER_PROTOCOL_F_STATUS |
                                                            VHOST_USER_PROTOCOL_F_LOG_SHMFD |
                                                            VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS |
                                                            VHOST_USER_PROTOCOL_F_BACKEND_REQ |
                                                            VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS |
                                                            (data == raw_postcopy ? VHOST_USER_PROTOCOL_F_PAGEFAULT : 0) |
                                                            (data == raw_device_state ? VHOST_USER_PROTOCOL_F_DEVICE_STATE : 0),
                                                          &error));
  g_assert_true (vhost_backend_set_owner (backend, &error));
  /* Dirty logging is turned on by the test that wants it. */
  features &= ~VHOST_FEATURE_MASK (VHOST_VIRTIO_F_LOG_ALL);
  g_assert_true (vhost_backend_set_features (backend, features, &error));
  r0 = vhost_memory_region_new (RAW_R0, RAW_RSIZE, raw_uaddr (r, RAW_R0), r->memfd, 0);
  r1 = vhost_memory_region_new (RAW_R1, RAW_RSIZE, raw_uaddr (r, RAW_R1), r->memfd, RAW_RSIZE);
  regions[0] = r0;
  regions[1] = r1;
  if (data == raw_postcopy)
    {
      /* Region 0 (the rings) has arrived, region 1 (the buffers) has not; the
       * table comes in two messages, so that both kinds of answer are read. */
      memset (r->mem, 0, RAW_RSIZE);
      r->uffd = vhost_user_master_postcopy_advise (master, &error);
      g_assert_no_error (error);
      g_assert_cmpint (r->uffd, >=, 0);
      g_assert_true (vhost_user_master_postcopy_listen (master, &error));
      g_assert_true (vhost_backend_set_mem_table (backend, regions, 1, &error));
      g_assert_true (vhost_user_master_add_mem_region (master, r1, &error));
    }
  else
    g_assert_true (vhost_backend_set_mem_table (backend, regions, 2, &error));
  addr = vhost_vring_addr_new (0, 0, raw_uaddr (r, 0), raw_uaddr (r, 0x2000), raw_uaddr (r, 0x1000), 0x2000);
  g_assert_true (vhost_backend_set_vring_num (backend, 0, RAW_NUM, &error));
  if (start)
    g_assert_true (vhost_backend_set_vring_base (backend, 0, 0, &error));
  g_assert_true (vhost_backend_set_vring_addr (backend, addr, &error));
  g_assert_true (vhost_backend_set_vring_kick (backend, 0, r->kick, &error));
  g_assert_true (vhost_backend_set_vring_call (backend, 0, r->call, &error));
  g_assert_true (vhost_backend_set_vring_err (backend, 0, r->err, &error));
  if (start)
    g_assert_true (vhost_backend_set_vring_enable (backend, 0, TRUE, &error));
  addr1 = vhost_vring_addr_new (1, 0, raw_uaddr (r, RAW_MARKER_RING), raw_uaddr (r, RAW_MARKER_RING + 0x2000),
                                raw_uaddr (r, RAW_MARKER_RING + 0x1000), RAW_MARKER_RING + 0x2000);
  g_assert_true (vhost_backend_set_vring_num (backend, 1, RAW_NUM, &error));
  if (start)
    g_assert_true (vhost_backend_set_vring_base (backend, 1, 0, &error));
  g_assert_true (vhost_backend_set_vring_addr (backend, addr1, &error));
  g_assert_true (vhost_backend_set_vring_kick (backend, 1, r->kick1, &error));
  g_assert_true (vhost_backend_set_vring_call (backend, 1, r->call1, &error));
  if (start)
    {
      g_assert_true (vhost_backend_set_vring_enable (backend, 1, TRUE, &error));
      g_assert_true (vhost_backend_set_status (backend, 0xf, &error));
    }
  g_assert_no_error (error);
}

static void
raw_setup (Raw *r, gconstpointer data)
{
  counter_reset (&raw_broken);
  g_atomic_int_set (&raw_popped, 0);
  r->fds_before = vhost_test_count_open_fds ();
  r->uffd = -1;
  r->master = raw_connect (data, &r->thread);
  r->slave = vhost_test_slave_thread_get_slave (r->thread);

  r->memfd = vhost_test_memfd (2 * RAW_RSIZE);
  r->mem = mmap (NULL, 2 * RAW_RSIZE, PROT_READ | PROT_WRITE, MAP_SHARED, r->memfd, 0);
  g_assert_true (r->mem != MAP_FAILED);
  r->desc = (struct vring_desc *) r->mem;
  r->avail = (struct vring_avail *) (r->mem + 0x1000);
  r->used = (struct vring_used *) (r->mem + 0x2000);
  r->kick = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  r->call = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  r->err = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  r->desc1 = (struct vring_desc *) (r->mem + RAW_MARKER_RING);
  r->avail1 = (struct vring_avail *) (r->mem + RAW_MARKER_RING + 0x1000);
  r->used1 = (struct vring_used *) (r->mem + RAW_MARKER_RING + 0x2000);
  r->kick1 = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  r->call1 = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  raw_bring_up (r, r->master, data, TRUE);
}

static void
raw_teardown (Raw *r, gconstpointer data)
{
  g_clear_object (&r->master);
  vhost_test_slave_thread_free (r->thread);
  munmap (r->mem, 2 * RAW_RSIZE);
  close (r->memfd);
  close (r->kick);
  close (r->call);
  close (r->err);
  close (r->kick1);
  close (r->call1);
  if (r->uffd >= 0)
    close (r->uffd);
  vhost_test_assert_fd_count (r->fds_before);
}

static void
raw_desc (Raw *r, guint i, guint64 addr, guint32 len, guint16 flags, guint16 next)
{
  r->desc[i] = (struct vring_desc) { .addr = addr, .len = len, .flags = flags, .next = next };
}

/* Make chain `head` available and kick. */
static void
raw_publish (Raw *r, guint16 head)
{
  r->avail->ring[r->avail_idx % RAW_NUM] = head;
  r->avail_idx++;
  __atomic_store_n (&r->avail->idx, r->avail_idx, __ATOMIC_RELEASE);
  eventfd_write (r->kick, 1);
}

static gboolean
fd_readable (int fd, int timeout_ms)
{
  struct pollfd pfd = { .fd = fd, .events = POLLIN };

  return poll (&pfd, 1, timeout_ms) == 1;
}

static void
raw_drain (int fd)
{
  eventfd_t value;

  g_assert_cmpint (eventfd_read (fd, &value), ==, 0);
}

/* A good chain goes through: the device is alive before the bad one. */
static void
raw_good_chain (Raw *r)
{
  gint before = g_atomic_int_get (&raw_popped);

  raw_desc (r, 0, RAW_BUF, 64, VRING_DESC_F_NEXT, 1);
  raw_desc (r, 1, RAW_R1 + 0x100, 64, VRING_DESC_F_WRITE, 0);
  raw_publish (r, 0);
  g_assert_true (fd_readable (r->call, 5000));
  raw_drain (r->call);
  g_assert_cmpint (g_atomic_int_get (&raw_popped), ==, before + 1);
  g_assert_cmpuint (__atomic_load_n (&r->used->idx, __ATOMIC_ACQUIRE), ==, r->avail_idx);
}

static void
assert_queue_broken (VhostUserSlave *slave, gpointer data)
{
  VhostVirtqueue *queue = vhost_user_slave_get_virtqueue (slave, 0);

  g_assert_true (vhost_virtqueue_get_broken (queue));
  g_assert_false (vhost_virtqueue_get_running (queue));
}

/* An ordered marker: a chain through queue 1, which shares queue 0's worker, given
 * back; twice. The worker takes every kick that is pending when it wakes, and calls
 * the queues it woke for before it sleeps again; so once the second marker is back,
 * the worker has gone round once more after the first one, and anything it was to
 * do with queue 0 for a kick written before the first marker is done and published. */
static void
raw_marker (Raw *r)
{
  for (guint round = 0; round < 2; round++)
    {
      r->desc1[0] = (struct vring_desc) { .addr = RAW_MARKER_BUF, .len = 16 };
      r->avail1->ring[r->avail1_idx % RAW_NUM] = 0;
      r->avail1_idx++;
      __atomic_store_n (&r->avail1->idx, r->avail1_idx, __ATOMIC_RELEASE);
      eventfd_write (r->kick1, 1);
      g_assert_true (fd_readable (r->call1, 5000));
      raw_drain (r->call1);
      g_assert_cmpuint (__atomic_load_n (&r->used1->idx, __ATOMIC_ACQUIRE), ==, r->avail1_idx);
    }
}

/* The device must have broken the queue: the error eventfd fires, the status says
 * NEEDS_RESET, the signal came, and nothing more is processed. */
static void
raw_assert_broken (Raw *r)
{
  g_autoptr(GError) error = NULL;
  guint8 status = 0;
  guint16 used_before = __atomic_load_n (&r->used->idx, __ATOMIC_ACQUIRE);
  gint popped = g_atomic_int_get (&raw_popped);

  g_assert_true (fd_readable (r->err, 5000));
  counter_wait (&raw_broken, 1, 5000);
  g_assert_cmpint (counter_get (&raw_broken), ==, 1);
  vhost_test_slave_thread_run (r->thread, assert_queue_broken, NULL);
  g_assert_true (vhost_user_master_get_status (r->master, &status, &error));
  g_assert_no_error (error);
  g_assert_cmphex (status & VHOST_VIRTIO_STATUS_NEEDS_RESET, ==, VHOST_VIRTIO_STATUS_NEEDS_RESET);
  /* A good chain, kicked, then the worker goes round past it: it stays unprocessed. */
  raw_desc (r, 2, RAW_BUF, 64, 0, 0);
  raw_publish (r, 2);
  raw_marker (r);
  g_assert_false (fd_readable (r->call, 0));
  g_assert_cmpint (g_atomic_int_get (&raw_popped), ==, popped);
  g_assert_cmpuint (__atomic_load_n (&r->used->idx, __ATOMIC_ACQUIRE), ==, used_before);
  g_assert_cmpint (counter_get (&raw_broken), ==, 1);
}

typedef void (*RawBreak) (Raw *r);

static void
break_loop (Raw *r)
{
  raw_desc (r, 3, RAW_BUF, 16, VRING_DESC_F_NEXT, 4);
  raw_desc (r, 4, RAW_BUF, 16, VRING_DESC_F_NEXT, 3);
  raw_publish (r, 3);
}

static void
break_too_long (Raw *r)
{
  /* Through every descriptor, then past the table. */
  for (guint i = 0; i < RAW_NUM; i++)
    raw_desc (r, i, RAW_BUF, 16, VRING_DESC_F_NEXT, i + 1);
  raw_publish (r, 0);
}

static void
break_nested_indirect (Raw *r)
{
  struct vring_desc *table = (struct vring_desc *) (r->mem + 0x3000);

  table[0] = (struct vring_desc) { .addr = 0x3100, .len = 32, .flags = VRING_DESC_F_INDIRECT };
  raw_desc (r, 3, 0x3000, 16, VRING_DESC_F_INDIRECT, 0);
  raw_publish (r, 3);
}

static void
break_indirect_empty (Raw *r)
{
  raw_desc (r, 3, 0x3000, 0, VRING_DESC_F_INDIRECT, 0);
  raw_publish (r, 3);
}

static void
break_indirect_odd (Raw *r)
{
  raw_desc (r, 3, 0x3000, 24, VRING_DESC_F_INDIRECT, 0);
  raw_publish (r, 3);
}

static void
break_outside (Raw *r)
{
  raw_desc (r, 3, 0x50000, 64, 0, 0); /* between the regions */
  raw_publish (r, 3);
}

static void
break_wrap (Raw *r)
{
  raw_desc (r, 3, G_MAXUINT64 - 0x10, 0x100, VRING_DESC_F_WRITE, 0);
  raw_publish (r, 3);
}

static void
break_past_region_end (Raw *r)
{
  raw_desc (r, 3, RAW_R1 + RAW_RSIZE - 0x10, 0x20, VRING_DESC_F_WRITE, 0);
  raw_publish (r, 3);
}

static void
break_avail_jump (Raw *r)
{
  raw_desc (r, 3, RAW_BUF, 16, 0, 0);
  r->avail_idx += RAW_NUM + 1;
  __atomic_store_n (&r->avail->idx, r->avail_idx, __ATOMIC_RELEASE);
  eventfd_write (r->kick, 1);
}

static void
break_head_out_of_range (Raw *r)
{
  raw_publish (r, RAW_NUM + 3);
}

static void
test_raw_break (Raw *r, gconstpointer data)
{
  RawBreak func = (RawBreak) data;

  raw_good_chain (r);
  func (r);
  raw_assert_broken (r);
}

static void
count_index_signal (VhostUserMaster *master, guint index, gpointer data)
{
  g_assert_cmpuint (index, ==, 0);
  (*(guint *) data)++;
}

/* Iterate the master's context until *counter reaches `n`, for 5 s at most. */
static void
wait_signal_count (guint *counter, guint n)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (*counter < n)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

/* In-band notifications: a vring without a call fd (SET_VRING_CALL with the
 * invalid-fd flag) is called with VRING_CALL on the back-end channel; one
 * without an err fd is told of its breakage with VRING_ERR. */
static void
test_raw_inband (Raw *r, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  guint calls = 0, errs = 0;
  gulong call_id = g_signal_connect (r->master, "vring-call", G_CALLBACK (count_index_signal), &calls);
  gulong err_id = g_signal_connect (r->master, "vring-err", G_CALLBACK (count_index_signal), &errs);

  g_assert_true (vhost_backend_set_vring_call (VHOST_BACKEND (r->master), 0, -1, &error));
  g_assert_no_error (error);
  g_assert_true (vhost_backend_set_vring_err (VHOST_BACKEND (r->master), 0, -1, &error));
  g_assert_no_error (error);
  raw_desc (r, 0, RAW_BUF, 64, VRING_DESC_F_NEXT, 1);
  raw_desc (r, 1, RAW_R1 + 0x100, 64, VRING_DESC_F_WRITE, 0);
  raw_publish (r, 0);
  wait_signal_count (&calls, 1);
  g_assert_cmpuint (__atomic_load_n (&r->used->idx, __ATOMIC_ACQUIRE), ==, r->avail_idx);
  g_assert_false (fd_readable (r->call, 0));
  g_assert_cmpuint (errs, ==, 0);
  /* A descriptor outside guest memory breaks the queue: VRING_ERR. */
  raw_desc (r, 3, 0x50000, 64, 0, 0);
  raw_publish (r, 3);
  wait_signal_count (&errs, 1);
  g_signal_handler_disconnect (r->master, call_id);
  g_signal_handler_disconnect (r->master, err_id);
}

/* REM_MEM_REG under a running queue: the queue is quiesced while the region goes,
 * and a chain that still points into it breaks the queue instead of touching it. */
static void
test_raw_region_removed (Raw *r, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostMemoryRegion) r1 = NULL;

  raw_good_chain (r);
  r1 = vhost_memory_region_new (RAW_R1, RAW_RSIZE, raw_uaddr (r, RAW_R1), r->memfd, RAW_RSIZE);
  g_assert_true (vhost_user_master_remove_mem_region (r->master, r1, &error));
  g_assert_no_error (error);
  /* Region 0 still works. */
  raw_desc (r, 0, RAW_BUF, 64, 0, 0);
  raw_publish (r, 0);
  g_assert_true (fd_readable (r->call, 5000));
  raw_drain (r->call);
  g_assert_cmpint (g_atomic_int_get (&raw_popped), ==, 2);
  /* Region 1 is gone. */
  raw_desc (r, 1, RAW_R1 + 0x100, 64, VRING_DESC_F_WRITE, 0);
  raw_publish (r, 1);
  raw_assert_broken (r);
}

/* SET_VRING_KICK without an fd asks for polling: chains are processed with no
 * kick at all, and in-band kicks (VRING_KICK) are taken too. */
static void
test_raw_polled (Raw *r, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  raw_good_chain (r);
  g_assert_true (vhost_backend_set_vring_kick (VHOST_BACKEND (r->master), 0, -1, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < 3; i++)
    {
      raw_desc (r, 0, RAW_BUF, 64, 0, 0);
      r->avail->ring[r->avail_idx % RAW_NUM] = 0;
      r->avail_idx++;
      __atomic_store_n (&r->avail->idx, r->avail_idx, __ATOMIC_RELEASE);
      if (i == 2)
        {
          g_assert_true (vhost_user_master_vring_kick (r->master, 0, &error));
          g_assert_no_error (error);
        }
      g_assert_true (fd_readable (r->call, 5000));
      raw_drain (r->call);
      g_assert_cmpuint (__atomic_load_n (&r->used->idx, __ATOMIC_ACQUIRE), ==, r->avail_idx);
    }
  g_assert_cmpint (g_atomic_int_get (&raw_popped), ==, 4);
}

/* Migration: with VHOST_F_LOG_ALL and a log (at a non-zero offset in its memfd),
 * the device marks the pages it writes, and the used ring's page. */
static void
test_raw_dirty_log (Raw *r, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  guint64 features = 0;
  int log_fd = vhost_test_memfd (2 * 4096);
  guint8 *log;

  log = mmap (NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, log_fd, 0);
  g_assert_true (log != MAP_FAILED);
  g_assert_true (vhost_backend_get_features (VHOST_BACKEND (r->master), &features, &error));
  g_assert_true (vhost_backend_set_log_base (VHOST_BACKEND (r->master), 4096, 4096, log_fd, &error));
  g_assert_true (vhost_backend_set_features (VHOST_BACKEND (r->master),
                                             vhost_user_master_get_acked_features (r->master) |
                                               VHOST_FEATURE_MASK (VHOST_VIRTIO_F_LOG_ALL),
                                             &error));
  g_assert_no_error (error);
  /* The used ring's writes are logged where SET_VRING_ADDR with VHOST_VRING_F_LOG
   * says: its log_guest_addr, 0x2000 (page 2), the ring's own guest address. */
  {
    g_autoptr(VhostVringAddr) addr = vhost_vring_addr_new (0, 1u << VHOST_VRING_F_LOG, raw_uaddr (r, 0),
                                                           raw_uaddr (r, 0x2000), raw_uaddr (r, 0x1000), 0x2000);

    g_assert_true (vhost_backend_set_vring_addr (VHOST_BACKEND (r->master), addr, &error));
    g_assert_no_error (error);
  }
  /* A chain whose writable buffer spans guest pages 0x101 and 0x102 (region 1). */
  raw_desc (r, 0, RAW_BUF, 64, VRING_DESC_F_NEXT, 1);
  raw_desc (r, 1, RAW_R1 + 0x1f00, 0x200, VRING_DESC_F_WRITE, 0);
  raw_publish (r, 0);
  g_assert_true (fd_readable (r->call, 5000));
  raw_drain (r->call);
  /* Pages 0x101 and 0x102 (the buffer) and 2 (the used ring): bits in bytes 32 and 0. */
  g_assert_cmphex (log[4096 + 32], ==, (1 << 1) | (1 << 2));
  g_assert_cmphex (log[4096 + 0], ==, 1 << 2);
  for (guint i = 1; i < 4096; i++)
    if (i != 32)
      g_assert_cmpuint (log[4096 + i], ==, 0);
  /* Nothing before the log's offset was touched. */
  for (guint i = 0; i < 4096; i++)
    g_assert_cmpuint (log[i], ==, 0);
  munmap (log, 2 * 4096);
  close (log_fd);
}

/* After a broken queue the front-end can set the ring up again: GET_VRING_BASE, a
 * fresh SET_VRING_BASE and kick fd, and the device processes chains again. */
static void
test_raw_recover (Raw *r, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  guint base = 0;
  int kick;

  raw_good_chain (r);
  break_loop (r);
  raw_assert_broken (r);
  g_assert_true (vhost_backend_get_vring_base (VHOST_BACKEND (r->master), 0, &base, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (base, ==, 1); /* the good chain; the broken one is not consumed */
  r->avail_idx = 0;
  r->avail->idx = 0;
  r->used->idx = 0;
  g_assert_true (vhost_backend_set_vring_base (VHOST_BACKEND (r->master), 0, 0, &error));
  kick = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  g_assert_true (vhost_backend_set_vring_kick (VHOST_BACKEND (r->master), 0, kick, &error));
  g_assert_no_error (error);
  close (r->kick);
  r->kick = kick;
  raw_good_chain (r);
}

/* Main-context dispatch, as bindings use it: the kick is a signal on the slave's
 * context and requests are popped, filled and pushed there. */
static void
kick_cb (VhostVirtqueue *queue, gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  VhostVirtqueueRequest *request;

  while ((request = vhost_virtqueue_pop_request (queue, &error)) != NULL)
    {
      g_autoptr(GBytes) in = vhost_virtqueue_request_read (request, &error);
      gsize size;
      const guint8 *p = g_bytes_get_data (in, &size);
      g_autofree guint8 *reversed = g_malloc (size);
      g_autoptr(GBytes) out = NULL;

      for (gsize i = 0; i < size; i++)
        reversed[i] = p[size - 1 - i];
      out = g_bytes_new (reversed, size);
      g_assert_cmpuint (vhost_virtqueue_request_get_writable_size (request), >=, size);
      g_assert_true (vhost_virtqueue_request_write (request, 0, out, &error));
      /* Writing past the end is refused. */
      g_assert_false (vhost_virtqueue_request_write (request, vhost_virtqueue_request_get_writable_size (request),
                                                     out, NULL));
      g_assert_true (vhost_virtqueue_push_request (queue, request, size, &error));
      vhost_virtqueue_request_unref (request);
    }
  g_assert_no_error (error);
}

static void
setup_main_context (VhostUserSlave *slave, gpointer data)
{
  VhostTestDevice *device = VHOST_TEST_DEVICE (slave);
  VhostVirtqueue *queue = vhost_user_slave_get_virtqueue (slave, 0);

  device->features = device_features ();
  device->num_queues = 1;
  vhost_virtqueue_set_dispatch (queue, VHOST_VIRTQUEUE_DISPATCH_MAIN_CONTEXT);
  g_signal_connect (queue, "kick", G_CALLBACK (kick_cb), NULL);
}

typedef struct
{
  guint completed;
  guint8 *out, *in;
  gsize len;
} WatchState;

static void
completion_cb (VhostDriver *driver, guint queue, guint64 tag, guint len, gpointer user_data)
{
  WatchState *state = user_data;

  g_assert_cmpuint (len, ==, state->len);
  for (gsize i = 0; i < len; i++)
    g_assert_cmpuint (state->in[i], ==, state->out[len - 1 - i]);
  g_assert_cmpuint (tag, ==, state->completed);
  state->completed++;
}

/* A device of `setup` in a slave thread, served over a socket pair to a VhostDriver
 * (1 MiB of memory) started with one queue of 16 and `features`. */
static VhostDriver *
start_driver (void (*setup) (VhostUserSlave *slave, gpointer data),
              guint64 features,
              VhostTestSlaveThread **thread,
              VhostUserMaster **master)
{
  g_autoptr(GError) error = NULL;
  VhostDriver *driver;
  int sv[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  *thread = vhost_test_slave_thread_new (VHOST_TYPE_TEST_DEVICE, sv[0], setup, NULL);
  *master = vhost_user_master_new_for_fd (sv[1]);
  g_assert_true (vhost_user_master_connect (*master, NULL, &error));
  g_assert_no_error (error);
  driver = vhost_driver_new (VHOST_BACKEND (*master), 1024 * 1024, &error);
  g_assert_no_error (error);
  g_assert_true (vhost_driver_start (driver, 1, 16, features, &error));
  g_assert_no_error (error);
  return driver;
}

/* Postcopy driven by VhostUserMaster: the master learns where the back-end mapped
 * guest memory, translates the back-end's faults to guest addresses, and the
 * request whose buffers had not arrived completes once the test placed them. */
static void
test_raw_postcopy (Raw *r, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostMemoryRegion) r1 = NULL;
  guint64 backend0, backend1, gpa;
  guint faults = 0;
  guint8 *out = r->mem + RAW_RSIZE, *in = r->mem + RAW_RSIZE + 0x1000;

  /* The back-end's addresses: its own mapping, not ours, and both ways agree. */
  g_assert_true (vhost_user_master_postcopy_to_backend (r->master, RAW_R0 + 0x10, &backend0));
  g_assert_true (vhost_user_master_postcopy_to_backend (r->master, RAW_R1, &backend1));
  g_assert_cmphex (backend0, !=, raw_uaddr (r, RAW_R0 + 0x10));
  g_assert_true (vhost_user_master_postcopy_to_guest (r->master, backend1 + 0x123, &gpa));
  g_assert_cmphex (gpa, ==, RAW_R1 + 0x123);
  g_assert_false (vhost_user_master_postcopy_to_backend (r->master, RAW_R1 + RAW_RSIZE, &backend1));

  raw_desc (r, 0, RAW_R1, 32, VRING_DESC_F_NEXT, 1);
  raw_desc (r, 1, RAW_R1 + 0x1000, 32, VRING_DESC_F_WRITE, 0);
  raw_publish (r, 0);
  while (!fd_readable (r->call, 0))
    {
      struct pollfd pfd[2] = { { r->uffd, POLLIN, 0 }, { r->call, POLLIN, 0 } };
      struct uffd_msg event;
      struct uffdio_range range;

      g_assert_cmpint (poll (pfd, 2, 10000), >, 0);
      if (!(pfd[0].revents & POLLIN))
        continue;
      g_assert_cmpint (read (r->uffd, &event, sizeof event), ==, sizeof event);
      g_assert_cmpuint (event.event, ==, UFFD_EVENT_PAGEFAULT);
      g_assert_true (vhost_user_master_postcopy_to_guest (r->master, event.arg.pagefault.address, &gpa));
      gpa &= ~(guint64) 0xfff;
      g_assert_true (gpa == RAW_R1 || gpa == RAW_R1 + 0x1000);
      /* The page arrives through our mapping, then the back-end is woken. */
      if (gpa == RAW_R1)
        for (guint i = 0; i < 32; i++)
          out[i] = 100 + i;
      else
        in[0] = 0;
      g_assert_true (vhost_user_master_postcopy_to_backend (r->master, gpa, &backend1));
      range.start = backend1;
      range.len = 4096;
      g_assert_cmpint (ioctl (r->uffd, UFFDIO_WAKE, &range), ==, 0);
      faults++;
    }
  g_assert_cmpuint (faults, ==, 2);
  g_assert_cmpuint (__atomic_load_n (&r->used->idx, __ATOMIC_ACQUIRE), ==, 1);
  g_assert_cmpuint (r->used->ring[0].id, ==, 0);
  g_assert_cmpuint (r->used->ring[0].len, ==, 32);
  for (guint i = 0; i < 32; i++)
    g_assert_cmpuint (in[i], ==, 100 + 31 - i);

  /* A region removed is forgotten; the end forgets everything. */
  r1 = vhost_memory_region_new (RAW_R1, RAW_RSIZE, raw_uaddr (r, RAW_R1), r->memfd, RAW_RSIZE);
  g_assert_true (vhost_user_master_remove_mem_region (r->master, r1, &error));
  g_assert_no_error (error);
  g_assert_false (vhost_user_master_postcopy_to_backend (r->master, RAW_R1, &backend1));
  g_assert_true (vhost_user_master_postcopy_to_backend (r->master, RAW_R0, &backend0));
  g_assert_true (vhost_user_master_postcopy_end (r->master, &error));
  g_assert_no_error (error);
  g_assert_false (vhost_user_master_postcopy_to_backend (r->master, RAW_R0, &backend0));
  g_assert_true (vhost_user_master_get_connected (r->master));
}

static void
set_config_marker (VhostUserSlave *slave, gpointer data)
{
  VHOST_TEST_DEVICE (slave)->config[0] = 0xab;
}

static void
assert_state_loaded (VhostUserSlave *slave, gpointer data)
{
  g_assert_cmpuint (VHOST_TEST_DEVICE (slave)->states_loaded, ==, 1);
  g_assert_cmpuint (VHOST_TEST_DEVICE (slave)->config[0], ==, 0xab);
}

/* Moves the device state through a pipe: the source writes it, or the destination reads it. */
static GByteArray *
raw_transfer (VhostUserMaster *master, VhostDeviceStateDirection direction, GByteArray *state)
{
  g_autoptr(GError) error = NULL;
  GByteArray *out = g_byte_array_new ();
  int pipe_fds[2], other_fd = 0;
  guint8 buf[512];
  gssize n;

  g_assert_cmpint (pipe2 (pipe_fds, O_CLOEXEC), ==, 0);
  g_assert_true (vhost_user_master_set_device_state_fd (master, direction, VHOST_DEVICE_STATE_PHASE_STOPPED,
                                                        pipe_fds[direction == VHOST_DEVICE_STATE_DIRECTION_SAVE ? 1 : 0],
                                                        &other_fd, &error));
  g_assert_no_error (error);
  g_assert_cmpint (other_fd, ==, -1);
  close (pipe_fds[direction == VHOST_DEVICE_STATE_DIRECTION_SAVE ? 1 : 0]);
  if (direction == VHOST_DEVICE_STATE_DIRECTION_SAVE)
    {
      while ((n = read (pipe_fds[0], buf, sizeof buf)) > 0)
        g_byte_array_append (out, buf, n);
      g_assert_cmpint (n, ==, 0);
      close (pipe_fds[0]);
    }
  else
    {
      g_assert_cmpint (write (pipe_fds[1], state->data, state->len), ==, (gssize) state->len);
      close (pipe_fds[1]);
    }
  g_assert_true (vhost_user_master_check_device_state (master, &error));
  g_assert_no_error (error);
  return out;
}

/* A running device moved between two slaves by a master: the source stops with
 * chains waiting in the ring, its state (ring positions, the device's own bytes
 * from save_state) goes through a pipe to a destination set up on the same
 * memory, which takes the waiting chains and then new ones. */
static void
test_raw_device_state (Raw *r, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GByteArray) state = NULL;
  g_autoptr(GByteArray) none = NULL;
  g_autoptr(VhostUserMaster) master2 = NULL;
  VhostTestSlaveThread *thread2;
  gint before;
  guint base;

  raw_good_chain (r);
  raw_good_chain (r);
  vhost_test_slave_thread_run (r->thread, set_config_marker, NULL);
  g_assert_true (vhost_backend_get_vring_base (VHOST_BACKEND (r->master), 0, &base, &error));
  g_assert_cmpuint (base, ==, 2);
  g_assert_true (vhost_backend_get_vring_base (VHOST_BACKEND (r->master), 1, &base, &error));

  /* Three chains wait in the ring while the device moves. */
  before = g_atomic_int_get (&raw_popped);
  for (guint16 head = 2; head < 8; head += 2)
    {
      raw_desc (r, head, RAW_BUF + head * 64, 64, VRING_DESC_F_NEXT, head + 1);
      raw_desc (r, head + 1, RAW_R1 + 0x100 + head * 64, 64, VRING_DESC_F_WRITE, 0);
      raw_publish (r, head);
    }
  state = raw_transfer (r->master, VHOST_DEVICE_STATE_DIRECTION_SAVE, NULL);
  g_assert_cmpuint (state->len, >, 16);
  g_assert_cmpmem (state->data, 16, "vhost-glib-state", 16);
  g_assert_cmpint (g_atomic_int_get (&raw_popped), ==, before);

  /* The destination, on the same memory and eventfds; the state starts its vrings. */
  master2 = raw_connect (data, &thread2);
  raw_bring_up (r, master2, data, FALSE);
  none = raw_transfer (master2, VHOST_DEVICE_STATE_DIRECTION_LOAD, state);
  vhost_test_slave_thread_run (thread2, assert_state_loaded, NULL);
  eventfd_write (r->kick, 1);
  while (__atomic_load_n (&r->used->idx, __ATOMIC_ACQUIRE) != 5)
    {
      g_assert_true (fd_readable (r->call, 5000));
      raw_drain (r->call);
    }
  /* Once the worker went round past them (raw_marker()), their last call is in. */
  raw_marker (r);
  if (fd_readable (r->call, 0))
    raw_drain (r->call);
  g_assert_cmpint (g_atomic_int_get (&raw_popped), ==, before + 3);
  for (guint i = 0; i < 3; i++)
    g_assert_cmpuint (r->used->ring[2 + i].id, ==, 2 + 2 * i);
  raw_good_chain (r);
  raw_good_chain (r);

  /* A state that is not one is refused by the destination's check. */
  g_byte_array_set_size (state, 20);
  {
    int pipe_fds[2], other_fd;

    g_assert_true (vhost_backend_get_vring_base (VHOST_BACKEND (master2), 0, &base, &error));
    g_assert_cmpint (pipe2 (pipe_fds, O_CLOEXEC), ==, 0);
    g_assert_true (vhost_user_master_set_device_state_fd (master2, VHOST_DEVICE_STATE_DIRECTION_LOAD,
                                                          VHOST_DEVICE_STATE_PHASE_STOPPED, pipe_fds[0], &other_fd, &error));
    close (pipe_fds[0]);
    g_assert_cmpint (write (pipe_fds[1], state->data, state->len), ==, 20);
    close (pipe_fds[1]);
    g_assert_false (vhost_user_master_check_device_state (master2, &error));
    g_assert_error (error, VHOST_ERROR, VHOST_ERROR_REJECTED);
  }
  g_clear_object (&master2);
  vhost_test_slave_thread_free (thread2);
}

static void
test_main_context_dispatch (void)
{
  gint fds_before = vhost_test_count_open_fds ();
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserMaster) master = NULL;
  g_autoptr(VhostDriver) driver = NULL;
  VhostTestSlaveThread *thread;
  WatchState state = { 0 };
  guint64 out_addr, in_addr;

  driver = start_driver (setup_main_context, device_features (), &thread, &master);
  g_assert_true (vhost_driver_alloc (driver, 4096, &out_addr, &error));
  g_assert_true (vhost_driver_alloc (driver, 4096, &in_addr, &error));
  state.out = vhost_driver_get_host_address (driver, out_addr, 4096);
  state.in = vhost_driver_get_host_address (driver, in_addr, 4096);
  vhost_driver_watch (driver, 0, completion_cb, &state, NULL);

  /* One request at a time, each checked by the callback. */
  for (guint i = 0; i < 200; i++)
    {
      VhostDriverBuffer out = { out_addr, 0 }, in = { in_addr, 4096 };

      state.len = out.len = g_test_rand_int_range (1, 4097);
      for (gsize j = 0; j < state.len; j++)
        state.out[j] = g_test_rand_int ();
      g_assert_true (vhost_driver_submit (driver, 0, &out, 1, &in, 1, i, &error));
      g_assert_no_error (error);
      vhost_driver_kick (driver, 0);
      while (state.completed == i)
        g_main_context_iteration (NULL, TRUE);
    }
  g_assert_cmpuint (state.completed, ==, 200);
  g_assert_true (vhost_driver_stop (driver, &error));
  /* A packed ring of 16, 200 one-descriptor (indirect) chains: 12 wraps, then 8. */
  g_assert_true (vhost_driver_get_acked_features (driver) & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED));
  /* Packed: the available position (bits 0-15) and the used one (16-31), both 8 in wrap 1. */
  g_assert_cmphex (vhost_driver_get_vring_base (driver, 0), ==, (8 | 0x8000) * 0x10001u);
  g_clear_object (&driver);
  g_clear_object (&master);
  vhost_test_slave_thread_free (thread);
  vhost_test_assert_fd_count (fds_before);
}

/* An asynchronous device: its handler keeps the chains it pops, and gives them back
 * (echoed) only once the test releases them and writes the queue's event fd; or in
 * the drain handler when the queue stops. */
#define ASYNC_CHAINS 12

typedef struct
{
  int event;                                  /* eventfd: the queue's event fd */
  gboolean poll;                              /* busy polling on */
  VhostVirtqueueElement held[ASYNC_CHAINS];
  struct iovec iov[ASYNC_CHAINS][4];
  guint n_held;                               /* (owned by the queue's thread) */
  gint released, pushed, drained;             /* (atomic) */
} Async;

static Async async_device;
static Counter async_popped;                  /* chains the handler took */
static Counter async_calls;                   /* handler calls begun */

static void
async_give_back (VhostVirtqueue *queue, guint n)
{
  for (guint i = 0; i < n; i++)
    {
      VhostVirtqueueElement *elem = &async_device.held[i];
      guint8 buffer[256];
      gsize len = vhost_virtqueue_element_read (elem, 0, buffer, sizeof buffer);

      g_assert_cmpuint (len, ==, vhost_virtqueue_element_get_readable_size (elem));
      for (gsize j = 0; j < len; j++)
        buffer[j] ^= 0xa5;
      g_assert_cmpuint (vhost_virtqueue_element_write (elem, 0, buffer, len), ==, len);
      vhost_virtqueue_push (queue, elem, len);
      g_atomic_int_inc (&async_device.pushed);
    }
  async_device.n_held -= n;
  memmove (async_device.held, async_device.held + n, async_device.n_held * sizeof async_device.held[0]);
  for (guint i = 0; i < async_device.n_held; i++)
    {
      memcpy (async_device.iov[i], async_device.held[i].iov, 4 * sizeof (struct iovec));
      async_device.held[i].iov = async_device.iov[i];
    }
}

static void
async_handler (VhostVirtqueue *queue, gpointer user_data)
{
  guint released, done;

  counter_add (&async_calls);
  released = g_atomic_int_get (&async_device.released);
  done = g_atomic_int_get (&async_device.pushed);
  /* Completions first: those the test released. */
  if (released > done)
    async_give_back (queue, MIN (released - done, async_device.n_held));
  while (async_device.n_held < ASYNC_CHAINS &&
         vhost_virtqueue_pop (queue, &async_device.held[async_device.n_held], async_device.iov[async_device.n_held], 4))
    {
      async_device.n_held++;
      counter_add (&async_popped);
    }
}

static void
async_drain (VhostVirtqueue *queue, gpointer user_data)
{
  g_atomic_int_add (&async_device.drained, async_device.n_held);
  async_give_back (queue, async_device.n_held);
}

static void
setup_async (VhostUserSlave *slave, gpointer data)
{
  VhostTestDevice *device = VHOST_TEST_DEVICE (slave);
  VhostVirtqueue *queue = vhost_user_slave_get_virtqueue (slave, 0);
  g_autoptr(GError) error = NULL;

  device->features = device_features ();
  device->num_queues = 1;
  vhost_user_slave_set_busy_poll_us (slave, async_device.poll ? 50 : 0);
  vhost_virtqueue_set_handler (queue, async_handler, NULL, NULL);
  vhost_virtqueue_set_drain_handler (queue, async_drain, NULL, NULL);
  g_assert_true (vhost_virtqueue_set_event_fd (queue, async_device.event, &error));
  g_assert_no_error (error);
  g_assert_cmpint (vhost_virtqueue_get_event_fd (queue), ==, async_device.event);
}

/* Requests complete only when the event fd says so; the ones still held when the
 * front-end stops the queue are given back by the drain handler, before
 * GET_VRING_BASE is answered. */
static void
test_async (gconstpointer data)
{
  gint fds_before = vhost_test_count_open_fds ();
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserMaster) master = NULL;
  g_autoptr(VhostDriver) driver = NULL;
  VhostTestSlaveThread *thread;
  guint64 out_addr[ASYNC_CHAINS], in_addr[ASYNC_CHAINS];
  guint8 *out[ASYNC_CHAINS], *in[ASYNC_CHAINS];
  guint64 tag;
  guint len, completed = 0;
  eventfd_t value;
  gint calls;

  memset (&async_device, 0, sizeof async_device);
  counter_reset (&async_popped);
  counter_reset (&async_calls);
  async_device.poll = GPOINTER_TO_INT (data);
  async_device.event = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  driver = start_driver (setup_async, device_features (), &thread, &master);
  for (guint i = 0; i < ASYNC_CHAINS; i++)
    {
      g_assert_true (vhost_driver_alloc (driver, 256, &out_addr[i], &error));
      g_assert_true (vhost_driver_alloc (driver, 256, &in_addr[i], &error));
      out[i] = vhost_driver_get_host_address (driver, out_addr[i], 256);
      in[i] = vhost_driver_get_host_address (driver, in_addr[i], 256);
      for (guint j = 0; j < 256; j++)
        out[i][j] = g_test_rand_int ();
    }

  /* Round one: 8 requests, held by the device until released. */
  for (guint i = 0; i < 8; i++)
    {
      VhostDriverBuffer o = { out_addr[i], 100 + i }, n = { in_addr[i], 256 };

      g_assert_true (vhost_driver_submit (driver, 0, &o, 1, &n, 1, i, &error));
    }
  vhost_driver_kick (driver, 0);
  counter_wait (&async_popped, 8, 5000);
  g_assert_cmpint (counter_get (&async_popped), ==, 8);
  /* None completes while held. A handler call that begins after the one that took
   * the eighth chain comes after that one's pushes were published: wake one with
   * the event fd (nothing released), and wait for it before looking. */
  calls = counter_get (&async_calls);
  g_assert_cmpint (eventfd_write (async_device.event, 1), ==, 0);
  counter_wait (&async_calls, calls + 1, 5000);
  g_assert_cmpint (eventfd_read (async_device.event, &value), ==, 0);
  g_assert_false (vhost_driver_reap (driver, 0, &tag, &len, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_atomic_int_get (&async_device.pushed), ==, 0);

  /* Release 5: only the event fd wakes the handler (no kick, no new chain). */
  g_atomic_int_set (&async_device.released, 5);
  g_assert_cmpint (eventfd_write (async_device.event, 1), ==, 0);
  while (completed < 5)
    {
      g_assert_true (vhost_driver_wait (driver, 0, 10000, &error));
      while (vhost_driver_reap (driver, 0, &tag, &len, &error))
        {
          g_assert_cmpuint (tag, ==, completed);
          g_assert_cmpuint (len, ==, 100 + tag);
          for (guint j = 0; j < len; j++)
            g_assert_cmpuint (in[tag][j], ==, out[tag][j] ^ 0xa5);
          completed++;
        }
    }
  g_assert_cmpuint (completed, ==, 5);
  g_assert_cmpint (g_atomic_int_get (&async_device.pushed), ==, 5);

  /* The other 3 are still held when the queue stops: the drain handler gives them
   * back, data written, before the ring state is reported. */
  g_assert_true (vhost_driver_stop (driver, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_atomic_int_get (&async_device.drained), ==, 3);
  g_assert_cmpint (g_atomic_int_get (&async_device.pushed), ==, 8);
  for (guint i = 5; i < 8; i++)
    for (guint j = 0; j < 100 + i; j++)
      g_assert_cmpuint (in[i][j], ==, out[i][j] ^ 0xa5);
  /* Packed: the available position (bits 0-15) and the used one (16-31), both 8 in wrap 1. */
  g_assert_cmphex (vhost_driver_get_vring_base (driver, 0), ==, (8 | 0x8000) * 0x10001u);

  g_clear_object (&driver);
  g_clear_object (&master);
  vhost_test_slave_thread_free (thread);
  close (async_device.event);
  vhost_test_assert_fd_count (fds_before);
}

/* A binding that holds a request while the front-end replaces the memory table:
 * the request's buffers are gone, and reading, writing or pushing it says so. */
static VhostVirtqueueRequest *held_request;
static Counter held;

static void
hold_cb (VhostVirtqueue *queue, gpointer user_data)
{
  g_autoptr(GError) error = NULL;

  if (held_request == NULL)
    held_request = vhost_virtqueue_pop_request (queue, &error);
  g_assert_no_error (error);
  if (held_request != NULL && counter_get (&held) == 0)
    counter_add (&held);
}

static void
setup_hold (VhostUserSlave *slave, gpointer data)
{
  VhostTestDevice *device = VHOST_TEST_DEVICE (slave);
  VhostVirtqueue *queue = vhost_user_slave_get_virtqueue (slave, 0);

  device->features = VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1);
  device->num_queues = 1;
  vhost_virtqueue_set_dispatch (queue, VHOST_VIRTQUEUE_DISPATCH_MAIN_CONTEXT);
  g_signal_connect (queue, "kick", G_CALLBACK (hold_cb), NULL);
}

static void
use_stale_request (VhostUserSlave *slave, gpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_bytes_new_static ("x", 1);

  g_assert_null (vhost_virtqueue_request_read (held_request, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_BROKEN);
  g_clear_error (&error);
  g_assert_false (vhost_virtqueue_request_write (held_request, 0, bytes, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_BROKEN);
  g_clear_error (&error);
  g_assert_false (vhost_virtqueue_push_request (vhost_user_slave_get_virtqueue (slave, 0), held_request, 1, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_BROKEN);
  g_clear_pointer (&held_request, vhost_virtqueue_request_unref);
}

static void
test_request_outlives_memory (void)
{
  gint fds_before = vhost_test_count_open_fds ();
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserMaster) master = NULL;
  g_autoptr(VhostDriver) driver = NULL;
  g_autoptr(VhostMemoryRegion) region = NULL;
  VhostTestSlaveThread *thread;
  VhostDriverBuffer out;
  guint64 addr;

  counter_reset (&held);
  driver = start_driver (setup_hold, VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1), &thread, &master);
  g_assert_true (vhost_driver_alloc (driver, 64, &addr, &error));
  g_assert_no_error (error);
  out = (VhostDriverBuffer) { addr, 64 };
  g_assert_true (vhost_driver_submit (driver, 0, &out, 1, NULL, 0, 1, &error));
  vhost_driver_kick (driver, 0);
  counter_wait (&held, 1, 5000);
  g_assert_cmpint (counter_get (&held), ==, 1);

  /* The front-end sends the memory table again: the old mappings go. */
  region = vhost_memory_region_new (0, 1024 * 1024, (guint64) (guintptr) vhost_driver_get_host_address (driver, 0, 1),
                                    vhost_driver_get_memory_fd (driver), 0);
  g_assert_true (vhost_backend_set_mem_table (VHOST_BACKEND (master), &region, 1, &error));
  g_assert_no_error (error);
  vhost_test_slave_thread_run (thread, use_stale_request, NULL);

  g_clear_pointer (&region, vhost_memory_region_unref);
  g_clear_object (&driver);
  g_clear_object (&master);
  vhost_test_slave_thread_free (thread);
  vhost_test_assert_fd_count (fds_before);
}

/* vhost_virtqueue_element_read(), _write() and _write_streaming() against a byte
 * map of the chain, with buffers of odd sizes at odd alignments: every offset, and
 * lengths around the streaming stores' whole lines. Bytes outside the copy, and
 * between the buffers, must stay as they were. */
static void
test_element_copy (void)
{
  static const gsize sizes[] = { 1, 63, 64, 65, 200, 7, 130, 300 };
  static const gsize lengths[] = { 0, 1, 12, 63, 64, 65, 127, 128, 129, 260, 1000 };
  static const gsize shifts[] = { 0, 1, 13, 60 };
  struct iovec iov[G_N_ELEMENTS (sizes)];
  enum { MEMORY = 2048 };
  guint8 *memory = g_malloc (MEMORY), *expected = g_malloc (MEMORY), *where[1024], source[1024], back[1024];
  gsize total = 0;

  for (gsize i = 0; i < sizeof source; i++)
    source[i] = g_test_rand_int ();
  for (guint a = 0; a < G_N_ELEMENTS (shifts); a++)
    {
      /* Two readable buffers, then the rest writable, with gaps of 32 bytes and the shift. */
      VhostVirtqueueElement elem = { .n_out = 2, .n_in = G_N_ELEMENTS (sizes) - 2, .iov = iov };
      gsize pos = 64 + shifts[a], readable = sizes[0] + sizes[1];

      total = 0;
      for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
        {
          iov[i] = (struct iovec) { memory + pos, sizes[i] };
          for (gsize b = 0; b < sizes[i] && i >= elem.n_out; b++)
            where[total++] = memory + pos + b;
          pos += sizes[i] + 32 + shifts[a];
        }
      g_assert_cmpuint (pos, <, MEMORY);
      g_assert_cmpuint (vhost_virtqueue_element_get_readable_size (&elem), ==, readable);
      g_assert_cmpuint (vhost_virtqueue_element_get_writable_size (&elem), ==, total);

      for (gsize offset = 0; offset <= total + 1; offset++)
        for (guint l = 0; l < G_N_ELEMENTS (lengths); l++)
          for (guint streaming = 0; streaming < 2; streaming++)
            {
              gsize length = lengths[l], fits = offset < total ? MIN (length, total - offset) : 0, got;

              memset (memory, 0xee, MEMORY);
              memset (expected, 0xee, MEMORY);
              for (gsize b = 0; b < fits; b++)
                expected[where[offset + b] - memory] = source[b];
              if (streaming)
                got = vhost_virtqueue_element_write_streaming (&elem, offset, source, length);
              else
                got = vhost_virtqueue_element_write (&elem, offset, source, length);
              g_assert_cmpuint (got, ==, fits);
              if (memcmp (memory, expected, MEMORY) != 0)
                g_error ("%s of %" G_GSIZE_FORMAT " bytes at %" G_GSIZE_FORMAT " (shift %" G_GSIZE_FORMAT
                         ") wrote the wrong bytes", streaming ? "write_streaming" : "write", length, offset,
                         shifts[a]);
            }

      /* Reads see the readable buffers as one, stop at their end or at the
       * length asked for, and write nothing past what they return. */
      memcpy (iov[0].iov_base, source, sizes[0]);
      memcpy (iov[1].iov_base, source + sizes[0], sizes[1]);
      for (gsize offset = 0; offset <= readable + 1; offset++)
        for (guint l = 0; l < G_N_ELEMENTS (lengths); l++)
          {
            gsize left = offset < readable ? readable - offset : 0, fits = MIN (lengths[l], left);

            memset (back, 0xee, sizeof back);
            g_assert_cmpuint (vhost_virtqueue_element_read (&elem, offset, back, lengths[l]), ==, fits);
            g_assert_cmpmem (back, fits, source + offset, fits);
            for (gsize b = fits; b < sizeof back; b++)
              g_assert_cmpuint (back[b], ==, 0xee);
          }
    }
  g_free (memory);
  g_free (expected);
}

/* Reconnecting the driver: what it refuses before dialing, what a new back-end
 * must still offer, and a back-end without an inflight area when no chain is
 * in flight. The back-ends listen on a path, one after the other. */
typedef struct
{
  const char *path;
  guint64 features;
  guint64 protocol_features;
} ListenConfig;

static void
setup_listening_echo (VhostUserSlave *slave, gpointer data)
{
  const ListenConfig *config = data;
  VhostTestDevice *device = VHOST_TEST_DEVICE (slave);
  g_autoptr(GError) error = NULL;

  device->features = config->features;
  device->protocol_features = config->protocol_features;
  device->num_queues = 1;
  vhost_virtqueue_set_handler (vhost_user_slave_get_virtqueue (slave, 0), echo_handler, NULL, NULL);
  g_assert_true (vhost_user_slave_listen (slave, config->path, &error));
  g_assert_no_error (error);
}

/* One chain through the echo device: 16 bytes out, 16 back. */
static void
echo_once (VhostDriver *driver, guint64 out_addr, guint64 in_addr, gboolean reap)
{
  VhostDriverBuffer out = { out_addr, 16 }, in = { in_addr, 16 };
  g_autoptr(GError) error = NULL;
  guint64 tag;
  guint len;

  g_assert_true (vhost_driver_submit (driver, 0, &out, 1, &in, 1, 42, &error));
  g_assert_no_error (error);
  vhost_driver_kick (driver, 0);
  if (!reap)
    return;
  vhost_test_reap_one (driver, 0, 5000, &tag, &len);
  g_assert_cmpuint (tag, ==, 42);
  g_assert_cmpuint (len, ==, 16);
}

static void
test_reconnect_rules (void)
{
  gint fds_before = vhost_test_count_open_fds ();
  g_autofree char *dir = g_dir_make_tmp ("vhost-test-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "sock", NULL);
  guint64 features = VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX);
  ListenConfig no_inflight = { path, device_features (),
                               G_MAXUINT64 & ~(guint64) VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD };
  ListenConfig no_event_idx = { path, device_features () & ~VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX),
                                no_inflight.protocol_features };
  VhostTestSlaveThread *thread = vhost_test_slave_thread_new (VHOST_TYPE_TEST_DEVICE, -1, setup_listening_echo,
                                                              &no_inflight);
  g_autoptr(VhostUserMaster) master = vhost_user_master_new (path);
  g_autoptr(VhostDriver) driver = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  guint64 out_addr, in_addr;

  g_assert_true (vhost_user_master_connect (master, NULL, &error));
  driver = vhost_driver_new (VHOST_BACKEND (master), REGION_SIZE, &error);
  g_assert_no_error (error);
  /* Nothing to bring up again before a start. */
  g_assert_false (vhost_driver_reconnect (driver, 1000, NULL, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_BROKEN);
  g_clear_error (&error);
  g_assert_true (vhost_driver_start (driver, 1, QUEUE_SIZE, features, &error));
  g_assert_no_error (error);
  g_assert_cmphex (vhost_user_master_get_acked_protocol_features (master) & VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD, ==,
                   0);
  g_assert_true (vhost_driver_alloc (driver, 16, &out_addr, &error));
  g_assert_true (vhost_driver_alloc (driver, 16, &in_addr, &error));
  g_assert_no_error (error);
  echo_once (driver, out_addr, in_addr, TRUE);

  /* Every chain completed: a back-end without an inflight area is enough. */
  vhost_test_slave_thread_free (thread);
  thread = vhost_test_slave_thread_new (VHOST_TYPE_TEST_DEVICE, -1, setup_listening_echo, &no_inflight);
  g_assert_true (vhost_driver_reconnect (driver, 5000, NULL, &error));
  g_assert_no_error (error);
  echo_once (driver, out_addr, in_addr, TRUE);

  /* A back-end without a feature the device runs with. */
  vhost_test_slave_thread_free (thread);
  thread = vhost_test_slave_thread_new (VHOST_TYPE_TEST_DEVICE, -1, setup_listening_echo, &no_event_idx);
  g_assert_false (vhost_driver_reconnect (driver, 5000, NULL, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, "the device runs with"));
  g_clear_error (&error);
  g_assert_true (vhost_driver_get_running (driver));

  /* Asynchronously, while no back-end listens yet; a second reconnection is
   * refused meanwhile. */
  vhost_test_slave_thread_free (thread);
  vhost_driver_reconnect_async (driver, 5000, NULL, vhost_test_store_result, &result);
  g_assert_false (vhost_driver_reconnect (driver, 5000, NULL, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_BROKEN);
  g_clear_error (&error);
  thread = vhost_test_slave_thread_new (VHOST_TYPE_TEST_DEVICE, -1, setup_listening_echo, &no_inflight);
  vhost_test_wait_for_result (&result, 10000);
  g_assert_true (vhost_driver_reconnect_finish (driver, result, &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  echo_once (driver, out_addr, in_addr, TRUE);

  /* A chain the dead back-end may have taken, and no inflight area to resume it
   * from: refused before anything is sent. */
  vhost_test_slave_thread_free (thread);
  echo_once (driver, out_addr, in_addr, FALSE);
  g_assert_false (vhost_driver_reconnect (driver, 5000, NULL, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, "INFLIGHT_SHMFD"));
  g_clear_error (&error);
  vhost_driver_reconnect_async (driver, 5000, NULL, vhost_test_store_result, &result);
  vhost_test_wait_for_result (&result, 10000);
  g_assert_false (vhost_driver_reconnect_finish (driver, result, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED);
  g_clear_object (&result);

  g_clear_object (&driver);
  g_clear_object (&master);
  g_assert_cmpint (rmdir (dir), ==, 0);
  vhost_test_assert_fd_count (fds_before);
}

/* VhostDriver:inflight turned off: a back-end that offers INFLIGHT_SHMFD is not
 * asked for an area (the property's default asks), and a chain in flight when
 * the back-end dies cannot be resumed. */
static void
test_reconnect_without_inflight (void)
{
  gint fds_before = vhost_test_count_open_fds ();
  g_autofree char *dir = g_dir_make_tmp ("vhost-test-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "sock", NULL);
  guint64 features = VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1);
  ListenConfig all = { path, device_features (), G_MAXUINT64 };
  VhostTestSlaveThread *thread = vhost_test_slave_thread_new (VHOST_TYPE_TEST_DEVICE, -1, setup_listening_echo, &all);
  g_autoptr(VhostUserMaster) master = vhost_user_master_new (path);
  g_autoptr(VhostDriver) driver = NULL;
  g_autoptr(GError) error = NULL;
  guint64 out_addr, in_addr;
  gboolean inflight = TRUE;

  g_assert_true (vhost_user_master_connect (master, NULL, &error));
  driver = vhost_driver_new (VHOST_BACKEND (master), REGION_SIZE, &error);
  g_assert_no_error (error);
  g_assert_true (vhost_driver_get_inflight (driver));
  /* A first start with the area, then one without: the first one's area is not
   * kept for the second. */
  g_assert_true (vhost_driver_start (driver, 1, QUEUE_SIZE, features, &error));
  g_assert_no_error (error);
  g_assert_cmphex (vhost_user_master_get_acked_protocol_features (master) & VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD, !=,
                   0);
  g_assert_true (vhost_driver_stop (driver, &error));
  g_assert_no_error (error);
  g_object_set (driver, "inflight", FALSE, NULL);
  g_object_get (driver, "inflight", &inflight, NULL);
  g_assert_false (inflight);
  g_assert_true (vhost_driver_start (driver, 1, QUEUE_SIZE, features, &error));
  g_assert_no_error (error);
  g_assert_cmphex (vhost_user_master_get_acked_protocol_features (master) & VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD, ==,
                   0);
  g_assert_cmphex (vhost_user_master_get_acked_protocol_features (master) & VHOST_USER_PROTOCOL_F_REPLY_ACK, !=, 0);
  g_assert_true (vhost_driver_alloc (driver, 16, &out_addr, &error));
  g_assert_true (vhost_driver_alloc (driver, 16, &in_addr, &error));
  g_assert_no_error (error);
  echo_once (driver, out_addr, in_addr, TRUE);

  vhost_test_slave_thread_free (thread);
  echo_once (driver, out_addr, in_addr, FALSE);
  thread = vhost_test_slave_thread_new (VHOST_TYPE_TEST_DEVICE, -1, setup_listening_echo, &all);
  g_assert_false (vhost_driver_reconnect (driver, 5000, NULL, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, "INFLIGHT_SHMFD"));
  vhost_test_slave_thread_free (thread);

  g_clear_object (&driver);
  g_clear_object (&master);
  g_assert_cmpint (rmdir (dir), ==, 0);
  vhost_test_assert_fd_count (fds_before);
}

/* Event idx when a queue's chains are taken by another queue's handler (an echo
 * that moves transmitted frames into receive buffers, from either queue's
 * handler): that queue must ask for kicks again from where its ring now is.
 * Queue 0 transmits, queue 1 receives; both in one worker, which sleeps between
 * kicks. The first time it is held, queue 0's handler waits for the test, which
 * meanwhile makes a receive buffer available and kicks queue 1: queue 0's
 * handler then takes that buffer, and queue 1, woken by the kick, finds
 * nothing. A frame that then waits for a receive buffer must still get it: the
 * next buffer is kicked, and both go through. */
static struct
{
  GMutex mutex;
  GCond cond;
  gboolean hold, held;
} cross;
static Counter cross_calls; /* queue 0's handler calls */

/* Frames of `tx` into buffers of `rx`, while both have chains. */
static void
cross_echo (VhostVirtqueue *tx, VhostVirtqueue *rx)
{
  VhostVirtqueueElement t, r;
  struct iovec t_iov[4], r_iov[4];
  guint8 data[64];

  while (vhost_virtqueue_pop (tx, &t, t_iov, G_N_ELEMENTS (t_iov)))
    {
      gsize len;

      if (!vhost_virtqueue_pop (rx, &r, r_iov, G_N_ELEMENTS (r_iov)))
        {
          vhost_virtqueue_unpop (tx, &t);
          break;
        }
      len = vhost_virtqueue_element_read (&t, 0, data, sizeof data);
      vhost_virtqueue_push (rx, &r, vhost_virtqueue_element_write (&r, 0, data, len));
      vhost_virtqueue_push (tx, &t, 0);
    }
}

static void
cross_tx_handler (VhostVirtqueue *queue, gpointer data)
{
  g_mutex_lock (&cross.mutex);
  if (cross.hold)
    {
      cross.held = TRUE;
      g_cond_broadcast (&cross.cond);
      while (cross.hold)
        g_cond_wait (&cross.cond, &cross.mutex);
    }
  g_mutex_unlock (&cross.mutex);
  cross_echo (queue, data);
  vhost_virtqueue_notify (data);
  counter_add (&cross_calls);
}

static void
cross_rx_handler (VhostVirtqueue *queue, gpointer data)
{
  cross_echo (data, queue);
  vhost_virtqueue_notify (data);
}

static void
setup_cross (VhostUserSlave *slave, gpointer data)
{
  VhostTestDevice *device = VHOST_TEST_DEVICE (slave);
  VhostVirtqueue *tx = vhost_user_slave_get_virtqueue (slave, 0);
  VhostVirtqueue *rx = vhost_user_slave_get_virtqueue (slave, 1);

  device->features = device_features ();
  device->num_queues = 2;
  vhost_virtqueue_set_handler (tx, cross_tx_handler, rx, NULL);
  vhost_virtqueue_set_handler (rx, cross_rx_handler, tx, NULL);
  vhost_virtqueue_set_worker_group (rx, 0);
  /* The worker sleeps as soon as it has nothing to do: no busy polling finds
   * chains that no kick announced. */
  vhost_user_slave_set_busy_poll_us (slave, 0);
}

static void
cross_submit (VhostDriver *driver, guint queue, guint64 addr, guint64 tag)
{
  g_autoptr(GError) error = NULL;
  VhostDriverBuffer buffer = { addr, 64 };

  g_assert_true (vhost_driver_submit (driver, queue, queue == 0 ? &buffer : NULL, queue == 0 ? 1 : 0,
                                      queue == 1 ? &buffer : NULL, queue == 1 ? 1 : 0, tag, &error));
  g_assert_no_error (error);
  vhost_driver_kick (driver, queue);
}

static void
cross_reap (VhostDriver *driver, guint queue, guint64 expected)
{
  guint64 tag = G_MAXUINT64;
  guint len = 0;

  vhost_test_reap_one (driver, queue, 5000, &tag, &len);
  g_assert_cmpuint (tag, ==, expected);
  g_assert_cmpuint (len, ==, queue == 0 ? 0 : 64);
}

static void
test_event_idx_other_queue (gconstpointer data)
{
  gboolean packed = GPOINTER_TO_INT (data);
  gint fds_before = vhost_test_count_open_fds ();
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostUserMaster) master = NULL;
  g_autoptr(VhostDriver) driver = NULL;
  VhostTestSlaveThread *thread;
  guint64 out, in[2];
  int sv[2];

  counter_reset (&cross_calls);
  cross.hold = cross.held = FALSE;
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  thread = vhost_test_slave_thread_new (VHOST_TYPE_TEST_DEVICE, sv[0], setup_cross, NULL);
  master = vhost_user_master_new_for_fd (sv[1]);
  g_assert_true (vhost_user_master_connect (master, NULL, &error));
  driver = vhost_driver_new (VHOST_BACKEND (master), 1024 * 1024, &error);
  g_assert_no_error (error);
  g_assert_true (vhost_driver_start (driver, 2, 16,
                                     VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) |
                                       VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX) |
                                       (packed ? VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED) : 0),
                                     &error));
  g_assert_no_error (error);
  g_assert_true (vhost_driver_alloc (driver, 64, &out, &error));
  for (guint i = 0; i < G_N_ELEMENTS (in); i++)
    g_assert_true (vhost_driver_alloc (driver, 64, &in[i], &error));
  g_assert_no_error (error);

  /* Queue 0's handler takes a receive buffer with queue 1's kick waiting. */
  g_mutex_lock (&cross.mutex);
  cross.hold = TRUE;
  g_mutex_unlock (&cross.mutex);
  cross_submit (driver, 0, out, 0);
  g_mutex_lock (&cross.mutex);
  while (!cross.held)
    g_cond_wait (&cross.cond, &cross.mutex);
  g_mutex_unlock (&cross.mutex);
  cross_submit (driver, 1, in[0], 0);
  g_mutex_lock (&cross.mutex);
  cross.hold = FALSE;
  g_cond_broadcast (&cross.cond);
  g_mutex_unlock (&cross.mutex);
  cross_reap (driver, 0, 0);
  cross_reap (driver, 1, 0);

  /* A frame without a receive buffer waits; the worker has looked at queue 1's
   * kick before it runs queue 0's handler again (the kicks come in order). */
  cross_submit (driver, 0, out, 1);
  counter_wait (&cross_calls, 2, 5000);

  /* The next receive buffer is kicked, and takes the frame. */
  cross_submit (driver, 1, in[1], 1);
  cross_reap (driver, 0, 1);
  cross_reap (driver, 1, 1);

  g_clear_object (&driver);
  g_clear_object (&master);
  vhost_test_slave_thread_free (thread);
  vhost_test_assert_fd_count (fds_before);
}

int
main (int argc, char **argv)
{
  vhost_test_init (&argc, &argv);

  for (guint i = 0; i < 16; i++)
    {
      Config *config = g_new0 (Config, 1);
      g_autofree char *path = NULL;

      config->packed = (i & 1) != 0;
      config->event_idx = (i & 2) != 0;
      config->indirect = (i & 4) != 0;
      config->n_queues = (i & 8) != 0 ? 4 : 1;
      config->requests = 3000;
      path = g_strdup_printf ("/vhost/dataplane/echo/%s/%s/%s/%uq", config->packed ? "packed" : "split",
                              config->event_idx ? "event-idx" : "no-event-idx",
                              config->indirect ? "indirect" : "direct", config->n_queues);
      g_test_add_data_func_full (path, config, test_echo, g_free);
    }

  {
    static const struct
    {
      const char *name;
      RawBreak func;
    } breaks[] = {
      { "loop", break_loop },
      { "chain-longer-than-queue", break_too_long },
      { "indirect-in-indirect", break_nested_indirect },
      { "indirect-empty", break_indirect_empty },
      { "indirect-not-multiple-of-16", break_indirect_odd },
      { "outside-regions", break_outside },
      { "wraps-past-2^64", break_wrap },
      { "past-region-end", break_past_region_end },
      { "avail-index-jump", break_avail_jump },
      { "head-out-of-range", break_head_out_of_range },
    };

    for (guint i = 0; i < G_N_ELEMENTS (breaks); i++)
      {
        g_autofree char *path = g_strdup_printf ("/vhost/dataplane/malicious/%s", breaks[i].name);

        g_test_add (path, Raw, breaks[i].func, raw_setup, test_raw_break, raw_teardown);
      }
  }
  g_test_add ("/vhost/dataplane/malicious/region-removed", Raw, NULL, raw_setup, test_raw_region_removed,
              raw_teardown);
  g_test_add ("/vhost/dataplane/malicious/recover", Raw, NULL, raw_setup, test_raw_recover, raw_teardown);
  g_test_add ("/vhost/dataplane/dirty-log", Raw, NULL, raw_setup, test_raw_dirty_log, raw_teardown);
  g_test_add ("/vhost/dataplane/polled-ring", Raw, NULL, raw_setup, test_raw_polled, raw_teardown);
  g_test_add ("/vhost/dataplane/inband-notifications", Raw, NULL, raw_setup, test_raw_inband, raw_teardown);
  g_test_add ("/vhost/dataplane/postcopy", Raw, raw_postcopy, raw_setup, test_raw_postcopy, raw_teardown);
  g_test_add ("/vhost/dataplane/device-state", Raw, raw_device_state, raw_setup, test_raw_device_state, raw_teardown);
  g_test_add_func ("/vhost/dataplane/element-copy", test_element_copy);
  g_test_add_func ("/vhost/dataplane/main-context-dispatch", test_main_context_dispatch);
  g_test_add_func ("/vhost/dataplane/request-outlives-memory", test_request_outlives_memory);
  g_test_add_func ("/vhost/dataplane/reconnect/rules", test_reconnect_rules);
  g_test_add_func ("/vhost/dataplane/reconnect/without-inflight", test_reconnect_without_inflight);
  g_test_add_data_func ("/vhost/dataplane/async/sleeping", GINT_TO_POINTER (FALSE), test_async);
  g_test_add_data_func ("/vhost/dataplane/async/busy-poll", GINT_TO_POINTER (TRUE), test_async);
  g_test_add_data_func ("/vhost/dataplane/event-idx/other-queue-takes-chains/split", GINT_TO_POINTER (FALSE),
                        test_event_idx_other_queue);
  g_test_add_data_func ("/vhost/dataplane/event-idx/other-queue-takes-chains/packed", GINT_TO_POINTER (TRUE),
                        test_event_idx_other_queue);
  return g_test_run ();
}
