/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Private accessors of VhostUserSlave for its back-end requests and the tests. */
#pragma once

#include "vhost-user-slave.h"
#include "vhost-user-channel-private.h"
#include "core/vhost-user-dev.h"

G_BEGIN_DECLS

/* The host address of `len` bytes of guest memory at `guest_addr`, or NULL if they are
 * not inside one mapped region. */
gpointer vhost_user_slave_translate (VhostUserSlave *slave, guint64 guest_addr, gsize len);
/* The kick, call or err fd of a queue (`which` is SET_VRING_KICK, _CALL or _ERR), or -1. */
int vhost_user_slave_get_vring_fd (VhostUserSlave *slave, guint index, VhostUserRequest which);
gboolean vhost_user_slave_has_log (VhostUserSlave *slave);
/* The back-end request channel (NULL without one) and the engine, for vhost-user-slave-backend.c. */
VhostUserChannel *vhost_user_slave_get_backend_channel (VhostUserSlave *slave);
VhostUserDev *vhost_user_slave_get_dev (VhostUserSlave *slave);
GMainContext *vhost_user_slave_get_context (VhostUserSlave *slave);
/* The engine's iotlb_request operation (vhost-user-slave-iotlb.c). */
void vhost_user_slave_iotlb_request (VhostUserDev *dev, guint index, guint8 type, guint64 iova, guint8 perm,
                                     guint serial, gpointer data);

G_END_DECLS
