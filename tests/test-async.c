/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The asynchronous calls of VhostBackend and VhostUserMaster against a VhostUserSlave in a thread: order, no blocking, cancellation, errors, disconnection. */
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test-support.h"

#define MEMORY_SIZE (1 << 20)
#define QUEUE_SIZE 16
#define N_QUEUES 2
#define WANTED_PROTOCOL                                                                                   \
  (VHOST_USER_PROTOCOL_F_MQ | VHOST_USER_PROTOCOL_F_REPLY_ACK | VHOST_USER_PROTOCOL_F_CONFIG |             \
   VHOST_USER_PROTOCOL_F_STATUS | VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD)
#define ALL_PROTOCOL_FEATURES G_GUINT64_CONSTANT (0xdffff) /* bits 0-19 without XEN_MMAP (17) */

typedef struct
{
  gint fds_before;
  VhostTestSlaveThread *thread;
  VhostTestDevice *device;     /* (unowned) lives in the thread */
  VhostUserMaster *master;
  VhostBackend *backend;       /* (unowned) the master */
  GSource *ticker;             /* fires every 2 ms on the main context */
  guint ticks;
  GArray *order;               /* (element-type guint) the calls, as their callbacks came */
  int memfd;
  guint8 *memory;
  int kick[N_QUEUES];
  int call[N_QUEUES];
  int inflight_fd;
  guint64 inflight_size;
  guint64 inflight_offset;
  guint disconnects;
} Fixture;

/* The queues count their kicks, in their worker threads. */
static gint kicks[N_QUEUES];

static void
kick_handler (VhostVirtqueue *queue, gpointer user_data)
{
  g_atomic_int_inc (&kicks[vhost_virtqueue_get_index (queue)]);
}

static void
setup_device (VhostUserSlave *slave, gpointer data)
{
  for (guint i = 0; i < N_QUEUES; i++)
    vhost_virtqueue_set_handler (vhost_user_slave_get_virtqueue (slave, i), kick_handler, NULL, NULL);
}

static gboolean
tick_cb (gpointer data)
{
  ((Fixture *) data)->ticks++;
  return G_SOURCE_CONTINUE;
}

static void
disconnected_cb (VhostUserMaster *master, GError *error, gpointer data)
{
  ((Fixture *) data)->disconnects++;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  int sv[2];

  f->fds_before = vhost_test_count_open_fds ();
  for (guint i = 0; i < N_QUEUES; i++)
    g_atomic_int_set (&kicks[i], 0);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  f->thread = vhost_test_slave_thread_new (VHOST_TYPE_TEST_DEVICE, sv[0], setup_device, NULL);
  f->device = VHOST_TEST_DEVICE (vhost_test_slave_thread_get_slave (f->thread));
  f->master = vhost_user_master_new_for_fd (sv[1]);
  f->backend = VHOST_BACKEND (f->master);
  g_signal_connect (f->master, "disconnected", G_CALLBACK (disconnected_cb), f);
  g_assert_true (vhost_user_master_connect (f->master, NULL, &error));
  g_assert_no_error (error);
  f->order = g_array_new (FALSE, FALSE, sizeof (guint));
  f->ticker = g_timeout_source_new (2);
  g_source_set_callback (f->ticker, tick_cb, f, NULL);
  g_source_attach (f->ticker, NULL);
  f->memfd = vhost_test_memfd (MEMORY_SIZE);
  f->memory = mmap (NULL, MEMORY_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
  g_assert_true (f->memory != MAP_FAILED);
  for (guint i = 0; i < N_QUEUES; i++)
    {
      f->kick[i] = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
      f->call[i] = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
    }
  f->inflight_fd = -1;
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->master);
  vhost_test_slave_thread_free (f->thread);
  g_source_destroy (f->ticker);
  g_source_unref (f->ticker);
  g_array_unref (f->order);
  munmap (f->memory, MEMORY_SIZE);
  close (f->memfd);
  for (guint i = 0; i < N_QUEUES; i++)
    {
      close (f->kick[i]);
      close (f->call[i]);
    }
  if (f->inflight_fd >= 0)
    close (f->inflight_fd);
  /* Idle answers of calls that failed late hold nothing once the context ran dry. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  vhost_test_assert_fd_count (f->fds_before);
}

/* One async call: its callback records the result and the order of callbacks. */
typedef struct
{
  Fixture *f;
  guint id;
  GAsyncResult *result;        /* (owned) (nullable) */
} Slot;

static void
slot_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  Slot *slot = data;

  g_assert_null (slot->result);
  slot->result = g_object_ref (result);
  g_array_append_val (slot->f->order, slot->id);
}

static void
slot_clear (Slot *slot)
{
  g_clear_object (&slot->result);
}

/* Iterate the main context for `n` ticks of the timer: the loop runs. */
static void
wait_ticks (Fixture *f, guint n)
{
  guint until = f->ticks + n;
  gint64 deadline = g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND;

  while (f->ticks < until)
    {
      g_main_context_iteration (NULL, TRUE);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    }
}

static guint64
uaddr (Fixture *f, guint64 gpa)
{
  return (guint64) (guintptr) f->memory + gpa;
}

/* The bring-up VhostDriver makes (vhost-driver.c: negotiate, setup_device,
 * start_queues), one call per step, then a few reads. */
enum {
  STEP_GET_FEATURES,
  STEP_NEGOTIATE,
  STEP_SET_OWNER,
  STEP_STATUS_DRIVER,
  STEP_SET_FEATURES,
  STEP_STATUS_FEATURES_OK,
  STEP_MEM_TABLE,
  STEP_GET_INFLIGHT,
  STEP_SET_INFLIGHT,
  STEP_QUEUE,                  /* N_QUEUES * QUEUE_STEPS steps */
  QUEUE_STEPS = 6,
  STEP_DRIVER_OK = STEP_QUEUE + N_QUEUES * QUEUE_STEPS,
  STEP_GET_STATUS,
  STEP_GET_QUEUE_NUM,
  STEP_GET_CONFIG,
  N_STEPS
};

#define STATUS_DRIVER (VHOST_VIRTIO_STATUS_ACKNOWLEDGE | VHOST_VIRTIO_STATUS_DRIVER)
#define STATUS_FEATURES_OK (STATUS_DRIVER | VHOST_VIRTIO_STATUS_FEATURES_OK)
#define STATUS_DRIVER_OK (STATUS_FEATURES_OK | VHOST_VIRTIO_STATUS_DRIVER_OK)

static guint64
wanted_features (Fixture *f)
{
  return (f->device->features &
          (VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX))) |
         VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES);
}

