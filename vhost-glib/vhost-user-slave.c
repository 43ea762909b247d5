/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostUserSlave: the vhost-user back-end as a GObject: its sockets, its device vfuncs and signals, over the core engine. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <gio/gunixsocketaddress.h>

#include "vhost-user-slave.h"
#include "vhost-enum-types.h"
#include "vhost-user-channel-private.h"
#include "vhost-user-slave-private.h"
#include "vhost-virtqueue-private.h"
#include "core/vhost-log-limit.h"
#include "core/vhost-user-dev.h"

/**
 * SECTION:vhost-user-slave
 * @title: VhostUserSlave
 * @short_description: the vhost-user back-end
 *
 * #VhostUserSlave is the back-end of the vhost-user protocol: the side that
 * serves a virtio device to a front-end such as QEMU. (The specification once
 * called it the "slave"; it now says "back-end".) It listens on a socket path
 * (vhost_user_slave_listen()), serves a socket that is already connected
 * (vhost_user_slave_serve_fd()), or connects out to a front-end that listens
 * (vhost_user_slave_connect_to()). One front-end is served at a time; when it goes
 * away, a listening slave accepts the next one.
 *
 * The slave decodes and validates every request, keeps the negotiated state
 * (features, protocol features, status, each queue's size, addresses, base and
 * eventfds), and maps the guest memory regions of SET_MEM_TABLE and ADD_MEM_REG
 * after checking their bounds against the file that backs them. A device is a
 * subclass that overrides the virtual functions of #VhostUserSlaveClass, in C
 * or in a language with GObject-Introspection bindings.
 *
 * A request that is malformed, or whose values are out of range, ends the
 * connection: #VhostUserSlave::disconnected carries a #GError in the
 * %VHOST_ERROR domain that names the request. A request that the device refuses
 * is answered with a failure status when the front-end asked for one (REPLY_ACK),
 * and otherwise ends the connection too. #VhostUserSlave::request-handled reports
 * each request.
 *
 * A device with VIRTIO Shared Memory Regions declares them
 * (vhost_user_slave_set_shmem_regions()), which the front-end reads with
 * GET_SHMEM_CONFIG, and has files mapped into them on the front-end's side
 * (vhost_user_slave_shmem_map(), vhost_user_slave_shmem_unmap()).
 *
 * A device that offers %VHOST_VIRTIO_F_ACCESS_PLATFORM gets it when the slave
 * offers %VHOST_USER_PROTOCOL_F_BACKEND_REQ and %VHOST_USER_PROTOCOL_F_REPLY_ACK
 * too: its rings then translate I/O virtual addresses through a device IOTLB
 * that the front-end keeps with IOTLB_MSG, misses are sent to the front-end
 * while the queue waits without blocking anything else (see the chapter "A
 * device IOTLB").
 *
 * The slave's sockets are watched on the #GMainContext that was the
 * thread-default one when it was created; its virtual functions and signals run
 * there. Use it from the thread that owns that context.
 *
 * A device with a configuration space and one queue, in C (see the chapter
 * "Writing a device" for complete programs):
 * |[<!-- language="C" -->
 * static guint64
 * my_blk_get_features (VhostUserSlave *slave)
 * {
 *   // The library's ring features, and the device's own bits.
 *   return VHOST_USER_SLAVE_CLASS (my_blk_parent_class)->get_features (slave) |
 *          VHOST_FEATURE_MASK (VIRTIO_BLK_F_BLK_SIZE);
 * }
 *
 * static void
 * my_blk_class_init (MyBlkClass *klass)
 * {
 *   VHOST_USER_SLAVE_CLASS (klass)->get_features = my_blk_get_features;
 * }
 *
 * static void
 * my_blk_init (MyBlk *self)
 * {
 *   g_autoptr(GBytes) config = g_bytes_new (&self->config, sizeof self->config);
 *
 *   vhost_user_slave_set_config_space (VHOST_USER_SLAVE (self), config); // offers CONFIG
 *   vhost_virtqueue_set_handler (vhost_user_slave_get_virtqueue (VHOST_USER_SLAVE (self), 0),
 *                                my_blk_handle_queue, self, NULL);
 * }
 *
 * // then: vhost_user_slave_listen (VHOST_USER_SLAVE (blk), "/run/blk.sock", &error);
 * ]|
 * and in Python, where the queue is processed on the main context:
 * |[<!-- language="Python" -->
 * class Rng(Vhost.UserSlave):
 *     def __init__(self):
 *         super().__init__()
 *         queue = self.get_virtqueue(0)
 *         queue.set_dispatch(Vhost.VirtqueueDispatch.MAIN_CONTEXT)
 *         queue.connect("kick", self.on_kick)
 *
 *     def on_kick(self, queue):
 *         for request in queue:
 *             size = request.get_writable_size()
 *             request.write(0, os.urandom(size))
 *             queue.push_request(request, size)
 * ]|
 */

/**
 * VhostUserSlave:
 *
 * A vhost-user back-end. All its fields are private.
 */

#define DEFAULT_MAX_QUEUE_SIZE 1024

/* The ring features the library implements for every device. */
#define DEFAULT_FEATURES                                                                            \
  (VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_INDIRECT_DESC) |  \
   VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED))

/* The device-independent protocol features the library backs whatever the device
 * (the engine logs dirty pages, tracks inflight chains, answers postcopy and moves
 * the device state). CONFIG comes on top when the device has a configuration space,
 * and the features of the device requests the device implements; see
 * slave_real_get_protocol_features(). */
#define DEFAULT_PROTOCOL_FEATURES                                                                   \
  ((guint64) (VHOST_USER_PROTOCOL_F_MQ | VHOST_USER_PROTOCOL_F_REPLY_ACK |                        \
              VHOST_USER_PROTOCOL_F_LOG_SHMFD |                                                   \
              VHOST_USER_PROTOCOL_F_BACKEND_REQ | VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD |         \
              VHOST_USER_PROTOCOL_F_HOST_NOTIFIER | VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD |        \
              VHOST_USER_PROTOCOL_F_RESET_DEVICE | VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS |   \
              VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS | VHOST_USER_PROTOCOL_F_STATUS |          \
              VHOST_USER_PROTOCOL_F_SHARED_OBJECT | VHOST_USER_PROTOCOL_F_PAGEFAULT |                 \
              VHOST_USER_PROTOCOL_F_DEVICE_STATE | VHOST_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT |   \
              VHOST_USER_PROTOCOL_F_SHMEM))

typedef struct
{
  GMainContext *context;         /* (owned) */
  VhostUserDev *dev;             /* (owned) the engine: everything the front-end negotiates */
  GSocket *listener;             /* (owned) (nullable) */
  GSource *listen_source;        /* (owned) (nullable) */
  char *listen_path;             /* (owned) (nullable) the socket file we created */
  dev_t listen_dev;              /* ...and its device and inode, to remove only that file */
  ino_t listen_ino;
  VhostUserChannel *channel;     /* (owned) (nullable) the front-end's connection */
  VhostUserChannel *backend;     /* (owned) (nullable) the back-end request channel */
  GBytes *config;                /* (owned) (nullable) */
  GPtrArray *queues;             /* (element-type VhostVirtqueue) (owned) */
  guint busy_poll_us;
  char *connect_path;            /* (owned) (nullable) client mode: the front-end's socket */
  GSource *redial_source;        /* (owned) (nullable) client mode: the next dial */
  guint redial_ms;               /* the wait before the next dial, doubled up to reconnect_max_ms */
  guint reconnect_max_ms;
  GError *vfunc_error;           /* (owned) (nullable) vhost_user_slave_fail_request() */
  GArray *shmem_sizes;           /* (element-type guint64) (owned) the shared memory regions, by shmid */
  VhostLogLimiter log_limiter;   /* what front-ends can make the device log (any thread) */
} VhostUserSlavePrivate;

