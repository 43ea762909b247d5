/* SPDX-License-Identifier: GPL-2.0-or-later */
/* End to end: VhostDriver → VhostUserMaster → socket → VhostUserSlave with an echo device, every ring layout. */
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test-support.h"

#define QUEUE_SIZE 64
#define SLOTS 10          /* chains in flight per queue: at most 6 descriptors each */
#define SLOT_BYTES 3008   /* not a divisor of the region size: some slot crosses a region boundary */
#define REGION_SIZE (1024 * 1024)

typedef struct
{
  gboolean packed;
  gboolean event_idx;
  gboolean indirect;
  guint n_queues;
  guint requests;   /* per queue */
} Config;

/* The device: copies each chain's readable bytes into its writable buffers, XORed
 * with a key that depends on the queue, and pushes the chain with that length. */
static void
echo_handler (VhostVirtqueue *queue, gpointer user_data)
{
  guint8 key = 0x5a ^ (guint8) vhost_virtqueue_get_index (queue);
  VhostVirtqueueElement elem;
  struct iovec iov[64];

  while (vhost_virtqueue_pop (queue, &elem, iov, G_N_ELEMENTS (iov)))
    {
      guint in = elem.n_out, in_off = 0;
      guint32 written = 0;

      for (guint out = 0; out < elem.n_out; out++)
        for (gsize off = 0; off < iov[out].iov_len; off++)
          {
            while (in < elem.n_out + elem.n_in && in_off == iov[in].iov_len)
              {
                in++;
                in_off = 0;
              }
            if (in == elem.n_out + elem.n_in)
              break;
            ((guint8 *) iov[in].iov_base)[in_off++] = ((const guint8 *) iov[out].iov_base)[off] ^ key;
            written++;
          }
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
  g_assert_cmphex (vhost_driver_get_acked_features (driver) & ~VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES),
                   ==, features);

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
          g_assert_cmpuint (base >> 15, ==, ((descs / QUEUE_SIZE) & 1) ^ 1);
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
  return g_test_run ();
}
