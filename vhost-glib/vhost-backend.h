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
 *
 * The virtual functions of #VhostBackend. All but the optional ones and those with a
 * default are required. File descriptors passed in are borrowed: an implementation
 * duplicates what it keeps.
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

G_END_DECLS