G_DEFINE_TYPE_WITH_PRIVATE (VhostUserSlave, vhost_user_slave, G_TYPE_OBJECT)

#define DEFAULT_BUSY_POLL_US 32
#define DEFAULT_RECONNECT_MAX_MS 2000
#define FIRST_REDIAL_MS 50

enum {
  PROP_0,
  PROP_BUSY_POLL_US,
  PROP_RECONNECT_MAX_MS,
  PROP_CONNECTED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_DISCONNECTED,
  SIGNAL_REQUEST_HANDLED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

#define PRIV(self) ((VhostUserSlavePrivate *) vhost_user_slave_get_instance_private (self))

/* A queue's driver broke the ring rules: the engine tells the front-end. */
static void
queue_broken_cb (VhostVirtqueue *queue, GError *error, VhostUserSlave *self)
{
  vhost_user_dev_queue_broken (PRIV (self)->dev, vhost_virtqueue_get_index (queue));
}

/**
 * vhost_user_slave_get_virtqueue:
 * @slave: a #VhostUserSlave
 * @index: a queue index, below what #VhostUserSlaveClass.get_num_queues returns
 *
 * Gets one of the device's queues, to set how it is processed. The queue objects
 * live as long as the slave and serve every connection in turn.
 *
 * Returns: (transfer none): the queue
 */
VhostVirtqueue *
vhost_user_slave_get_virtqueue (VhostUserSlave *slave, guint index)
{
  VhostUserSlavePrivate *priv;

  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), NULL);
  g_return_val_if_fail (index < VHOST_USER_MAX_QUEUES, NULL);

  priv = PRIV (slave);
  while (priv->queues->len <= index)
    {
      VhostVirtqueue *queue = vhost_virtqueue_new (priv->queues->len, priv->context);

      g_signal_connect_object (queue, "broken", G_CALLBACK (queue_broken_cb), slave, 0);
      g_ptr_array_add (priv->queues, queue);
    }
  return g_ptr_array_index (priv->queues, index);
}

/**
 * vhost_user_slave_set_busy_poll_us:
 * @slave: a #VhostUserSlave
 * @usec: how long a worker keeps polling its queues after the last work, in
 *   microseconds; 0 to sleep on the kick eventfds at once
 *
 * Sets #VhostUserSlave:busy-poll-us.
 */
void
vhost_user_slave_set_busy_poll_us (VhostUserSlave *slave, guint usec)
{
  VhostUserSlavePrivate *priv;

  g_return_if_fail (VHOST_IS_USER_SLAVE (slave));

  priv = PRIV (slave);
  if (priv->busy_poll_us == usec)
    return;
  priv->busy_poll_us = usec;
  vhost_user_dev_set_busy_poll_us (priv->dev, usec);
  g_object_notify_by_pspec (G_OBJECT (slave), properties[PROP_BUSY_POLL_US]);
}

/**
 * vhost_user_slave_get_busy_poll_us:
 * @slave: a #VhostUserSlave
 *
 * Gets the value of #VhostUserSlave:busy-poll-us.
 *
 * Returns: #VhostUserSlave:busy-poll-us
 */
guint
vhost_user_slave_get_busy_poll_us (VhostUserSlave *slave)
{
  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), 0);
  return PRIV (slave)->busy_poll_us;
}

static void slave_start_listening (VhostUserSlave *self);
static void slave_schedule_redial (VhostUserSlave *self);

static void
slave_end_connection (VhostUserSlave *self, const GError *error)
{
  VhostUserSlavePrivate *priv = PRIV (self);

  if (priv->channel == NULL)
    return;
  g_object_ref (self);
  if (priv->backend != NULL)
    vhost_user_channel_close (priv->backend);
  vhost_user_channel_close (priv->channel);
  g_clear_pointer (&priv->channel, vhost_user_channel_unref);
  vhost_user_dev_disconnect (priv->dev);
  if (priv->vfunc_error != NULL)
    vhost_user_slave_log (self, G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "virtual function failed",
                          "While the connection ended: %s", priv->vfunc_error->message);
  g_clear_error (&priv->vfunc_error);
  g_clear_pointer (&priv->backend, vhost_user_channel_unref);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTED]);
  if (error != NULL)
    g_signal_emit (self, signals[SIGNAL_DISCONNECTED], 0, error);
  slave_start_listening (self);
  slave_schedule_redial (self);
  g_object_unref (self);
}

static void
slave_closed_cb (VhostUserChannel *channel, const GError *error, gpointer user_data)
{
  slave_end_connection (VHOST_USER_SLAVE (user_data), error);
}

static void
backend_closed_cb (VhostUserChannel *channel, const GError *error, gpointer user_data)
{
  VhostUserSlavePrivate *priv = PRIV (VHOST_USER_SLAVE (user_data));

  g_debug ("The back-end request channel closed: %s", error->message);
  g_clear_pointer (&priv->backend, vhost_user_channel_unref);
}

/* The engine's operations: the device's vfuncs and the sockets. */

static guint64
dev_get_features (VhostUserDev *dev, gpointer data)
{
  return VHOST_USER_SLAVE_GET_CLASS (data)->get_features (data);
}

static guint64
dev_get_protocol_features (VhostUserDev *dev, gpointer data)
{
  return VHOST_USER_SLAVE_GET_CLASS (data)->get_protocol_features (data);
}

static gboolean
dev_set_features (VhostUserDev *dev, guint64 features, gpointer data, GError **error)
{
  return VHOST_USER_SLAVE_GET_CLASS (data)->set_features (data, features, error);
}

static GBytes *
dev_get_config (VhostUserDev *dev, guint offset, guint size, gpointer data, GError **error)
{
  return VHOST_USER_SLAVE_GET_CLASS (data)->get_config (data, offset, size, error);
}

static gboolean
dev_set_config (VhostUserDev *dev, guint offset, GBytes *bytes, guint flags, gpointer data, GError **error)
{
  return VHOST_USER_SLAVE_GET_CLASS (data)->set_config (data, offset, bytes, flags, error);
}

static void
dev_vring_state_changed (VhostUserDev *dev, guint index, gboolean started, gboolean enabled, gpointer data)
{
  VHOST_USER_SLAVE_GET_CLASS (data)->vring_state_changed (data, index, started, enabled);
}

static void
dev_reset (VhostUserDev *dev, gpointer data)
{
  VHOST_USER_SLAVE_GET_CLASS (data)->reset (data);
}

/* Requests whose meaning depends on the device, through the device_request vfunc:
 * the payload and fds as GBytes and a GUnixFDList, the reply back the same way. */
static gboolean
dev_device_request (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, gpointer data, GError **error)
{
  VhostUserSlave *self = data;
  g_autoptr(GBytes) payload = g_bytes_new (msg->payload.bytes, msg->hdr.size);
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new ();
  g_autoptr(GBytes) reply_bytes = NULL;
  g_autoptr(GUnixFDList) reply_fds = NULL;
  const char *name = vhost_user_request_name (VHOST_USER_CHANNEL_FRONTEND, msg->hdr.request);

  for (guint i = 0; i < msg->n_fds; i++)
    if (g_unix_fd_list_append (fds, msg->fds[i], error) < 0)
      return FALSE;
  if (!VHOST_USER_SLAVE_GET_CLASS (self)->device_request (self, msg->hdr.request, payload, fds, &reply_bytes,
                                                          &reply_fds, error))
    return FALSE;
  if (reply_bytes != NULL)
    {
      gsize size = g_bytes_get_size (reply_bytes);

      if (size > VHOST_USER_MAX_PAYLOAD)
        {
          g_set_error (error, VHOST_ERROR, VHOST_ERROR_MESSAGE_SIZE, "%s: the device's reply is too large", name);
          return FALSE;
        }
      vhost_user_msg_init_reply (reply, msg, size);
      if (size > 0)
        memcpy (reply->payload.bytes, g_bytes_get_data (reply_bytes, NULL), size);
    }
  if (reply_fds != NULL)
    {
      gint n = g_unix_fd_list_get_length (reply_fds);

      if (n > (gint) VHOST_USER_MAX_FDS)
        {
          g_set_error (error, VHOST_ERROR, VHOST_ERROR_FDS, "%s: the device's reply has %d fds", name, n);
          return FALSE;
        }
      for (gint i = 0; i < n; i++)
        reply->fds[reply->n_fds++] = g_unix_fd_list_get (reply_fds, i, NULL);
    }
  if (vhost_user_request_info (VHOST_USER_CHANNEL_FRONTEND, msg->hdr.request)->reply == VHOST_USER_REPLY_ALWAYS &&
      !vhost_user_reply_validate (VHOST_USER_CHANNEL_FRONTEND, msg->hdr.request, FALSE, reply, error))
    return FALSE;
  return TRUE;
}

