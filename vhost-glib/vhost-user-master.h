/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostUserMaster: the vhost-user front-end, which shares its virtqueues with a back-end. */
#pragma once

#if !defined(__VHOST_GLIB_INSIDE__) && !defined(VHOST_GLIB_COMPILATION)
#error "Only <vhost-glib/vhost-glib.h> can be included directly."
#endif

#include <gio/gio.h>
#include <gio/gunixfdlist.h>
#include <vhost-glib/vhost-types.h>
#include <vhost-glib/vhost-backend.h>

G_BEGIN_DECLS

/**
 * VHOST_TYPE_USER_MASTER:
 *
 * The #GType of #VhostUserMaster.
 */
#define VHOST_TYPE_USER_MASTER (vhost_user_master_get_type ())
VHOST_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VhostUserMaster, vhost_user_master, VHOST, USER_MASTER, GObject)

VHOST_AVAILABLE_IN_ALL
VhostUserMaster *vhost_user_master_new (const char *path);
VHOST_AVAILABLE_IN_ALL
VhostUserMaster *vhost_user_master_new_for_fd (gint fd);

VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_connect (VhostUserMaster *master,
                                    GCancellable *cancellable,
                                    GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_connect_async (VhostUserMaster *master,
                                      GCancellable *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_connect_finish (VhostUserMaster *master,
                                           GAsyncResult *result,
                                           GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_reconnect (VhostUserMaster *master,
                                      gint timeout_ms,
                                      GCancellable *cancellable,
                                      GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_reconnect_async (VhostUserMaster *master,
                                        gint timeout_ms,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_reconnect_finish (VhostUserMaster *master,
                                             GAsyncResult *result,
                                             GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_close (VhostUserMaster *master);

VHOST_AVAILABLE_IN_ALL
const char *vhost_user_master_get_socket_path (VhostUserMaster *master);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_get_connected (VhostUserMaster *master);
VHOST_AVAILABLE_IN_ALL
guint64 vhost_user_master_get_acked_features (VhostUserMaster *master);
VHOST_AVAILABLE_IN_ALL
guint64 vhost_user_master_get_acked_protocol_features (VhostUserMaster *master);

VHOST_AVAILABLE_IN_ALL
GBytes *vhost_user_master_send_request (VhostUserMaster *master,
                                        VhostUserRequest request,
                                        GBytes *payload,
                                        GUnixFDList *fds,
                                        GUnixFDList **out_fds,
                                        GCancellable *cancellable,
                                        GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_send_request_async (VhostUserMaster *master,
                                           VhostUserRequest request,
                                           GBytes *payload,
                                           GUnixFDList *fds,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data);
VHOST_AVAILABLE_IN_ALL
GBytes *vhost_user_master_send_request_finish (VhostUserMaster *master,
                                               GAsyncResult *result,
                                               GUnixFDList **out_fds,
                                               GError **error);

VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_get_protocol_features (VhostUserMaster *master,
                                                  guint64 *features,
                                                  GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_set_protocol_features (VhostUserMaster *master,
                                                  guint64 features,
                                                  GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_get_queue_num (VhostUserMaster *master,
                                          guint64 *num,
                                          GError **error);
VHOST_AVAILABLE_IN_ALL
GBytes *vhost_user_master_get_config (VhostUserMaster *master,
                                      guint offset,
                                      guint size,
                                      guint flags,
                                      GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_set_config (VhostUserMaster *master,
                                       guint offset,
                                       GBytes *data,
                                       guint flags,
                                       GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_set_vring_enable (VhostUserMaster *master,
                                             guint index,
                                             gboolean enable,
                                             GError **error);
VHOST_AVAILABLE_IN_ALL
gint vhost_user_master_get_inflight_fd (VhostUserMaster *master,
                                        guint num_queues,
                                        guint queue_size,
                                        guint64 *mmap_size,
                                        guint64 *mmap_offset,
                                        GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_set_inflight_fd (VhostUserMaster *master,
                                            gint fd,
                                            guint64 mmap_size,
                                            guint64 mmap_offset,
                                            guint num_queues,
                                            guint queue_size,
                                            GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_get_max_mem_slots (VhostUserMaster *master,
                                              guint64 *slots,
                                              GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_add_mem_region (VhostUserMaster *master,
                                           VhostMemoryRegion *region,
                                           GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_remove_mem_region (VhostUserMaster *master,
                                              VhostMemoryRegion *region,
                                              GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_set_status (VhostUserMaster *master,
                                       guint8 status,
                                       GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_get_status (VhostUserMaster *master,
                                       guint8 *status,
                                       GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_reset_device (VhostUserMaster *master,
                                         GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_set_device_state_fd (VhostUserMaster *master,
                                                VhostDeviceStateDirection direction,
                                                VhostDeviceStatePhase phase,
                                                gint fd,
                                                gint *out_fd,
                                                GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_check_device_state (VhostUserMaster *master,
                                               GError **error);
VHOST_AVAILABLE_IN_ALL
gint vhost_user_master_postcopy_advise (VhostUserMaster *master,
                                        GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_postcopy_listen (VhostUserMaster *master,
                                            GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_postcopy_end (VhostUserMaster *master,
                                         GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_postcopy_to_guest (VhostUserMaster *master,
                                              guint64 backend_addr,
                                              guint64 *guest_phys_addr);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_postcopy_to_backend (VhostUserMaster *master,
                                                guint64 guest_phys_addr,
                                                guint64 *backend_addr);
VHOST_AVAILABLE_IN_ALL
gint vhost_user_master_get_shared_object (VhostUserMaster *master,
                                          GBytes *uuid,
                                          GError **error);
VHOST_AVAILABLE_IN_ALL
guint64 *vhost_user_master_get_shmem_config (VhostUserMaster *master,
                                             guint *n_sizes,
                                             GError **error);
VHOST_AVAILABLE_IN_ALL
gpointer vhost_user_master_get_shmem_region (VhostUserMaster *master,
                                             guint shmid,
                                             guint64 *size);
VHOST_AVAILABLE_IN_ALL
GBytes *vhost_user_master_read_shmem (VhostUserMaster *master,
                                      guint shmid,
                                      guint64 offset,
                                      gsize length,
                                      GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_send_rarp (VhostUserMaster *master,
                                      const guint8 *mac,
                                      GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_net_set_mtu (VhostUserMaster *master,
                                        guint mtu,
                                        GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_set_vring_endian (VhostUserMaster *master,
                                             guint index,
                                             gboolean big_endian,
                                             GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_iotlb_msg (VhostUserMaster *master,
                                      guint64 iova,
                                      guint64 size,
                                      guint64 uaddr,
                                      VhostIotlbAccess perm,
                                      VhostIotlbMessageType type,
                                      GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_vring_kick (VhostUserMaster *master,
                                       guint index,
                                       GError **error);

/* Values without out-arguments, for the languages that prefer them. */
VHOST_AVAILABLE_IN_ALL
guint64 vhost_user_master_query_protocol_features (VhostUserMaster *master,
                                                   GError **error);
VHOST_AVAILABLE_IN_ALL
guint64 vhost_user_master_query_queue_num (VhostUserMaster *master,
                                           GError **error);
VHOST_AVAILABLE_IN_ALL
guint64 vhost_user_master_query_max_mem_slots (VhostUserMaster *master,
                                               GError **error);

/* The asynchronous calls (vhost-user-master-async.c). */
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_get_protocol_features_async (VhostUserMaster *master,
                                                    GCancellable *cancellable,
                                                    GAsyncReadyCallback callback,
                                                    gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_get_protocol_features_finish (VhostUserMaster *master,
                                                         GAsyncResult *result,
                                                         guint64 *features,
                                                         GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_set_protocol_features_async (VhostUserMaster *master,
                                                    guint64 features,
                                                    GCancellable *cancellable,
                                                    GAsyncReadyCallback callback,
                                                    gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_set_protocol_features_finish (VhostUserMaster *master,
                                                         GAsyncResult *result,
                                                         GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_get_queue_num_async (VhostUserMaster *master,
                                            GCancellable *cancellable,
                                            GAsyncReadyCallback callback,
                                            gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_get_queue_num_finish (VhostUserMaster *master,
                                                 GAsyncResult *result,
                                                 guint64 *num,
                                                 GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_get_config_async (VhostUserMaster *master,
                                         guint offset,
                                         guint size,
                                         guint flags,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);
VHOST_AVAILABLE_IN_ALL
GBytes *vhost_user_master_get_config_finish (VhostUserMaster *master,
                                             GAsyncResult *result,
                                             GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_set_config_async (VhostUserMaster *master,
                                         guint offset,
                                         GBytes *data,
                                         guint flags,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_set_config_finish (VhostUserMaster *master,
                                              GAsyncResult *result,
                                              GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_set_vring_enable_async (VhostUserMaster *master,
                                               guint index,
                                               gboolean enable,
                                               GCancellable *cancellable,
                                               GAsyncReadyCallback callback,
                                               gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_set_vring_enable_finish (VhostUserMaster *master,
                                                    GAsyncResult *result,
                                                    GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_get_inflight_fd_async (VhostUserMaster *master,
                                              guint num_queues,
                                              guint queue_size,
                                              GCancellable *cancellable,
                                              GAsyncReadyCallback callback,
                                              gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gint vhost_user_master_get_inflight_fd_finish (VhostUserMaster *master,
                                               GAsyncResult *result,
                                               guint64 *mmap_size,
                                               guint64 *mmap_offset,
                                               GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_set_inflight_fd_async (VhostUserMaster *master,
                                              gint fd,
                                              guint64 mmap_size,
                                              guint64 mmap_offset,
                                              guint num_queues,
                                              guint queue_size,
                                              GCancellable *cancellable,
                                              GAsyncReadyCallback callback,
                                              gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_set_inflight_fd_finish (VhostUserMaster *master,
                                                   GAsyncResult *result,
                                                   GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_get_max_mem_slots_async (VhostUserMaster *master,
                                                GCancellable *cancellable,
                                                GAsyncReadyCallback callback,
                                                gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_get_max_mem_slots_finish (VhostUserMaster *master,
                                                     GAsyncResult *result,
                                                     guint64 *slots,
                                                     GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_add_mem_region_async (VhostUserMaster *master,
                                             VhostMemoryRegion *region,
                                             GCancellable *cancellable,
                                             GAsyncReadyCallback callback,
                                             gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_add_mem_region_finish (VhostUserMaster *master,
                                                  GAsyncResult *result,
                                                  GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_remove_mem_region_async (VhostUserMaster *master,
                                                VhostMemoryRegion *region,
                                                GCancellable *cancellable,
                                                GAsyncReadyCallback callback,
                                                gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_remove_mem_region_finish (VhostUserMaster *master,
                                                     GAsyncResult *result,
                                                     GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_set_status_async (VhostUserMaster *master,
                                         guint8 status,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_set_status_finish (VhostUserMaster *master,
                                              GAsyncResult *result,
                                              GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_get_status_async (VhostUserMaster *master,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_get_status_finish (VhostUserMaster *master,
                                              GAsyncResult *result,
                                              guint8 *status,
                                              GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_reset_device_async (VhostUserMaster *master,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_reset_device_finish (VhostUserMaster *master,
                                                GAsyncResult *result,
                                                GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_set_device_state_fd_async (VhostUserMaster *master,
                                                  VhostDeviceStateDirection direction,
                                                  VhostDeviceStatePhase phase,
                                                  gint fd,
                                                  GCancellable *cancellable,
                                                  GAsyncReadyCallback callback,
                                                  gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_set_device_state_fd_finish (VhostUserMaster *master,
                                                       GAsyncResult *result,
                                                       gint *out_fd,
                                                       GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_check_device_state_async (VhostUserMaster *master,
                                                 GCancellable *cancellable,
                                                 GAsyncReadyCallback callback,
                                                 gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_check_device_state_finish (VhostUserMaster *master,
                                                      GAsyncResult *result,
                                                      GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_postcopy_advise_async (VhostUserMaster *master,
                                              GCancellable *cancellable,
                                              GAsyncReadyCallback callback,
                                              gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gint vhost_user_master_postcopy_advise_finish (VhostUserMaster *master,
                                               GAsyncResult *result,
                                               GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_postcopy_listen_async (VhostUserMaster *master,
                                              GCancellable *cancellable,
                                              GAsyncReadyCallback callback,
                                              gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_postcopy_listen_finish (VhostUserMaster *master,
                                                   GAsyncResult *result,
                                                   GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_postcopy_end_async (VhostUserMaster *master,
                                           GCancellable *cancellable,
                                           GAsyncReadyCallback callback,
                                           gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_postcopy_end_finish (VhostUserMaster *master,
                                                GAsyncResult *result,
                                                GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_get_shared_object_async (VhostUserMaster *master,
                                                GBytes *uuid,
                                                GCancellable *cancellable,
                                                GAsyncReadyCallback callback,
                                                gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gint vhost_user_master_get_shared_object_finish (VhostUserMaster *master,
                                                 GAsyncResult *result,
                                                 GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_get_shmem_config_async (VhostUserMaster *master,
                                               GCancellable *cancellable,
                                               GAsyncReadyCallback callback,
                                               gpointer user_data);
VHOST_AVAILABLE_IN_ALL
guint64 *vhost_user_master_get_shmem_config_finish (VhostUserMaster *master,
                                                   GAsyncResult *result,
                                                   guint *n_sizes,
                                                   GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_send_rarp_async (VhostUserMaster *master,
                                        const guint8 *mac,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_send_rarp_finish (VhostUserMaster *master,
                                             GAsyncResult *result,
                                             GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_net_set_mtu_async (VhostUserMaster *master,
                                          guint mtu,
                                          GCancellable *cancellable,
                                          GAsyncReadyCallback callback,
                                          gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_net_set_mtu_finish (VhostUserMaster *master,
                                               GAsyncResult *result,
                                               GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_set_vring_endian_async (VhostUserMaster *master,
                                               guint index,
                                               gboolean big_endian,
                                               GCancellable *cancellable,
                                               GAsyncReadyCallback callback,
                                               gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_set_vring_endian_finish (VhostUserMaster *master,
                                                    GAsyncResult *result,
                                                    GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_iotlb_msg_async (VhostUserMaster *master,
                                        guint64 iova,
                                        guint64 size,
                                        guint64 uaddr,
                                        VhostIotlbAccess perm,
                                        VhostIotlbMessageType type,
                                        GCancellable *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_iotlb_msg_finish (VhostUserMaster *master,
                                             GAsyncResult *result,
                                             GError **error);
VHOST_AVAILABLE_IN_ALL
void vhost_user_master_vring_kick_async (VhostUserMaster *master,
                                         guint index,
                                         GCancellable *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer user_data);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_user_master_vring_kick_finish (VhostUserMaster *master,
                                              GAsyncResult *result,
                                              GError **error);

G_END_DECLS
