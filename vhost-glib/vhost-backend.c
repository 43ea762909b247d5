/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostBackend: the interface of the control plane that vhost-user, kernel vhost and vDPA share. */
#include "vhost-backend-private.h"

/**
 * SECTION:vhost-backend
 * @title: VhostBackend
 * @short_description: the control plane shared by every vhost data plane
 *
 * #VhostBackend is the set of requests that the vhost-user protocol, the kernel's
 * vhost ioctls and vDPA have in common: features, ownership, the memory table,
 * the dirty log, and each virtqueue's size, addresses, base index and kick, call
 * and error eventfds. A front-end written against #VhostBackend drives any of them.
 *
 * Every call reports failures as a #GError in the %VHOST_ERROR domain. File
 * descriptors passed in are borrowed: the caller keeps ownership, and an
 * implementation duplicates what it keeps. A file descriptor of -1 for a kick,
 * call or error eventfd means "none" (the back-end polls, or does not notify).
 *
 * Every call has a synchronous form and an asynchronous one, a pair
 * `_async`/`_finish` as in GIO (vhost_backend_get_features_async() and
 * vhost_backend_get_features_finish(), ...). The callback runs on the
 * thread-default #GMainContext of the thread that made the call, never from
 * inside the `_async` function, and a #GCancellable cancelled before the call
 * started makes it fail with %G_IO_ERROR_CANCELLED. A #VhostUserMaster sends
 * each request without blocking and calls back once the reply arrived, the calls
 * in the order they were made (see [Asynchronous calls][vhost-user-master-async]).
 * Kernel vhost and vDPA answer an ioctl at once: there (and for any
 * implementation that keeps the default asynchronous virtual functions) the
 * `_async` function makes the synchronous call at once, and the callback comes
 * on the next iteration of the main loop.
 *
 * The calls that read a value have a form that returns it and throws
 * (vhost_backend_query_features(), vhost_backend_query_vring_base(),
 * vhost_backend_query_status()), for languages where out-arguments are awkward.
 *
 * Two calls let a front-end bring a device up without knowing which data plane is
 * behind it: vhost_backend_negotiate_protocol() negotiates the features of the
 * transport itself (the vhost-user protocol features), where there are any, and
 * vhost_backend_has_status() says whether the device keeps a virtio status that
 * vhost_backend_set_status() drives.
 */

/**
 * VhostBackend:
 *
 * An object that implements the shared vhost control plane.
 */

G_DEFINE_INTERFACE (VhostBackend, vhost_backend, G_TYPE_OBJECT)

/* A back-end keeps a status if it can be set. */
static gboolean
vhost_backend_real_has_status (VhostBackend *backend)
{
  return VHOST_BACKEND_GET_IFACE (backend)->set_status != NULL;
}

static void
vhost_backend_default_init (VhostBackendInterface *iface)
{
  iface->has_status = vhost_backend_real_has_status;
  vhost_backend_async_default_init (iface);
}

#define BACKEND_CALL(backend, vfunc, ...)                                           \
  G_STMT_START                                                                      \
  {                                                                                 \
    VhostBackendInterface *iface_;                                                  \
    g_return_val_if_fail (VHOST_IS_BACKEND (backend), FALSE);                       \
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);                  \
    iface_ = VHOST_BACKEND_GET_IFACE (backend);                                     \
    g_return_val_if_fail (iface_->vfunc != NULL, FALSE);                            \
    return iface_->vfunc (backend, __VA_ARGS__);                                    \
  }                                                                                 \
  G_STMT_END

/**
 * vhost_backend_get_features:
 * @backend: a #VhostBackend
 * @features: (out): the virtio features the device offers
 * @error: return location for a #GError
 *
 * Reads the virtio features the device offers (GET_FEATURES).
 *
 * Returns: (skip): %TRUE on success
 */
gboolean
vhost_backend_get_features (VhostBackend *backend, guint64 *features, GError **error)
{
  BACKEND_CALL (backend, get_features, features, error);
}

