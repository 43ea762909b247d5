/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostUserSlave: the vhost-user back-end, which serves one device to a front-end. */
#pragma once

#if !defined(__VHOST_GLIB_INSIDE__) && !defined(VHOST_GLIB_COMPILATION)
#error "Only <vhost-glib/vhost-glib.h> can be included directly."
#endif

#include <gio/gio.h>
#include <gio/gunixfdlist.h>
#include <vhost-glib/vhost-types.h>
#include <vhost-glib/vhost-virtqueue.h>

G_BEGIN_DECLS

/**
 * VHOST_TYPE_USER_SLAVE:
 *
 * The #GType of #VhostUserSlave.
 */
#define VHOST_TYPE_USER_SLAVE (vhost_user_slave_get_type ())
VHOST_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (VhostUserSlave, vhost_user_slave, VHOST, USER_SLAVE, GObject)

/**
 * VhostUserSlaveClass::get_config:
 * @slave: the #VhostUserSlave
 * @offset: the offset in the configuration space
 * @size: how many bytes to read
 * @error: return location for a #GError
 *
 * Reads the device's configuration space for GET_CONFIG.
 *
 * Returns: (transfer full): exactly @size bytes, or %NULL with @error set
 */

/**
 * VhostUserSlaveClass::device_request:
 * @slave: the #VhostUserSlave
 * @request: the request
 * @payload: the request's payload, in the wire format of the specification
 * @fds: the file descriptors that came with it; duplicate those to keep
 * @reply: (out) (transfer full) (nullable): the payload of the reply, for the
 *   requests that have one
 * @reply_fds: (out) (transfer full) (nullable): the file descriptors to send
 *   with the reply
 * @error: return location for a #GError
 *
 * Handles a device-specific request. See #VhostUserSlaveClass.
 *
 * Returns: %TRUE on success
 */

/**
 * VhostUserSlaveClass::save_state:
 * @slave: the #VhostUserSlave
 * @error: return location for a #GError
 *
 * Saves the device's own state. See #VhostUserSlaveClass.
 *
 * Returns: (transfer full) (nullable): the state, or %NULL with @error set
 */

/**
 * VhostUserSlaveClass::load_state:
 * @slave: the #VhostUserSlave
 * @state: what #VhostUserSlaveClass.save_state() gave on the source
 * @error: return location for a #GError
 *
 * Loads the device's own state. See #VhostUserSlaveClass.
 *
 * Returns: %TRUE on success
 */

/**
 * VhostUserSlaveClass:
 * @parent_class: the parent class.
 * @get_features: returns the virtio features the device offers. The library adds
 *   %VHOST_VIRTIO_F_PROTOCOL_FEATURES. The default offers %VHOST_VIRTIO_F_VERSION_1.
 * @get_protocol_features: returns the protocol features the device offers; the
 *   library keeps those it implements. The default offers every device-independent
 *   protocol feature the library implements.
 * @get_num_queues: returns the number of queues (GET_QUEUE_NUM). The default returns 1.
 * @get_max_queue_size: returns the largest queue size SET_VRING_NUM may set. The
 *   default returns 1024.
 * @set_features: called on SET_FEATURES with the features the front-end acked;
 *   may refuse them. The default accepts any subset of what was offered.
 * @get_config: reads @size bytes of the configuration space at @offset. The default
 *   reads from the bytes set with vhost_user_slave_set_config_space().
 * @set_config: writes the configuration space. The default refuses
 *   (%VHOST_ERROR_NOT_SUPPORTED).
 * @vring_state_changed: a queue was started or stopped, enabled or disabled.
 * @reset: the front-end reset the device (RESET_DEVICE, RESET_OWNER, or a status of 0).
 * @device_request: handles the requests whose meaning depends on the device:
 *   SEND_RARP, NET_SET_MTU, IOTLB_MSG, SET_VRING_ENDIAN, CREATE_CRYPTO_SESSION,
 *   CLOSE_CRYPTO_SESSION, GPU_SET_SOCKET, GET_SHARED_OBJECT.
 *   The payload and reply are in the wire format of the vhost-user specification.
 *   The default refuses with %VHOST_ERROR_NOT_SUPPORTED.
 * @save_state: returns the device's own state for a migration
 *   (SET_DEVICE_STATE_FD), with the queues stopped; the library saves its own
 *   (each queue's position and flags, the inflight area) beside it. The default
 *   has none: empty bytes.
 * @load_state: takes the state @save_state gave on the source, before the
 *   queues start on the destination. The default accepts only an empty one.
 *
 * The virtual functions a device overrides. They run on the #GMainContext the
 * slave belongs to.
 */
struct _VhostUserSlaveClass
{
  GObjectClass parent_class;

