/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the files of VhostUserSlave share (vhost-user-slave.c, -socket.c, -defaults.c): its private data and internal functions. */
#pragma once

#include <sys/types.h>
#include "vhost-user-slave.h"
#include "vhost-user-slave-private.h"
#include "vhost-user-channel-private.h"
#include "core/vhost-log-limit.h"
#include "core/vhost-user-dev.h"

G_BEGIN_DECLS

#define DEFAULT_MAX_QUEUE_SIZE 1024

/* The ring features the library implements for every device. */
#define DEFAULT_FEATURES                                                                            \
  (VHOST_FEATURE_MASK (VHOST_VIRTIO_F_VERSION_1) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_INDIRECT_DESC) |  \
   VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_EVENT_IDX) | VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED))

/* The device-independent protocol features the library backs whatever the device
 * (the engine logs dirty pages, tracks inflight chains, answers postcopy and moves
 * the device state). CONFIG comes on top when the device has a configuration space,
 * and the features of the device requests the device implements; see
 * slave_real_get_protocol_features(). */
#define DEFAULT_PROTOCOL_FEATURES                                                                   \
  ((guint64) (VHOST_USER_PROTOCOL_F_MQ | VHOST_USER_PROTOCOL_F_REPLY_ACK |                        \
              VHOST_USER_PROTOCOL_F_LOG_SHMFD |                                                   \
              VHOST_USER_PROTOCOL_F_BACKEND_REQ | VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD |         \
              VHOST_USER_PROTOCOL_F_HOST_NOTIFIER | VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD |        \
              VHOST_USER_PROTOCOL_F_RESET_DEVICE | VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS |   \
              VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS | VHOST_USER_PROTOCOL_F_STATUS |          \
              VHOST_USER_PROTOCOL_F_SHARED_OBJECT | VHOST_USER_PROTOCOL_F_PAGEFAULT |                 \
              VHOST_USER_PROTOCOL_F_DEVICE_STATE | VHOST_USER_PROTOCOL_F_GET_VRING_BASE_INFLIGHT |   \
              VHOST_USER_PROTOCOL_F_SHMEM))

typedef struct
{
  GMainContext *context;         /* (owned) */
  VhostUserDev *dev;             /* (owned) the engine: everything the front-end negotiates */
  GSocket *listener;             /* (owned) (nullable) */
  GSource *listen_source;        /* (owned) (nullable) */
  char *listen_path;             /* (owned) (nullable) the socket file we created */
  dev_t listen_dev;              /* ...and its device and inode, to remove only that file */
  ino_t listen_ino;
  VhostUserChannel *channel;     /* (owned) (nullable) the front-end's connection */
  VhostUserChannel *backend;     /* (owned) (nullable) the back-end request channel */
  GBytes *config;                /* (owned) (nullable) */
  GPtrArray *queues;             /* (element-type VhostVirtqueue) (owned) */
  guint busy_poll_us;
  guint coalesce_us;
  char *connect_path;            /* (owned) (nullable) client mode: the front-end's socket */
  GSource *redial_source;        /* (owned) (nullable) client mode: the next dial */
  guint redial_ms;               /* the wait before the next dial, doubled up to reconnect_max_ms */
  guint reconnect_max_ms;
  GError *vfunc_error;           /* (owned) (nullable) vhost_user_slave_fail_request() */
  GArray *shmem_sizes;           /* (element-type guint64) (owned) the shared memory regions, by shmid */
  VhostLogLimiter log_limiter;   /* what front-ends can make the device log (any thread) */
} VhostUserSlavePrivate;

#define DEFAULT_BUSY_POLL_US 32
#define DEFAULT_RECONNECT_MAX_MS 2000
#define FIRST_REDIAL_MS 50

VhostUserSlavePrivate *vhost_user_slave_priv (VhostUserSlave *self);
#define PRIV(self) vhost_user_slave_priv (self)

/* vhost-user-slave.c: serve a connected socket (takes `fd`); end the connection
 * (#VhostUserSlave::disconnected with `error` if not NULL); emit ::disconnected. */
gboolean vhost_user_slave_serve_socket (VhostUserSlave *self, int fd, GError **error);
void vhost_user_slave_end_connection (VhostUserSlave *self, const GError *error);
void vhost_user_slave_emit_disconnected (VhostUserSlave *self, const GError *error);

/* vhost-user-slave-socket.c: accept the next front-end, if listening and free;
 * client mode: dial again after a wait. */
void vhost_user_slave_start_listening (VhostUserSlave *self);
void vhost_user_slave_schedule_redial (VhostUserSlave *self);

/* vhost-user-slave-defaults.c: the class's default virtual functions; a
 * SET_FEATURES or SET_PROTOCOL_FEATURES refused for bits not offered, explained. */
void vhost_user_slave_class_set_defaults (VhostUserSlaveClass *klass);
void vhost_user_slave_explain_unoffered (VhostUserSlave *self, const VhostUserMsg *msg, GError **error);

G_END_DECLS