/**
 * vhost_backend_set_features:
 * @backend: a #VhostBackend
 * @features: the features the driver accepted
 * @error: return location for a #GError
 *
 * Tells the device which features were negotiated (SET_FEATURES).
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_backend_set_features (VhostBackend *backend, guint64 features, GError **error)
{
  BACKEND_CALL (backend, set_features, features, error);
}

/**
 * vhost_backend_set_owner:
 * @backend: a #VhostBackend
 * @error: return location for a #GError
 *
 * Makes the caller the owner of the device, which starts a session (SET_OWNER).
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_backend_set_owner (VhostBackend *backend, GError **error)
{
  BACKEND_CALL (backend, set_owner, error);
}

/**
 * vhost_backend_reset_owner:
 * @backend: a #VhostBackend
 * @error: return location for a #GError
 *
 * Gives up ownership of the device (RESET_OWNER). The vhost-user specification
 * deprecates this request; back-ends disable their rings.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_backend_reset_owner (VhostBackend *backend, GError **error)
{
  BACKEND_CALL (backend, reset_owner, error);
}

/**
 * vhost_backend_set_mem_table:
 * @backend: a #VhostBackend
 * @regions: (array length=n_regions): the memory regions
 * @n_regions: the number of regions
 * @error: return location for a #GError
 *
 * Replaces the device's table of guest memory (SET_MEM_TABLE). The regions' file
 * descriptors are borrowed.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_backend_set_mem_table (VhostBackend *backend,
                             VhostMemoryRegion **regions,
                             guint n_regions,
                             GError **error)
{
  BACKEND_CALL (backend, set_mem_table, regions, n_regions, error);
}

/**
 * vhost_backend_set_log_base:
 * @backend: a #VhostBackend
 * @base: for kernel vhost, the address of the log in the caller's memory; for
 *   vhost-user, the offset of the log in @fd
 * @size: the size of the log in bytes
 * @fd: the shared memory that holds the log (vhost-user), or -1
 * @error: return location for a #GError
 *
 * Sets the dirty page log, one bit per 4 KiB page of guest memory (SET_LOG_BASE).
 * @fd is borrowed.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_backend_set_log_base (VhostBackend *backend,
                            guint64 base,
                            guint64 size,
                            gint fd,
                            GError **error)
{
  BACKEND_CALL (backend, set_log_base, base, size, fd, error);
}

/**
 * vhost_backend_set_log_fd:
 * @backend: a #VhostBackend
 * @fd: an eventfd the device signals when it wrote to the log, or -1
 * @error: return location for a #GError
 *
 * Sets the log notification eventfd (SET_LOG_FD). @fd is borrowed.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_backend_set_log_fd (VhostBackend *backend, gint fd, GError **error)
{
  BACKEND_CALL (backend, set_log_fd, fd, error);
}

/**
 * vhost_backend_set_vring_num:
 * @backend: a #VhostBackend
 * @index: the queue index
 * @num: the number of descriptors in the queue
 * @error: return location for a #GError
 *
 * Sets the size of a queue (SET_VRING_NUM).
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_backend_set_vring_num (VhostBackend *backend, guint index, guint num, GError **error)
{
  BACKEND_CALL (backend, set_vring_num, index, num, error);
}

/**
 * vhost_backend_set_vring_addr:
 * @backend: a #VhostBackend
 * @addr: the addresses of the queue's rings
 * @error: return location for a #GError
 *
 * Sets where a queue's descriptor table, available ring and used ring are
 * (SET_VRING_ADDR).
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_backend_set_vring_addr (VhostBackend *backend, VhostVringAddr *addr, GError **error)
{
  BACKEND_CALL (backend, set_vring_addr, addr, error);
}

/**
 * vhost_backend_set_vring_base:
 * @backend: a #VhostBackend
 * @index: the queue index
 * @base: the next available index the device processes (for packed rings, the
 *   index and the wrap counter as the specification encodes them)
 * @error: return location for a #GError
 *
 * Sets where the device resumes processing a queue (SET_VRING_BASE).
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_backend_set_vring_base (VhostBackend *backend, guint index, guint base, GError **error)
{
  BACKEND_CALL (backend, set_vring_base, index, base, error);
}

/**
 * vhost_backend_get_vring_base:
 * @backend: a #VhostBackend
 * @index: the queue index
 * @base: (out): the next available index the device would process
 * @error: return location for a #GError
 *
 * Stops a queue and reads where it stopped (GET_VRING_BASE).
 *
 * Returns: (skip): %TRUE on success
 */