  guint64 (*get_features) (VhostUserSlave *slave);
  guint64 (*get_protocol_features) (VhostUserSlave *slave);
  guint (*get_num_queues) (VhostUserSlave *slave);
  guint (*get_max_queue_size) (VhostUserSlave *slave);
  gboolean (*set_features) (VhostUserSlave *slave, guint64 features, GError **error);
  GBytes *(*get_config) (VhostUserSlave *slave, guint offset, guint size, GError **error);
  gboolean (*set_config) (VhostUserSlave *slave,
                          guint offset,
                          GBytes *data,
                          guint flags,
                          GError **error);
  void (*vring_state_changed) (VhostUserSlave *slave,
                               guint index,
                               gboolean started,
                               gboolean enabled);
  void (*reset) (VhostUserSlave *slave);
  gboolean (*device_request) (VhostUserSlave *slave,
                              VhostUserRequest request,
                              GBytes *payload,
                              GUnixFDList *fds,
                              GBytes **reply,
                              GUnixFDList **reply_fds,
                              GError **error);
  GBytes *(*save_state) (VhostUserSlave *slave, GError **error);
  gboolean (*load_state) (VhostUserSlave *slave, GBytes *state, GError **error);

  /*< private >*/
  gpointer padding[14];
};

VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_slave_listen (VhostUserSlave *slave,
                                  const char *path,
                                  GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_slave_serve_fd (VhostUserSlave *slave,
                                    gint fd,
                                    GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_slave_connect_to (VhostUserSlave *slave,
                                   const char *path,
                                   GCancellable *cancellable,
                                   GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_slave_close (VhostUserSlave *slave);

VHOST_AVAILABLE_IN_ALL
void vhost_user_slave_log (VhostUserSlave *slave,
                           const gchar *log_domain,
                           GLogLevelFlags log_level,
                           const gchar *reason,
                           const gchar *format,
                           ...) G_GNUC_PRINTF (5, 6);
VHOST_AVAILABLE_IN_ALL
void vhost_user_slave_log_message (VhostUserSlave *slave,
                                   const gchar *log_domain,
                                   GLogLevelFlags log_level,
                                   const gchar *reason,
                                   const gchar *message);

VHOST_AVAILABLE_IN_ALL
VhostVirtqueue *vhost_user_slave_get_virtqueue (VhostUserSlave *slave,
                                                guint index);
VHOST_AVAILABLE_IN_ALL
void vhost_user_slave_set_busy_poll_us (VhostUserSlave *slave,
                                        guint usec);
VHOST_AVAILABLE_IN_ALL
guint vhost_user_slave_get_busy_poll_us (VhostUserSlave *slave);

VHOST_AVAILABLE_IN_ALL
void vhost_user_slave_set_config_space (VhostUserSlave *slave,
                                        GBytes *config);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_slave_get_connected (VhostUserSlave *slave);
VHOST_AVAILABLE_IN_ALL
guint64 vhost_user_slave_get_acked_features (VhostUserSlave *slave);
VHOST_AVAILABLE_IN_ALL
guint64 vhost_user_slave_get_acked_protocol_features (VhostUserSlave *slave);
VHOST_AVAILABLE_IN_ALL
guint8 vhost_user_slave_get_status (VhostUserSlave *slave);
VHOST_AVAILABLE_IN_ALL
guint vhost_user_slave_get_n_regions (VhostUserSlave *slave);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_slave_get_vring_state (VhostUserSlave *slave,
                                           guint index,
                                           guint *num,
                                           guint *base,
                                           gboolean *started,
                                           gboolean *enabled);

VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_slave_notify_config_change (VhostUserSlave *slave,
                                                GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_slave_set_host_notifier (VhostUserSlave *slave,
                                             guint index,
                                             gint fd,
                                             guint64 size,
                                             guint64 offset,
                                             GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_slave_send_iotlb_msg (VhostUserSlave *slave,
                                          guint64 iova,
                                          guint64 size,
                                          guint64 uaddr,
                                          guint perm,
                                          guint type,
                                          GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_slave_vring_call (VhostUserSlave *slave,
                                      guint index,
                                      GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_slave_vring_err (VhostUserSlave *slave,
                                     guint index,
                                     GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_slave_shared_object_add (VhostUserSlave *slave,
                                             GBytes *uuid,
                                             GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_slave_shared_object_remove (VhostUserSlave *slave,
                                                GBytes *uuid,
                                                GError **error);
VHOST_AVAILABLE_IN_ALL
gint vhost_user_slave_shared_object_lookup (VhostUserSlave *slave,
                                            GBytes *uuid,
                                            GError **error);

G_END_DECLS
