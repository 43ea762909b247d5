/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostNet: /dev/vhost-net, whose queues move frames between guest memory and a TAP per queue. */
#include <linux/vhost.h>

#include "vhost-net.h"
#include "vhost-kernel-private.h"

/**
 * SECTION:vhost-net
 * @title: VhostNet
 * @short_description: the kernel's vhost-net device
 *
 * #VhostNet drives /dev/vhost-net: a virtio-net device whose receive queue
 * (%VHOST_NET_QUEUE_RX) and transmit queue (%VHOST_NET_QUEUE_TX) the kernel
 * serves from a TAP (or a packet socket, or a macvtap) given per queue with
 * vhost_net_set_backend().
 *
 * Bring the queues up with a #VhostDriver (or the #VhostBackend calls
 * directly), then attach the TAP to both queues; the kernel starts moving
 * frames at once. The TAP is opened with IFF_TAP, IFF_NO_PI and IFF_VNET_HDR,
 * and its TUNSETVNETHDRSZ must match the header the driver puts before each
 * frame: 12 bytes (struct virtio_net_hdr_mrg_rxbuf) with
 * VIRTIO_NET_F_MRG_RXBUF or %VHOST_VIRTIO_F_VERSION_1, 10 bytes otherwise.
 *
 * vhost_backend_get_vring_base() detaches the queue's TAP first, so that the
 * queue stops before its state is read, as #VhostBackend promises.
 */

/**
 * VhostNet:
 *
 * A vhost-net device. All its fields are private.
 */
struct _VhostNet
{
  VhostKernel parent_instance;
};

G_DEFINE_FINAL_TYPE (VhostNet, vhost_net, VHOST_TYPE_KERNEL)

#define DEFAULT_PATH "/dev/vhost-net"

/**
 * vhost_net_set_backend:
 * @net: a #VhostNet
 * @index: %VHOST_NET_QUEUE_RX or %VHOST_NET_QUEUE_TX
 * @fd: a TAP (or packet socket) file descriptor, or -1 to detach the queue
 * @error: return location for a #GError
 *
 * Attaches a queue to a TAP (VHOST_NET_SET_BACKEND), which starts it; the queue
 * must be set up and the caller must be the owner. @fd is borrowed: the kernel
 * takes its own reference to the file.
 *
 * Returns: %TRUE on success; %FALSE with %VHOST_ERROR_FDS if @fd is not a TAP or
 *   a socket, %VHOST_ERROR_INVALID_ARGUMENT if the queue's rings are not in this
 *   process's memory
 */
gboolean
vhost_net_set_backend (VhostNet *net, guint index, gint fd, GError **error)
{
  struct vhost_vring_file file = { .index = index, .fd = fd < 0 ? VHOST_FILE_UNBIND : fd };

  g_return_val_if_fail (VHOST_IS_NET (net), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return VHOST_KERNEL_IOCTL (VHOST_KERNEL (net), VHOST_NET_SET_BACKEND, &file, error);
}

static gboolean
vhost_net_stop_queue (VhostKernel *kernel, guint index, GError **error)
{
  return vhost_net_set_backend (VHOST_NET (kernel), index, -1, error);
}

/**
 * vhost_net_new:
 * @path: (nullable): the device node; %NULL for /dev/vhost-net
 * @error: return location for a #GError
 *
 * Opens a vhost-net device.
 *
 * Returns: (transfer full): the device, or %NULL with @error set
 *   (%VHOST_ERROR_NOT_FOUND when the node does not exist)
 */
VhostNet *
vhost_net_new (const char *path, GError **error)
{
  return g_initable_new (VHOST_TYPE_NET, NULL, error, "device-path", path != NULL ? path : DEFAULT_PATH, NULL);
}

/**
 * vhost_net_new_for_fd:
 * @fd: an open /dev/vhost-net file descriptor, which the device takes
 * @error: return location for a #GError
 *
 * Adopts an opened vhost-net device: the object closes @fd when finalized.
 *
 * Returns: (transfer full): the device, or %NULL with @error set
 */
VhostNet *
vhost_net_new_for_fd (gint fd, GError **error)
{
  g_return_val_if_fail (fd >= 0, NULL);
  return g_initable_new (VHOST_TYPE_NET, NULL, error, "fd", fd, NULL);
}

static void
vhost_net_init (VhostNet *self)
{
}

static void
vhost_net_class_init (VhostNetClass *klass)
{
  VHOST_KERNEL_CLASS (klass)->stop_queue = vhost_net_stop_queue;
}