gboolean
vhost_backend_get_vring_base (VhostBackend *backend, guint index, guint *base, GError **error)
{
  BACKEND_CALL (backend, get_vring_base, index, base, error);
}

/**
 * vhost_backend_set_vring_kick:
 * @backend: a #VhostBackend
 * @index: the queue index
 * @fd: the eventfd the driver signals when it adds buffers, or -1 to make the
 *   device poll
 * @error: return location for a #GError
 *
 * Sets a queue's kick eventfd (SET_VRING_KICK), which starts the queue on a
 * vhost-user back-end. @fd is borrowed.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_backend_set_vring_kick (VhostBackend *backend, guint index, gint fd, GError **error)
{
  BACKEND_CALL (backend, set_vring_kick, index, fd, error);
}

/**
 * vhost_backend_set_vring_call:
 * @backend: a #VhostBackend
 * @index: the queue index
 * @fd: the eventfd the device signals when it used buffers, or -1
 * @error: return location for a #GError
 *
 * Sets a queue's call eventfd (SET_VRING_CALL). @fd is borrowed.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_backend_set_vring_call (VhostBackend *backend, guint index, gint fd, GError **error)
{
  BACKEND_CALL (backend, set_vring_call, index, fd, error);
}

/**
 * vhost_backend_set_vring_err:
 * @backend: a #VhostBackend
 * @index: the queue index
 * @fd: the eventfd the device signals on an error in the queue, or -1
 * @error: return location for a #GError
 *
 * Sets a queue's error eventfd (SET_VRING_ERR). @fd is borrowed.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_backend_set_vring_err (VhostBackend *backend, guint index, gint fd, GError **error)
{
  BACKEND_CALL (backend, set_vring_err, index, fd, error);
}

/* For the calls a data plane may lack: a missing implementation is NOT_SUPPORTED. */
#define BACKEND_CALL_OPTIONAL(backend, vfunc, name, ...)                             \
  G_STMT_START                                                                      \
  {                                                                                 \
    VhostBackendInterface *iface_;                                                  \
    g_return_val_if_fail (VHOST_IS_BACKEND (backend), FALSE);                       \
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);                  \
    iface_ = VHOST_BACKEND_GET_IFACE (backend);                                     \
    if (iface_->vfunc == NULL)                                                      \
      {                                                                             \
        g_set_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,                 \
                     "%s: %s does not support it", name, G_OBJECT_TYPE_NAME (backend)); \
        return FALSE;                                                               \
      }                                                                             \
    return iface_->vfunc (backend, __VA_ARGS__);                                    \
  }                                                                                 \
  G_STMT_END

/**
 * vhost_backend_set_vring_enable:
 * @backend: a #VhostBackend
 * @index: the queue index
 * @enable: whether the device may process the queue
 * @error: return location for a #GError
 *
 * Enables or disables a queue (SET_VRING_ENABLE). Back-ends without the notion
 * fail with %VHOST_ERROR_NOT_SUPPORTED.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_backend_set_vring_enable (VhostBackend *backend, guint index, gboolean enable, GError **error)
{
  BACKEND_CALL_OPTIONAL (backend, set_vring_enable, "SET_VRING_ENABLE", index, enable, error);
}

/**
 * vhost_backend_set_status:
 * @backend: a #VhostBackend
 * @status: the device status, a combination of #VhostVirtioStatus bits
 * @error: return location for a #GError
 *
 * Sets the virtio device status (SET_STATUS). Back-ends without it fail with
 * %VHOST_ERROR_NOT_SUPPORTED.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_backend_set_status (VhostBackend *backend, guint8 status, GError **error)
{
  BACKEND_CALL_OPTIONAL (backend, set_status, "SET_STATUS", status, error);
}

/**
 * vhost_backend_get_status:
 * @backend: a #VhostBackend
 * @status: (out): the device status
 * @error: return location for a #GError
 *
 * Reads the virtio device status (GET_STATUS). Back-ends without it fail with
 * %VHOST_ERROR_NOT_SUPPORTED.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_backend_get_status (VhostBackend *backend, guint8 *status, GError **error)
{
  BACKEND_CALL_OPTIONAL (backend, get_status, "GET_STATUS", status, error);
}

/**
 * vhost_backend_negotiate_protocol:
 * @backend: a #VhostBackend
 * @wanted: the protocol features the caller can use, a mask of
 *   #VhostUserProtocolFeatures for vhost-user
 * @acked: (out) (optional): the protocol features now in use
 * @error: return location for a #GError
 *
 * Negotiates the features of the transport itself, which come on top of the
 * virtio features: reads what the back-end offers and acks what it offers of
 * @wanted (and of what this library implements). Call it after
 * vhost_backend_get_features() and before vhost_backend_set_features().
 *
 * A #VhostUserMaster implements it with GET_PROTOCOL_FEATURES and
 * SET_PROTOCOL_FEATURES (and SET_BACKEND_REQ_FD when
 * %VHOST_USER_PROTOCOL_F_BACKEND_REQ is acked), once the back-end offered
 * %VHOST_VIRTIO_F_PROTOCOL_FEATURES in vhost_backend_get_features(); until then,
 * and on back-ends that have no protocol features (kernel vhost, vDPA, and any
 * implementation that does not override it), it fails with
 * %VHOST_ERROR_NOT_SUPPORTED and sends nothing. A caller that gets
 * %VHOST_ERROR_NOT_SUPPORTED does not ack %VHOST_VIRTIO_F_PROTOCOL_FEATURES.
 *
 * Returns: (skip): %TRUE on success
 */
