/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostBackend: the control plane shared by vhost-user, kernel vhost and vDPA front-ends. */
#pragma once

#if !defined(__VHOST_GLIB_INSIDE__) && !defined(VHOST_GLIB_COMPILATION)
#error "Only <vhost-glib/vhost-glib.h> can be included directly."
#endif

#include <gio/gio.h>
#include <vhost-glib/vhost-types.h>

G_BEGIN_DECLS

/**
 * VHOST_TYPE_BACKEND:
 *
 * The #GType of the #VhostBackend interface.
 */
#define VHOST_TYPE_BACKEND (vhost_backend_get_type ())
VHOST_AVAILABLE_IN_ALL
G_DECLARE_INTERFACE (VhostBackend, vhost_backend, VHOST, BACKEND, GObject)

/**
 * VhostBackendInterface:
 * @g_iface: the parent interface.
 * @get_features: implements vhost_backend_get_features().
 * @set_features: implements vhost_backend_set_features().
 * @set_owner: implements vhost_backend_set_owner().
 * @reset_owner: implements vhost_backend_reset_owner().
 * @set_mem_table: implements vhost_backend_set_mem_table().
 * @set_log_base: implements vhost_backend_set_log_base().
 * @set_log_fd: implements vhost_backend_set_log_fd().
 * @set_vring_num: implements vhost_backend_set_vring_num().
 * @set_vring_addr: implements vhost_backend_set_vring_addr().
 * @set_vring_base: implements vhost_backend_set_vring_base().
 * @get_vring_base: implements vhost_backend_get_vring_base().
 * @set_vring_kick: implements vhost_backend_set_vring_kick().
 * @set_vring_call: implements vhost_backend_set_vring_call().
 * @set_vring_err: implements vhost_backend_set_vring_err().
 * @set_vring_enable: implements vhost_backend_set_vring_enable(); optional.
 * @set_status: implements vhost_backend_set_status(); optional.
 * @get_status: implements vhost_backend_get_status(); optional.
 * @negotiate_protocol: implements vhost_backend_negotiate_protocol(); optional: a
 *   back-end without protocol features of its own leaves it unset.
 * @has_status: implements vhost_backend_has_status(); the default says whether
 *   @set_status is implemented.
 * @get_features_async: implements vhost_backend_get_features_async().
 * @get_features_finish: implements vhost_backend_get_features_finish().
 * @set_features_async: implements vhost_backend_set_features_async().
 * @set_features_finish: implements vhost_backend_set_features_finish().
 * @set_owner_async: implements vhost_backend_set_owner_async().
 * @set_owner_finish: implements vhost_backend_set_owner_finish().
 * @reset_owner_async: implements vhost_backend_reset_owner_async().
 * @reset_owner_finish: implements vhost_backend_reset_owner_finish().
 * @set_mem_table_async: implements vhost_backend_set_mem_table_async().
 * @set_mem_table_finish: implements vhost_backend_set_mem_table_finish().
 * @set_log_base_async: implements vhost_backend_set_log_base_async().
 * @set_log_base_finish: implements vhost_backend_set_log_base_finish().
 * @set_log_fd_async: implements vhost_backend_set_log_fd_async().
 * @set_log_fd_finish: implements vhost_backend_set_log_fd_finish().
 * @set_vring_num_async: implements vhost_backend_set_vring_num_async().
 * @set_vring_num_finish: implements vhost_backend_set_vring_num_finish().
 * @set_vring_addr_async: implements vhost_backend_set_vring_addr_async().
 * @set_vring_addr_finish: implements vhost_backend_set_vring_addr_finish().
 * @set_vring_base_async: implements vhost_backend_set_vring_base_async().
 * @set_vring_base_finish: implements vhost_backend_set_vring_base_finish().
 * @get_vring_base_async: implements vhost_backend_get_vring_base_async().
 * @get_vring_base_finish: implements vhost_backend_get_vring_base_finish().
 * @set_vring_kick_async: implements vhost_backend_set_vring_kick_async().
 * @set_vring_kick_finish: implements vhost_backend_set_vring_kick_finish().
 * @set_vring_call_async: implements vhost_backend_set_vring_call_async().
 * @set_vring_call_finish: implements vhost_backend_set_vring_call_finish().
 * @set_vring_err_async: implements vhost_backend_set_vring_err_async().
 * @set_vring_err_finish: implements vhost_backend_set_vring_err_finish().
 * @set_vring_enable_async: implements vhost_backend_set_vring_enable_async().
 * @set_vring_enable_finish: implements vhost_backend_set_vring_enable_finish().
 * @set_status_async: implements vhost_backend_set_status_async().
 * @set_status_finish: implements vhost_backend_set_status_finish().
 * @get_status_async: implements vhost_backend_get_status_async().
 * @get_status_finish: implements vhost_backend_get_status_finish().
 * @negotiate_protocol_async: implements vhost_backend_negotiate_protocol_async().
 * @negotiate_protocol_finish: implements vhost_backend_negotiate_protocol_finish().
 *
 * The virtual functions of #VhostBackend. All but the optional ones and those with a
 * default are required. File descriptors passed in are borrowed: an implementation
 * duplicates what it keeps.
 *
 * Each call has an asynchronous form, a pair of virtual functions. Their defaults
 * suit a back-end whose calls return at once (the ioctls of kernel vhost and
 * vDPA): the synchronous function runs in the caller's thread during the
 * `_async` call, and the #GTask it completes calls back on the next iteration of
 * the caller's thread-default #GMainContext. An implementation that waits for a
 * peer overrides the `_async` functions; if its #GTask (whose source object is
 * the back-end and whose source tag is the public `vhost_backend_*_async()`
 * function) returns a boolean, or for the calls that give a value, a pointer to a
 * #guint64 freed with g_free(), the default `_finish` functions take it.
 */