static void
dev_send (VhostUserDev *dev, const VhostUserMsg *msg, gpointer data)
{
  VhostUserSlavePrivate *priv = PRIV (VHOST_USER_SLAVE (data));

  /* A virtual function failed (vhost_user_slave_fail_request()): the reply would
   * carry a made-up value; the connection ends instead. */
  if (priv->vfunc_error != NULL)
    return;
  vhost_user_channel_send (priv->channel, msg);
}

static void
dev_set_backend_fd (VhostUserDev *dev, int fd, gpointer data)
{
  VhostUserSlavePrivate *priv = PRIV (VHOST_USER_SLAVE (data));

  g_clear_pointer (&priv->backend, vhost_user_channel_unref);
  priv->backend = vhost_user_channel_new (fd, VHOST_USER_CHANNEL_BACKEND, VHOST_USER_CHANNEL_REQUESTER,
                                          priv->context, NULL, backend_closed_cb, data);
  vhost_user_channel_set_protocol_features (priv->backend, vhost_user_dev_get_acked_protocol_features (dev));
}

static void
dev_protocol_features_changed (VhostUserDev *dev, guint64 features, gpointer data)
{
  VhostUserSlavePrivate *priv = PRIV (VHOST_USER_SLAVE (data));

  vhost_user_channel_set_protocol_features (priv->channel, features);
  if (priv->backend != NULL)
    vhost_user_channel_set_protocol_features (priv->backend, features);
}

typedef struct
{
  VhostUserSlave *slave; /* (owned) */
  VhostUserBackendRequest request;
  guint index;
} InbandNotify;

static gboolean
inband_notify_cb (gpointer data)
{
  InbandNotify *n = data;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  if (!vhost_user_slave_get_connected (n->slave))
    return G_SOURCE_REMOVE;
  if (n->request == VHOST_USER_BACKEND_VRING_CALL)
    ok = vhost_user_slave_vring_call (n->slave, n->index, &error);
  else
    ok = vhost_user_slave_vring_err (n->slave, n->index, &error);
  if (!ok)
    g_debug ("In-band notification of vring %u: %s", n->index, error->message);
  return G_SOURCE_REMOVE;
}

static void
inband_notify_free (gpointer data)
{
  InbandNotify *n = data;

  g_object_unref (n->slave);
  g_free (n);
}

/* Any thread: the notification goes out from the slave's context, through a
 * source (g_main_context_invoke() would run it in a worker that acquires the
 * context). */
static void
dev_inband_notify (VhostUserDev *dev, VhostUserBackendRequest request, guint index, gpointer data)
{
  InbandNotify *n = g_new (InbandNotify, 1);
  GSource *source = g_idle_source_new ();

  n->slave = g_object_ref (data);
  n->request = request;
  n->index = index;
  g_source_set_static_name (source, "[vhost] in-band notification");
  g_source_set_callback (source, inband_notify_cb, n, inband_notify_free);
  g_source_attach (source, PRIV (VHOST_USER_SLAVE (data))->context);
  g_source_unref (source);
}

static VhostQueue *
dev_get_queue (VhostUserDev *dev, guint index, gpointer data)
{
  return vhost_virtqueue_get_queue (vhost_user_slave_get_virtqueue (data, index));
}

static GBytes *
dev_save_state (VhostUserDev *dev, gpointer data, GError **error)
{
  return VHOST_USER_SLAVE_GET_CLASS (data)->save_state (data, error);
}

static gboolean
dev_load_state (VhostUserDev *dev, GBytes *state, gpointer data, GError **error)
{
  return VHOST_USER_SLAVE_GET_CLASS (data)->load_state (data, state, error);
}

static void
dev_get_shmem_config (VhostUserDev *dev, guint64 *sizes, gpointer data)
{
  GArray *shmem_sizes = PRIV (VHOST_USER_SLAVE (data))->shmem_sizes;

  if (shmem_sizes->len > 0)
    memcpy (sizes, shmem_sizes->data, shmem_sizes->len * sizeof (guint64));
}

static const VhostUserDevOps dev_ops = {
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
  .inband_notify = dev_inband_notify,
  .iotlb_request = vhost_user_slave_iotlb_request,
  .protocol_features_changed = dev_protocol_features_changed,
  .get_queue = dev_get_queue,
  .save_state = dev_save_state,
  .load_state = dev_load_state,
  .get_shmem_config = dev_get_shmem_config,
};

/* "RING_EVENT_IDX (bit 29), device feature bit 3": the names of the bits of a
 * virtio feature set or (protocol) of a protocol feature set. */
static char *
feature_bit_names (guint64 bits, gboolean protocol)
{
  GEnumClass *virtio = g_type_class_ref (VHOST_TYPE_VIRTIO_FEATURE);
  GFlagsClass *flags = g_type_class_ref (VHOST_TYPE_USER_PROTOCOL_FEATURES);
  GString *names = g_string_new (NULL);

  for (guint bit = 0; bit < 64; bit++)
    {
      const char *name = NULL;

      if (!(bits & VHOST_FEATURE_MASK (bit)))
        continue;
      if (names->len > 0)
        g_string_append (names, ", ");
      if (protocol && bit < 32)
        {
          GFlagsValue *value = g_flags_get_first_value (flags, 1u << bit);

          if (value != NULL && value->value == 1u << bit)
            name = value->value_name + strlen ("VHOST_USER_PROTOCOL_F_");
        }
      else if (!protocol)
        {
          GEnumValue *value = g_enum_get_value (virtio, bit);

          if (value != NULL)
            name = value->value_name + strlen ("VHOST_VIRTIO_F_");
        }
      if (name != NULL)
        g_string_append_printf (names, "%s (bit %u)", name, bit);
      else
        g_string_append_printf (names, "%s bit %u", protocol ? "protocol feature" : "device feature", bit);
    }
  g_type_class_unref (flags);
  g_type_class_unref (virtio);
  return g_string_free (names, FALSE);
}

/* SET_FEATURES or SET_PROTOCOL_FEATURES refused for bits the device did not
 * offer: say which, and how to make them agree. */
static void
explain_unoffered (VhostUserSlave *self, const VhostUserMsg *msg, GError **error)
{
  VhostUserSlaveClass *klass = VHOST_USER_SLAVE_GET_CLASS (self);
  gboolean protocol = msg->hdr.request == VHOST_USER_SET_PROTOCOL_FEATURES;
  guint64 offered, unoffered;
  g_autofree char *names = NULL;

  if ((msg->hdr.request != VHOST_USER_SET_FEATURES && !protocol) || msg->hdr.size != sizeof (guint64) ||
      !g_error_matches (*error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT))
    return;
  if (protocol)
    offered = klass->get_protocol_features (self) & VHOST_USER_PROTOCOL_FEATURES_SUPPORTED;
  else
    offered = klass->get_features (self) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_PROTOCOL_FEATURES);
  unoffered = msg->payload.u64 & ~offered;
  if (unoffered == 0)
    return;
  names = feature_bit_names (unoffered, protocol);
  g_clear_error (error);
  g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
               "%s: the front-end acked %s that the device did not offer: %s. A device that supports them "
               "offers them from its %s virtual function (do_%s in Python); otherwise turn them off in the "
               "front-end",
               protocol ? "SET_PROTOCOL_FEATURES" : "SET_FEATURES", protocol ? "protocol features" : "features",
               names, protocol ? "get_protocol_features" : "get_features",
               protocol ? "get_protocol_features" : "get_features");
}

