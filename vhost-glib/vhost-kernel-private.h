/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the kernel vhost classes (VhostNet, VhostVsock, VhostScsi and VhostVdpa) share besides the
 * public API: the ioctl helper, the IOTLB message writer and the errno to VhostError mapping. */
#pragma once

#include <linux/vhost.h>

#include "vhost-kernel.h"

G_BEGIN_DECLS

/* Parts of <linux/vhost.h> and <linux/vhost_types.h> newer than the headers the library may be built
 * with (Debian 12's are Linux 6.1's), as include/uapi/linux/vhost.h and vhost_types.h define them.
 * Which kernel answers them is the kernel's business: vhost_kernel_ioctl() turns "no such ioctl"
 * into VHOST_ERROR_NOT_SUPPORTED. */

/* The argument of VHOST_NEW_WORKER and VHOST_FREE_WORKER (struct vhost_worker_state, Linux 6.5). */
typedef struct
{
  unsigned int worker_id;
} VhostKernelWorkerState;

/* The argument of VHOST_ATTACH_VRING_WORKER and VHOST_GET_VRING_WORKER (struct vhost_vring_worker). */
typedef struct
{
  unsigned int index;
  unsigned int worker_id;
} VhostKernelVringWorker;

#define VHOST_KERNEL_NEW_WORKER _IOR (VHOST_VIRTIO, 0x8, VhostKernelWorkerState)
#define VHOST_KERNEL_FREE_WORKER _IOW (VHOST_VIRTIO, 0x9, VhostKernelWorkerState)
#define VHOST_KERNEL_ATTACH_VRING_WORKER _IOW (VHOST_VIRTIO, 0x15, VhostKernelVringWorker)
#define VHOST_KERNEL_GET_VRING_WORKER _IOWR (VHOST_VIRTIO, 0x16, VhostKernelVringWorker)
#ifndef VHOST_NEW_WORKER
#define VHOST_NEW_WORKER VHOST_KERNEL_NEW_WORKER
#define VHOST_FREE_WORKER VHOST_KERNEL_FREE_WORKER
#define VHOST_ATTACH_VRING_WORKER VHOST_KERNEL_ATTACH_VRING_WORKER
#define VHOST_GET_VRING_WORKER VHOST_KERNEL_GET_VRING_WORKER
#endif

/* vhost-vdpa ioctls newer than Linux 6.1 (RESUME came with 6.3). GET_VRING_SIZE was numbered 0x80
 * (VHOST_VDPA_GET_VQS_COUNT's number) when it first came, then moved to 0x82, which this library uses
 * whatever the build's headers say. */
#define VHOST_KERNEL_VDPA_RESUME _IO (VHOST_VIRTIO, 0x7E)
#define VHOST_KERNEL_VDPA_GET_VRING_DESC_GROUP _IOWR (VHOST_VIRTIO, 0x7F, struct vhost_vring_state)
#define VHOST_KERNEL_VDPA_GET_VRING_SIZE _IOWR (VHOST_VIRTIO, 0x82, struct vhost_vring_state)
#ifndef VHOST_VDPA_RESUME
#define VHOST_VDPA_RESUME VHOST_KERNEL_VDPA_RESUME
#endif
#ifndef VHOST_VDPA_GET_VRING_DESC_GROUP
#define VHOST_VDPA_GET_VRING_DESC_GROUP VHOST_KERNEL_VDPA_GET_VRING_DESC_GROUP
#endif
#undef VHOST_VDPA_GET_VRING_SIZE
#define VHOST_VDPA_GET_VRING_SIZE VHOST_KERNEL_VDPA_GET_VRING_SIZE

/* Backend feature bits newer than Linux 6.1 (RESUME, 6.3, and the three after it); SUSPEND is
 * 6.1's. */
#ifndef VHOST_BACKEND_F_SUSPEND
#define VHOST_BACKEND_F_SUSPEND 0x4
#endif
#ifndef VHOST_BACKEND_F_RESUME
#define VHOST_BACKEND_F_RESUME 0x5
#endif
#ifndef VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK
#define VHOST_BACKEND_F_ENABLE_AFTER_DRIVER_OK 0x6
#endif
#ifndef VHOST_BACKEND_F_DESC_ASID
#define VHOST_BACKEND_F_DESC_ASID 0x7
#endif
#ifndef VHOST_BACKEND_F_IOTLB_PERSIST
#define VHOST_BACKEND_F_IOTLB_PERSIST 0x8
#endif
#ifndef VHOST_VDPA_SUSPEND
#define VHOST_VDPA_SUSPEND _IO (VHOST_VIRTIO, 0x7D)
#endif

VhostError vhost_kernel_error_from_errno (int errsv);
void vhost_kernel_set_ioctl_error (GError **error, const char *name, int errsv);
/* Issues @request on @kernel's fd with @arg (EINTR retried): 0, or the errno. */
int vhost_kernel_ioctl_errno (VhostKernel *kernel, unsigned long request, void *arg);
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
