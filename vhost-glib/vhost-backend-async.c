/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostBackend's asynchronous calls: the public pairs, and the defaults, which make the synchronous call in place. */
#include "vhost-backend-private.h"

#define UNPAREN(...) __VA_ARGS__

/* The task of a default implementation, or NULL if `cancellable` was cancelled
 * already (the task then answered that). */
static GTask *
backend_default_task (VhostBackend *backend,
                      gpointer tag,
                      GCancellable *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer user_data)
{
  GTask *task = g_task_new (backend, cancellable, callback, user_data);

  g_task_set_source_tag (task, tag);
  if (g_task_return_error_if_cancelled (task))
    {
      g_object_unref (task);
      return NULL;
    }
  return task;
}

/* Completes (and drops) the task of a default implementation with what the
 * synchronous call said: GTask calls back on the next iteration, never from here. */
static void
backend_task_return (GTask *task, gboolean ok, gboolean has_value, guint64 value, GError *error)
{
  if (!ok)
    g_task_return_error (task, error);
  else if (has_value)
    g_task_return_pointer (task, g_memdup2 (&value, sizeof value), g_free);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

/* The value of a finished call, or FALSE with `error`. */
static gboolean
backend_task_propagate_u64 (VhostBackend *backend, GAsyncResult *result, gpointer tag, guint64 *value, GError **error)
{
  guint64 *p;

  g_return_val_if_fail (g_task_is_valid (result, backend), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == tag, FALSE);
  p = g_task_propagate_pointer (G_TASK (result), error);
  if (p == NULL)
    return FALSE;
  *value = *p;
  g_free (p);
  return TRUE;
}

static gboolean
backend_task_propagate_boolean (VhostBackend *backend, GAsyncResult *result, gpointer tag, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, backend), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == tag, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* A call without a value: (name, (, parameters), (, arguments)). It defines the
 * defaults and the public pair vhost_backend_NAME_async() and _finish(). */
#define BACKEND_CALL_ASYNC(name, params, args)                                                                   \
  static void backend_default_##name##_async (VhostBackend *backend UNPAREN params, GCancellable *cancellable,  \
                                              GAsyncReadyCallback callback, gpointer user_data)                 \
  {                                                                                                             \
    GTask *task = backend_default_task (backend, vhost_backend_##name##_async, cancellable, callback, user_data); \
    GError *error = NULL;                                                                                       \
    gboolean ok;                                                                                                \
                                                                                                                \
    if (task == NULL)                                                                                           \
      return;                                                                                                   \
    ok = vhost_backend_##name (backend UNPAREN args, &error);                                                   \
    backend_task_return (task, ok, FALSE, 0, error);                                                            \
  }                                                                                                             \
  static gboolean backend_default_##name##_finish (VhostBackend *backend, GAsyncResult *result, GError **error) \
  {                                                                                                             \
    return backend_task_propagate_boolean (backend, result, vhost_backend_##name##_async, error);               \
  }                                                                                                             \
  void vhost_backend_##name##_async (VhostBackend *backend UNPAREN params, GCancellable *cancellable,           \
                                     GAsyncReadyCallback callback, gpointer user_data)                          \
  {                                                                                                             \
    g_return_if_fail (VHOST_IS_BACKEND (backend));                                                              \
    VHOST_BACKEND_GET_IFACE (backend)->name##_async (backend UNPAREN args, cancellable, callback, user_data);    \
  }                                                                                                             \
  gboolean vhost_backend_##name##_finish (VhostBackend *backend, GAsyncResult *result, GError **error)          \
  {                                                                                                             \
    g_return_val_if_fail (VHOST_IS_BACKEND (backend), FALSE);                                                   \
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);                                              \
    return VHOST_BACKEND_GET_IFACE (backend)->name##_finish (backend, result, error);                           \
  }