static void
slave_request_cb (VhostUserChannel *channel, VhostUserMsg *msg, gpointer user_data)
{
  VhostUserSlave *self = user_data;
  g_autoptr(GError) error = NULL;
  gboolean keep;

  g_object_ref (self);
  g_clear_error (&PRIV (self)->vfunc_error);
  keep = vhost_user_dev_handle (PRIV (self)->dev, msg, &error);
  if (error != NULL)
    explain_unoffered (self, msg, &error);
  if (PRIV (self)->vfunc_error != NULL)
    {
      g_clear_error (&error);
      error = g_steal_pointer (&PRIV (self)->vfunc_error);
      g_prefix_error (&error, "%s: ", vhost_user_request_name (VHOST_USER_CHANNEL_FRONTEND, msg->hdr.request));
      keep = FALSE;
    }
  g_signal_emit (self, signals[SIGNAL_REQUEST_HANDLED], 0, (VhostUserRequest) msg->hdr.request, error);
  if (!keep)
    slave_end_connection (self, error);
  g_object_unref (self);
}

/* Start serving a connected socket. Takes `fd`. */
static gboolean
slave_serve (VhostUserSlave *self, int fd, GError **error)
{
  VhostUserSlavePrivate *priv = PRIV (self);
  VhostUserSlaveClass *klass = VHOST_USER_SLAVE_GET_CLASS (self);
  guint n_queues, max_queue_size;

  if (priv->channel != NULL)
    {
      close (fd);
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_BROKEN, "The slave already serves a front-end");
      return FALSE;
    }
  g_clear_error (&priv->vfunc_error);
  n_queues = klass->get_num_queues (self);
  max_queue_size = klass->get_max_queue_size (self);
  if (priv->vfunc_error != NULL)
    {
      close (fd);
      g_propagate_prefixed_error (error, g_steal_pointer (&priv->vfunc_error), "Serving a front-end: ");
      return FALSE;
    }
  vhost_user_dev_connect (priv->dev, n_queues, max_queue_size);
  priv->channel = vhost_user_channel_new (fd, VHOST_USER_CHANNEL_FRONTEND, VHOST_USER_CHANNEL_RESPONDER,
                                          priv->context, slave_request_cb, slave_closed_cb, self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTED]);
  return TRUE;
}

static gboolean
slave_accept_cb (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  VhostUserSlave *self = user_data;
  VhostUserSlavePrivate *priv = PRIV (self);
  g_autoptr(GSocket) client = NULL;
  g_autoptr(GError) error = NULL;
  int fd;

  client = g_socket_accept (socket, NULL, &error);
  if (client == NULL)
    {
      g_debug ("accept on %s: %s", priv->listen_path, error->message);
      return G_SOURCE_CONTINUE;
    }
  fd = fcntl (g_socket_get_fd (client), F_DUPFD_CLOEXEC, 3);
  g_socket_close (client, NULL);
  if (fd < 0)
    return G_SOURCE_CONTINUE;
  /* One front-end at a time: stop accepting until this one goes away. */
  g_source_destroy (priv->listen_source);
  g_clear_pointer (&priv->listen_source, g_source_unref);
  if (!slave_serve (self, fd, &error))
    {
      g_signal_emit (self, signals[SIGNAL_DISCONNECTED], 0, error);
      slave_start_listening (self);
    }
  return G_SOURCE_REMOVE;
}

static void
slave_start_listening (VhostUserSlave *self)
{
  VhostUserSlavePrivate *priv = PRIV (self);

  if (priv->listener == NULL || priv->listen_source != NULL || priv->channel != NULL)
    return;
  priv->listen_source = g_socket_create_source (priv->listener, G_IO_IN, NULL);
  g_source_set_static_name (priv->listen_source, "[vhost] vhost-user listener");
  g_source_set_callback (priv->listen_source, G_SOURCE_FUNC (slave_accept_cb), self, NULL);
  g_source_attach (priv->listen_source, priv->context);
}

/* Whether a process answers on the unix socket `path`: a connection attempt
 * that does not block (a full backlog answers EAGAIN: someone listens). A
 * refused connection is a socket file that nobody listens on any more. */
static gboolean
socket_is_live (const char *path)
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  gboolean live;

  if (fd < 0)
    return FALSE;
  memcpy (address.sun_path, path, strlen (path));
  live = connect (fd, (struct sockaddr *) &address, sizeof address) == 0 || errno == EAGAIN || errno == EINPROGRESS;
  close (fd);
  return live;
}

/**
 * vhost_user_slave_listen:
 * @slave: a #VhostUserSlave
 * @path: the path of the unix socket to create
 * @error: return location for a #GError
 *
 * Listens on @path and serves the front-ends that connect, one at a time.
 *
 * A socket file at @path that no process listens on any more (left by a
 * process that was killed: a connection to it is refused) is replaced. A socket
 * that a process answers on is not: the call fails with
 * %VHOST_ERROR_ADDRESS_IN_USE, and that process keeps its socket. Any other
 * kind of file at @path is left alone and the call fails with %VHOST_ERROR_IO.
 * An empty @path, or one longer than a unix socket address holds (107 bytes on
 * Linux), fails with %VHOST_ERROR_INVALID_ARGUMENT.
 *
 * vhost_user_slave_close() and the finalization of the slave remove the socket
 * file, but only the one the slave created: if another file has taken its place
 * at @path since (the same device and inode number no longer), it is left there.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_slave_listen (VhostUserSlave *slave, const char *path, GError **error)
{
  VhostUserSlavePrivate *priv;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  GError *local_error = NULL;
  struct sockaddr_un native;
  struct stat st;

  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  priv = PRIV (slave);
  if (priv->listener != NULL)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_BROKEN, "Already listening on %s", priv->listen_path);
      return FALSE;
    }
  if (path[0] == '\0')
    {
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                           "Listening on '': the socket path is empty");
      return FALSE;
    }
  if (strlen (path) >= sizeof native.sun_path)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "Listening on %s: the socket path is %" G_GSIZE_FORMAT " bytes long, more than the %"
                   G_GSIZE_FORMAT " a unix socket address holds",
                   path, strlen (path), sizeof native.sun_path - 1);
      return FALSE;
    }
  if (lstat (path, &st) == 0 && S_ISSOCK (st.st_mode))
    {
      if (socket_is_live (path))
        {
          g_set_error (error, VHOST_ERROR, VHOST_ERROR_ADDRESS_IN_USE,
                       "Listening on %s: another process is listening on that socket", path);
          return FALSE;
        }
      /* Stale: nobody listens there any more. */
      unlink (path);
    }
  socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, &local_error);
  address = g_unix_socket_address_new (path);
  if (socket == NULL || !g_socket_bind (socket, address, FALSE, &local_error) ||
      !g_socket_listen (socket, &local_error))
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_IO, "Listening on %s: %s", path, local_error->message);
      g_error_free (local_error);
      return FALSE;
    }
  /* What to remove at the end: this file, not one that took its place. */
  if (lstat (path, &st) == 0)
    {
      priv->listen_dev = st.st_dev;
      priv->listen_ino = st.st_ino;
    }
  priv->listener = g_steal_pointer (&socket);
  priv->listen_path = g_strdup (path);
  slave_start_listening (slave);
  return TRUE;
}

