/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostNet: the kernel's vhost-net device (/dev/vhost-net), with a TAP fd per queue. */
#pragma once

#if !defined(__VHOST_GLIB_INSIDE__) && !defined(VHOST_GLIB_COMPILATION)
#error "Only <vhost-glib/vhost-glib.h> can be included directly."
#endif

#include <vhost-glib/vhost-kernel.h>

G_BEGIN_DECLS

/**
 * VHOST_TYPE_NET:
 *
 * The #GType of #VhostNet.
 */
#define VHOST_TYPE_NET (vhost_net_get_type ())
VHOST_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VhostNet, vhost_net, VHOST, NET, VhostKernel)

/**
 * VHOST_NET_QUEUE_RX:
 *
 * The index of vhost-net's receive queue.
 */
#define VHOST_NET_QUEUE_RX 0

/**
 * VHOST_NET_QUEUE_TX:
 *
 * The index of vhost-net's transmit queue.
 */
#define VHOST_NET_QUEUE_TX 1

VHOST_AVAILABLE_IN_ALL
VhostNet *vhost_net_new (const char *path,
                         GError **error);
VHOST_AVAILABLE_IN_ALL
VhostNet *vhost_net_new_for_fd (gint fd,
                                GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_net_set_backend (VhostNet *net,
                                guint index,
                                gint fd,
                                GError **error);

G_END_DECLS