struct _VhostBackendInterface
{
  GTypeInterface g_iface;

  gboolean (*get_features) (VhostBackend *backend, guint64 *features, GError **error);
  gboolean (*set_features) (VhostBackend *backend, guint64 features, GError **error);
  gboolean (*set_owner) (VhostBackend *backend, GError **error);
  gboolean (*reset_owner) (VhostBackend *backend, GError **error);
  gboolean (*set_mem_table) (VhostBackend *backend,
                             VhostMemoryRegion **regions,
                             guint n_regions,
                             GError **error);
  gboolean (*set_log_base) (VhostBackend *backend,
                            guint64 base,
                            guint64 size,
                            gint fd,
                            GError **error);
  gboolean (*set_log_fd) (VhostBackend *backend, gint fd, GError **error);
  gboolean (*set_vring_num) (VhostBackend *backend, guint index, guint num, GError **error);
  gboolean (*set_vring_addr) (VhostBackend *backend, VhostVringAddr *addr, GError **error);
  gboolean (*set_vring_base) (VhostBackend *backend, guint index, guint base, GError **error);
  gboolean (*get_vring_base) (VhostBackend *backend, guint index, guint *base, GError **error);
  gboolean (*set_vring_kick) (VhostBackend *backend, guint index, gint fd, GError **error);
  gboolean (*set_vring_call) (VhostBackend *backend, guint index, gint fd, GError **error);
  gboolean (*set_vring_err) (VhostBackend *backend, guint index, gint fd, GError **error);
  gboolean (*set_vring_enable) (VhostBackend *backend, guint index, gboolean enable, GError **error);
  gboolean (*set_status) (VhostBackend *backend, guint8 status, GError **error);
  gboolean (*get_status) (VhostBackend *backend, guint8 *status, GError **error);
  gboolean (*negotiate_protocol) (VhostBackend *backend, guint64 wanted, guint64 *acked, GError **error);
  gboolean (*has_status) (VhostBackend *backend);