/**
 * vhost_user_slave_serve_fd:
 * @slave: a #VhostUserSlave
 * @fd: a unix stream socket connected to a front-end
 * @error: return location for a #GError
 *
 * Serves a front-end on a socket that is already connected, as with the
 * `--fd` option of the specification's back-end program conventions. The slave
 * takes ownership of @fd, also when this fails.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_slave_serve_fd (VhostUserSlave *slave, gint fd, GError **error)
{
  struct stat st;
  int type = 0;
  socklen_t len = sizeof type;

  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), FALSE);
  g_return_val_if_fail (fd >= 0, FALSE);
  if (fstat (fd, &st) < 0)
    {
      int saved = errno;

      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "fd %d: %s", fd, g_strerror (saved));
      if (saved != EBADF)
        close (fd);
      return FALSE;
    }
  if (!S_ISSOCK (st.st_mode) || getsockopt (fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "fd %d is not a stream socket", fd);
      close (fd);
      return FALSE;
    }
  return slave_serve (slave, fd, error);
}

/* Client mode: one dial, and on success the connection served. */
static gboolean
slave_dial (VhostUserSlave *self, const char *path, GCancellable *cancellable, GError **error)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr(GSocketConnection) connection = NULL;
  GError *local_error = NULL;
  int fd;

  connection = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), cancellable, &local_error);
  if (connection == NULL)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_IO, "Connecting to %s: %s", path, local_error->message);
      g_error_free (local_error);
      return FALSE;
    }
  fd = fcntl (g_socket_get_fd (g_socket_connection_get_socket (connection)), F_DUPFD_CLOEXEC, 3);
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  if (fd < 0)
    {
      int errsv = errno;

      g_set_error (error, VHOST_ERROR, VHOST_ERROR_IO, "Connecting to %s: %s", path, g_strerror (errsv));
      return FALSE;
    }
  return slave_serve (self, fd, error);
}

static gboolean
slave_redial_cb (gpointer data)
{
  VhostUserSlave *self = data;
  VhostUserSlavePrivate *priv = PRIV (self);
  g_autoptr(GError) error = NULL;

  g_clear_pointer (&priv->redial_source, g_source_unref);
  if (slave_dial (self, priv->connect_path, NULL, &error))
    {
      priv->redial_ms = FIRST_REDIAL_MS;
      return G_SOURCE_REMOVE;
    }
  g_debug ("%s; trying again in %u ms", error->message, priv->redial_ms);
  priv->redial_ms = MIN (priv->redial_ms * 2, MAX (priv->reconnect_max_ms, FIRST_REDIAL_MS));
  slave_schedule_redial (self);
  return G_SOURCE_REMOVE;
}

/* Client mode: dial the front-end again, after a wait that grows with each
 * failure up to #VhostUserSlave:reconnect-max-ms. */
static void
slave_schedule_redial (VhostUserSlave *self)
{
  VhostUserSlavePrivate *priv = PRIV (self);

  if (priv->connect_path == NULL || priv->reconnect_max_ms == 0 || priv->channel != NULL ||
      priv->redial_source != NULL)
    return;
  priv->redial_source = g_timeout_source_new (MIN (priv->redial_ms, priv->reconnect_max_ms));
  g_source_set_static_name (priv->redial_source, "[vhost] vhost-user redial");
  g_source_set_callback (priv->redial_source, slave_redial_cb, self, NULL);
  g_source_attach (priv->redial_source, priv->context);
}

/**
 * vhost_user_slave_connect_to:
 * @slave: a #VhostUserSlave
 * @path: the path of a front-end's listening unix socket
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Connects to a front-end that listens on @path (client mode) and serves it.
 * When that connection ends, the slave dials @path again, waiting 50 ms
 * before the first try and twice as long after each failure, up to
 * #VhostUserSlave:reconnect-max-ms (0: it does not dial again), until a
 * front-end answers or vhost_user_slave_close() is called. A front-end that
 * restarts, or a back-end that the front-end dropped, is so served again.
 *
 * Returns: %TRUE if the first connection was made
 */
gboolean
vhost_user_slave_connect_to (VhostUserSlave *slave, const char *path, GCancellable *cancellable, GError **error)
{
  VhostUserSlavePrivate *priv;

  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  priv = PRIV (slave);
  if (!slave_dial (slave, path, cancellable, error))
    return FALSE;
  g_free (priv->connect_path);
  priv->connect_path = g_strdup (path);
  priv->redial_ms = FIRST_REDIAL_MS;
  return TRUE;
}

/**
 * vhost_user_slave_close:
 * @slave: a #VhostUserSlave
 *
 * Ends the connection to the front-end, if any, stops listening (removing
 * the socket file it created, if that is still the file at its path) and stops
 * dialing a front-end again (client mode).
 * #VhostUserSlave::disconnected is not emitted.
 */
void
vhost_user_slave_close (VhostUserSlave *slave)
{
  VhostUserSlavePrivate *priv;

  g_return_if_fail (VHOST_IS_USER_SLAVE (slave));
  priv = PRIV (slave);
  if (priv->listen_source != NULL)
    g_source_destroy (priv->listen_source);
  g_clear_pointer (&priv->listen_source, g_source_unref);
  if (priv->listener != NULL)
    {
      struct stat st;

      g_socket_close (priv->listener, NULL);
      g_clear_object (&priv->listener);
      /* Only our own socket file: another process may have put its own there. */
      if (priv->listen_path != NULL && lstat (priv->listen_path, &st) == 0 && st.st_dev == priv->listen_dev &&
          st.st_ino == priv->listen_ino)
        unlink (priv->listen_path);
    }
  g_clear_pointer (&priv->listen_path, g_free);
  /* No more dialing, then the connection ends. */
  g_clear_pointer (&priv->connect_path, g_free);
  if (priv->redial_source != NULL)
    g_source_destroy (priv->redial_source);
  g_clear_pointer (&priv->redial_source, g_source_unref);
  slave_end_connection (slave, NULL);
  /* The counts of messages held back are told before the device goes quiet. */
  vhost_log_limiter_flush (&priv->log_limiter, g_get_monotonic_time ());
}

/**
 * vhost_user_slave_log: (skip)
 * @slave: a #VhostUserSlave
 * @log_domain: (nullable): the log domain, usually %G_LOG_DOMAIN
 * @log_level: the level: one of %G_LOG_LEVEL_CRITICAL, %G_LOG_LEVEL_WARNING,
 *   %G_LOG_LEVEL_MESSAGE, %G_LOG_LEVEL_INFO and %G_LOG_LEVEL_DEBUG
 * @reason: what kind of message it is: a short constant text, such as "front-end
 *   went away", which also ends the count line of the messages dropped
 * @format: a printf()-style format
 * @...: the arguments of @format
 *
 * Logs a message that front-ends can cause but that belongs to no queue (a
 * connection that ends, a request the device refuses) at a bounded rate, as
 * vhost_virtqueue_log() does for a queue: a burst of 10 messages of each
 * @reason, then one a second, the count of those dropped printed before the next
 * one that goes out ("COUNT similar messages suppressed (@reason)"), or at
 * vhost_user_slave_close(). The state is kept for the slave's life, across
 * connections. Call it from any thread.
 */
void
vhost_user_slave_log (VhostUserSlave *slave,
                      const gchar *log_domain,
                      GLogLevelFlags log_level,
                      const gchar *reason,
                      const gchar *format,
                      ...)
{
  va_list args;

  g_return_if_fail (VHOST_IS_USER_SLAVE (slave));

  va_start (args, format);
  vhost_log_limiter_logv_now (&PRIV (slave)->log_limiter, log_domain, log_level, reason, format, args);
  va_end (args);
}

/**
 * vhost_user_slave_log_message: (rename-to vhost_user_slave_log)
 * @slave: a #VhostUserSlave
 * @log_domain: (nullable): the log domain
 * @log_level: the level, as for vhost_user_slave_log()
 * @reason: what kind of message it is, as for vhost_user_slave_log()
 * @message: the message
 *
 * Logs @message at a bounded rate, as vhost_user_slave_log() does; for bindings,
 * which format their messages themselves.
 */