static void
start_queue_step (Fixture *f, guint queue, guint what, Slot *slot)
{
  g_autoptr(VhostVringAddr) addr = NULL;
  guint64 ring = 0x10000 * (queue + 1);

  switch (what)
    {
    case 0:
      vhost_backend_set_vring_num_async (f->backend, queue, QUEUE_SIZE, NULL, slot_cb, slot);
      break;
    case 1:
      vhost_backend_set_vring_base_async (f->backend, queue, 0, NULL, slot_cb, slot);
      break;
    case 2:
      addr = vhost_vring_addr_new (queue, 0, uaddr (f, ring), uaddr (f, ring + 0x2000), uaddr (f, ring + 0x1000),
                                   ring + 0x2000);
      vhost_backend_set_vring_addr_async (f->backend, addr, NULL, slot_cb, slot);
      break;
    case 3:
      vhost_backend_set_vring_kick_async (f->backend, queue, f->kick[queue], NULL, slot_cb, slot);
      break;
    case 4:
      vhost_backend_set_vring_call_async (f->backend, queue, f->call[queue], NULL, slot_cb, slot);
      break;
    default:
      vhost_backend_set_vring_enable_async (f->backend, queue, TRUE, NULL, slot_cb, slot);
      break;
    }
}

static void
start_step (Fixture *f, guint step, Slot *slot)
{
  g_autoptr(VhostMemoryRegion) region = NULL;

  slot->f = f;
  slot->id = step;
  switch (step)
    {
    case STEP_GET_FEATURES:
      vhost_backend_get_features_async (f->backend, NULL, slot_cb, slot);
      break;
    case STEP_NEGOTIATE:
      vhost_backend_negotiate_protocol_async (f->backend, WANTED_PROTOCOL, NULL, slot_cb, slot);
      break;
    case STEP_SET_OWNER:
      vhost_backend_set_owner_async (f->backend, NULL, slot_cb, slot);
      break;
    case STEP_STATUS_DRIVER:
      vhost_backend_set_status_async (f->backend, STATUS_DRIVER, NULL, slot_cb, slot);
      break;
    case STEP_SET_FEATURES:
      vhost_backend_set_features_async (f->backend, wanted_features (f), NULL, slot_cb, slot);
      break;
    case STEP_STATUS_FEATURES_OK:
      vhost_backend_set_status_async (f->backend, STATUS_FEATURES_OK, NULL, slot_cb, slot);
      break;
    case STEP_MEM_TABLE:
      region = vhost_memory_region_new (0, MEMORY_SIZE, uaddr (f, 0), f->memfd, 0);
      vhost_backend_set_mem_table_async (f->backend, &region, 1, NULL, slot_cb, slot);
      break;
    case STEP_GET_INFLIGHT:
      vhost_user_master_get_inflight_fd_async (f->master, N_QUEUES, QUEUE_SIZE, NULL, slot_cb, slot);
      break;
    case STEP_SET_INFLIGHT:
      vhost_user_master_set_inflight_fd_async (f->master, f->inflight_fd, f->inflight_size, f->inflight_offset,
                                               N_QUEUES, QUEUE_SIZE, NULL, slot_cb, slot);
      break;
    case STEP_DRIVER_OK:
      vhost_backend_set_status_async (f->backend, STATUS_DRIVER_OK, NULL, slot_cb, slot);
      break;
    case STEP_GET_STATUS:
      vhost_backend_get_status_async (f->backend, NULL, slot_cb, slot);
      break;
    case STEP_GET_QUEUE_NUM:
      vhost_user_master_get_queue_num_async (f->master, NULL, slot_cb, slot);
      break;
    case STEP_GET_CONFIG:
      vhost_user_master_get_config_async (f->master, 4, 8, 0, NULL, slot_cb, slot);
      break;
    default:
      start_queue_step (f, (step - STEP_QUEUE) / QUEUE_STEPS, (step - STEP_QUEUE) % QUEUE_STEPS, slot);
      break;
    }
}

/* Take a step's result with its _finish function, and check it. */
static void
finish_step (Fixture *f, guint step, GAsyncResult *result)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) config = NULL;
  guint64 value = 0;
  guint8 status = 0;
  gboolean ok;

  switch (step)
    {
    case STEP_GET_FEATURES:
      ok = vhost_backend_get_features_finish (f->backend, result, &value, &error);
      g_assert_cmphex (value, ==, f->device->features | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES));
      break;
    case STEP_NEGOTIATE:
      ok = vhost_backend_negotiate_protocol_finish (f->backend, result, &value, &error);
      g_assert_cmphex (value, ==, WANTED_PROTOCOL);
      g_assert_cmphex (vhost_user_master_get_acked_protocol_features (f->master), ==, WANTED_PROTOCOL);
      break;
    case STEP_GET_INFLIGHT:
      f->inflight_fd = vhost_user_master_get_inflight_fd_finish (f->master, result, &f->inflight_size,
                                                                 &f->inflight_offset, &error);
      ok = f->inflight_fd >= 0;
      g_assert_cmpuint (f->inflight_size, >, 0);
      break;
    case STEP_SET_INFLIGHT:
      ok = vhost_user_master_set_inflight_fd_finish (f->master, result, &error);
      break;
    case STEP_GET_STATUS:
      ok = vhost_backend_get_status_finish (f->backend, result, &status, &error);
      g_assert_cmphex (status, ==, STATUS_DRIVER_OK);
      break;
    case STEP_GET_QUEUE_NUM:
      ok = vhost_user_master_get_queue_num_finish (f->master, result, &value, &error);
      g_assert_cmpuint (value, ==, f->device->num_queues);
      break;
    case STEP_GET_CONFIG:
      config = vhost_user_master_get_config_finish (f->master, result, &error);
      ok = config != NULL;
      g_assert_cmpmem (g_bytes_get_data (config, NULL), g_bytes_get_size (config), f->device->config + 4, 8);
      break;
    case STEP_SET_OWNER:
      ok = vhost_backend_set_owner_finish (f->backend, result, &error);
      break;
    case STEP_SET_FEATURES:
      ok = vhost_backend_set_features_finish (f->backend, result, &error);
      g_assert_cmphex (vhost_user_master_get_acked_features (f->master), ==, wanted_features (f));
      break;
    case STEP_MEM_TABLE:
      ok = vhost_backend_set_mem_table_finish (f->backend, result, &error);
      break;
    case STEP_STATUS_DRIVER:
    case STEP_STATUS_FEATURES_OK:
    case STEP_DRIVER_OK:
      ok = vhost_backend_set_status_finish (f->backend, result, &error);
      break;
    default:
      switch ((step - STEP_QUEUE) % QUEUE_STEPS)
        {
        case 0:
          ok = vhost_backend_set_vring_num_finish (f->backend, result, &error);
          break;
        case 1:
          ok = vhost_backend_set_vring_base_finish (f->backend, result, &error);
          break;
        case 2:
          ok = vhost_backend_set_vring_addr_finish (f->backend, result, &error);
          break;
        case 3:
          ok = vhost_backend_set_vring_kick_finish (f->backend, result, &error);
          break;
        case 4:
          ok = vhost_backend_set_vring_call_finish (f->backend, result, &error);
          break;
        default:
          ok = vhost_backend_set_vring_enable_finish (f->backend, result, &error);
          break;
        }
    }
  g_assert_no_error (error);
  g_assert_true (ok);
}