  /* The asynchronous calls (vhost-backend-async.c). */
  void (*get_features_async) (VhostBackend *backend, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data);
  gboolean (*get_features_finish) (VhostBackend *backend, GAsyncResult *result, guint64 *features, GError **error);
  void (*set_features_async) (VhostBackend *backend, guint64 features, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data);
  gboolean (*set_features_finish) (VhostBackend *backend, GAsyncResult *result, GError **error);
  void (*set_owner_async) (VhostBackend *backend, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data);
  gboolean (*set_owner_finish) (VhostBackend *backend, GAsyncResult *result, GError **error);
  void (*reset_owner_async) (VhostBackend *backend, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data);
  gboolean (*reset_owner_finish) (VhostBackend *backend, GAsyncResult *result, GError **error);
  void (*set_mem_table_async) (VhostBackend *backend, VhostMemoryRegion **regions, guint n_regions, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data);
  gboolean (*set_mem_table_finish) (VhostBackend *backend, GAsyncResult *result, GError **error);
  void (*set_log_base_async) (VhostBackend *backend, guint64 base, guint64 size, gint fd, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data);
  gboolean (*set_log_base_finish) (VhostBackend *backend, GAsyncResult *result, GError **error);
  void (*set_log_fd_async) (VhostBackend *backend, gint fd, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data);
  gboolean (*set_log_fd_finish) (VhostBackend *backend, GAsyncResult *result, GError **error);
  void (*set_vring_num_async) (VhostBackend *backend, guint index, guint num, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data);
  gboolean (*set_vring_num_finish) (VhostBackend *backend, GAsyncResult *result, GError **error);
  void (*set_vring_addr_async) (VhostBackend *backend, VhostVringAddr *addr, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
  gboolean (*set_vring_addr_finish) (VhostBackend *backend, GAsyncResult *result, GError **error);
  void (*set_vring_base_async) (VhostBackend *backend, guint index, guint base, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
  gboolean (*set_vring_base_finish) (VhostBackend *backend, GAsyncResult *result, GError **error);
  void (*get_vring_base_async) (VhostBackend *backend, guint index, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
  gboolean (*get_vring_base_finish) (VhostBackend *backend, GAsyncResult *result, guint *base, GError **error);
  void (*set_vring_kick_async) (VhostBackend *backend, guint index, gint fd, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
  gboolean (*set_vring_kick_finish) (VhostBackend *backend, GAsyncResult *result, GError **error);
  void (*set_vring_call_async) (VhostBackend *backend, guint index, gint fd, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
  gboolean (*set_vring_call_finish) (VhostBackend *backend, GAsyncResult *result, GError **error);
  void (*set_vring_err_async) (VhostBackend *backend, guint index, gint fd, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data);
  gboolean (*set_vring_err_finish) (VhostBackend *backend, GAsyncResult *result, GError **error);
  void (*set_vring_enable_async) (VhostBackend *backend, guint index, gboolean enable, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data);
  gboolean (*set_vring_enable_finish) (VhostBackend *backend, GAsyncResult *result, GError **error);
  void (*set_status_async) (VhostBackend *backend, guint8 status, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data);
  gboolean (*set_status_finish) (VhostBackend *backend, GAsyncResult *result, GError **error);
  void (*get_status_async) (VhostBackend *backend, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data);
  gboolean (*get_status_finish) (VhostBackend *backend, GAsyncResult *result, guint8 *status, GError **error);
  void (*negotiate_protocol_async) (VhostBackend *backend, guint64 wanted, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data);
  gboolean (*negotiate_protocol_finish) (VhostBackend *backend, GAsyncResult *result, guint64 *acked, GError **error);

  /*< private >*/
  gpointer padding[7];
};

VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_get_features (VhostBackend *backend, guint64 *features, GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_set_features (VhostBackend *backend, guint64 features, GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_set_owner (VhostBackend *backend, GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_reset_owner (VhostBackend *backend, GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_set_mem_table (VhostBackend *backend,
                                      VhostMemoryRegion **regions,
                                      guint n_regions,
                                      GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_set_log_base (VhostBackend *backend,
                                     guint64 base,
                                     guint64 size,
                                     gint fd,
                                     GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_set_log_fd (VhostBackend *backend, gint fd, GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_set_vring_num (VhostBackend *backend, guint index, guint num, GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_set_vring_addr (VhostBackend *backend, VhostVringAddr *addr, GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_set_vring_base (VhostBackend *backend, guint index, guint base, GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_get_vring_base (VhostBackend *backend, guint index, guint *base, GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_set_vring_kick (VhostBackend *backend, guint index, gint fd, GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_set_vring_call (VhostBackend *backend, guint index, gint fd, GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_set_vring_err (VhostBackend *backend, guint index, gint fd, GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_set_vring_enable (VhostBackend *backend, guint index, gboolean enable, GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_set_status (VhostBackend *backend, guint8 status, GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_get_status (VhostBackend *backend, guint8 *status, GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_negotiate_protocol (VhostBackend *backend,
                                           guint64 wanted,
                                           guint64 *acked,
                                           GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_has_status (VhostBackend *backend);

/* Values without out-arguments, for the languages that prefer them. */
VHOST_AVAILABLE_IN_ALL
guint64 vhost_backend_query_features (VhostBackend *backend,
                                      GError **error);
VHOST_AVAILABLE_IN_ALL
guint vhost_backend_query_vring_base (VhostBackend *backend,
                                      guint index,
                                      GError **error);
VHOST_AVAILABLE_IN_ALL
guint8 vhost_backend_query_status (VhostBackend *backend,
                                   GError **error);

/* The asynchronous calls (vhost-backend-async.c). */
VHOST_AVAILABLE_IN_ALL
void vhost_backend_get_features_async (VhostBackend *backend,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_get_features_finish (VhostBackend *backend,
                                            GAsyncResult *result,
                                            guint64 *features,
                                            GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_backend_set_features_async (VhostBackend *backend,
                                       guint64 features,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_set_features_finish (VhostBackend *backend,
                                            GAsyncResult *result,
                                            GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_backend_set_owner_async (VhostBackend *backend,
                                    GCancellable *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_set_owner_finish (VhostBackend *backend,
                                         GAsyncResult *result,
                                         GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_backend_reset_owner_async (VhostBackend *backend,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_reset_owner_finish (VhostBackend *backend,
                                           GAsyncResult *result,
                                           GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_backend_set_mem_table_async (VhostBackend *backend,
                                        VhostMemoryRegion **regions,
                                        guint n_regions,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_set_mem_table_finish (VhostBackend *backend,
                                             GAsyncResult *result,
                                             GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_backend_set_log_base_async (VhostBackend *backend,
                                       guint64 base,
                                       guint64 size,
                                       gint fd,
                                       GCancellable *cancellable,
                                       GAsyncReadyCallback callback,
                                       gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_set_log_base_finish (VhostBackend *backend,
                                            GAsyncResult *result,
                                            GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_backend_set_log_fd_async (VhostBackend *backend,
                                     gint fd,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_set_log_fd_finish (VhostBackend *backend,
                                          GAsyncResult *result,
                                          GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_backend_set_vring_num_async (VhostBackend *backend,
                                        guint index,
                                        guint num,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_set_vring_num_finish (VhostBackend *backend,
                                             GAsyncResult *result,
                                             GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_backend_set_vring_addr_async (VhostBackend *backend,
                                         VhostVringAddr *addr,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_set_vring_addr_finish (VhostBackend *backend,
                                              GAsyncResult *result,
                                              GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_backend_set_vring_base_async (VhostBackend *backend,
                                         guint index,
                                         guint base,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_set_vring_base_finish (VhostBackend *backend,
                                              GAsyncResult *result,
                                              GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_backend_get_vring_base_async (VhostBackend *backend,
                                         guint index,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_get_vring_base_finish (VhostBackend *backend,
                                              GAsyncResult *result,
                                              guint *base,
                                              GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_backend_set_vring_kick_async (VhostBackend *backend,
                                         guint index,
                                         gint fd,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_set_vring_kick_finish (VhostBackend *backend,
                                              GAsyncResult *result,
                                              GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_backend_set_vring_call_async (VhostBackend *backend,
                                         guint index,
                                         gint fd,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_set_vring_call_finish (VhostBackend *backend,
                                              GAsyncResult *result,
                                              GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_backend_set_vring_err_async (VhostBackend *backend,
                                        guint index,
                                        gint fd,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_set_vring_err_finish (VhostBackend *backend,
                                             GAsyncResult *result,
                                             GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_backend_set_vring_enable_async (VhostBackend *backend,
                                           guint index,
                                           gboolean enable,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_set_vring_enable_finish (VhostBackend *backend,
                                                GAsyncResult *result,
                                                GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_backend_set_status_async (VhostBackend *backend,
                                     guint8 status,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_set_status_finish (VhostBackend *backend,
                                          GAsyncResult *result,
                                          GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_backend_get_status_async (VhostBackend *backend,
                                     GCancellable *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_get_status_finish (VhostBackend *backend,
                                          GAsyncResult *result,
                                          guint8 *status,
                                          GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_backend_negotiate_protocol_async (VhostBackend *backend,
                                             guint64 wanted,
                                             GCancellable *cancellable,
                                             GAsyncReadyCallback callback,
                                             gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_backend_negotiate_protocol_finish (VhostBackend *backend,
                                                  GAsyncResult *result,
                                                  guint64 *acked,
                                                  GError **error);

G_END_DECLS