void
vhost_user_slave_log_message (VhostUserSlave *slave,
                              const gchar *log_domain,
                              GLogLevelFlags log_level,
                              const gchar *reason,
                              const gchar *message)
{
  g_return_if_fail (message != NULL);
  vhost_user_slave_log (slave, log_domain, log_level, reason, "%s", message);
}

/**
 * vhost_user_slave_set_config_space:
 * @slave: a #VhostUserSlave
 * @config: (nullable): the device's configuration space
 *
 * Sets the bytes that the default #VhostUserSlaveClass.get_config() reads from.
 */
void
vhost_user_slave_set_config_space (VhostUserSlave *slave, GBytes *config)
{
  VhostUserSlavePrivate *priv;

  g_return_if_fail (VHOST_IS_USER_SLAVE (slave));
  priv = PRIV (slave);
  if (config != NULL)
    g_bytes_ref (config);
  g_clear_pointer (&priv->config, g_bytes_unref);
  priv->config = config;
}

/**
 * vhost_user_slave_fail_request:
 * @slave: a #VhostUserSlave
 * @error: why the virtual function failed
 *
 * Makes the request being handled fail with @error, from a virtual function
 * that has no #GError of its own (@get_features, @get_protocol_features,
 * @vring_state_changed, @reset... of #VhostUserSlaveClass). No reply is sent:
 * the connection ends and #VhostUserSlave::disconnected carries @error, prefixed
 * with the request's name; the front-end sees the connection close. From
 * @get_num_queues or @get_max_queue_size, which run when a front-end connects,
 * the connection is refused the same way. Language bindings call it when the
 * code of such a virtual function raised an exception; the value it returned
 * is then not used. Only the first error of a request counts.
 */
void
vhost_user_slave_fail_request (VhostUserSlave *slave, const GError *error)
{
  VhostUserSlavePrivate *priv;

  g_return_if_fail (VHOST_IS_USER_SLAVE (slave));
  g_return_if_fail (error != NULL);
  priv = PRIV (slave);
  if (priv->vfunc_error == NULL)
    priv->vfunc_error = g_error_copy (error);
}

/**
 * vhost_user_slave_set_shmem_regions:
 * @slave: a #VhostUserSlave
 * @sizes: (array length=n_sizes) (nullable): the size of each shared memory
 *   region, by region ID (shmid); 0 for an ID the device does not use
 * @n_sizes: the number of entries in @sizes, at most
 *   %VHOST_USER_MAX_SHMEM_REGIONS
 * @error: return location for a #GError
 *
 * Declares the device's VIRTIO Shared Memory Regions, which the front-end reads
 * with GET_SHMEM_CONFIG and reserves in its address space; the device then has
 * files mapped into them with vhost_user_slave_shmem_map(). Each size must be a
 * multiple of the page size. With at least one region, the default
 * #VhostUserSlaveClass.get_protocol_features() offers
 * %VHOST_USER_PROTOCOL_F_SHMEM; without any, the slave never offers it.
 *
 * The specification has the regions stay the same for a whole connection, so
 * this fails with %VHOST_ERROR_BROKEN while a front-end is connected; sizes that
 * are not page multiples, or too many, are %VHOST_ERROR_INVALID_ARGUMENT.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_slave_set_shmem_regions (VhostUserSlave *slave, const guint64 *sizes, guint n_sizes, GError **error)
{
  VhostUserSlavePrivate *priv;
  guint64 page = sysconf (_SC_PAGESIZE);

  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), FALSE);
  g_return_val_if_fail (sizes != NULL || n_sizes == 0, FALSE);
  priv = PRIV (slave);
  if (priv->channel != NULL)
    {
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_BROKEN,
                           "Shared memory regions: they cannot change while a front-end is connected");
      return FALSE;
    }
  if (n_sizes > VHOST_USER_MAX_SHMEM_REGIONS)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "Shared memory regions: %u regions; a device has at most %u", n_sizes,
                   VHOST_USER_MAX_SHMEM_REGIONS);
      return FALSE;
    }
  for (guint i = 0; i < n_sizes; i++)
    if (sizes[i] % page != 0)
      {
        g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                     "Shared memory region %u: %" G_GUINT64_FORMAT " bytes is not a multiple of the page size (%"
                     G_GUINT64_FORMAT ")", i, sizes[i], page);
        return FALSE;
      }
  g_array_set_size (priv->shmem_sizes, 0);
  g_array_append_vals (priv->shmem_sizes, sizes, n_sizes);
  return TRUE;
}

/**
 * vhost_user_slave_get_shmem_regions:
 * @slave: a #VhostUserSlave
 * @n_sizes: (out): the number of entries returned
 *
 * Gets what vhost_user_slave_set_shmem_regions() declared.
 *
 * Returns: (array length=n_sizes) (transfer none) (nullable): the size of each
 *   shared memory region, by region ID
 */
const guint64 *
vhost_user_slave_get_shmem_regions (VhostUserSlave *slave, guint *n_sizes)
{
  GArray *sizes;

  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), NULL);
  g_return_val_if_fail (n_sizes != NULL, NULL);
  sizes = PRIV (slave)->shmem_sizes;
  *n_sizes = sizes->len;
  return sizes->len > 0 ? (const guint64 *) sizes->data : NULL;
}

/**
 * vhost_user_slave_get_connected:
 * @slave: a #VhostUserSlave
 *
 * Tells whether a front-end is connected.
 *
 * Returns: whether a front-end is connected
 */
gboolean
vhost_user_slave_get_connected (VhostUserSlave *slave)
{
  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), FALSE);
  return PRIV (slave)->channel != NULL;
}

/**
 * vhost_user_slave_get_acked_features:
 * @slave: a #VhostUserSlave
 *
 * Gets the virtio features the front-end set, 0 before SET_FEATURES.
 *
 * Returns: the virtio features the front-end set, 0 before SET_FEATURES
 */
guint64
vhost_user_slave_get_acked_features (VhostUserSlave *slave)
{
  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), 0);
  return vhost_user_dev_get_acked_features (PRIV (slave)->dev);
}

/**
 * vhost_user_slave_get_acked_protocol_features:
 * @slave: a #VhostUserSlave
 *
 * Gets the protocol features the front-end set.
 *
 * Returns: the protocol features the front-end set
 */
guint64
vhost_user_slave_get_acked_protocol_features (VhostUserSlave *slave)
{
  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), 0);
  return vhost_user_dev_get_acked_protocol_features (PRIV (slave)->dev);
}

/**
 * vhost_user_slave_get_status:
 * @slave: a #VhostUserSlave
 *
 * Gets the virtio device status the front-end last set.
 *
 * Returns: the virtio device status the front-end last set
 */
guint8
vhost_user_slave_get_status (VhostUserSlave *slave)
{
  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), 0);
  return vhost_user_dev_get_status (PRIV (slave)->dev);
}

/**
 * vhost_user_slave_get_n_regions:
 * @slave: a #VhostUserSlave
 *
 * Gets how many guest memory regions are mapped.
 *
 * Returns: how many guest memory regions are mapped
 */
guint
vhost_user_slave_get_n_regions (VhostUserSlave *slave)
{
  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), 0);
  return vhost_user_dev_get_n_regions (PRIV (slave)->dev);
}

/**
 * vhost_user_slave_get_vring_state:
 * @slave: a #VhostUserSlave
 * @index: the queue index
 * @num: (out) (optional): the queue size
 * @base: (out) (optional): the base index last set
 * @started: (out) (optional): whether the queue is started
 * @enabled: (out) (optional): whether the queue is enabled
 *
 * Reads the state the front-end set for a queue.
 *
 * Returns: %FALSE if @index is not a queue of the connected device
 */
gboolean
vhost_user_slave_get_vring_state (VhostUserSlave *slave,
                                  guint index,
                                  guint *num,
                                  guint *base,
                                  gboolean *started,
                                  gboolean *enabled)
{
  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), FALSE);
  return vhost_user_dev_get_vring_state (PRIV (slave)->dev, index, num, base, started, enabled);
}

