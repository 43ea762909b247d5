/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The back-end engine alone: linked with libvhost-protocol.a, libvhost-core.a and GLib only, driven without a socket. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/userfaultfd.h>

#include "vhost-glib/core/vhost-driver-ring.h"
#include "vhost-glib/core/vhost-user-dev.h"

/* This file must not see the GObject layer: these are defined by its headers. */
#ifdef G_TYPE_OBJECT
#error "test-engine must not include GObject"
#endif

#define MEM_SIZE (1u << 20)
#define QUEUE_SIZE 8
#define MAX_QUEUES 2
#define RING_AREA 0x10000         /* guest address of the ring areas */
#define DATA_AREA 0x40000         /* guest address of the buffers */

typedef struct
{
  gboolean packed;
  gboolean event_idx;
} Params;

typedef struct
{
  const Params *params;
  guint fds_at_setup;
  VhostUserDev *dev;
  VhostQueue queues[MAX_QUEUES];
  GQueue replies;                 /* (element-type VhostUserMsg) what the engine sent */
  guint resets;
  guint state_changes;
  guint handled;                  /* chains the handler echoed (atomic) */

  int mem_fd;
  guint8 *mem;                    /* the driver's view of guest memory */
  VhostDriverRing ring;
  int kick_fd, call_fd;
} Fixture;

static guint
count_fds (void)
{
  DIR *dir = opendir ("/proc/self/fd");
  struct dirent *entry;
  guint n = 0;

  g_assert_nonnull (dir);
  while ((entry = readdir (dir)) != NULL)
    if (entry->d_name[0] != '.')
      n++;
  closedir (dir);
  return n - 1; /* the directory's own fd */
}

/* The device: VERSION_1 and the ring features; an echo that reverses the bytes. */

static guint64
dev_get_features (VhostUserDev *dev, gpointer data)
{
  return (G_GUINT64_CONSTANT (1) << VHOST_VIRTIO_F_VERSION_1) |
         (G_GUINT64_CONSTANT (1) << VHOST_VIRTIO_F_RING_EVENT_IDX) |
         (G_GUINT64_CONSTANT (1) << VHOST_VIRTIO_F_RING_PACKED);
}

static guint64
dev_get_protocol_features (VhostUserDev *dev, gpointer data)
{
  return VHOST_USER_PROTOCOL_F_MQ | VHOST_USER_PROTOCOL_F_REPLY_ACK | VHOST_USER_PROTOCOL_F_CONFIG |
         VHOST_USER_PROTOCOL_F_STATUS | VHOST_USER_PROTOCOL_F_PAGEFAULT | VHOST_USER_PROTOCOL_F_DEVICE_STATE;
}

static gboolean
dev_set_features (VhostUserDev *dev, guint64 features, gpointer data, GError **error)
{
  return TRUE;
}

static GBytes *
dev_get_config (VhostUserDev *dev, guint offset, guint size, gpointer data, GError **error)
{
  g_set_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED, "no configuration space");
  return NULL;
}

static gboolean
dev_set_config (VhostUserDev *dev, guint offset, GBytes *bytes, guint flags, gpointer data, GError **error)
{
  g_set_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED, "read-only");
  return FALSE;
}

static void
dev_vring_state_changed (VhostUserDev *dev, guint index, gboolean started, gboolean enabled, gpointer data)
{
  ((Fixture *) data)->state_changes++;
}

static void
dev_reset (VhostUserDev *dev, gpointer data)
{
  ((Fixture *) data)->resets++;
}

static gboolean
dev_device_request (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, gpointer data, GError **error)
{
  g_set_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED, "%s: not supported",
               vhost_user_request_name (VHOST_USER_CHANNEL_FRONTEND, msg->hdr.request));
  return FALSE;
}

/* The transport: keep a copy of what was sent, with its fds duplicated. */
static void
dev_send (VhostUserDev *dev, const VhostUserMsg *msg, gpointer data)
{
  Fixture *f = data;
  VhostUserMsg *copy = g_memdup2 (msg, sizeof *msg);

  for (guint i = 0; i < msg->n_fds; i++)
    copy->fds[i] = dup (msg->fds[i]);
  g_queue_push_tail (&f->replies, copy);
}

static void
dev_set_backend_fd (VhostUserDev *dev, int fd, gpointer data)
{
  close (fd);
}

static void
dev_protocol_features_changed (VhostUserDev *dev, guint64 features, gpointer data)
{
}

/* The queue's handler, in its worker: reverse the readable bytes into the writable ones. */
static void
echo (VhostQueue *queue, gpointer data)
{
  Fixture *f = data;
  struct iovec iov[4];
  VhostRingElement elem;

  while (vhost_ring_pop (&queue->ring, &elem, iov, G_N_ELEMENTS (iov)) > 0)
    {
      guint8 buffer[64];
      gsize n = 0;

      for (guint i = 0; i < elem.n_out; i++)
        {
          gsize len = MIN (iov[i].iov_len, sizeof buffer - n);

          memcpy (buffer + n, iov[i].iov_base, len);
          n += len;
        }
      g_assert_cmpuint (elem.n_in, ==, 1);
      g_assert_cmpuint (iov[elem.n_out].iov_len, >=, n);
      for (gsize i = 0; i < n; i++)
        ((guint8 *) iov[elem.n_out].iov_base)[i] = buffer[n - 1 - i];
      vhost_ring_push (&queue->ring, &elem, n);
      g_atomic_int_inc (&f->handled);
    }
}

