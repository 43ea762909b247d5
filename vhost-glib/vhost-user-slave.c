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
#include "vhost-user-slave-internal.h"
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

G_DEFINE_TYPE_WITH_PRIVATE (VhostUserSlave, vhost_user_slave, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_BUSY_POLL_US,
  PROP_COALESCE_US,
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

VhostUserSlavePrivate *
vhost_user_slave_priv (VhostUserSlave *self)
{
  return vhost_user_slave_get_instance_private (self);
}

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

/**
 * vhost_user_slave_set_coalesce_us:
 * @slave: a #VhostUserSlave
 * @usec: the longest nap of a polling worker between two rounds, in
 *   microseconds; 0 never to nap
 *
 * Sets #VhostUserSlave:coalesce-us.
 */
void
vhost_user_slave_set_coalesce_us (VhostUserSlave *slave, guint usec)
{
  VhostUserSlavePrivate *priv;

  g_return_if_fail (VHOST_IS_USER_SLAVE (slave));

  priv = PRIV (slave);
  if (priv->coalesce_us == usec)
    return;
  priv->coalesce_us = usec;
  vhost_user_dev_set_coalesce_us (priv->dev, usec);
  g_object_notify_by_pspec (G_OBJECT (slave), properties[PROP_COALESCE_US]);
}

/**
 * vhost_user_slave_get_coalesce_us:
 * @slave: a #VhostUserSlave
 *
 * Gets the value of #VhostUserSlave:coalesce-us.
 *
 * Returns: #VhostUserSlave:coalesce-us
 */
guint
vhost_user_slave_get_coalesce_us (VhostUserSlave *slave)
{
  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), 0);
  return PRIV (slave)->coalesce_us;
}

void
vhost_user_slave_emit_disconnected (VhostUserSlave *self, const GError *error)
{
  g_signal_emit (self, signals[SIGNAL_DISCONNECTED], 0, error);
}

void
vhost_user_slave_end_connection (VhostUserSlave *self, const GError *error)
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
  vhost_user_slave_start_listening (self);
  vhost_user_slave_schedule_redial (self);
  g_object_unref (self);
}

static void
slave_closed_cb (VhostUserChannel *channel, const GError *error, gpointer user_data)
{
  vhost_user_slave_end_connection (VHOST_USER_SLAVE (user_data), error);
}

static void
backend_closed_cb (VhostUserChannel *channel, const GError *error, gpointer user_data)
{
  VhostUserSlavePrivate *priv = PRIV (VHOST_USER_SLAVE (user_data));

  g_debug ("The back-end request channel closed: %s", error->message);
  if (channel == priv->backend)
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
    vhost_user_slave_explain_unoffered (self, msg, &error);
  if (PRIV (self)->vfunc_error != NULL)
    {
      g_clear_error (&error);
      error = g_steal_pointer (&PRIV (self)->vfunc_error);
      g_prefix_error (&error, "%s: ", vhost_user_request_name (VHOST_USER_CHANNEL_FRONTEND, msg->hdr.request));
      keep = FALSE;
    }
  g_signal_emit (self, signals[SIGNAL_REQUEST_HANDLED], 0, (VhostUserRequest) msg->hdr.request, error);
  if (!keep)
    vhost_user_slave_end_connection (self, error);
  g_object_unref (self);
}

gboolean
vhost_user_slave_serve_socket (VhostUserSlave *self, int fd, GError **error)
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
    case PROP_COALESCE_US:
      g_value_set_uint (value, PRIV (VHOST_USER_SLAVE (object))->coalesce_us);
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
    case PROP_COALESCE_US:
      vhost_user_slave_set_coalesce_us (VHOST_USER_SLAVE (object), g_value_get_uint (value));
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

  vhost_user_slave_class_set_defaults (klass);

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
   *
   * A polling round that finds nothing yields the CPU (sched_yield()), so that a
   * thread that shares it, such as the kernel's io_uring worker completing a
   * buffered write for the queue, runs at once. When a yield hands the CPU to a
   * task that keeps it for a whole time slice (a background job, a busy vCPU), the
   * worker stops polling for a while (50 milliseconds, doubling up to 1.6 seconds
   * while such a task stays) and sleeps as soon as a round finds nothing: a kick
   * then wakes it and preempts that task, where a yield would wait for its slice.
   */
  properties[PROP_BUSY_POLL_US] =
    g_param_spec_uint ("busy-poll-us", "Busy poll us",
                       "How long, in microseconds, a queue worker keeps polling its rings after the last work before "
                       "it sleeps on the kick eventfds again.", 0, G_MAXUINT, DEFAULT_BUSY_POLL_US,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * VhostUserSlave:coalesce-us:
   *
   * The longest nap, in microseconds, of a polling queue worker between two
   * rounds; 0, the default, never naps. Where chains come one at a time, faster
   * than polling lets the worker sleep but far slower than it takes them (a
   * stream of small packets at a fraction of the line rate), busy polling spins
   * a core for little work. With coalescing the worker, after each round with
   * work, sleeps with the kicks still off until about three quarters of its
   * smallest ring have come (the time a wake-up takes counted in), then takes
   * them together: its CPU use falls with the load, at the cost of up to the nap
   * in latency.
   *
   * A worker naps only while it polls (#VhostUserSlave:busy-poll-us is not 0).
   * It measures the rate chains come at in its busiest ring, in windows of a
   * millisecond; two windows without naps set the rate the naps must keep (the
   * smaller of the two), and naps begin if the nap that rate asks for is at
   * least 10 microseconds and lets at least 8 chains come. Rings larger than 256
   * count as 256, so that a batch stays within what a handler takes in a call as
   * a rule. A front-end that waits
   * for each completion before it sends more (a ping-pong, a closed loop with few
   * requests in flight) slows down when the worker naps, and so does a worker
   * that cannot keep up: when the rate since the naps began falls below 90 % of
   * the rate before (after 4 windows, or at once for half of it), the naps stop
   * and begin again only after a back-off (from 20 ms, doubling up to 1.28 s
   * while naps keep failing). Every 64 windows the naps pause to measure again.
   * When two rounds in a row find a ring full (a nap woke late, the host held
   * the worker's CPU back, the front-end sent a burst), the front-end has a
   * backlog that napping would drain only a ring per nap: the worker polls
   * without naps until nothing comes for twice the interval between chains at
   * the naps' rate, and then naps again. A worker that slept (nothing came for
   * its busy-poll interval) for less than a millisecond takes up its naps where
   * it left them.
   * Devices whose front-ends stream (networking) gain most; a disk at a low queue
   * depth gains nothing, and a latency-bound ping-pong never naps for long.
   */
  properties[PROP_COALESCE_US] =
    g_param_spec_uint ("coalesce-us", "Coalesce us",
                       "The longest nap, in microseconds, of a polling queue worker between two rounds, so that "
                       "chains that come one at a time are taken together; 0 never naps.", 0, G_MAXUINT, 0,
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