/* Private accessors for tests and the data plane. */

gpointer
vhost_user_slave_translate (VhostUserSlave *slave, guint64 guest_addr, gsize len)
{
  return vhost_user_dev_translate (PRIV (slave)->dev, guest_addr, len);
}

int
vhost_user_slave_get_vring_fd (VhostUserSlave *slave, guint index, VhostUserRequest which)
{
  return vhost_user_dev_get_vring_fd (PRIV (slave)->dev, index, which);
}

gboolean
vhost_user_slave_has_log (VhostUserSlave *slave)
{
  return vhost_user_dev_has_log (PRIV (slave)->dev);
}

/* For the back-end requests (vhost-user-slave-backend.c). */

VhostUserChannel *
vhost_user_slave_get_backend_channel (VhostUserSlave *slave)
{
  return PRIV (slave)->backend;
}

VhostUserDev *
vhost_user_slave_get_dev (VhostUserSlave *slave)
{
  return PRIV (slave)->dev;
}

GMainContext *
vhost_user_slave_get_context (VhostUserSlave *slave)
{
  return PRIV (slave)->context;
}

/* Defaults of the virtual functions. */

static guint64
slave_real_get_features (VhostUserSlave *self)
{
  return DEFAULT_FEATURES;
}

static GBytes *slave_real_get_config (VhostUserSlave *self, guint offset, guint size, GError **error);
static gboolean slave_real_send_rarp (VhostUserSlave *self, const guint8 *mac, GError **error);
static gboolean slave_real_net_set_mtu (VhostUserSlave *self, guint mtu, GError **error);
static gboolean slave_real_set_vring_endian (VhostUserSlave *self, guint index, gboolean big_endian, GError **error);

static guint64
slave_real_get_protocol_features (VhostUserSlave *self)
{
  guint64 features = DEFAULT_PROTOCOL_FEATURES;

  /* CONFIG only with a configuration space: bytes set, or a get_config of the device's own. */
  VhostUserSlaveClass *klass = VHOST_USER_SLAVE_GET_CLASS (self);

  if (PRIV (self)->config != NULL || klass->get_config != slave_real_get_config)
    features |= VHOST_USER_PROTOCOL_F_CONFIG;
  /* The feature of each device request the device implements. */
  if (klass->send_rarp != slave_real_send_rarp)
    features |= VHOST_USER_PROTOCOL_F_RARP;
  if (klass->net_set_mtu != slave_real_net_set_mtu)
    features |= VHOST_USER_PROTOCOL_F_NET_MTU;
  if (klass->set_vring_endian != slave_real_set_vring_endian)
    features |= VHOST_USER_PROTOCOL_F_CROSS_ENDIAN;
  return features;
}

static guint
slave_real_get_num_queues (VhostUserSlave *self)
{
  return 1;
}

static guint
slave_real_get_max_queue_size (VhostUserSlave *self)
{
  return DEFAULT_MAX_QUEUE_SIZE;
}

static gboolean
slave_real_set_features (VhostUserSlave *self, guint64 features, GError **error)
{
  return TRUE;
}

static GBytes *
slave_real_get_config (VhostUserSlave *self, guint offset, guint size, GError **error)
{
  VhostUserSlavePrivate *priv = PRIV (self);
  gsize length = priv->config != NULL ? g_bytes_get_size (priv->config) : 0;

  if (offset > length || size > length - offset)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "GET_CONFIG: %u bytes at offset %u are outside the %" G_GSIZE_FORMAT "-byte configuration space",
                   size, offset, length);
      return NULL;
    }
  return g_bytes_new_from_bytes (priv->config, offset, size);
}

static gboolean
slave_real_set_config (VhostUserSlave *self, guint offset, GBytes *data, guint flags, GError **error)
{
  g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
                       "SET_CONFIG: the device's configuration space is read-only");
  return FALSE;
}

static void
slave_real_vring_state_changed (VhostUserSlave *self, guint index, gboolean started, gboolean enabled)
{
}

static void
slave_real_reset (VhostUserSlave *self)
{
}

/* Device requests, decoded: the default device_request calls these. */

static gboolean
not_supported (VhostUserRequest request, GError **error)
{
  g_set_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED, "%s: the device does not support it",
               vhost_user_request_get_name (request));
  return FALSE;
}

static gboolean
slave_real_send_rarp (VhostUserSlave *self, const guint8 *mac, GError **error)
{
  return not_supported (VHOST_USER_SEND_RARP, error);
}

static gboolean
slave_real_net_set_mtu (VhostUserSlave *self, guint mtu, GError **error)
{
  return not_supported (VHOST_USER_NET_SET_MTU, error);
}

static gboolean
slave_real_set_vring_endian (VhostUserSlave *self, guint index, gboolean big_endian, GError **error)
{
  return not_supported (VHOST_USER_SET_VRING_ENDIAN, error);
}

static gint
slave_real_get_shared_object (VhostUserSlave *self, GBytes *uuid, GError **error)
{
  not_supported (VHOST_USER_GET_SHARED_OBJECT, error);
  return -1;
}

static gboolean
slave_real_gpu_set_socket (VhostUserSlave *self, gint fd, GError **error)
{
  return not_supported (VHOST_USER_GPU_SET_SOCKET, error);
}

/* A reply with a u64 and, when `fd` >= 0, that fd (taken). */
static void
reply_u64_fd (guint64 value, gint fd, GBytes **reply, GUnixFDList **reply_fds)
{
  *reply = g_bytes_new (&value, sizeof value);
  if (fd >= 0)
    *reply_fds = g_unix_fd_list_new_from_array (&fd, 1);
}

/* A virtual function that returns an fd must set the error exactly when it returns -1. */
static gboolean
check_returned_fd (VhostUserRequest request, gint fd, GError **error)
{
  if (fd >= 0 || (error != NULL && *error != NULL))
    return fd >= 0;
  g_set_error (error, VHOST_ERROR, VHOST_ERROR_FAILED, "%s: the device returned no file descriptor",
               vhost_user_request_get_name (request));
  return FALSE;
}

static gboolean
slave_real_device_request (VhostUserSlave *self,
                           VhostUserRequest request,
                           GBytes *payload,
                           GUnixFDList *fds,
                           GBytes **reply,
                           GUnixFDList **reply_fds,
                           GError **error)
{
  VhostUserSlaveClass *klass = VHOST_USER_SLAVE_GET_CLASS (self);
  const char *name = vhost_user_request_get_name (request);
  /* The protocol layer checked the payload's size and the number of fds. */
  const VhostUserPayload *p = g_bytes_get_data (payload, NULL);
  gint fd = g_unix_fd_list_get_length (fds) > 0 ? g_unix_fd_list_peek_fds (fds, NULL)[0] : -1;
  gint out_fd = -1;

  switch (request)
    {
    case VHOST_USER_SEND_RARP:
      return klass->send_rarp (self, p->bytes, error);
    case VHOST_USER_NET_SET_MTU:
      if (p->u64 > G_MAXUINT)
        {
          g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "%s: MTU %" G_GUINT64_FORMAT " is too large",
                       name, p->u64);
          return FALSE;
        }
      return klass->net_set_mtu (self, (guint) p->u64, error);
    case VHOST_USER_SET_VRING_ENDIAN:
      if (!vhost_user_dev_check_vring_index (PRIV (self)->dev, name, p->state.index, error))
        return FALSE;
      return klass->set_vring_endian (self, p->state.index, p->state.num != 0, error);
    case VHOST_USER_GET_SHARED_OBJECT:
      {
        g_autoptr(GBytes) uuid = g_bytes_new (p->shared.uuid, sizeof p->shared.uuid);

        out_fd = klass->get_shared_object (self, uuid, error);
        if (!check_returned_fd (request, out_fd, error))
          return FALSE;
        reply_u64_fd (0, out_fd, reply, reply_fds);
        return TRUE;
      }
    case VHOST_USER_GPU_SET_SOCKET:
      return klass->gpu_set_socket (self, fd, error);
    default:
      return not_supported (request, error);
    }
}