static VhostQueue *
dev_get_queue (VhostUserDev *dev, guint index, gpointer data)
{
  Fixture *f = data;

  g_assert_cmpuint (index, <, MAX_QUEUES);
  return &f->queues[index];
}

static const VhostUserDevOps ops = {
  .get_features = dev_get_features,
  .get_protocol_features = dev_get_protocol_features,
  .set_features = dev_set_features,
  .get_config = dev_get_config,
  .set_config = dev_set_config,
  .vring_state_changed = dev_vring_state_changed,
  .reset = dev_reset,
  .device_request = dev_device_request,
  .send = dev_send,
  .set_backend_fd = dev_set_backend_fd,
  .protocol_features_changed = dev_protocol_features_changed,
  .get_queue = dev_get_queue,
};

/* Sending requests as the channel would: validated first. */

static void
reply_free (gpointer data)
{
  VhostUserMsg *msg = data;

  vhost_user_msg_close_fds (msg);
  g_free (msg);
}

/* Hand `msg` to the engine; TRUE if the connection goes on. */
static gboolean
request (Fixture *f, VhostUserMsg *msg, GError **error)
{
  gboolean keep;

  if (!vhost_user_request_validate (VHOST_USER_CHANNEL_FRONTEND, msg, error))
    return FALSE;
  keep = vhost_user_dev_handle (f->dev, msg, error);
  vhost_user_msg_close_fds (msg);
  return keep;
}

/* A request that must succeed, with the reply the protocol gives it (NULL if none). */
static VhostUserMsg *
call (Fixture *f, VhostUserMsg *msg)
{
  g_autoptr(GError) error = NULL;
  guint64 protocol = vhost_user_dev_get_acked_protocol_features (f->dev);
  VhostUserReplyForm form;

  vhost_user_request_set_need_reply (VHOST_USER_CHANNEL_FRONTEND, msg, protocol);
  form = vhost_user_request_reply_form (VHOST_USER_CHANNEL_FRONTEND, msg, protocol);
  g_assert_true (request (f, msg, &error));
  g_assert_no_error (error);
  if (form == VHOST_USER_REPLY_FORM_NONE)
    {
      g_assert_true (g_queue_is_empty (&f->replies));
      return NULL;
    }
  g_assert_cmpuint (g_queue_get_length (&f->replies), ==, 1);
  {
    VhostUserMsg *reply = g_queue_pop_head (&f->replies);

    g_assert_true (vhost_user_reply_validate (VHOST_USER_CHANNEL_FRONTEND, msg->hdr.request,
                                              form == VHOST_USER_REPLY_FORM_ACK, reply, &error));
    g_assert_no_error (error);
    if (form == VHOST_USER_REPLY_FORM_ACK)
      {
        g_assert_cmpuint (reply->payload.u64, ==, 0);
        reply_free (reply);
        return NULL;
      }
    return reply;
  }
}

static guint64
call_u64 (Fixture *f, guint32 code)
{
  VhostUserMsg msg;
  VhostUserMsg *reply;
  guint64 value;

  vhost_user_msg_init (&msg, code, 0);
  reply = call (f, &msg);
  g_assert_nonnull (reply);
  value = reply->payload.u64;
  reply_free (reply);
  return value;
}

static void
call_set_u64 (Fixture *f, guint32 code, guint64 value)
{
  VhostUserMsg msg;

  vhost_user_msg_init_u64 (&msg, code, value);
  g_assert_null (call (f, &msg));
}

static void
call_state (Fixture *f, guint32 code, guint index, guint num)
{
  VhostUserMsg msg;

  vhost_user_msg_init_state (&msg, code, index, num);
  g_assert_null (call (f, &msg));
}

static void
call_vring_fd (Fixture *f, guint32 code, guint index, int fd)
{
  VhostUserMsg msg;

  vhost_user_msg_init_u64 (&msg, code, index);
  msg.fds[msg.n_fds++] = dup (fd);
  g_assert_null (call (f, &msg));
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->params = data;
  f->fds_at_setup = count_fds ();
  f->dev = vhost_user_dev_new (&ops, f);
  g_queue_init (&f->replies);
  for (guint i = 0; i < MAX_QUEUES; i++)
    {
      vhost_queue_init (&f->queues[i], i, NULL, NULL);
      f->queues[i].handler = echo;
      f->queues[i].handler_data = f;
    }
  f->mem_fd = memfd_create ("test-engine", MFD_CLOEXEC);
  g_assert_cmpint (f->mem_fd, >=, 0);
  g_assert_cmpint (ftruncate (f->mem_fd, MEM_SIZE), ==, 0);
  f->mem = mmap (NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->mem_fd, 0);
  g_assert_true (f->mem != MAP_FAILED);
  f->kick_fd = eventfd (0, EFD_CLOEXEC);
  f->call_fd = eventfd (0, EFD_CLOEXEC);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  vhost_user_dev_free (f->dev);
  g_queue_clear_full (&f->replies, reply_free);
  vhost_driver_ring_clear (&f->ring);
  munmap (f->mem, MEM_SIZE);
  close (f->mem_fd);
  close (f->kick_fd);
  close (f->call_fd);
  /* Everything the engine opened (mappings, vring fds, worker threads) is gone. */
  g_assert_cmpuint (count_fds (), ==, f->fds_at_setup);
}

