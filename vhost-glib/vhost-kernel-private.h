/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the kernel vhost classes (VhostNet, VhostVsock, VhostScsi and later VhostVdpa) share
 * besides the public API: the ioctl helper and the errno to VhostError mapping. */
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

/* Issues @request on @kernel's fd with @arg, naming it by its macro in errors. */
#define VHOST_KERNEL_IOCTL(kernel, request, arg, error) \
  vhost_kernel_ioctl ((kernel), (request), #request, (arg), (error))

G_END_DECLS