/* A call that gives a value of `Type`, the synchronous call's last out-argument. */
#define BACKEND_VALUE_ASYNC(name, Type, params, args)                                                            \
  static void backend_default_##name##_async (VhostBackend *backend UNPAREN params, GCancellable *cancellable,  \
                                              GAsyncReadyCallback callback, gpointer user_data)                 \
  {                                                                                                             \
    GTask *task = backend_default_task (backend, vhost_backend_##name##_async, cancellable, callback, user_data); \
    GError *error = NULL;                                                                                       \
    Type value = 0;                                                                                             \
    gboolean ok;                                                                                                \
                                                                                                                \
    if (task == NULL)                                                                                           \
      return;                                                                                                   \
    ok = vhost_backend_##name (backend UNPAREN args, &value, &error);                                           \
    backend_task_return (task, ok, TRUE, value, error);                                                         \
  }                                                                                                             \
  static gboolean backend_default_##name##_finish (VhostBackend *backend, GAsyncResult *result, Type *out,      \
                                                   GError **error)                                              \
  {                                                                                                             \
    guint64 value;                                                                                              \
                                                                                                                \
    if (!backend_task_propagate_u64 (backend, result, vhost_backend_##name##_async, &value, error))             \
      return FALSE;                                                                                             \
    if (out != NULL)                                                                                            \
      *out = (Type) value;                                                                                      \
    return TRUE;                                                                                                \
  }                                                                                                             \
  void vhost_backend_##name##_async (VhostBackend *backend UNPAREN params, GCancellable *cancellable,           \
                                     GAsyncReadyCallback callback, gpointer user_data)                          \
  {                                                                                                             \
    g_return_if_fail (VHOST_IS_BACKEND (backend));                                                              \
    VHOST_BACKEND_GET_IFACE (backend)->name##_async (backend UNPAREN args, cancellable, callback, user_data);    \
  }                                                                                                             \
  gboolean vhost_backend_##name##_finish (VhostBackend *backend, GAsyncResult *result, Type *out,               \
                                          GError **error)                                                       \
  {                                                                                                             \
    g_return_val_if_fail (VHOST_IS_BACKEND (backend), FALSE);                                                   \
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);                                              \
    return VHOST_BACKEND_GET_IFACE (backend)->name##_finish (backend, result, out, error);                      \
  }

/**
 * vhost_backend_get_features_async:
 * @backend: a #VhostBackend
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the features
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_backend_get_features(); @callback calls
 * vhost_backend_get_features_finish().
 */
/**
 * vhost_backend_get_features_finish:
 * @backend: a #VhostBackend
 * @result: the #GAsyncResult given to the callback
 * @features: (out) (optional): the virtio features the device offers
 * @error: return location for a #GError
 *
 * Finishes vhost_backend_get_features_async().
 *
 * Returns: (skip): %TRUE on success
 */
BACKEND_VALUE_ASYNC (get_features, guint64, (), ())

/**
 * vhost_backend_set_features_async:
 * @backend: a #VhostBackend
 * @features: the features the driver accepted
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the features are set
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_backend_set_features(); @callback calls
 * vhost_backend_set_features_finish().
 */
/**
 * vhost_backend_set_features_finish:
 * @backend: a #VhostBackend
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_backend_set_features_async().
 *
 * Returns: %TRUE on success
 */
BACKEND_CALL_ASYNC (set_features, (, guint64 features), (, features))

/**
 * vhost_backend_set_owner_async:
 * @backend: a #VhostBackend
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the caller owns the device
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_backend_set_owner(); @callback calls
 * vhost_backend_set_owner_finish().
 */
/**
 * vhost_backend_set_owner_finish:
 * @backend: a #VhostBackend
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_backend_set_owner_async().
 *
 * Returns: %TRUE on success
 */
BACKEND_CALL_ASYNC (set_owner, (), ())

/**
 * vhost_backend_reset_owner_async:
 * @backend: a #VhostBackend
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when ownership is given up
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_backend_reset_owner(); @callback calls
 * vhost_backend_reset_owner_finish().
 */
/**
 * vhost_backend_reset_owner_finish:
 * @backend: a #VhostBackend
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_backend_reset_owner_async().
 *
 * Returns: %TRUE on success
 */
BACKEND_CALL_ASYNC (reset_owner, (), ())

/**
 * vhost_backend_set_mem_table_async:
 * @backend: a #VhostBackend
 * @regions: (array length=n_regions): the memory regions; their file descriptors
 *   are borrowed only during this call
 * @n_regions: the number of regions
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the table is set
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_backend_set_mem_table(); @callback calls
 * vhost_backend_set_mem_table_finish().
 */
/**
 * vhost_backend_set_mem_table_finish:
 * @backend: a #VhostBackend
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_backend_set_mem_table_async().
 *
 * Returns: %TRUE on success
 */
BACKEND_CALL_ASYNC (set_mem_table, (, VhostMemoryRegion **regions, guint n_regions), (, regions, n_regions))

/**
 * vhost_backend_set_log_base_async:
 * @backend: a #VhostBackend
 * @base: as for vhost_backend_set_log_base()
 * @size: the size of the log in bytes
 * @fd: the shared memory that holds the log (vhost-user), or -1; borrowed only
 *   during this call
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the log is set
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_backend_set_log_base(); @callback calls
 * vhost_backend_set_log_base_finish().
 */