static guint64
uaddr (Fixture *f, guint64 gpa)
{
  return (guint64) (guintptr) f->mem + gpa;
}

/* Negotiate and share memory. */
static void
negotiate_and_share (Fixture *f)
{
  guint64 features;
  VhostUserMsg msg;

  vhost_user_dev_connect (f->dev, MAX_QUEUES, 256);

  features = call_u64 (f, VHOST_USER_GET_FEATURES);
  g_assert_true (features & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES));
  features &= VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES) |
              (f->params->packed ? VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED) : 0) |
              (f->params->event_idx ? VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX) : 0);
  call_set_u64 (f, VHOST_USER_SET_FEATURES, features);
  g_assert_cmphex (vhost_user_dev_get_acked_features (f->dev), ==, features);
  g_assert_cmphex (call_u64 (f, VHOST_USER_GET_PROTOCOL_FEATURES), ==, dev_get_protocol_features (f->dev, f));
  call_set_u64 (f, VHOST_USER_SET_PROTOCOL_FEATURES, VHOST_USER_PROTOCOL_F_MQ | VHOST_USER_PROTOCOL_F_REPLY_ACK |
                                                       VHOST_USER_PROTOCOL_F_CONFIG | VHOST_USER_PROTOCOL_F_STATUS |
                                                       VHOST_USER_PROTOCOL_F_DEVICE_STATE);
  /* From here on every request is acknowledged (call() checks the status). */
  vhost_user_msg_init (&msg, VHOST_USER_SET_OWNER, 0);
  g_assert_null (call (f, &msg));
  g_assert_cmpuint (call_u64 (f, VHOST_USER_GET_QUEUE_NUM), ==, MAX_QUEUES);

  vhost_user_msg_init (&msg, VHOST_USER_SET_MEM_TABLE, 8 + sizeof (VhostUserRegionWire));
  msg.payload.memory.nregions = 1;
  msg.payload.memory.regions[0] = (VhostUserRegionWire) { 0, MEM_SIZE, uaddr (f, 0), 0 };
  msg.fds[msg.n_fds++] = dup (f->mem_fd);
  g_assert_null (call (f, &msg));
  g_assert_cmpuint (vhost_user_dev_get_n_regions (f->dev), ==, 1);
  g_assert_true (vhost_user_dev_translate (f->dev, DATA_AREA, 16) != NULL);
}

/* Vring 0: its size, addresses and eventfds. */
static void
set_vring (Fixture *f)
{
  VhostUserMsg msg;

  call_state (f, VHOST_USER_SET_VRING_NUM, 0, QUEUE_SIZE);
  vhost_user_msg_init (&msg, VHOST_USER_SET_VRING_ADDR, sizeof (VhostUserVringAddrWire));
  msg.payload.addr.index = 0;
  msg.payload.addr.desc_user_addr = uaddr (f, RING_AREA);
  msg.payload.addr.avail_user_addr = uaddr (f, RING_AREA + 0x1000);
  msg.payload.addr.used_user_addr = uaddr (f, RING_AREA + 0x2000);
  g_assert_null (call (f, &msg));
  call_vring_fd (f, VHOST_USER_SET_VRING_CALL, 0, f->call_fd);
  call_vring_fd (f, VHOST_USER_SET_VRING_KICK, 0, f->kick_fd);
}

/* Set vring 0 up from `base` and start it, as QEMU starts a device. */
static void
start_vring (Fixture *f, guint base)
{
  call_state (f, VHOST_USER_SET_VRING_BASE, 0, base);
  set_vring (f);
  call_state (f, VHOST_USER_SET_VRING_ENABLE, 0, 1);
  g_assert_true (f->queues[0].running);
  g_assert_false (f->queues[1].running);
  call_set_u64 (f, VHOST_USER_SET_STATUS, VHOST_VIRTIO_STATUS_ACKNOWLEDGE | VHOST_VIRTIO_STATUS_DRIVER |
                                            VHOST_VIRTIO_STATUS_FEATURES_OK | VHOST_VIRTIO_STATUS_DRIVER_OK);
  g_assert_cmpuint (call_u64 (f, VHOST_USER_GET_STATUS), ==, 0xf);
}

