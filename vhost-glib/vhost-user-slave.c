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
 * The slave's sockets are watched on the #GMainContext that was the
 * thread-default one when it was created; its virtual functions and signals run
 * there. Use it from the thread that owns that context.
 */

/**
 * VhostUserSlave:
 *
 * A vhost-user back-end. All its fields are private.
 */

#define DEFAULT_MAX_QUEUE_SIZE 1024

#define DEFAULT_PROTOCOL_FEATURES                                                                   \
  ((guint64) (VHOST_USER_PROTOCOL_F_MQ | VHOST_USER_PROTOCOL_F_LOG_SHMFD |                        \
              VHOST_USER_PROTOCOL_F_REPLY_ACK | VHOST_USER_PROTOCOL_F_BACKEND_REQ |               \
              VHOST_USER_PROTOCOL_F_CONFIG | VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD |              \
              VHOST_USER_PROTOCOL_F_HOST_NOTIFIER | VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD |        \
              VHOST_USER_PROTOCOL_F_RESET_DEVICE | VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS |   \
              VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS | VHOST_USER_PROTOCOL_F_STATUS |          \
              VHOST_USER_PROTOCOL_F_SHARED_OBJECT | VHOST_USER_PROTOCOL_F_PAGEFAULT |                 \
              VHOST_USER_PROTOCOL_F_DEVICE_STATE))

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
  vhost_user_channel_send (PRIV (VHOST_USER_SLAVE (data))->channel, msg);
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
  .protocol_features_changed = dev_protocol_features_changed,
  .get_queue = dev_get_queue,
  .save_state = dev_save_state,
  .load_state = dev_load_state,
};

static void
slave_request_cb (VhostUserChannel *channel, VhostUserMsg *msg, gpointer user_data)
{
  VhostUserSlave *self = user_data;
  g_autoptr(GError) error = NULL;
  gboolean keep;

  g_object_ref (self);
  keep = vhost_user_dev_handle (PRIV (self)->dev, msg, &error);
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

  if (priv->channel != NULL)
    {
      close (fd);
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_BROKEN, "The slave already serves a front-end");
      return FALSE;
    }
  vhost_user_dev_connect (priv->dev, klass->get_num_queues (self), klass->get_max_queue_size (self));
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
  slave_serve (self, fd, NULL);
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

/* Defaults of the virtual functions. */

static guint64
slave_real_get_features (VhostUserSlave *self)
{
  return VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1);
}

static guint64
slave_real_get_protocol_features (VhostUserSlave *self)
{
  return DEFAULT_PROTOCOL_FEATURES;
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

static gboolean
slave_real_device_request (VhostUserSlave *self,
                           VhostUserRequest request,
                           GBytes *payload,
                           GUnixFDList *fds,
                           GBytes **reply,
                           GUnixFDList **reply_fds,
                           GError **error)
{
  g_set_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED, "%s: the device does not support it",
               vhost_user_request_get_name (request));
  return FALSE;
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
  klass->save_state = slave_real_save_state;
  klass->load_state = slave_real_load_state;

  /**
   * VhostUserSlave:busy-poll-us:
   *
   * How long, in microseconds, a queue worker keeps polling its rings after the
   * last work before it sleeps on the kick eventfds again. Polling costs CPU time
   * but saves the wake-ups, which cost tens of microseconds each; the default, 32,
   * is QEMU's default polling time for its I/O threads. 0 never polls.
   */
  properties[PROP_BUSY_POLL_US] =
    g_param_spec_uint ("busy-poll-us", NULL, NULL, 0, G_MAXUINT, DEFAULT_BUSY_POLL_US,
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
    g_param_spec_uint ("reconnect-max-ms", NULL, NULL, 0, G_MAXUINT, DEFAULT_RECONNECT_MAX_MS,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  /**
   * VhostUserSlave:connected:
   *
   * Whether a front-end is connected.
   */
  properties[PROP_CONNECTED] =
    g_param_spec_boolean ("connected", NULL, NULL, FALSE,
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
