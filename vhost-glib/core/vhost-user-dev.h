/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The vhost-user back-end engine: the state a front-end negotiates and one function per request, no I/O of its own. */
#pragma once

#include <glib.h>

#include "vhost-glib/protocol/vhost-user-protocol.h"
#include "vhost-queue.h"

G_BEGIN_DECLS

/*
 * A VhostUserDev is the back-end of one device, without sockets and without
 * GObject: it takes validated requests (vhost_user_dev_handle()), keeps what the
 * front-end negotiated (features, status, memory regions and their mappings, the
 * dirty log, the inflight area, each vring's settings and eventfds), runs the
 * queues in worker threads, and answers through the `send` operation. Whatever
 * belongs to the device or to the transport is asked of its owner through
 * VhostUserDevOps; VhostUserSlave is one owner, a unit test or a fuzzer another.
 *
 * Threads: every function runs in the control thread (the one that owns the
 * connection), and so do the operations; the queues' handlers run in workers.
 * Requests that change what a ring sees run with the queues stopped (the table's
 * STOP column), so the workers never see memory or a ring change under them.
 */
typedef struct _VhostUserDev VhostUserDev;

typedef struct
{
  /* Negotiation: the device's features (PROTOCOL_FEATURES is added by the engine). */
  guint64 (*get_features) (VhostUserDev *dev, gpointer user_data);
  guint64 (*get_protocol_features) (VhostUserDev *dev, gpointer user_data);
  gboolean (*set_features) (VhostUserDev *dev, guint64 features, gpointer user_data, GError **error);
  /* The configuration space: exactly `size` bytes at `offset`. */
  GBytes *(*get_config) (VhostUserDev *dev, guint offset, guint size, gpointer user_data, GError **error);
  gboolean (*set_config) (VhostUserDev *dev, guint offset, GBytes *data, guint flags, gpointer user_data,
                          GError **error);
  void (*vring_state_changed) (VhostUserDev *dev, guint index, gboolean started, gboolean enabled,
                               gpointer user_data);
  void (*reset) (VhostUserDev *dev, gpointer user_data);
  /* A request whose handler is `device` in the table. For a request with a full
   * reply, fill `reply` (a u64 0 reply to start with); fds put into it belong to
   * it and are closed once it is sent. Fds the device keeps it takes out of
   * `msg` (vhost_user_msg_take_fd()). */
  gboolean (*device_request) (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, gpointer user_data,
                              GError **error);

  /* The transport: queue a message to the front-end (fds borrowed). */
  void (*send) (VhostUserDev *dev, const VhostUserMsg *msg, gpointer user_data);
  /* SET_BACKEND_REQ_FD: the back-end request channel; takes `fd`. */
  void (*set_backend_fd) (VhostUserDev *dev, int fd, gpointer user_data);
  /* In-band notifications (INBAND_NOTIFICATIONS, a vring without a call or
   * err fd): send the back-end request VRING_CALL or VRING_ERR for vring
   * `index`. Called from any thread (a worker, for calls): the owner sends it
   * from its own. */
  void (*inband_notify) (VhostUserDev *dev, VhostUserBackendRequest request, guint index, gpointer user_data);
  /* VIRTIO_F_ACCESS_PLATFORM (vhost-user-iotlb.c): send the back-end request
   * IOTLB_MSG of `type` (VHOST_IOTLB_MISS or VHOST_IOTLB_ACCESS_FAIL) for `iova`
   * and `perm`, for vring `index`. Called from any thread (a worker, mostly):
   * the owner sends it from its own. For a miss, the owner then calls
   * vhost_user_dev_iotlb_miss_answered() with `serial` once the front-end
   * acknowledged it or the request failed. NULL: ACCESS_PLATFORM is not offered. */
  void (*iotlb_request) (VhostUserDev *dev, guint index, guint8 type, guint64 iova, guint8 perm, guint serial,
                         gpointer user_data);
  /* The negotiated protocol features changed (they decide the reply rules). */
  void (*protocol_features_changed) (VhostUserDev *dev, guint64 features, gpointer user_data);
  /* The queue of vring `index`, owned by the caller, set up with
   * vhost_queue_init() (asked once per index, then kept). */
  VhostQueue *(*get_queue) (VhostUserDev *dev, guint index, gpointer user_data);

  /* Device state (SET_DEVICE_STATE_FD): the device's own bytes, beside the
   * engine's; the queues are stopped. NULL operations mean no state. */
  GBytes *(*save_state) (VhostUserDev *dev, gpointer user_data, GError **error);
  gboolean (*load_state) (VhostUserDev *dev, GBytes *state, gpointer user_data, GError **error);

  /* Shared memory regions (SHMEM): fill `sizes` (VHOST_USER_MAX_SHMEM_REGIONS
   * entries, zeroed) with the size of each region by shmid, 0 where there is
   * none. NULL, or no region of non-zero size: the device has none, and SHMEM
   * is not offered. */
  void (*get_shmem_config) (VhostUserDev *dev, guint64 *sizes, gpointer user_data);
} VhostUserDevOps;