/* Negotiate, share memory, set vring 0 up and start it. */
static void
bring_up (Fixture *f)
{
  guint64 sizes[3];

  negotiate_and_share (f);

  /* The driver's ring in guest memory. */
  vhost_driver_ring_sizes (QUEUE_SIZE, f->params->packed, &sizes[0], &sizes[1], &sizes[2]);
  if (f->params->packed)
    {
      f->ring.pdesc = (gpointer) (f->mem + RING_AREA);
      f->ring.driver_event = (gpointer) (f->mem + RING_AREA + 0x1000);
      f->ring.device_event = (gpointer) (f->mem + RING_AREA + 0x2000);
    }
  else
    {
      f->ring.desc = (gpointer) (f->mem + RING_AREA);
      f->ring.avail = (gpointer) (f->mem + RING_AREA + 0x1000);
      f->ring.used = (gpointer) (f->mem + RING_AREA + 0x2000);
    }
  vhost_driver_ring_init (&f->ring, QUEUE_SIZE, f->params->packed, f->params->event_idx, FALSE);
  start_vring (f, f->params->packed ? 0x8000 : 0);
}

/* Wait until the call eventfd fires (or, with event idx, a used entry appears). */
static void
wait_used (Fixture *f, guint64 *tag, guint32 *len)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  for (;;)
    {
      struct pollfd pfd = { f->call_fd, POLLIN, 0 };
      eventfd_t value;
      int r = vhost_driver_ring_get_used (&f->ring, tag, len);

      g_assert_cmpint (r, >=, 0);
      if (r == 1)
        return;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      if (poll (&pfd, 1, 100) == 1)
        eventfd_read (f->call_fd, &value);
    }
}

/* Chains `first` to `last` - 1 through the echo, one at a time. */
static void
echo_chains (Fixture *f, guint first, guint last)
{
  for (guint round = first; round < last; round++)
    {
      VhostDriverRingBuffer out = { DATA_AREA + round * 256, 32 };
      VhostDriverRingBuffer in = { DATA_AREA + round * 256 + 128, 64 };
      guint64 tag;
      guint32 len;

      for (guint i = 0; i < 32; i++)
        f->mem[out.addr + i] = round * 3 + i;
      g_assert_cmpint (vhost_driver_ring_add (&f->ring, &out, 1, &in, 1, round), ==, 0);
      vhost_driver_ring_enable_notify (&f->ring, TRUE);
      if (vhost_driver_ring_kick_needed (&f->ring))
        eventfd_write (f->kick_fd, 1);
      wait_used (f, &tag, &len);
      g_assert_cmpuint (tag, ==, round);
      g_assert_cmpuint (len, ==, 32);
      for (guint i = 0; i < 32; i++)
        g_assert_cmpuint (f->mem[in.addr + i], ==, (guint8) (round * 3 + 31 - i));
    }
  g_assert_cmpuint (g_atomic_int_get (&f->handled), ==, last);
}

/* GET_VRING_BASE's answer after `n` chains from the start. */
static guint
expected_base (Fixture *f, guint n)
{
  guint wrap;

  if (!f->params->packed)
    return n;
  /* Bits 0-15: the next available descriptor and its wrap counter (1 at first,
   * flipped at each turn); bits 16-31: the same for the used side. */
  n *= 2; /* descriptors: each chain has two */
  wrap = (n / QUEUE_SIZE + 1) % 2;
  return (n % QUEUE_SIZE | wrap << 15) * 0x10001;
}

static void
test_bring_up (Fixture *f, gconstpointer data)
{
  bring_up (f);
  echo_chains (f, 0, 3 * QUEUE_SIZE);

  /* GET_VRING_BASE stops the ring where the device is. */
  {
    VhostUserMsg msg;
    VhostUserMsg *reply;

    vhost_user_msg_init_state (&msg, VHOST_USER_GET_VRING_BASE, 0, 0);
    reply = call (f, &msg);
    g_assert_nonnull (reply);
    g_assert_cmphex (reply->payload.state.num, ==, expected_base (f, 3 * QUEUE_SIZE));
    reply_free (reply);
    g_assert_false (f->queues[0].running);
  }

  vhost_user_dev_disconnect (f->dev);
  g_assert_false (vhost_user_dev_is_connected (f->dev));
  g_assert_cmpuint (vhost_user_dev_get_n_regions (f->dev), ==, 0);
  g_assert_cmpint (vhost_user_dev_get_vring_fd (f->dev, 0, VHOST_USER_SET_VRING_KICK), ==, -1);
}

/* QEMU 7.2 stops a device (a VM stopped, or migrated) with SET_STATUS 0, then
 * SET_VRING_ENABLE 0 and GET_VRING_BASE, and resumes it (here, or on the
 * destination's back-end) from the base GET_VRING_BASE returned: the reset by
 * status keeps each ring's position for it. */
static void
test_stop_resume (Fixture *f, gconstpointer data)
{
  guint n = QUEUE_SIZE + 3, base;
  VhostUserMsg msg, *reply;

  bring_up (f);
  echo_chains (f, 0, n);
  call_set_u64 (f, VHOST_USER_SET_STATUS, 0);
  g_assert_cmpuint (f->resets, ==, 1);
  g_assert_false (f->queues[0].running);
  call_state (f, VHOST_USER_SET_VRING_ENABLE, 0, 0);
  vhost_user_msg_init_state (&msg, VHOST_USER_GET_VRING_BASE, 0, 0);
  reply = call (f, &msg);
  g_assert_nonnull (reply);
  base = reply->payload.state.num;
  reply_free (reply);
  g_assert_cmphex (base, ==, expected_base (f, n));

  /* Started again from there, the ring goes on where it was. */
  start_vring (f, base);
  echo_chains (f, n, n + QUEUE_SIZE);
  vhost_user_dev_disconnect (f->dev);
}

