/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostKernel: the abstract base of the kernel vhost devices, VhostBackend through ioctls on an fd. */
#pragma once

#if !defined(__VHOST_GLIB_INSIDE__) && !defined(VHOST_GLIB_COMPILATION)
#error "Only <vhost-glib/vhost-glib.h> can be included directly."
#endif

#include <gio/gio.h>
#include <vhost-glib/vhost-types.h>
#include <vhost-glib/vhost-backend.h>

G_BEGIN_DECLS

/**
 * VHOST_TYPE_KERNEL:
 *
 * The #GType of #VhostKernel.
 */
#define VHOST_TYPE_KERNEL (vhost_kernel_get_type ())
VHOST_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (VhostKernel, vhost_kernel, VHOST, KERNEL, GObject)

/**
 * VHOST_KERNEL_BACKEND_F_IOTLB_MSG_V2:
 *
 * The backend feature bit (a bit number, as in linux/vhost_types.h) that makes
 * the IOTLB messages on the device's file descriptor struct vhost_msg_v2. Use
 * VHOST_FEATURE_MASK() to turn it into a mask for vhost_kernel_set_backend_features().
 */
#define VHOST_KERNEL_BACKEND_F_IOTLB_MSG_V2 1

/**
 * VhostKernelClass:
 * @parent_class: the parent class.
 * @stop_queue: called by vhost_backend_get_vring_base() before VHOST_GET_VRING_BASE,
 *   so that the device stops processing the queue first (kernel vhost, unlike
 *   vhost-user, does not stop a ring on GET_VRING_BASE). #VhostNet detaches the
 *   queue's TAP, #VhostVsock stops the device, #VhostVdpa suspends a running
 *   device where it can. The default does nothing.
 *
 * The virtual functions of a kernel vhost device.
 */
struct _VhostKernelClass
{
  GObjectClass parent_class;

  gboolean (*stop_queue) (VhostKernel *kernel, guint index, GError **error);

  /*< private >*/
  gpointer padding[12];
};

VHOST_AVAILABLE_IN_ALL
gint vhost_kernel_get_fd (VhostKernel *kernel);
VHOST_AVAILABLE_IN_ALL
const char *vhost_kernel_get_device_path (VhostKernel *kernel);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_kernel_get_backend_features (VhostKernel *kernel,
                                            guint64 *features,
                                            GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_kernel_set_backend_features (VhostKernel *kernel,
                                            guint64 features,
                                            GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_kernel_iotlb_msg (VhostKernel *kernel,
                                 guint64 iova,
                                 guint64 size,
                                 guint64 uaddr,
                                 VhostIotlbAccess perm,
                                 VhostIotlbMessageType type,
                                 GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_kernel_set_vring_busyloop_timeout (VhostKernel *kernel,
                                                  guint index,
                                                  guint timeout_us,
                                                  GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_kernel_get_vring_busyloop_timeout (VhostKernel *kernel,
                                                  guint index,
                                                  guint *timeout_us,
                                                  GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_kernel_new_worker (VhostKernel *kernel,
                                  guint *worker_id,
                                  GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_kernel_free_worker (VhostKernel *kernel,
                                   guint worker_id,
                                   GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_kernel_attach_vring_worker (VhostKernel *kernel,
                                           guint index,
                                           guint worker_id,
                                           GError **error);
VHOST_AVAILABLE_IN_ALL
gboolean vhost_kernel_get_vring_worker (VhostKernel *kernel,
                                        guint index,
                                        guint *worker_id,
                                        GError **error);

G_END_DECLS