VhostUserDev *vhost_user_dev_new (const VhostUserDevOps *ops, gpointer user_data);
/* Stops everything and frees; the queues handed out by get_queue stay the owner's. */
void vhost_user_dev_free (VhostUserDev *dev);

/* A front-end connected: `n_vrings` queues (1..VHOST_USER_MAX_QUEUES) of at most
 * `max_queue_size` descriptors. */
void vhost_user_dev_connect (VhostUserDev *dev, guint n_vrings, guint max_queue_size);
/* The front-end went away: queues stopped, memory unmapped, everything
 * negotiated forgotten. */
void vhost_user_dev_disconnect (VhostUserDev *dev);
gboolean vhost_user_dev_is_connected (VhostUserDev *dev);

/* Handle one validated request (vhost_user_request_validate()) and send what the
 * protocol says comes back. TRUE to go on with the connection (`error` may still
 * be set: the request failed and the front-end was told so); FALSE when the
 * connection must end (`error` says why). Fds the engine keeps it takes out of
 * `msg`; the caller closes the rest. */
gboolean vhost_user_dev_handle (VhostUserDev *dev, VhostUserMsg *msg, GError **error);

/* The queue of vring `index` broke (its broken hook fired, and the owner came
 * back to the control thread): stop it, set NEEDS_RESET in the status when
 * STATUS was negotiated, and signal the vring's error eventfd. */
void vhost_user_dev_queue_broken (VhostUserDev *dev, guint index);
/* Stop every running queue. */
void vhost_user_dev_stop_queues (VhostUserDev *dev);
/* Stop every queue and forget them all: get_queue is asked again for the next
 * connection (the owner's queues may go now). */
void vhost_user_dev_release_queues (VhostUserDev *dev);

void vhost_user_dev_set_busy_poll_us (VhostUserDev *dev, guint usec);
void vhost_user_dev_set_coalesce_us (VhostUserDev *dev, guint usec);

/* What was negotiated. */
guint64 vhost_user_dev_get_acked_features (VhostUserDev *dev);
guint64 vhost_user_dev_get_acked_protocol_features (VhostUserDev *dev);
guint8 vhost_user_dev_get_status (VhostUserDev *dev);
guint vhost_user_dev_get_n_vrings (VhostUserDev *dev);
guint vhost_user_dev_get_n_regions (VhostUserDev *dev);
gboolean vhost_user_dev_has_log (VhostUserDev *dev);
/* A vring's settings; FALSE if `index` is not a vring of the connection. */
gboolean vhost_user_dev_get_vring_state (VhostUserDev *dev,
                                         guint index,
                                         guint *num,
                                         guint *base,
                                         gboolean *started,
                                         gboolean *enabled);
/* The kick, call or err fd of a vring (`which` is SET_VRING_KICK, _CALL or _ERR), or -1. */
int vhost_user_dev_get_vring_fd (VhostUserDev *dev, guint index, VhostUserRequest which);
/* The host address of `len` bytes of guest memory at `guest_addr`, or NULL
 * unless one mapped region holds them all. */
gpointer vhost_user_dev_translate (VhostUserDev *dev, guint64 guest_addr, gsize len);
/* The front-end acknowledged the IOTLB miss `serial` of vring `index` (or
 * sending it failed with `error`). A ring still waiting for it had its answer
 * in an update, which woke it, or none came: then the ring breaks. */
void vhost_user_dev_iotlb_miss_answered (VhostUserDev *dev, guint index, guint serial, const GError *error);
/* How many entries the IOTLB holds. */
guint vhost_user_dev_get_iotlb_n_entries (VhostUserDev *dev);
/* VHOST_ERROR_INVALID_ARGUMENT unless `index` is a vring of the connection. */
gboolean vhost_user_dev_check_vring_index (VhostUserDev *dev, const char *what, guint index, GError **error);

G_END_DECLS