/* Failures answer as the table says, and the connection goes on where it can. */
static void
test_failures (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  VhostUserMsg msg, *reply;

  bring_up (f);

  /* An acknowledged request that fails: status 1, the connection goes on. */
  vhost_user_msg_init_state (&msg, VHOST_USER_SET_VRING_NUM, 0, 0);
  msg.hdr.flags |= VHOST_USER_FLAG_NEED_REPLY;
  g_assert_true (request (f, &msg, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  reply = g_queue_pop_head (&f->replies);
  g_assert_nonnull (reply);
  g_assert_cmpuint (reply->payload.u64, ==, 1);
  reply_free (reply);

  /* GET_CONFIG that the device fails: an empty reply. */
  vhost_user_msg_init (&msg, VHOST_USER_GET_CONFIG, VHOST_USER_CONFIG_HDR_SIZE + 8);
  msg.payload.config.size = 8;
  g_assert_true (request (f, &msg, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);
  reply = g_queue_pop_head (&f->replies);
  g_assert_nonnull (reply);
  g_assert_cmpuint (reply->hdr.size, ==, 0);
  reply_free (reply);

  /* A request that needs a protocol feature that was not negotiated. */
  vhost_user_msg_init (&msg, VHOST_USER_GET_MAX_MEM_SLOTS, 0);
  g_assert_false (request (f, &msg, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, "CONFIGURE_MEM_SLOTS"));
  g_clear_error (&error);
  g_assert_true (g_queue_is_empty (&f->replies));

  /* SET_STATUS 0 resets the device and stops its queues. */
  call_set_u64 (f, VHOST_USER_SET_STATUS, 0);
  g_assert_cmpuint (f->resets, ==, 1);
  g_assert_false (f->queues[0].running);

  /* A vring beyond the device's, without NEED_REPLY: the connection ends. */
  vhost_user_msg_init_state (&msg, VHOST_USER_SET_VRING_BASE, MAX_QUEUES, 0);
  g_assert_false (request (f, &msg, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_true (g_queue_is_empty (&f->replies));

  vhost_user_dev_disconnect (f->dev);
}

/* Postcopy, the front-end's side played here as QEMU plays it: a userfaultfd
 * from POSTCOPY_ADVISE; after POSTCOPY_LISTEN, SET_MEM_TABLE answered with the
 * back-end's own addresses and acknowledged; then every page of guest memory
 * that has not "arrived" makes the worker that touches it wait, until the
 * front-end has written the page and woken it. The process never faults. */
static void
test_postcopy (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  VhostUserMsg msg, *reply;
  guint64 back_end_base, sizes[3], tag;
  guint32 len;
  int uffd;
  guint faults = 0;
  VhostDriverRingBuffer out = { DATA_AREA, 32 }, in = { DATA_AREA + 0x10000, 64 };

  vhost_user_dev_connect (f->dev, MAX_QUEUES, 256);
  call_set_u64 (f, VHOST_USER_SET_FEATURES, VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) |
                                              VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES) |
                                              (f->params->packed ? VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED) : 0));
  call_set_u64 (f, VHOST_USER_SET_PROTOCOL_FEATURES, VHOST_USER_PROTOCOL_F_PAGEFAULT);

  vhost_user_msg_init (&msg, VHOST_USER_POSTCOPY_ADVISE, 0);
  reply = call (f, &msg);
  g_assert_cmpuint (reply->n_fds, ==, 1);
  uffd = vhost_user_msg_take_fd (reply, 0);
  reply_free (reply);
  vhost_user_msg_init (&msg, VHOST_USER_POSTCOPY_LISTEN, 0);
  g_assert_null (call (f, &msg));

  /* The rings are where pages have arrived already; the buffers are not. */
  vhost_driver_ring_sizes (QUEUE_SIZE, f->params->packed, &sizes[0], &sizes[1], &sizes[2]);
  memset (f->mem + RING_AREA, 0, 0x3000);
  if (f->params->packed)
    {
      f->ring.pdesc = (gpointer) (f->mem + RING_AREA);
      f->ring.driver_event = (gpointer) (f->mem + RING_AREA + 0x1000);
      f->ring.device_event = (gpointer) (f->mem + RING_AREA + 0x2000);
    }
  else
    {
      f->ring.desc = (gpointer) (f->mem + RING_AREA);
      f->ring.avail = (gpointer) (f->mem + RING_AREA + 0x1000);
      f->ring.used = (gpointer) (f->mem + RING_AREA + 0x2000);
    }
  vhost_driver_ring_init (&f->ring, QUEUE_SIZE, f->params->packed, FALSE, FALSE);

  /* SET_MEM_TABLE while listening: the answer carries the back-end's base... */
  vhost_user_msg_init (&msg, VHOST_USER_SET_MEM_TABLE, 8 + sizeof (VhostUserRegionWire));
  msg.payload.memory.nregions = 1;
  msg.payload.memory.regions[0] = (VhostUserRegionWire) { 0, MEM_SIZE, uaddr (f, 0), 0 };
  msg.fds[msg.n_fds++] = dup (f->mem_fd);
  g_assert_true (request (f, &msg, &error));
  g_assert_no_error (error);
  reply = g_queue_pop_head (&f->replies);
  g_assert_nonnull (reply);
  g_assert_cmpuint (reply->hdr.request, ==, VHOST_USER_SET_MEM_TABLE);
  g_assert_true (reply->hdr.flags & VHOST_USER_FLAG_REPLY);
  g_assert_cmpuint (reply->payload.memory.nregions, ==, 1);
  g_assert_cmphex (reply->payload.memory.regions[0].guest_phys_addr, ==, 0);
  g_assert_cmphex (reply->payload.memory.regions[0].memory_size, ==, MEM_SIZE);
  back_end_base = reply->payload.memory.regions[0].userspace_addr;
  g_assert_cmphex (back_end_base, !=, uaddr (f, 0));
  g_assert_true (vhost_user_dev_translate (f->dev, 0, 1) == (gpointer) (guintptr) back_end_base);
  reply_free (reply);
  /* ...and nothing starts before the acknowledgement: a u64 0. */
  call_state (f, VHOST_USER_SET_VRING_NUM, 0, QUEUE_SIZE);
  vhost_user_msg_init (&msg, VHOST_USER_SET_VRING_ADDR, sizeof (VhostUserVringAddrWire));
  msg.payload.addr.desc_user_addr = uaddr (f, RING_AREA);
  msg.payload.addr.avail_user_addr = uaddr (f, RING_AREA + 0x1000);
  msg.payload.addr.used_user_addr = uaddr (f, RING_AREA + 0x2000);
  g_assert_null (call (f, &msg));
  call_vring_fd (f, VHOST_USER_SET_VRING_CALL, 0, f->call_fd);
  call_vring_fd (f, VHOST_USER_SET_VRING_KICK, 0, f->kick_fd);
  call_state (f, VHOST_USER_SET_VRING_ENABLE, 0, 1);
  g_assert_false (f->queues[0].running);
  vhost_user_msg_init_u64 (&msg, VHOST_USER_SET_MEM_TABLE, 0);
  g_assert_null (call (f, &msg));
  g_assert_true (f->queues[0].running);
  /* A second acknowledgement is refused. */
  vhost_user_msg_init_u64 (&msg, VHOST_USER_SET_MEM_TABLE, 0);
  g_assert_false (request (f, &msg, &error));
  g_assert_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* A request whose buffers have not arrived: the worker waits on each page. */
  g_assert_cmpint (vhost_driver_ring_add (&f->ring, &out, 1, &in, 1, 7), ==, 0);
  eventfd_write (f->kick_fd, 1);
  for (;;)
    {
      struct pollfd pfd[2] = { { uffd, POLLIN, 0 }, { f->call_fd, POLLIN, 0 } };
      struct uffd_msg event;
      guint64 offset;

      g_assert_cmpint (poll (pfd, 2, 10000), >, 0);
      if (pfd[1].revents & POLLIN)
        break;
      g_assert_cmpint (read (uffd, &event, sizeof event), ==, sizeof event);
      g_assert_cmpuint (event.event, ==, UFFD_EVENT_PAGEFAULT);
      offset = event.arg.pagefault.address - back_end_base;
      g_assert_cmpuint (offset, <, MEM_SIZE);
      /* The page arrives: written through our own mapping, then the waiter woken. */
      offset &= ~(guint64) 4095;
      if (offset == DATA_AREA)
        for (guint i = 0; i < 32; i++)
          f->mem[offset + i] = 100 + i;
      else
        f->mem[offset] = 0;
      {
        struct uffdio_range range = { (back_end_base + offset), 4096 };

        g_assert_cmpint (ioctl (uffd, UFFDIO_WAKE, &range), ==, 0);
      }
      faults++;
    }
  g_assert_cmpint (vhost_driver_ring_get_used (&f->ring, &tag, &len), ==, 1);
  g_assert_cmpuint (tag, ==, 7);
  g_assert_cmpuint (len, ==, 32);
  for (guint i = 0; i < 32; i++)
    g_assert_cmpuint (f->mem[in.addr + i], ==, 100 + 31 - i);
  /* The readable buffer's page and the writable one's. */
  g_assert_cmpuint (faults, ==, 2);

  vhost_user_msg_init (&msg, VHOST_USER_POSTCOPY_END, 0);
  reply = call (f, &msg);
  g_assert_cmpuint (reply->payload.u64, ==, 0);
  reply_free (reply);
  close (uffd);
  vhost_user_dev_disconnect (f->dev);
}

/* Submit request `tag`: 32 readable bytes, 64 writable ones. */
static void
submit (Fixture *f, guint tag, gboolean kick)
{
  VhostDriverRingBuffer out = { DATA_AREA + (tag % 64) * 256, 32 };
  VhostDriverRingBuffer in = { DATA_AREA + (tag % 64) * 256 + 128, 64 };

  for (guint i = 0; i < 32; i++)
    f->mem[out.addr + i] = tag * 3 + i;
  g_assert_cmpint (vhost_driver_ring_add (&f->ring, &out, 1, &in, 1, tag), ==, 0);
  vhost_driver_ring_enable_notify (&f->ring, TRUE);
  if (kick)
    eventfd_write (f->kick_fd, 1);
}

static void
reap (Fixture *f, guint tag)
{
  guint64 got;
  guint32 len;

  wait_used (f, &got, &len);
  g_assert_cmpuint (got, ==, tag);
  g_assert_cmpuint (len, ==, 32);
  for (guint i = 0; i < 32; i++)
    g_assert_cmpuint (f->mem[DATA_AREA + (tag % 64) * 256 + 128 + i], ==, (guint8) (tag * 3 + 31 - i));
}

/* SET_DEVICE_STATE_FD with a pipe end, through call(): the answer says "use yours". */
static void
start_transfer (Fixture *f, guint direction, int fd)
{
  VhostUserMsg msg, *reply;

  vhost_user_msg_init (&msg, VHOST_USER_SET_DEVICE_STATE_FD, sizeof (VhostUserDeviceStateWire));
  msg.payload.device_state.direction = direction;
  msg.fds[msg.n_fds++] = dup (fd);
  reply = call (f, &msg);
  g_assert_cmphex (reply->payload.u64, ==, VHOST_USER_DEVICE_STATE_NOFD);
  reply_free (reply);
}

static void
check_transfer (Fixture *f)
{
  VhostUserMsg msg, *reply;

  vhost_user_msg_init (&msg, VHOST_USER_CHECK_DEVICE_STATE, 0);
  reply = call (f, &msg);
  g_assert_cmpuint (reply->payload.u64, ==, 0);
  reply_free (reply);
}

/* A device moves from one engine to another: the source stops (GET_VRING_BASE)
 * and the driver submits more, which wait in the ring; the source saves its state
 * (SET_DEVICE_STATE_FD, read to its end, CHECK_DEVICE_STATE); the destination,
 * set up on the same memory without SET_VRING_BASE or SET_VRING_ENABLE, loads it
 * and goes on: the waiting requests complete there, then new ones. */
static void
test_device_state (Fixture *f, gconstpointer data)
{
  g_autoptr(GByteArray) state = g_byte_array_new ();
  Fixture dst = { 0 };
  VhostUserMsg msg, *reply;
  guint8 buf[256];
  int pipe_fds[2];
  gssize n;

  bring_up (f);
  for (guint tag = 0; tag < 4; tag++)
    {
      submit (f, tag, TRUE);
      reap (f, tag);
    }
  vhost_user_msg_init_state (&msg, VHOST_USER_GET_VRING_BASE, 0, 0);
  reply = call (f, &msg);
  g_assert_cmpuint (reply->payload.state.num & 0x7fff, ==, f->params->packed ? 4 * 2 % QUEUE_SIZE : 4);
  reply_free (reply);
  /* Three more while the device moves: in flight, for the destination. */
  for (guint tag = 4; tag < 7; tag++)
    submit (f, tag, TRUE);

  g_assert_cmpint (pipe2 (pipe_fds, O_CLOEXEC), ==, 0);
  start_transfer (f, 0, pipe_fds[1]);
  close (pipe_fds[1]);
  while ((n = read (pipe_fds[0], buf, sizeof buf)) > 0)
    g_byte_array_append (state, buf, n);
  g_assert_cmpint (n, ==, 0);
  close (pipe_fds[0]);
  check_transfer (f);
  g_assert_cmpmem (state->data, 16, "vhost-glib-state", 16);

  /* The destination: its own engine and queues, on the same memory and eventfds. */
  dst.params = f->params;
  dst.mem = f->mem;
  dst.mem_fd = f->mem_fd;
  dst.kick_fd = f->kick_fd;
  dst.call_fd = f->call_fd;
  g_queue_init (&dst.replies);
  for (guint i = 0; i < MAX_QUEUES; i++)
    {
      vhost_queue_init (&dst.queues[i], i, NULL, NULL);
      dst.queues[i].handler = echo;
      dst.queues[i].handler_data = &dst;
    }
  dst.dev = vhost_user_dev_new (&ops, &dst);
  negotiate_and_share (&dst);
  set_vring (&dst);
  g_assert_false (dst.queues[0].running);
  g_assert_cmpint (pipe2 (pipe_fds, O_CLOEXEC), ==, 0);
  start_transfer (&dst, 1, pipe_fds[0]);
  close (pipe_fds[0]);
  g_assert_cmpint (write (pipe_fds[1], state->data, state->len), ==, (gssize) state->len);
  close (pipe_fds[1]);
  check_transfer (&dst);
  g_assert_true (dst.queues[0].running);

  /* The waiting requests, then new ones, all on the destination. */
  eventfd_write (f->kick_fd, 1);
  for (guint tag = 4; tag < 7; tag++)
    reap (f, tag);
  for (guint tag = 7; tag < 7 + 2 * QUEUE_SIZE; tag++)
    {
      submit (f, tag, TRUE);
      reap (f, tag);
    }
  g_assert_cmpuint (g_atomic_int_get (&f->handled), ==, 4);
  g_assert_cmpuint (g_atomic_int_get (&dst.handled), ==, 3 + 2 * QUEUE_SIZE);
  g_assert_cmpuint (vhost_driver_ring_in_flight (&f->ring), ==, 0);

  vhost_user_dev_free (dst.dev);
  g_queue_clear_full (&dst.replies, reply_free);
  vhost_user_dev_disconnect (f->dev);
}

/* Wait until a worker finds vring 0 broken. */
static void
wait_broken (Fixture *f)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (!__atomic_load_n (&f->queues[0].ring.broken, __ATOMIC_ACQUIRE))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }
}