/* What the slave holds after the bring-up, read in its thread. */
static void
check_device_up (VhostUserSlave *slave, gpointer data)
{
  Fixture *f = data;

  g_assert_cmphex (vhost_user_slave_get_acked_features (slave), ==, wanted_features (f));
  g_assert_cmphex (vhost_user_slave_get_acked_protocol_features (slave), ==, WANTED_PROTOCOL);
  g_assert_cmphex (vhost_user_slave_get_status (slave), ==, STATUS_DRIVER_OK);
  g_assert_cmpuint (vhost_user_slave_get_n_regions (slave), ==, 1);
  for (guint i = 0; i < N_QUEUES; i++)
    {
      guint num = 0;
      gboolean started = FALSE, enabled = FALSE;

      g_assert_true (vhost_user_slave_get_vring_state (slave, i, &num, NULL, &started, &enabled));
      g_assert_cmpuint (num, ==, QUEUE_SIZE);
      g_assert_true (started);
      g_assert_true (enabled);
    }
}

/* The device runs: a buffer made available on each queue, and a kick, reach its handler. */
static void
check_kicks (Fixture *f)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND;

  for (guint i = 0; i < N_QUEUES; i++)
    {
      guint8 *ring = f->memory + 0x10000 * (i + 1);
      guint64 desc[2] = { GUINT64_TO_LE (0x80000), GUINT64_TO_LE (16) }; /* addr; len, flags 0, next 0 */
      guint16 *avail = (guint16 *) (ring + 0x1000);

      memcpy (ring, desc, sizeof desc);
      avail[2] = 0;
      __atomic_store_n (&avail[1], GUINT16_TO_LE (1), __ATOMIC_RELEASE);
      g_assert_cmpint (eventfd_write (f->kick[i], 1), ==, 0);
      while (g_atomic_int_get (&kicks[i]) == 0)
        {
          g_assert_cmpint (g_get_monotonic_time (), <, deadline);
          g_usleep (1000);
        }
    }
}

/* Each step of the bring-up, asynchronously, while the back-end holds its reply:
 * the main loop keeps running (the timer fires) and the call stays pending until
 * the back-end answers. */
static void
test_bring_up_step_by_step (Fixture *f, gconstpointer data)
{
  for (guint step = 0; step < N_STEPS; step++)
    {
      Slot slot = { 0 };

      vhost_test_slave_thread_pause (f->thread);
      start_step (f, step, &slot);
      wait_ticks (f, 3);
      g_assert_null (slot.result);
      vhost_test_slave_thread_resume (f->thread, FALSE);
      vhost_test_wait_for_result (&slot.result, 5000);
      finish_step (f, step, slot.result);
      slot_clear (&slot);
    }
  g_assert_cmpuint (f->order->len, ==, N_STEPS);
  vhost_test_slave_thread_run (f->thread, check_device_up, f);
  check_kicks (f);
}

/* The whole bring-up at once (but the inflight area, which needs a reply to go
 * on): every call waits in the master's queue while the back-end is held, then
 * they complete in the order they were made, each seeing what the ones before it
 * did (SET_STATUS after the negotiation of STATUS, SET_VRING_ENABLE after
 * PROTOCOL_FEATURES was acked). */
static void
test_bring_up_all_at_once (Fixture *f, gconstpointer data)
{
  Slot slots[N_STEPS] = { { 0 } };
  guint expected = 0;

  vhost_test_slave_thread_pause (f->thread);
  for (guint step = 0; step < N_STEPS; step++)
    if (step != STEP_GET_INFLIGHT && step != STEP_SET_INFLIGHT)
      start_step (f, step, &slots[step]);
  wait_ticks (f, 5);
  g_assert_cmpuint (f->order->len, ==, 0);
  vhost_test_slave_thread_resume (f->thread, FALSE);
  vhost_test_wait_for_result (&slots[STEP_GET_CONFIG].result, 5000);
  for (guint step = 0; step < N_STEPS; step++)
    {
      if (step == STEP_GET_INFLIGHT || step == STEP_SET_INFLIGHT)
        continue;
      g_assert_cmpuint (g_array_index (f->order, guint, expected), ==, step);
      expected++;
      finish_step (f, step, slots[step].result);
      slot_clear (&slots[step]);
    }
  g_assert_cmpuint (f->order->len, ==, expected);
  vhost_test_slave_thread_run (f->thread, check_device_up, f);
  check_kicks (f);
}

static void
copy_handled (VhostUserSlave *slave, gpointer data)
{
  GArray *out = data;

  g_array_append_vals (out, VHOST_TEST_DEVICE (slave)->handled->data, VHOST_TEST_DEVICE (slave)->handled->len);
}

/* The requests the slave handled, from the `skip`th on. */
static GArray *
handled_since (Fixture *f, guint skip)
{
  GArray *all = g_array_new (FALSE, FALSE, sizeof (guint));

  vhost_test_slave_thread_run (f->thread, copy_handled, all);
  g_array_remove_range (all, 0, MIN (skip, all->len));
  return all;
}

static guint
handled_count (Fixture *f)
{
  g_autoptr(GArray) all = handled_since (f, 0);

  return all->len;
}

/* Synchronous calls made while asynchronous ones are outstanding go after them:
 * on the wire in call order, and a sync call returns only once the async calls
 * before it were answered (their callbacks come on the next iteration). */
