/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostUserSlave's sockets: listening (one front-end at a time, a live socket never taken over), a given fd, client mode with redial, closing. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <gio/gunixsocketaddress.h>

#include "vhost-user-slave-internal.h"

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
  if (!vhost_user_slave_serve_socket (self, fd, &error))
    {
      vhost_user_slave_emit_disconnected (self, error);
      vhost_user_slave_start_listening (self);
    }
  return G_SOURCE_REMOVE;
}

void
vhost_user_slave_start_listening (VhostUserSlave *self)
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
  vhost_user_slave_start_listening (slave);
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
  return vhost_user_slave_serve_socket (slave, fd, error);
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
  return vhost_user_slave_serve_socket (self, fd, error);
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
  vhost_user_slave_schedule_redial (self);
  return G_SOURCE_REMOVE;
}

/* Client mode: dial the front-end again, after a wait that grows with each
 * failure up to #VhostUserSlave:reconnect-max-ms. */
void
vhost_user_slave_schedule_redial (VhostUserSlave *self)
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
  vhost_user_slave_end_connection (slave, NULL);
  /* The counts of messages held back are told before the device goes quiet. */
  vhost_log_limiter_flush (&priv->log_limiter, g_get_monotonic_time ());
}