static GBytes *
slave_real_save_state (VhostUserSlave *self, GError **error)
{
  return g_bytes_new (NULL, 0);
}

static gboolean
slave_real_load_state (VhostUserSlave *self, GBytes *state, GError **error)
{
  if (g_bytes_get_size (state) == 0)
    return TRUE;
  g_set_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
               "CHECK_DEVICE_STATE: %" G_GSIZE_FORMAT " bytes of device state, and the device keeps none",
               g_bytes_get_size (state));
  return FALSE;
}

static void
vhost_user_slave_init (VhostUserSlave *self)
{
  VhostUserSlavePrivate *priv = PRIV (self);

  priv->context = g_main_context_ref_thread_default ();
  priv->queues = g_ptr_array_new_with_free_func (g_object_unref);
  priv->dev = vhost_user_dev_new (&dev_ops, self);
  priv->busy_poll_us = DEFAULT_BUSY_POLL_US;
  vhost_user_dev_set_busy_poll_us (priv->dev, priv->busy_poll_us);
  priv->reconnect_max_ms = DEFAULT_RECONNECT_MAX_MS;
  priv->redial_ms = FIRST_REDIAL_MS;
  priv->shmem_sizes = g_array_new (FALSE, TRUE, sizeof (guint64));
  vhost_log_limiter_init (&priv->log_limiter, NULL, VHOST_LOG_LIMIT_BURST, VHOST_LOG_LIMIT_INTERVAL_US);
}

static void
vhost_user_slave_dispose (GObject *object)
{
  VhostUserSlave *self = VHOST_USER_SLAVE (object);
  VhostUserSlavePrivate *priv = PRIV (self);

  vhost_user_slave_close (self);
  /* The engine lets go of the queues before they go. */
  vhost_user_dev_release_queues (priv->dev);
  g_ptr_array_set_size (priv->queues, 0);
  G_OBJECT_CLASS (vhost_user_slave_parent_class)->dispose (object);
}

static void
vhost_user_slave_finalize (GObject *object)
{
  VhostUserSlavePrivate *priv = PRIV (VHOST_USER_SLAVE (object));

  g_clear_pointer (&priv->config, g_bytes_unref);
  g_clear_error (&priv->vfunc_error);
  g_array_unref (priv->shmem_sizes);
  vhost_user_dev_free (priv->dev);
  vhost_log_limiter_clear (&priv->log_limiter);
  g_ptr_array_unref (priv->queues);
  g_main_context_unref (priv->context);
  G_OBJECT_CLASS (vhost_user_slave_parent_class)->finalize (object);
}

static void
vhost_user_slave_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  switch (prop_id)
    {
    case PROP_BUSY_POLL_US:
      g_value_set_uint (value, PRIV (VHOST_USER_SLAVE (object))->busy_poll_us);
      break;
    case PROP_RECONNECT_MAX_MS:
      g_value_set_uint (value, PRIV (VHOST_USER_SLAVE (object))->reconnect_max_ms);
      break;
    case PROP_CONNECTED:
      g_value_set_boolean (value, vhost_user_slave_get_connected (VHOST_USER_SLAVE (object)));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vhost_user_slave_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  switch (prop_id)
    {
    case PROP_BUSY_POLL_US:
      vhost_user_slave_set_busy_poll_us (VHOST_USER_SLAVE (object), g_value_get_uint (value));
      break;
    case PROP_RECONNECT_MAX_MS:
      if (PRIV (VHOST_USER_SLAVE (object))->reconnect_max_ms != g_value_get_uint (value))
        {
          PRIV (VHOST_USER_SLAVE (object))->reconnect_max_ms = g_value_get_uint (value);
          g_object_notify_by_pspec (object, pspec);
        }
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vhost_user_slave_class_init (VhostUserSlaveClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vhost_user_slave_dispose;
  object_class->finalize = vhost_user_slave_finalize;
  object_class->get_property = vhost_user_slave_get_property;
  object_class->set_property = vhost_user_slave_set_property;

  klass->get_features = slave_real_get_features;
  klass->get_protocol_features = slave_real_get_protocol_features;
  klass->get_num_queues = slave_real_get_num_queues;
  klass->get_max_queue_size = slave_real_get_max_queue_size;
  klass->set_features = slave_real_set_features;
  klass->get_config = slave_real_get_config;
  klass->set_config = slave_real_set_config;
  klass->vring_state_changed = slave_real_vring_state_changed;
  klass->reset = slave_real_reset;
  klass->device_request = slave_real_device_request;
  klass->send_rarp = slave_real_send_rarp;
  klass->net_set_mtu = slave_real_net_set_mtu;
  klass->set_vring_endian = slave_real_set_vring_endian;
  klass->get_shared_object = slave_real_get_shared_object;
  klass->gpu_set_socket = slave_real_gpu_set_socket;
  klass->save_state = slave_real_save_state;
  klass->load_state = slave_real_load_state;

  /**
   * VhostUserSlave:busy-poll-us:
   *
   * How long, at most, in microseconds, a queue worker keeps polling its rings
   * after the last work before it sleeps on the kick eventfds again. Polling costs
   * CPU time but saves the wake-ups, which cost tens of microseconds each; the
   * default, 32, is QEMU's default polling time for its I/O threads. 0 never polls.
   *
   * Each worker adapts the interval it polls for, from 0 to this, as QEMU's I/O
   * threads do: it halves it after a sleep that polling for this long would not
   * have saved (the work came later), and doubles it (from 4 microseconds) after one that
   * polling longer would have saved. At a low request rate the worker then sleeps
   * soon after each request instead of polling for the whole interval.
   */
  properties[PROP_BUSY_POLL_US] =
    g_param_spec_uint ("busy-poll-us", "Busy poll us",
                       "How long, in microseconds, a queue worker keeps polling its rings after the last work before "
                       "it sleeps on the kick eventfds again.", 0, G_MAXUINT, DEFAULT_BUSY_POLL_US,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * VhostUserSlave:reconnect-max-ms:
   *
   * In client mode (vhost_user_slave_connect_to()), the longest wait, in
   * milliseconds, between two dials of a front-end that went away: the slave
   * tries after 50 ms, then waits twice as long after each failure up to this.
   * 0 does not dial again.
   */
  properties[PROP_RECONNECT_MAX_MS] =
    g_param_spec_uint ("reconnect-max-ms", "Reconnect max ms",
                       "In client mode (vhost_user_slave_connect_to()), the longest wait, in milliseconds, between "
                       "two dials of a front-end that went away: the slave tries after 50 ms, then waits twice as "
                       "long after each failure up to this.", 0, G_MAXUINT, DEFAULT_RECONNECT_MAX_MS,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * VhostUserSlave:connected:
   *
   * Whether a front-end is connected.
   */
  properties[PROP_CONNECTED] =
    g_param_spec_boolean ("connected", "Connected", "Whether a front-end is connected.", FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * VhostUserSlave::disconnected:
   * @slave: the #VhostUserSlave
   * @error: why the connection ended: %VHOST_ERROR_DISCONNECTED when the
   *   front-end hung up, another code for a bad request
   *
   * Emitted when the connection to the front-end ends for any reason other than
   * vhost_user_slave_close(). A listening slave then accepts the next front-end.
   */
  signals[SIGNAL_DISCONNECTED] =
    g_signal_new ("disconnected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_ERROR);
  /**
   * VhostUserSlave::request-handled:
   * @slave: the #VhostUserSlave
   * @request: the request
   * @error: (nullable): why it failed, or %NULL
   *
   * Emitted after each request from the front-end was handled.
   */
  signals[SIGNAL_REQUEST_HANDLED] =
    g_signal_new ("request-handled", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, VHOST_TYPE_USER_REQUEST, G_TYPE_ERROR);
}