static void
test_sync_after_async (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) handled = NULL;
  g_autoptr(GBytes) config = NULL;
  Slot a = { f, 0, NULL }, b = { f, 1, NULL }, c = { f, 2, NULL };
  guint64 value = 0, slots = 0;
  guint before;

  /* A protocol feature set asynchronously counts for the calls made after it,
   * before it completed: GET_QUEUE_NUM needs MQ. */
  vhost_backend_get_features_async (f->backend, NULL, slot_cb, &a);
  vhost_user_master_set_protocol_features_async (f->master, WANTED_PROTOCOL | VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS,
                                                 NULL, slot_cb, &b);
  vhost_user_master_get_queue_num_async (f->master, NULL, slot_cb, &c);
  vhost_test_wait_for_result (&c.result, 5000);
  g_assert_true (vhost_backend_get_features_finish (f->backend, a.result, &value, &error));
  g_assert_true (vhost_user_master_set_protocol_features_finish (f->master, b.result, &error));
  g_assert_true (vhost_user_master_get_queue_num_finish (f->master, c.result, &value, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (value, ==, 4);
  slot_clear (&a);
  slot_clear (&b);
  slot_clear (&c);

  before = handled_count (f);
  vhost_user_master_get_queue_num_async (f->master, NULL, slot_cb, &a);
  vhost_user_master_get_config_async (f->master, 0, 4, 0, NULL, slot_cb, &b);
  g_assert_true (vhost_user_master_get_max_mem_slots (f->master, &slots, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (slots, >=, 8);
  /* Answered already, but the callbacks wait for the main loop. */
  g_assert_null (a.result);
  g_assert_null (b.result);
  vhost_user_master_get_status_async (f->master, NULL, slot_cb, &c);
  vhost_test_wait_for_result (&c.result, 5000);
  g_assert_nonnull (a.result);
  g_assert_nonnull (b.result);
  g_assert_true (vhost_user_master_get_queue_num_finish (f->master, a.result, &value, &error));
  config = vhost_user_master_get_config_finish (f->master, b.result, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (config, NULL), 4, f->device->config, 4);
  g_assert_true (vhost_user_master_get_status_finish (f->master, c.result, NULL, &error));
  g_assert_no_error (error);

  handled = handled_since (f, before);
  g_assert_cmpuint (handled->len, ==, 4);
  g_assert_cmpuint (g_array_index (handled, guint, 0), ==, VHOST_USER_GET_QUEUE_NUM);
  g_assert_cmpuint (g_array_index (handled, guint, 1), ==, VHOST_USER_GET_CONFIG);
  g_assert_cmpuint (g_array_index (handled, guint, 2), ==, VHOST_USER_GET_MAX_MEM_SLOTS);
  g_assert_cmpuint (g_array_index (handled, guint, 3), ==, VHOST_USER_GET_STATUS);
  g_assert_cmpuint (f->order->len, ==, 6);
  for (guint i = 3; i < 6; i++)
    g_assert_cmpuint (g_array_index (f->order, guint, i), ==, i - 3);
  slot_clear (&a);
  slot_clear (&b);
  slot_clear (&c);
}

/* Negotiate REPLY_ACK (and more) synchronously, so that every request has a reply. */
static void
negotiate (Fixture *f, guint64 protocol_features)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (vhost_backend_get_features (f->backend, NULL, &error));
  g_assert_true (vhost_backend_set_owner (f->backend, &error));
  g_assert_true (vhost_user_master_set_protocol_features (f->master, protocol_features, &error));
  g_assert_no_error (error);
}

/* A handler of notify::acked-features that makes a sync call: SET_FEATURES done
 * asynchronously with REPLY_ACK changes the property when its reply comes, and
 * the handler's call must find the queue free, not wait for that op. */
typedef struct
{
  VhostUserMaster *master;
  guint64 queues;
  gint64 took_us;
  guint calls;
} NotifyCall;

static void
acked_features_cb (GObject *object, GParamSpec *pspec, gpointer data)
{
  NotifyCall *n = data;
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  g_assert_true (vhost_user_master_get_queue_num (n->master, &n->queues, &error));
  g_assert_no_error (error);
  n->took_us = g_get_monotonic_time () - start;
  n->calls++;
}

static void
test_sync_in_notify (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  Slot a = { f, 0, NULL };
  NotifyCall n = { f->master, 0, 0, 0 };
  guint64 features = 0;
  gulong id;

  negotiate (f, WANTED_PROTOCOL);
  g_object_set (f->master, "timeout", 2000, NULL);
  g_assert_true (vhost_backend_get_features (f->backend, &features, &error));
  id = g_signal_connect (f->master, "notify::acked-features", G_CALLBACK (acked_features_cb), &n);
  vhost_backend_set_features_async (f->backend, features, NULL, slot_cb, &a);
  vhost_test_wait_for_result (&a.result, 5000);
  g_assert_true (vhost_backend_set_features_finish (f->backend, a.result, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n.calls, ==, 1);
  g_assert_cmpuint (n.queues, ==, 4);
  g_assert_cmpint (n.took_us, <, G_TIME_SPAN_SECOND);
  g_assert_true (vhost_user_master_get_connected (f->master));
  g_assert_cmpuint (f->disconnects, ==, 0);
  g_signal_handler_disconnect (f->master, id);
  slot_clear (&a);
}

static void
test_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GArray) handled = NULL;
  Slot a = { f, 0, NULL }, b = { f, 1, NULL };
  guint64 features = wanted_features (f);
  guint before;

  negotiate (f, VHOST_USER_PROTOCOL_F_REPLY_ACK | VHOST_USER_PROTOCOL_F_MQ);
  before = handled_count (f);

  /* Cancelled before the call: nothing is sent. */
  g_cancellable_cancel (cancellable);
  vhost_backend_get_features_async (f->backend, cancellable, slot_cb, &a);
  vhost_test_wait_for_result (&a.result, 5000);
  g_assert_false (vhost_backend_get_features_finish (f->backend, a.result, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  slot_clear (&a);
  g_cancellable_reset (cancellable);

  /* Cancelled while it waits in the queue, behind a call the back-end holds: it
   * completes at once, and its request is never sent. */
  vhost_test_slave_thread_pause (f->thread);
  vhost_user_master_get_protocol_features_async (f->master, NULL, slot_cb, &a);
  vhost_user_master_get_queue_num_async (f->master, cancellable, slot_cb, &b);
  wait_ticks (f, 2);
  g_cancellable_cancel (cancellable);
  vhost_test_wait_for_result (&b.result, 5000);
  g_assert_null (a.result);
  g_assert_false (vhost_user_master_get_queue_num_finish (f->master, b.result, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  vhost_test_slave_thread_resume (f->thread, FALSE);
  vhost_test_wait_for_result (&a.result, 5000);
  g_assert_true (vhost_user_master_get_protocol_features_finish (f->master, a.result, NULL, &error));
  g_assert_no_error (error);
  slot_clear (&a);
  slot_clear (&b);
  handled = handled_since (f, before);
  g_assert_cmpuint (handled->len, ==, 1);
  g_assert_cmpuint (g_array_index (handled, guint, 0), ==, VHOST_USER_GET_PROTOCOL_FEATURES);
  g_cancellable_reset (cancellable);

  /* Cancelled once sent: the caller hears at once, the back-end still carries the
   * request out and the master's record follows it. */
  vhost_test_slave_thread_pause (f->thread);
  vhost_backend_set_features_async (f->backend, features, cancellable, slot_cb, &a);
  wait_ticks (f, 2);
  g_cancellable_cancel (cancellable);
  vhost_test_wait_for_result (&a.result, 5000);
  g_assert_false (vhost_backend_set_features_finish (f->backend, a.result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  slot_clear (&a);
  g_assert_cmphex (vhost_user_master_get_acked_features (f->master), ==, 0);
  vhost_test_slave_thread_resume (f->thread, FALSE);
  /* A sync call goes after it, so the reply came first. */
  g_assert_true (vhost_backend_get_features (f->backend, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmphex (vhost_user_master_get_acked_features (f->master), ==, features);
  g_assert_cmphex (vhost_user_slave_get_acked_features (VHOST_USER_SLAVE (f->device)), ==, features);
  g_assert_cmpuint (f->disconnects, ==, 0);
}

static void
assert_error_result (Fixture *f, Slot *slot, VhostError code, const char *prefix)
{
  g_autoptr(GError) error = NULL;

  vhost_test_wait_for_result (&slot->result, 5000);
  g_assert_null (vhost_user_master_get_config_finish (f->master, slot->result, &error));
  vhost_test_assert_error_prefix (error, code, prefix);
  slot_clear (slot);
}

/* Bad arguments fail before anything is sent, a request the protocol features do
 * not allow is refused unsent, the back-end's refusal comes back; the calls
 * after a failed one go on. */
static void
test_errors (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) config = NULL;
  Slot a = { f, 0, NULL }, b = { f, 1, NULL }, c = { f, 2, NULL }, d = { f, 3, NULL };
  guint64 value = 0;

  vhost_user_master_get_config_async (f->master, 0, 8, 0, NULL, slot_cb, &a);
  assert_error_result (f, &a, VHOST_ERROR_NOT_SUPPORTED, "GET_CONFIG");
  vhost_user_master_set_vring_enable_async (f->master, 0, TRUE, NULL, slot_cb, &a);
  vhost_test_wait_for_result (&a.result, 5000);
  g_assert_false (vhost_user_master_set_vring_enable_finish (f->master, a.result, &error));
  vhost_test_assert_error_prefix (error, VHOST_ERROR_NOT_SUPPORTED, "SET_VRING_ENABLE");
  g_clear_error (&error);
  slot_clear (&a);

  negotiate (f, VHOST_USER_PROTOCOL_F_REPLY_ACK | VHOST_USER_PROTOCOL_F_CONFIG | VHOST_USER_PROTOCOL_F_MQ);
  /* All at once: a bad size, a read the device refuses, then good calls. */
  vhost_user_master_get_config_async (f->master, 0, 0, 0, NULL, slot_cb, &a);
  vhost_user_master_get_config_async (f->master, 60, 8, 0, NULL, slot_cb, &b);
  vhost_user_master_get_config_async (f->master, 8, 8, 0, NULL, slot_cb, &c);
  vhost_user_master_get_queue_num_async (f->master, NULL, slot_cb, &d);
  assert_error_result (f, &a, VHOST_ERROR_INVALID_ARGUMENT, "GET_CONFIG: size 0");
  assert_error_result (f, &b, VHOST_ERROR_REJECTED, "GET_CONFIG: the back-end could not read");
  vhost_test_wait_for_result (&d.result, 5000);
  config = vhost_user_master_get_config_finish (f->master, c.result, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (config, NULL), 8, f->device->config + 8, 8);
  g_assert_true (vhost_user_master_get_queue_num_finish (f->master, d.result, &value, &error));
  g_assert_cmpuint (value, ==, 4);
  slot_clear (&c);
  slot_clear (&d);

  /* A _finish that does not match its _async is a programming error. */
  vhost_user_master_get_queue_num_async (f->master, NULL, slot_cb, &a);
  vhost_test_wait_for_result (&a.result, 5000);
  if (g_test_undefined ())
    {
      g_test_expect_message ("Vhost", G_LOG_LEVEL_CRITICAL, "*source_tag*");
      g_assert_null (vhost_user_master_get_config_finish (f->master, a.result, &error));
      g_test_assert_expected_messages ();
    }
  g_assert_true (vhost_user_master_get_queue_num_finish (f->master, a.result, NULL, &error));
  g_assert_no_error (error);
  slot_clear (&a);
  g_assert_true (vhost_user_master_get_connected (f->master));
}

/* The back-end goes away with calls outstanding: the one it held and those queued
 * behind it fail with DISCONNECTED, in order; calls made afterwards fail at once;
 * nothing leaks (the fixture counts fds). */
static void
test_disconnect (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VhostMemoryRegion) region = vhost_memory_region_new (0, MEMORY_SIZE, uaddr (f, 0), f->memfd, 0);
  Slot a = { f, 0, NULL }, b = { f, 1, NULL }, c = { f, 2, NULL }, d = { f, 3, NULL };

  negotiate (f, VHOST_USER_PROTOCOL_F_REPLY_ACK | VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD |
                  VHOST_USER_PROTOCOL_F_BACKEND_REQ);
  vhost_test_slave_thread_pause (f->thread);
  vhost_backend_set_mem_table_async (f->backend, &region, 1, NULL, slot_cb, &a);
  vhost_user_master_get_inflight_fd_async (f->master, 1, QUEUE_SIZE, NULL, slot_cb, &b);
  vhost_backend_set_vring_kick_async (f->backend, 0, f->kick[0], NULL, slot_cb, &c);
  wait_ticks (f, 2);
  vhost_test_slave_thread_resume (f->thread, TRUE);
  vhost_test_wait_for_result (&c.result, 5000);
  g_assert_false (vhost_backend_set_mem_table_finish (f->backend, a.result, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_DISCONNECTED);
  g_clear_error (&error);
  g_assert_cmpint (vhost_user_master_get_inflight_fd_finish (f->master, b.result, NULL, NULL, &error), ==, -1);
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_DISCONNECTED);
  g_clear_error (&error);
  g_assert_false (vhost_backend_set_vring_kick_finish (f->backend, c.result, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_DISCONNECTED);
  g_clear_error (&error);
  g_assert_cmpuint (g_array_index (f->order, guint, 0), ==, 0);
  g_assert_cmpuint (g_array_index (f->order, guint, 2), ==, 2);
  g_assert_cmpuint (f->disconnects, ==, 1);
  g_assert_false (vhost_user_master_get_connected (f->master));

  vhost_backend_get_features_async (f->backend, NULL, slot_cb, &d);
  vhost_test_wait_for_result (&d.result, 5000);
  g_assert_false (vhost_backend_get_features_finish (f->backend, d.result, NULL, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_DISCONNECTED);
  slot_clear (&a);
  slot_clear (&b);
  slot_clear (&c);
  slot_clear (&d);
}

/* vhost_user_master_close() with calls outstanding: they fail, without
 * ::disconnected; a request without a reply that went out before succeeded. */
static void
test_close_with_calls (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  Slot a = { f, 0, NULL }, b = { f, 1, NULL }, c = { f, 2, NULL };

  vhost_test_slave_thread_pause (f->thread);
  vhost_backend_set_owner_async (f->backend, NULL, slot_cb, &a);
  vhost_backend_get_features_async (f->backend, NULL, slot_cb, &b);
  vhost_backend_set_features_async (f->backend, 0, NULL, slot_cb, &c);
  vhost_user_master_close (f->master);
  vhost_test_slave_thread_resume (f->thread, FALSE);
  vhost_test_wait_for_result (&c.result, 5000);
  g_assert_true (vhost_backend_set_owner_finish (f->backend, a.result, &error));
  g_assert_no_error (error);
  g_assert_false (vhost_backend_get_features_finish (f->backend, b.result, NULL, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_DISCONNECTED);
  g_clear_error (&error);
  g_assert_false (vhost_backend_set_features_finish (f->backend, c.result, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_DISCONNECTED);
  g_assert_cmpuint (f->disconnects, ==, 0);
  slot_clear (&c);
  slot_clear (&a);
  slot_clear (&b);
}

/* Wait for a slot and check that its call succeeded. */
#define FINISH_OK(slot, call)                                                                      \
  G_STMT_START                                                                                     \
  {                                                                                                \
    g_autoptr(GError) finish_error = NULL;                                                         \
    GAsyncResult *result;                                                                          \
                                                                                                   \
    vhost_test_wait_for_result (&(slot)->result, 5000);                                            \
    result = (slot)->result;                                                                       \
    g_assert_true (call);                                                                          \
    g_assert_no_error (finish_error);                                                              \
    slot_clear (slot);                                                                             \
  }                                                                                                \
  G_STMT_END

/* Every typed request of the master, asynchronously, checked at the device. */
static void
test_typed_calls (Fixture *f, gconstpointer data)
{
  static const guint8 mac[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
  static const guint8 uuid_bytes[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
  g_autoptr(GBytes) uuid = g_bytes_new_static (uuid_bytes, 16);
  g_autoptr(GBytes) config = g_bytes_new_static ("abcd", 4);
  g_autoptr(VhostMemoryRegion) region = vhost_memory_region_new (0, 0x80000, uaddr (f, 0), f->memfd, 0);
  g_autoptr(VhostMemoryRegion) region2 = vhost_memory_region_new (0x80000, 0x80000, uaddr (f, 0x80000), f->memfd,
                                                                  0x80000);
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GUnixFDList) reply_fds = NULL;
  g_autoptr(GByteArray) state = g_byte_array_new ();
  VhostTestRecord *record;
  Slot s = { f, 0, NULL };
  guint64 value = 0, backend_addr = 0;
  guint8 status = 0, buf[512];
  int pipe_fds[2], fd, uffd;
  guint base = 1;
  gssize n;

  f->device->config_writable = TRUE;
  negotiate (f, ALL_PROTOCOL_FEATURES);
  vhost_user_master_get_protocol_features_async (f->master, NULL, slot_cb, &s);
  FINISH_OK (&s, vhost_user_master_get_protocol_features_finish (f->master, result, &value, &finish_error));
  g_assert_cmphex (value & ALL_PROTOCOL_FEATURES, ==, ALL_PROTOCOL_FEATURES);
  vhost_user_master_get_max_mem_slots_async (f->master, NULL, slot_cb, &s);
  FINISH_OK (&s, vhost_user_master_get_max_mem_slots_finish (f->master, result, &value, &finish_error));
  g_assert_cmpuint (value, >=, 8);
  vhost_user_master_set_config_async (f->master, 2, config, 0, NULL, slot_cb, &s);
  FINISH_OK (&s, vhost_user_master_set_config_finish (f->master, result, &finish_error));
  vhost_user_master_set_status_async (f->master, VHOST_VIRTIO_STATUS_ACKNOWLEDGE, NULL, slot_cb, &s);
  FINISH_OK (&s, vhost_user_master_set_status_finish (f->master, result, &finish_error));
  vhost_user_master_get_status_async (f->master, NULL, slot_cb, &s);
  FINISH_OK (&s, vhost_user_master_get_status_finish (f->master, result, &status, &finish_error));
  g_assert_cmpuint (status, ==, VHOST_VIRTIO_STATUS_ACKNOWLEDGE);
  vhost_user_master_send_rarp_async (f->master, mac, NULL, slot_cb, &s);
  FINISH_OK (&s, vhost_user_master_send_rarp_finish (f->master, result, &finish_error));
  vhost_user_master_net_set_mtu_async (f->master, 9000, NULL, slot_cb, &s);
  FINISH_OK (&s, vhost_user_master_net_set_mtu_finish (f->master, result, &finish_error));
  vhost_user_master_set_vring_endian_async (f->master, 1, TRUE, NULL, slot_cb, &s);
  FINISH_OK (&s, vhost_user_master_set_vring_endian_finish (f->master, result, &finish_error));
  /* IOTLB_MSG without VIRTIO_F_ACCESS_PLATFORM: refused, as the sync call is, and the session goes on. */
  vhost_user_master_iotlb_msg_async (f->master, 0x1000, 0x2000, 0x7f00000000, VHOST_IOTLB_ACCESS_READ,
                                     VHOST_IOTLB_MESSAGE_UPDATE, NULL, slot_cb, &s);
  vhost_test_wait_for_result (&s.result, 5000);
  {
    g_autoptr(GError) error = NULL;

    g_assert_false (vhost_user_master_iotlb_msg_finish (f->master, s.result, &error));
    g_assert_error (error, VHOST_ERROR, VHOST_ERROR_REJECTED);
    slot_clear (&s);
  }
  vhost_user_master_vring_kick_async (f->master, 3, NULL, slot_cb, &s);
  FINISH_OK (&s, vhost_user_master_vring_kick_finish (f->master, result, &finish_error));
  vhost_user_master_get_shared_object_async (f->master, uuid, NULL, slot_cb, &s);
  FINISH_OK (&s, (fd = vhost_user_master_get_shared_object_finish (f->master, result, &finish_error)) >= 0);
  g_assert_cmpint (pread (fd, buf, 6, 0), ==, 6);
  g_assert_cmpmem (buf, 6, "shared", 6);
  close (fd);

  /* The device saw each as it was sent. */
  record = vhost_test_device_find (f->device, VHOST_USER_SEND_RARP);
  g_assert_cmpmem (g_bytes_get_data (record->payload, NULL), 6, mac, 6);
  record = vhost_test_device_find (f->device, VHOST_USER_NET_SET_MTU);
  g_assert_cmpuint (*(const guint64 *) g_bytes_get_data (record->payload, NULL), ==, 9000);
  record = vhost_test_device_find (f->device, VHOST_USER_SET_VRING_ENDIAN);
  g_assert_cmpuint (((const guint32 *) g_bytes_get_data (record->payload, NULL))[1], ==, 1);
  g_assert_cmpmem (f->device->config + 2, 4, "abcd", 4);

  /* The device's state, saved through a pipe, then checked. */
  g_assert_cmpint (pipe2 (pipe_fds, O_CLOEXEC), ==, 0);
  vhost_user_master_set_device_state_fd_async (f->master, VHOST_DEVICE_STATE_DIRECTION_SAVE,
                                               VHOST_DEVICE_STATE_PHASE_STOPPED, pipe_fds[1], NULL, slot_cb, &s);
  close (pipe_fds[1]);
  FINISH_OK (&s, vhost_user_master_set_device_state_fd_finish (f->master, result, &fd, &finish_error));
  g_assert_cmpint (fd, ==, -1);
  while ((n = read (pipe_fds[0], buf, sizeof buf)) > 0)
    g_byte_array_append (state, buf, n);
  close (pipe_fds[0]);
  g_assert_cmpmem (state->data, 16, "vhost-glib-state", 16);
  vhost_user_master_check_device_state_async (f->master, NULL, slot_cb, &s);
  FINISH_OK (&s, vhost_user_master_check_device_state_finish (f->master, result, &finish_error));

  /* Postcopy: the memory tables sent while it listens are answered with where the
   * back-end mapped them, and the master learns it from the async calls too. */
  vhost_user_master_postcopy_advise_async (f->master, NULL, slot_cb, &s);
  FINISH_OK (&s, (uffd = vhost_user_master_postcopy_advise_finish (f->master, result, &finish_error)) >= 0);
  vhost_user_master_postcopy_listen_async (f->master, NULL, slot_cb, &s);
  FINISH_OK (&s, vhost_user_master_postcopy_listen_finish (f->master, result, &finish_error));
  vhost_backend_set_mem_table_async (f->backend, &region, 1, NULL, slot_cb, &s);
  FINISH_OK (&s, vhost_backend_set_mem_table_finish (f->backend, result, &finish_error));
  vhost_user_master_add_mem_region_async (f->master, region2, NULL, slot_cb, &s);
  FINISH_OK (&s, vhost_user_master_add_mem_region_finish (f->master, result, &finish_error));
  g_assert_true (vhost_user_master_postcopy_to_backend (f->master, 0x80010, &backend_addr));
  g_assert_cmpuint (backend_addr, !=, 0);
  vhost_user_master_remove_mem_region_async (f->master, region2, NULL, slot_cb, &s);
  FINISH_OK (&s, vhost_user_master_remove_mem_region_finish (f->master, result, &finish_error));
  g_assert_false (vhost_user_master_postcopy_to_backend (f->master, 0x80010, &backend_addr));
  vhost_user_master_postcopy_end_async (f->master, NULL, slot_cb, &s);
  FINISH_OK (&s, vhost_user_master_postcopy_end_finish (f->master, result, &finish_error));
  g_assert_false (vhost_user_master_postcopy_to_backend (f->master, 0x10, &backend_addr));
  close (uffd);

  /* The rest of VhostBackend. */
  vhost_backend_get_vring_base_async (f->backend, 2, NULL, slot_cb, &s);
  FINISH_OK (&s, vhost_backend_get_vring_base_finish (f->backend, result, &base, &finish_error));
  g_assert_cmpuint (base, ==, 0);
  vhost_backend_set_vring_err_async (f->backend, 0, f->call[1], NULL, slot_cb, &s);
  FINISH_OK (&s, vhost_backend_set_vring_err_finish (f->backend, result, &finish_error));
  vhost_backend_set_log_fd_async (f->backend, f->call[1], NULL, slot_cb, &s);
  FINISH_OK (&s, vhost_backend_set_log_fd_finish (f->backend, result, &finish_error));
  fd = vhost_test_memfd (4096);
  vhost_backend_set_log_base_async (f->backend, 0, 4096, fd, NULL, slot_cb, &s);
  close (fd);
  FINISH_OK (&s, vhost_backend_set_log_base_finish (f->backend, result, &finish_error));
  vhost_user_master_reset_device_async (f->master, NULL, slot_cb, &s);
  FINISH_OK (&s, vhost_user_master_reset_device_finish (f->master, result, &finish_error));
  vhost_backend_reset_owner_async (f->backend, NULL, slot_cb, &s);
  FINISH_OK (&s, vhost_backend_reset_owner_finish (f->backend, result, &finish_error));

  /* Any request, as the specification lays it out. */
  payload = g_bytes_new (buf, 40);
  vhost_user_master_send_request_async (f->master, VHOST_USER_CREATE_CRYPTO_SESSION, payload, NULL, NULL, slot_cb,
                                        &s);
  FINISH_OK (&s, (reply = vhost_user_master_send_request_finish (f->master, result, &reply_fds, &finish_error)) != NULL);
  g_assert_true (g_bytes_equal (reply, payload));
  g_assert_null (reply_fds);
  g_assert_cmpuint (f->disconnects, ==, 0);
}

/* A VhostBackend that implements only the synchronous calls, as an out-of-tree
 * one might: the interface's defaults give it the asynchronous ones. */
#define TEST_TYPE_SYNC_BACKEND (test_sync_backend_get_type ())
G_DECLARE_FINAL_TYPE (TestSyncBackend, test_sync_backend, TEST, SYNC_BACKEND, GObject)

struct _TestSyncBackend
{
  GObject parent_instance;
  guint calls;
  guint64 features;
};

static void test_sync_backend_iface_init (VhostBackendInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestSyncBackend, test_sync_backend, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (VHOST_TYPE_BACKEND, test_sync_backend_iface_init))

static gboolean
sync_get_features (VhostBackend *backend, guint64 *features, GError **error)
{
  TEST_SYNC_BACKEND (backend)->calls++;
  *features = 0x1234;
  return TRUE;
}

static gboolean
sync_set_features (VhostBackend *backend, guint64 features, GError **error)
{
  TEST_SYNC_BACKEND (backend)->calls++;
  if (features & 1)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_REJECTED, "SET_FEATURES: bit 0 refused");
      return FALSE;
    }
  TEST_SYNC_BACKEND (backend)->features = features;
  return TRUE;
}

static gboolean
sync_get_vring_base (VhostBackend *backend, guint index, guint *base, GError **error)
{
  TEST_SYNC_BACKEND (backend)->calls++;
  *base = index * 100;
  return TRUE;
}

static void
test_sync_backend_iface_init (VhostBackendInterface *iface)
{
  iface->get_features = sync_get_features;
  iface->set_features = sync_set_features;
  iface->get_vring_base = sync_get_vring_base;
}

static void
test_sync_backend_init (TestSyncBackend *self)
{
}

static void
test_sync_backend_class_init (TestSyncBackendClass *klass)
{
}

/* The defaults make the synchronous call during the _async call and call back on
 * the next iteration; a missing optional call is NOT_SUPPORTED; a cancelled
 * cancellable stops the call before it is made. */
static void
test_default_async (void)
{
  g_autoptr(TestSyncBackend) backend = g_object_new (TEST_TYPE_SYNC_BACKEND, NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  VhostBackend *b = VHOST_BACKEND (backend);
  guint64 features = 0;
  guint base = 0;

  vhost_backend_get_features_async (b, NULL, vhost_test_store_result, &result);
  g_assert_cmpuint (backend->calls, ==, 1);
  g_assert_null (result);
  vhost_test_wait_for_result (&result, 5000);
  g_assert_true (vhost_backend_get_features_finish (b, result, &features, &error));
  g_assert_no_error (error);
  g_assert_cmphex (features, ==, 0x1234);
  g_clear_object (&result);
  g_assert_cmphex (vhost_backend_query_features (b, &error), ==, 0x1234);
  g_assert_no_error (error);

  vhost_backend_get_vring_base_async (b, 3, NULL, vhost_test_store_result, &result);
  vhost_test_wait_for_result (&result, 5000);
  g_assert_true (vhost_backend_get_vring_base_finish (b, result, &base, &error));
  g_assert_cmpuint (base, ==, 300);
  g_clear_object (&result);

  vhost_backend_set_features_async (b, 0x11, NULL, vhost_test_store_result, &result);
  vhost_test_wait_for_result (&result, 5000);
  g_assert_false (vhost_backend_set_features_finish (b, result, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_REJECTED);
  g_clear_error (&error);
  g_clear_object (&result);

  vhost_backend_set_status_async (b, 1, NULL, vhost_test_store_result, &result);
  vhost_test_wait_for_result (&result, 5000);
  g_assert_false (vhost_backend_set_status_finish (b, result, &error));
  vhost_test_assert_error_prefix (error, VHOST_ERROR_NOT_SUPPORTED, "SET_STATUS");
  g_clear_error (&error);
  g_clear_object (&result);

  g_cancellable_cancel (cancellable);
  vhost_backend_set_features_async (b, 0x10, cancellable, vhost_test_store_result, &result);
  vhost_test_wait_for_result (&result, 5000);
  g_assert_false (vhost_backend_set_features_finish (b, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmphex (backend->features, ==, 0);
  g_assert_cmpuint (backend->calls, ==, 4);
}

/* The value-returning forms. */
static void
test_query (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  g_assert_cmphex (vhost_backend_query_features (f->backend, &error), ==,
                   f->device->features | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES));
  g_assert_no_error (error);
  g_assert_cmphex (vhost_user_master_query_protocol_features (f->master, &error) & WANTED_PROTOCOL, ==,
                   WANTED_PROTOCOL);
  negotiate (f, VHOST_USER_PROTOCOL_F_MQ | VHOST_USER_PROTOCOL_F_STATUS | VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS);
  g_assert_cmpuint (vhost_user_master_query_queue_num (f->master, &error), ==, 4);
  g_assert_cmpuint (vhost_user_master_query_max_mem_slots (f->master, &error), >=, 8);
  g_assert_true (vhost_backend_set_status (f->backend, 3, &error));
  g_assert_cmpuint (vhost_backend_query_status (f->backend, &error), ==, 3);
  g_assert_cmpuint (vhost_backend_query_vring_base (f->backend, 1, &error), ==, 0);
  g_assert_no_error (error);
  /* An error gives 0 and the error. */
  vhost_user_master_close (f->master);
  g_assert_cmpuint (vhost_user_master_query_queue_num (f->master, &error), ==, 0);
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_DISCONNECTED);
}

int
main (int argc, char **argv)
{
  vhost_test_init (&argc, &argv);
  g_test_add ("/vhost/async/bring-up-step-by-step", Fixture, NULL, fixture_setup, test_bring_up_step_by_step,
              fixture_teardown);
  g_test_add ("/vhost/async/bring-up-all-at-once", Fixture, NULL, fixture_setup, test_bring_up_all_at_once,
              fixture_teardown);
  g_test_add ("/vhost/async/sync-after-async", Fixture, NULL, fixture_setup, test_sync_after_async, fixture_teardown);
  g_test_add ("/vhost/async/sync-in-notify", Fixture, NULL, fixture_setup, test_sync_in_notify, fixture_teardown);
  g_test_add ("/vhost/async/cancel", Fixture, NULL, fixture_setup, test_cancel, fixture_teardown);
  g_test_add ("/vhost/async/errors", Fixture, NULL, fixture_setup, test_errors, fixture_teardown);
  g_test_add ("/vhost/async/disconnect", Fixture, NULL, fixture_setup, test_disconnect, fixture_teardown);
  g_test_add ("/vhost/async/close", Fixture, NULL, fixture_setup, test_close_with_calls, fixture_teardown);
  g_test_add ("/vhost/async/typed-calls", Fixture, NULL, fixture_setup, test_typed_calls, fixture_teardown);
  g_test_add ("/vhost/async/query", Fixture, NULL, fixture_setup, test_query, fixture_teardown);
  g_test_add_func ("/vhost/async/default", test_default_async);
  return g_test_run ();
}