/* A front-end that truncates the file of guest memory under a running queue
 * (or before it starts): the fault breaks the queue instead of killing the
 * process, with an error that says so, and the next session works. The test
 * touches the truncated memory no more. */
static void
test_truncated_memory (Fixture *f, gconstpointer data)
{
  static const Params split = { FALSE, FALSE };
  gboolean before_start = GPOINTER_TO_UINT (data) == 1;
  int fresh;

  f->params = &split;
  if (before_start)
    {
      /* Everything but the kick fd, so nothing has started yet. */
      negotiate_and_share (f);
      call_state (f, VHOST_USER_SET_VRING_NUM, 0, QUEUE_SIZE);
      call_state (f, VHOST_USER_SET_VRING_ENABLE, 0, 1);
      g_assert_cmpint (ftruncate (f->mem_fd, 0), ==, 0);
      set_vring (f);
      g_assert_false (f->queues[0].running);
      g_assert_true (f->queues[0].ring.broken);
    }
  else
    {
      bring_up (f);
      for (guint tag = 0; tag < 2 * QUEUE_SIZE; tag++)
        {
          submit (f, tag, TRUE);
          reap (f, tag);
        }
      submit (f, 100, FALSE);
      g_assert_cmpint (ftruncate (f->mem_fd, 0), ==, 0);
      eventfd_write (f->kick_fd, 1);
      wait_broken (f);
    }
  g_assert_nonnull (strstr (f->queues[0].ring.error, "truncated"));
  vhost_user_dev_disconnect (f->dev);

  /* The next front-end, with memory of its own. */
  munmap (f->mem, MEM_SIZE);
  fresh = memfd_create ("test-engine-2", MFD_CLOEXEC);
  g_assert_cmpint (ftruncate (fresh, MEM_SIZE), ==, 0);
  g_assert_cmpint (dup2 (fresh, f->mem_fd), ==, f->mem_fd);
  close (fresh);
  f->mem = mmap (NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->mem_fd, 0);
  g_assert_true (f->mem != MAP_FAILED);
  vhost_driver_ring_clear (&f->ring);
  memset (&f->ring, 0, sizeof f->ring);
  bring_up (f);
  for (guint tag = 0; tag < QUEUE_SIZE; tag++)
    {
      submit (f, tag, TRUE);
      reap (f, tag);
    }
  vhost_user_dev_disconnect (f->dev);
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

  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (params); i++)
    {
      g_autofree char *up = g_strdup_printf ("/vhost/engine/bring-up/%s%s", params[i].packed ? "packed" : "split",
                                             params[i].event_idx ? "/event-idx" : "");
      g_autofree char *fail = g_strdup_printf ("/vhost/engine/failures/%s%s", params[i].packed ? "packed" : "split",
                                               params[i].event_idx ? "/event-idx" : "");

      g_test_add (up, Fixture, &params[i], fixture_setup, test_bring_up, fixture_teardown);
      g_autofree char *stop = g_strdup_printf ("/vhost/engine/stop-resume/%s%s", params[i].packed ? "packed" : "split",
                                               params[i].event_idx ? "/event-idx" : "");

      g_test_add (fail, Fixture, &params[i], fixture_setup, test_failures, fixture_teardown);
      g_test_add (stop, Fixture, &params[i], fixture_setup, test_stop_resume, fixture_teardown);
      if (!params[i].event_idx)
        {
          g_autofree char *postcopy = g_strdup_printf ("/vhost/engine/postcopy/%s",
                                                       params[i].packed ? "packed" : "split");

          g_test_add (postcopy, Fixture, &params[i], fixture_setup, test_postcopy, fixture_teardown);
        }
      {
        g_autofree char *state = g_strdup_printf ("/vhost/engine/device-state/%s%s",
                                                  params[i].packed ? "packed" : "split",
                                                  params[i].event_idx ? "/event-idx" : "");

        g_test_add (state, Fixture, &params[i], fixture_setup, test_device_state, fixture_teardown);
      }
    }
  g_test_add ("/vhost/engine/truncated-memory/running", Fixture, GUINT_TO_POINTER (0), fixture_setup,
              test_truncated_memory, fixture_teardown);
  g_test_add ("/vhost/engine/truncated-memory/before-start", Fixture, GUINT_TO_POINTER (1), fixture_setup,
              test_truncated_memory, fixture_teardown);
  return g_test_run ();
}
