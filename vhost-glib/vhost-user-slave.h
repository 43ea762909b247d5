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
 * VhostUserSlaveClass::send_rarp:
 * @slave: the #VhostUserSlave
 * @mac: (array fixed-size=6): the guest's MAC address
 * @error: return location for a #GError
 *
 * SEND_RARP: a network device broadcasts a RARP for @mac (after a migration).
 * Overriding it offers %VHOST_USER_PROTOCOL_F_RARP.
 *
 * Returns: %TRUE on success
 */

/**
 * VhostUserSlaveClass::net_set_mtu:
 * @slave: the #VhostUserSlave
 * @mtu: the MTU the front-end asks for
 * @error: return location for a #GError
 *
 * NET_SET_MTU. Overriding it offers %VHOST_USER_PROTOCOL_F_NET_MTU.
 *
 * Returns: %TRUE on success
 */

/**
 * VhostUserSlaveClass::set_vring_endian:
 * @slave: the #VhostUserSlave
 * @index: the queue index, checked against the device's queues
 * @big_endian: whether the legacy queue is big-endian
 * @error: return location for a #GError
 *
 * SET_VRING_ENDIAN. Overriding it offers %VHOST_USER_PROTOCOL_F_CROSS_ENDIAN.
 *
 * Returns: %TRUE on success
 */

/**
 * VhostUserSlaveClass::get_shared_object:
 * @slave: the #VhostUserSlave
 * @uuid: the 16 bytes of the object's UUID
 * @error: return location for a #GError
 *
 * GET_SHARED_OBJECT: a file descriptor for the object the device exported
 * under @uuid.
 *
 * Returns: a file descriptor, which the slave takes, or -1 with @error set
 */

/**
 * VhostUserSlaveClass::gpu_set_socket:
 * @slave: the #VhostUserSlave
 * @fd: the socket of the vhost-user-gpu protocol; the slave closes it when the
 *   call returns, so duplicate it to keep it
 * @error: return location for a #GError
 *
 * GPU_SET_SOCKET.
 *
 * Returns: %TRUE on success
 */

