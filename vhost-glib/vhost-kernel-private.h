/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the kernel vhost classes (VhostNet, VhostVsock, VhostScsi and VhostVdpa) share besides the
 * public API: the ioctl helper, the IOTLB message writer and the errno to VhostError mapping. */
#pragma once

#include "vhost-kernel.h"

G_BEGIN_DECLS

VhostError vhost_kernel_error_from_errno (int errsv);
void vhost_kernel_set_ioctl_error (GError **error, const char *name, int errsv);
gboolean vhost_kernel_ioctl (VhostKernel *kernel,
                             unsigned long request,
                             const char *name,
                             void *arg,
                             GError **error);

/* Writes one IOTLB message of @type (VHOST_IOTLB_UPDATE, _INVALIDATE, _BATCH_BEGIN, _BATCH_END) to
 * @kernel's fd: a struct vhost_msg_v2 carrying @asid once the backend feature IOTLB_MSG_V2 was set,
 * else a struct vhost_msg; an @asid other than 0 needs the backend feature IOTLB_ASID. */
gboolean vhost_kernel_iotlb_write (VhostKernel *kernel,
                                   guint asid,
                                   guint type,
                                   guint64 iova,
                                   guint64 size,
                                   guint64 uaddr,
                                   guint perm,
                                   GError **error);

/* The backend features that vhost_kernel_set_backend_features() last set. */
guint64 vhost_kernel_get_acked_backend_features (VhostKernel *kernel);

/* Issues @request on @kernel's fd with @arg, naming it by its macro in errors. */
#define VHOST_KERNEL_IOCTL(kernel, request, arg, error) \
  vhost_kernel_ioctl ((kernel), (request), #request, (arg), (error))

G_END_DECLS
