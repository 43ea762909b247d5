/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostVsock: the kernel's vhost-vsock device (/dev/vhost-vsock): a guest CID and a running switch. */
#pragma once

#if !defined(__VHOST_GLIB_INSIDE__) && !defined(VHOST_GLIB_COMPILATION)
#error "Only <vhost-glib/vhost-glib.h> can be included directly."
#endif

#include <vhost-glib/vhost-kernel.h>

G_BEGIN_DECLS

/**
 * VHOST_TYPE_VSOCK:
 *
 * The #GType of #VhostVsock.
 */
#define VHOST_TYPE_VSOCK (vhost_vsock_get_type ())
VHOST_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (VhostVsock, vhost_vsock, VHOST, VSOCK, VhostKernel)

/**
 * VHOST_VSOCK_QUEUE_RX:
 *
 * The index of vhost-vsock's receive queue (host to guest).
 */
#define VHOST_VSOCK_QUEUE_RX 0

/**
 * VHOST_VSOCK_QUEUE_TX:
 *
 * The index of vhost-vsock's transmit queue (guest to host).
 */
#define VHOST_VSOCK_QUEUE_TX 1

/**
 * VHOST_VSOCK_QUEUE_EVENT:
 *
 * The index of the virtio-vsock event queue. The kernel device does not have it:
 * a driver sets up queues 0 and 1 only.
 */
#define VHOST_VSOCK_QUEUE_EVENT 2

VHOST_AVAILABLE_IN_ALL
VhostVsock *vhost_vsock_new (const char *path,
                             GError **error);
VHOST_AVAILABLE_IN_ALL
VhostVsock *vhost_vsock_new_for_fd (gint fd,
                                    GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_vsock_set_guest_cid (VhostVsock *vsock,
                                    guint64 cid,
                                    GError **error);
VHOST_AVAILABLE_IN_ALL
guint64 vhost_vsock_get_guest_cid (VhostVsock *vsock);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_vsock_set_running (VhostVsock *vsock,
                                  gboolean running,
                                  GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_vsock_get_running (VhostVsock *vsock);

G_END_DECLS