/**
 * VhostUserSlaveClass:
 * @parent_class: the parent class.
 * @get_features: returns the virtio features the device offers. The library adds
 *   %VHOST_VIRTIO_F_PROTOCOL_FEATURES. The default offers the ring features the
 *   library implements: %VHOST_VIRTIO_F_VERSION_1, %VHOST_VIRTIO_F_RING_INDIRECT_DESC,
 *   %VHOST_VIRTIO_F_RING_EVENT_IDX and %VHOST_VIRTIO_F_RING_PACKED; a device adds its
 *   own bits to what the parent class returns. A front-end that acks a bit that was
 *   not offered is refused with an error that names the bit.
 * @get_protocol_features: returns the protocol features the device offers; the
 *   library keeps those it implements, and those whose conditions hold
 *   (%VHOST_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT with
 *   %VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD, %VHOST_USER_PROTOCOL_F_SHMEM with a
 *   region declared by vhost_user_slave_set_shmem_regions()). The default offers the device-independent
 *   protocol features the library implements (MQ, REPLY_ACK, LOG_SHMFD,
 *   BACKEND_REQ, BACKEND_SEND_FD, HOST_NOTIFIER, INFLIGHT_SHMFD, RESET_DEVICE,
 *   INBAND_NOTIFICATIONS, CONFIGURE_MEM_SLOTS, STATUS, SHARED_OBJECT, PAGEFAULT,
 *   DEVICE_STATE), CONFIG when the device has a configuration space
 *   (vhost_user_slave_set_config_space(), or a @get_config of its own), and the
 *   feature of each typed device request the device overrides. Migration also
 *   needs %VHOST_VIRTIO_F_LOG_ALL among the device's features, which a device
 *   offers when the library's dirty log covers all it writes to guest memory.
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
 * @device_request: receives the requests whose meaning depends on the device:
 *   SEND_RARP, NET_SET_MTU, SET_VRING_ENDIAN, CREATE_CRYPTO_SESSION,
 *   CLOSE_CRYPTO_SESSION, GPU_SET_SOCKET, GET_SHARED_OBJECT,
 *   with the payload and reply in the wire format of the vhost-user specification.
 *   The default decodes them and calls the typed virtual function of each
 *   (@send_rarp, @net_set_mtu...); it refuses the crypto sessions, whose payload
 *   depends on the algorithm, with %VHOST_ERROR_NOT_SUPPORTED. Override it only
 *   to see the wire format.
 * @send_rarp: SEND_RARP, decoded. The default refuses (%VHOST_ERROR_NOT_SUPPORTED),
 *   and so do the defaults of the other typed requests.
 * @net_set_mtu: NET_SET_MTU, decoded.
 * @set_vring_endian: SET_VRING_ENDIAN, decoded.
 * @get_shared_object: GET_SHARED_OBJECT, decoded.
 * @gpu_set_socket: GPU_SET_SOCKET.
 * @save_state: returns the device's own state for a migration
 *   (SET_DEVICE_STATE_FD), with the queues stopped; the library saves its own
 *   (each queue's position and flags, the inflight area) beside it. The default
 *   has none: empty bytes.
 * @load_state: takes the state @save_state gave on the source, before the
 *   queues start on the destination. The default accepts only an empty one.
 *
 * The virtual functions a device overrides. They run on the #GMainContext the
 * slave belongs to. A protocol feature that a device request needs is offered
 * by default when the device overrides that request's typed virtual function.
 *
 * Bindings whose code raises an exception in a virtual function without a
 * #GError (@get_features, @get_protocol_features, @get_num_queues,
 * @get_max_queue_size, @vring_state_changed, @reset) call
 * vhost_user_slave_fail_request(), so that the request fails instead of going on
 * with a made-up value.
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
  gboolean (*send_rarp) (VhostUserSlave *slave, const guint8 *mac, GError **error);
  gboolean (*net_set_mtu) (VhostUserSlave *slave, guint mtu, GError **error);
  gboolean (*set_vring_endian) (VhostUserSlave *slave, guint index, gboolean big_endian, GError **error);
  gint (*get_shared_object) (VhostUserSlave *slave, GBytes *uuid, GError **error);
  gboolean (*gpu_set_socket) (VhostUserSlave *slave, gint fd, GError **error);
  GBytes *(*save_state) (VhostUserSlave *slave, GError **error);
  gboolean (*load_state) (VhostUserSlave *slave, GBytes *state, GError **error);

  /*< private >*/
  gpointer padding[9];
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
void vhost_user_slave_set_coalesce_us (VhostUserSlave *slave,
                                       guint usec);
VHOST_AVAILABLE_IN_ALL
guint vhost_user_slave_get_coalesce_us (VhostUserSlave *slave);

VHOST_AVAILABLE_IN_ALL
void vhost_user_slave_set_config_space (VhostUserSlave *slave,
                                        GBytes *config);
VHOST_AVAILABLE_IN_ALL
void vhost_user_slave_fail_request (VhostUserSlave *slave,
                                    const GError *error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_slave_set_shmem_regions (VhostUserSlave *slave,
                                             const guint64 *sizes,
                                             guint n_sizes,
                                             GError **error);
VHOST_AVAILABLE_IN_ALL
const guint64 *vhost_user_slave_get_shmem_regions (VhostUserSlave *slave,
                                                   guint *n_sizes);
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
                                          VhostIotlbAccess perm,
                                          VhostIotlbMessageType type,
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
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_slave_shmem_map (VhostUserSlave *slave,
                                     guint shmid,
                                     gint fd,
                                     guint64 fd_offset,
                                     guint64 shm_offset,
                                     guint64 len,
                                     VhostUserShmemMapFlags flags,
                                     GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_slave_shmem_unmap (VhostUserSlave *slave,
                                       guint shmid,
                                       guint64 shm_offset,
                                       guint64 len,
                                       GError **error);

G_END_DECLS