gboolean
vhost_backend_negotiate_protocol (VhostBackend *backend, guint64 wanted, guint64 *acked, GError **error)
{
  guint64 dummy;

  BACKEND_CALL_OPTIONAL (backend, negotiate_protocol, "Protocol features", wanted,
                         acked != NULL ? acked : &dummy, error);
}

/**
 * vhost_backend_has_status:
 * @backend: a #VhostBackend
 *
 * Whether the device keeps a virtio device status, which a driver sets with
 * vhost_backend_set_status() as it brings the device up (ACKNOWLEDGE, DRIVER,
 * FEATURES_OK, DRIVER_OK). A #VhostUserMaster has one once
 * %VHOST_USER_PROTOCOL_F_STATUS is negotiated, a #VhostVdpa always, kernel vhost
 * never. An implementation that does not override it has a status if it
 * implements vhost_backend_set_status().
 *
 * Returns: %TRUE if the device keeps a status
 */
gboolean
vhost_backend_has_status (VhostBackend *backend)
{
  VhostBackendInterface *iface;

  g_return_val_if_fail (VHOST_IS_BACKEND (backend), FALSE);
  iface = VHOST_BACKEND_GET_IFACE (backend);
  g_return_val_if_fail (iface->has_status != NULL, FALSE);
  return iface->has_status (backend);
}

/**
 * vhost_backend_query_features:
 * @backend: a #VhostBackend
 * @error: return location for a #GError
 *
 * Reads the virtio features the device offers (GET_FEATURES), as
 * vhost_backend_get_features() does, and returns them.
 *
 * Returns: the features, or 0 with @error set
 */
guint64
vhost_backend_query_features (VhostBackend *backend, GError **error)
{
  guint64 features = 0;

  return vhost_backend_get_features (backend, &features, error) ? features : 0;
}

/**
 * vhost_backend_query_vring_base:
 * @backend: a #VhostBackend
 * @index: the queue index
 * @error: return location for a #GError
 *
 * Stops a queue and returns where it stopped (GET_VRING_BASE), as
 * vhost_backend_get_vring_base() does.
 *
 * Returns: the next available index the device would process, or 0 with @error
 *   set (0 is also a valid index: check @error)
 */
guint
vhost_backend_query_vring_base (VhostBackend *backend, guint index, GError **error)
{
  guint base = 0;

  return vhost_backend_get_vring_base (backend, index, &base, error) ? base : 0;
}

/**
 * vhost_backend_query_status:
 * @backend: a #VhostBackend
 * @error: return location for a #GError
 *
 * Reads the virtio device status (GET_STATUS), as vhost_backend_get_status()
 * does, and returns it.
 *
 * Returns: the device status, or 0 with @error set
 */
guint8
vhost_backend_query_status (VhostBackend *backend, GError **error)
{
  guint8 status = 0;

  return vhost_backend_get_status (backend, &status, error) ? status : 0;
}