/**
 * vhost_backend_set_log_base_finish:
 * @backend: a #VhostBackend
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_backend_set_log_base_async().
 *
 * Returns: %TRUE on success
 */
BACKEND_CALL_ASYNC (set_log_base, (, guint64 base, guint64 size, gint fd), (, base, size, fd))

/**
 * vhost_backend_set_log_fd_async:
 * @backend: a #VhostBackend
 * @fd: an eventfd the device signals when it wrote to the log; borrowed only
 *   during this call
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the eventfd is set
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_backend_set_log_fd(); @callback calls
 * vhost_backend_set_log_fd_finish().
 */
/**
 * vhost_backend_set_log_fd_finish:
 * @backend: a #VhostBackend
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_backend_set_log_fd_async().
 *
 * Returns: %TRUE on success
 */
BACKEND_CALL_ASYNC (set_log_fd, (, gint fd), (, fd))

/**
 * vhost_backend_set_vring_num_async:
 * @backend: a #VhostBackend
 * @index: the queue index
 * @num: the number of descriptors in the queue
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the size is set
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_backend_set_vring_num(); @callback calls
 * vhost_backend_set_vring_num_finish().
 */
/**
 * vhost_backend_set_vring_num_finish:
 * @backend: a #VhostBackend
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_backend_set_vring_num_async().
 *
 * Returns: %TRUE on success
 */
BACKEND_CALL_ASYNC (set_vring_num, (, guint index, guint num), (, index, num))

/**
 * vhost_backend_set_vring_addr_async:
 * @backend: a #VhostBackend
 * @addr: the addresses of the queue's rings
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the addresses are set
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_backend_set_vring_addr(); @callback calls
 * vhost_backend_set_vring_addr_finish().
 */
/**
 * vhost_backend_set_vring_addr_finish:
 * @backend: a #VhostBackend
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_backend_set_vring_addr_async().
 *
 * Returns: %TRUE on success
 */
BACKEND_CALL_ASYNC (set_vring_addr, (, VhostVringAddr *addr), (, addr))

/**
 * vhost_backend_set_vring_base_async:
 * @backend: a #VhostBackend
 * @index: the queue index
 * @base: as for vhost_backend_set_vring_base()
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the base is set
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_backend_set_vring_base(); @callback calls
 * vhost_backend_set_vring_base_finish().
 */
/**
 * vhost_backend_set_vring_base_finish:
 * @backend: a #VhostBackend
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_backend_set_vring_base_async().
 *
 * Returns: %TRUE on success
 */
BACKEND_CALL_ASYNC (set_vring_base, (, guint index, guint base), (, index, base))

/**
 * vhost_backend_get_vring_base_async:
 * @backend: a #VhostBackend
 * @index: the queue index
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the queue is stopped
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_backend_get_vring_base(); @callback calls
 * vhost_backend_get_vring_base_finish().
 */
/**
 * vhost_backend_get_vring_base_finish:
 * @backend: a #VhostBackend
 * @result: the #GAsyncResult given to the callback
 * @base: (out) (optional): the next available index the device would process
 * @error: return location for a #GError
 *
 * Finishes vhost_backend_get_vring_base_async().
 *
 * Returns: (skip): %TRUE on success
 */
BACKEND_VALUE_ASYNC (get_vring_base, guint, (, guint index), (, index))

/**
 * vhost_backend_set_vring_kick_async:
 * @backend: a #VhostBackend
 * @index: the queue index
 * @fd: the kick eventfd, or -1; borrowed only during this call
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the eventfd is set
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_backend_set_vring_kick(); @callback calls
 * vhost_backend_set_vring_kick_finish().
 */
/**
 * vhost_backend_set_vring_kick_finish:
 * @backend: a #VhostBackend
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_backend_set_vring_kick_async().
 *
 * Returns: %TRUE on success
 */
BACKEND_CALL_ASYNC (set_vring_kick, (, guint index, gint fd), (, index, fd))

/**
 * vhost_backend_set_vring_call_async:
 * @backend: a #VhostBackend
 * @index: the queue index
 * @fd: the call eventfd, or -1; borrowed only during this call
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the eventfd is set
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_backend_set_vring_call(); @callback calls
 * vhost_backend_set_vring_call_finish().
 */
