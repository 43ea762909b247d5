/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostUserMaster's internals, shared by its synchronous calls and its asynchronous ones. */
#pragma once

#include "vhost-user-master.h"
#include "vhost-user-channel-private.h"
#include "vhost-user-shmem-private.h"
#include "core/vhost-log-limit.h"

G_BEGIN_DECLS

struct _VhostUserMaster
{
  GObject parent_instance;

  char *socket_path;               /* (owned) (nullable) */
  int adopted_fd;                  /* (owned) a socket given to new_for_fd, until connect */
  GMainContext *context;           /* (owned) */
  VhostUserChannel *channel;       /* (owned) (nullable) the front-end's socket */
  VhostUserChannel *backend;       /* (owned) (nullable) the back-end request channel */
  guint64 offered_features;
  guint64 acked_features;
  guint64 acked_protocol_features;
  guint timeout_ms;
  gboolean postcopy_listening;     /* between POSTCOPY_LISTEN and POSTCOPY_END */
  GArray *postcopy_regions;        /* (element-type PostcopyRegion) (owned) where the back-end mapped them */
  VhostUserShmem *shmem;           /* (owned) (nullable) the shared memory regions, from GET_SHMEM_CONFIG */
  VhostLogLimiter log_limiter;     /* what a back-end can make the master log */
  GQueue ops;                      /* (element-type MasterOp) (owned) async calls, the running one first */
  gboolean ops_running;            /* ops_run() is starting ops */
};

/* A region of guest memory as the back-end mapped it, learnt in postcopy. */
typedef struct
{
  guint64 guest_phys_addr;
  guint64 size;
  guint64 backend_addr;
} PostcopyRegion;

/* vhost-user-master.c: the checks, the messages and the replies of the typed calls,
 * each written once for the sync call and the async one. A message's fds are borrowed. */
gboolean master_check_now (VhostUserMaster *self, guint32 request, GError **error);
void master_fail (VhostUserMaster *self, GError *local_error, GError **error);
gboolean master_reply_u64 (const VhostUserMsg *reply, const char *status_name, guint64 *value, GError **error);
gboolean master_build_request (VhostUserRequest request,
                               GBytes *payload,
                               GUnixFDList *fds,
                               VhostUserMsg *msg,
                               GError **error);
GBytes *master_reply_to_bytes (VhostUserMsg *reply, GUnixFDList **out_fds);
gboolean master_check_protocol_features (guint64 features, GError **error);
gboolean master_check_protocol_offered (VhostUserMaster *self, guint64 wanted, GError **error);
guint64 master_negotiated_protocol (guint64 wanted, guint64 offered);
gboolean master_apply_protocol_features (VhostUserMaster *self,
                                         guint64 features,
                                         VhostUserMsg *backend_req,
                                         GError **error);
void master_backend_req_fd_done (VhostUserMaster *self, VhostUserMsg *backend_req, gboolean ok);
gboolean master_build_get_config (guint offset, guint size, guint flags, VhostUserMsg *msg, GError **error);
GBytes *master_get_config_reply (VhostUserMaster *master,
                                 const VhostUserMsg *request,
                                 const VhostUserMsg *reply,
                                 GError **error);
gboolean master_build_set_config (guint offset, GBytes *data, guint flags, VhostUserMsg *msg, GError **error);
gboolean master_check_vring_enable (VhostUserMaster *self, GError **error);
void master_build_inflight (VhostUserRequest request,
                            gint fd,
                            guint64 mmap_size,
                            guint64 mmap_offset,
                            guint num_queues,
                            guint queue_size,
                            VhostUserMsg *msg);
gint master_inflight_reply (VhostUserMaster *master,
                            VhostUserMsg *reply,
                            guint64 *mmap_size,
                            guint64 *mmap_offset,
                            GError **error);
gboolean master_build_mem_reg (VhostUserRequest request, VhostMemoryRegion *region, VhostUserMsg *msg, GError **error);
gboolean master_build_mem_table (VhostMemoryRegion **regions, guint n_regions, VhostUserMsg *msg, GError **error);
gboolean master_postcopy_echoes (VhostUserMaster *self, const VhostUserMsg *msg);
gboolean master_postcopy_record (VhostUserMaster *self,
                                 const VhostUserMsg *msg,
                                 const VhostUserMsg *reply,
                                 VhostUserMsg *ack,
                                 GError **error);
void master_mem_reg_done (VhostUserMaster *self, const VhostUserMsg *msg);
gboolean master_status_value (guint64 value, guint8 *status, GError **error);
void master_build_device_state (VhostDeviceStateDirection direction,
                                VhostDeviceStatePhase phase,
                                gint fd,
                                VhostUserMsg *msg);
gboolean master_device_state_reply (VhostUserMsg *reply, gint *out_fd, GError **error);
void master_postcopy_ended (VhostUserMaster *self);
gboolean master_build_shared_object (GBytes *uuid, VhostUserMsg *msg, GError **error);
gint master_shared_object_reply (VhostUserMsg *reply, GError **error);
void master_build_rarp (const guint8 *mac, VhostUserMsg *msg);
void master_set_acked_features (VhostUserMaster *self, guint64 features);
void master_build_log_base (guint64 base, guint64 size, gint fd, VhostUserMsg *msg);
void master_build_vring_addr (VhostVringAddr *addr, VhostUserMsg *msg);
gboolean master_vring_base_reply (VhostUserMaster *self,
                                  guint index,
                                  const VhostUserMsg *reply,
                                  guint *base,
                                  GError **error);
gboolean master_build_vring_fd (VhostUserRequest request, guint index, gint fd, VhostUserMsg *msg, GError **error);
gboolean master_build_vring_kick (guint index, VhostUserMsg *msg, GError **error);
void master_shmem_reset (VhostUserMaster *self);
guint64 *master_shmem_config_reply (VhostUserMaster *master, const VhostUserMsg *reply, guint *n_sizes, GError **error);

/* vhost-user-master-async.c: a sync call first lets the async calls made before it
 * finish (processing the socket, as a sync call waits), so that requests go out in
 * call order. */
void master_drain (VhostUserMaster *self);
/* The master's VhostBackend async virtual functions. */
void master_backend_async_iface_init (VhostBackendInterface *iface);

G_END_DECLS