/**
 * vhost_backend_set_vring_call_finish:
 * @backend: a #VhostBackend
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_backend_set_vring_call_async().
 *
 * Returns: %TRUE on success
 */
BACKEND_CALL_ASYNC (set_vring_call, (, guint index, gint fd), (, index, fd))

/**
 * vhost_backend_set_vring_err_async:
 * @backend: a #VhostBackend
 * @index: the queue index
 * @fd: the error eventfd, or -1; borrowed only during this call
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the eventfd is set
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_backend_set_vring_err(); @callback calls
 * vhost_backend_set_vring_err_finish().
 */
/**
 * vhost_backend_set_vring_err_finish:
 * @backend: a #VhostBackend
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_backend_set_vring_err_async().
 *
 * Returns: %TRUE on success
 */
BACKEND_CALL_ASYNC (set_vring_err, (, guint index, gint fd), (, index, fd))

/**
 * vhost_backend_set_vring_enable_async:
 * @backend: a #VhostBackend
 * @index: the queue index
 * @enable: whether the device may process the queue
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the queue is enabled or disabled
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_backend_set_vring_enable(); @callback calls
 * vhost_backend_set_vring_enable_finish().
 */
/**
 * vhost_backend_set_vring_enable_finish:
 * @backend: a #VhostBackend
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_backend_set_vring_enable_async().
 *
 * Returns: %TRUE on success
 */
BACKEND_CALL_ASYNC (set_vring_enable, (, guint index, gboolean enable), (, index, enable))

/**
 * vhost_backend_set_status_async:
 * @backend: a #VhostBackend
 * @status: the device status, a combination of #VhostVirtioStatus bits
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the status is set
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_backend_set_status(); @callback calls
 * vhost_backend_set_status_finish().
 */
/**
 * vhost_backend_set_status_finish:
 * @backend: a #VhostBackend
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes vhost_backend_set_status_async().
 *
 * Returns: %TRUE on success
 */
BACKEND_CALL_ASYNC (set_status, (, guint8 status), (, status))

/**
 * vhost_backend_get_status_async:
 * @backend: a #VhostBackend
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the status
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_backend_get_status(); @callback calls
 * vhost_backend_get_status_finish().
 */
/**
 * vhost_backend_get_status_finish:
 * @backend: a #VhostBackend
 * @result: the #GAsyncResult given to the callback
 * @status: (out) (optional): the device status
 * @error: return location for a #GError
 *
 * Finishes vhost_backend_get_status_async().
 *
 * Returns: (skip): %TRUE on success
 */
BACKEND_VALUE_ASYNC (get_status, guint8, (), ())

/**
 * vhost_backend_negotiate_protocol_async:
 * @backend: a #VhostBackend
 * @wanted: the protocol features the caller can use
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called when the protocol features are negotiated
 * @user_data: data for @callback
 *
 * The asynchronous form of vhost_backend_negotiate_protocol(); @callback calls
 * vhost_backend_negotiate_protocol_finish().
 */
/**
 * vhost_backend_negotiate_protocol_finish:
 * @backend: a #VhostBackend
 * @result: the #GAsyncResult given to the callback
 * @acked: (out) (optional): the protocol features now in use
 * @error: return location for a #GError
 *
 * Finishes vhost_backend_negotiate_protocol_async().
 *
 * Returns: (skip): %TRUE on success
 */
BACKEND_VALUE_ASYNC (negotiate_protocol, guint64, (, guint64 wanted), (, wanted))

#define SET_DEFAULT(name)                                         \
  iface->name##_async = backend_default_##name##_async;           \
  iface->name##_finish = backend_default_##name##_finish;

void
vhost_backend_async_default_init (VhostBackendInterface *iface)
{
  SET_DEFAULT (get_features)
  SET_DEFAULT (set_features)
  SET_DEFAULT (set_owner)
  SET_DEFAULT (reset_owner)
  SET_DEFAULT (set_mem_table)
  SET_DEFAULT (set_log_base)
  SET_DEFAULT (set_log_fd)
  SET_DEFAULT (set_vring_num)
  SET_DEFAULT (set_vring_addr)
  SET_DEFAULT (set_vring_base)
  SET_DEFAULT (get_vring_base)
  SET_DEFAULT (set_vring_kick)
  SET_DEFAULT (set_vring_call)
  SET_DEFAULT (set_vring_err)
  SET_DEFAULT (set_vring_enable)
  SET_DEFAULT (set_status)
  SET_DEFAULT (get_status)
  SET_DEFAULT (negotiate_protocol)
}
