/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostVsock: /dev/vhost-vsock, the host end of a virtio-vsock device for a guest CID. */
#include <linux/vhost.h>

#include "vhost-vsock.h"
#include "vhost-kernel-private.h"

/**
 * SECTION:vhost-vsock
 * @title: VhostVsock
 * @short_description: the kernel's vhost-vsock device
 *
 * #VhostVsock drives /dev/vhost-vsock: the host end of a virtio-vsock device.
 * The driver side is a guest with the context ID set by
 * vhost_vsock_set_guest_cid(); AF_VSOCK sockets of this kernel are the host
 * (CID 2, VMADDR_CID_HOST) it talks to. The kernel device has two queues,
 * %VHOST_VSOCK_QUEUE_RX (host to guest) and %VHOST_VSOCK_QUEUE_TX (guest to host);
 * the virtio-vsock event queue stays with the driver. Every packet is a
 * struct virtio_vsock_hdr (from linux/virtio_vsock.h) followed by its payload.
 *
 * Bring the queues up with a #VhostDriver, set the CID, then
 * vhost_vsock_set_running() starts the device. vhost_backend_get_vring_base()
 * stops the whole device first.
 */

/**
 * VhostVsock:
 *
 * A vhost-vsock device. All its fields are private.
 */
struct _VhostVsock
{
  VhostKernel parent_instance;

  guint64 guest_cid;
  gboolean running;
};

G_DEFINE_FINAL_TYPE (VhostVsock, vhost_vsock, VHOST_TYPE_KERNEL)

enum {
  PROP_0,
  PROP_GUEST_CID,
  PROP_RUNNING,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

#define DEFAULT_PATH "/dev/vhost-vsock"

/**
 * vhost_vsock_set_guest_cid:
 * @vsock: a #VhostVsock
 * @cid: the guest's context ID, 3 or more
 * @error: return location for a #GError
 *
 * Sets the driver side's context ID (VHOST_VSOCK_SET_GUEST_CID). Packets the
 * guest sends must carry it as their source.
 *
 * Returns: %TRUE on success; %FALSE with %VHOST_ERROR_ADDRESS_IN_USE if another
 *   vhost-vsock device has @cid, %VHOST_ERROR_INVALID_ARGUMENT for a reserved one
 */
gboolean
vhost_vsock_set_guest_cid (VhostVsock *vsock, guint64 cid, GError **error)
{
  __u64 value = cid;

  g_return_val_if_fail (VHOST_IS_VSOCK (vsock), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!VHOST_KERNEL_IOCTL (VHOST_KERNEL (vsock), VHOST_VSOCK_SET_GUEST_CID, &value, error))
    return FALSE;
  if (vsock->guest_cid != cid)
    {
      vsock->guest_cid = cid;
      g_object_notify_by_pspec (G_OBJECT (vsock), properties[PROP_GUEST_CID]);
    }
  return TRUE;
}

/**
 * vhost_vsock_get_guest_cid:
 * @vsock: a #VhostVsock
 *
 * Gets the value of #VhostVsock:guest-cid.
 *
 * Returns: #VhostVsock:guest-cid
 */
guint64
vhost_vsock_get_guest_cid (VhostVsock *vsock)
{
  g_return_val_if_fail (VHOST_IS_VSOCK (vsock), 0);
  return vsock->guest_cid;
}

/**
 * vhost_vsock_set_running:
 * @vsock: a #VhostVsock
 * @running: whether the device processes its queues
 * @error: return location for a #GError
 *
 * Starts or stops the device (VHOST_VSOCK_SET_RUNNING). Starting needs the
 * owner, both queues set up, and rings the kernel can reach.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_vsock_set_running (VhostVsock *vsock, gboolean running, GError **error)
{
  int value = running ? 1 : 0;

  g_return_val_if_fail (VHOST_IS_VSOCK (vsock), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!VHOST_KERNEL_IOCTL (VHOST_KERNEL (vsock), VHOST_VSOCK_SET_RUNNING, &value, error))
    return FALSE;
  if (vsock->running != !!running)
    {
      vsock->running = !!running;
      g_object_notify_by_pspec (G_OBJECT (vsock), properties[PROP_RUNNING]);
    }
  return TRUE;
}

/**
 * vhost_vsock_get_running:
 * @vsock: a #VhostVsock
 *
 * Gets the value of #VhostVsock:running.
 *
 * Returns: #VhostVsock:running
 */
gboolean
vhost_vsock_get_running (VhostVsock *vsock)
{
  g_return_val_if_fail (VHOST_IS_VSOCK (vsock), FALSE);
  return vsock->running;
}

static gboolean
vhost_vsock_stop_queue (VhostKernel *kernel, guint index, GError **error)
{
  VhostVsock *self = VHOST_VSOCK (kernel);

  return !self->running || vhost_vsock_set_running (self, FALSE, error);
}

/**
 * vhost_vsock_new:
 * @path: (nullable): the device node; %NULL for /dev/vhost-vsock
 * @error: return location for a #GError
 *
 * Opens a vhost-vsock device.
 *
 * Returns: (transfer full): the device, or %NULL with @error set
 *   (%VHOST_ERROR_NOT_FOUND when the node does not exist)
 */
VhostVsock *
vhost_vsock_new (const char *path, GError **error)
{
  return g_initable_new (VHOST_TYPE_VSOCK, NULL, error, "device-path", path != NULL ? path : DEFAULT_PATH, NULL);
}

/**
 * vhost_vsock_new_for_fd:
 * @fd: an open /dev/vhost-vsock file descriptor, which the device takes
 * @error: return location for a #GError
 *
 * Adopts an opened vhost-vsock device: the object closes @fd when finalized.
 *
 * Returns: (transfer full): the device, or %NULL with @error set
 */
VhostVsock *
vhost_vsock_new_for_fd (gint fd, GError **error)
{
  g_return_val_if_fail (fd >= 0, NULL);
  return g_initable_new (VHOST_TYPE_VSOCK, NULL, error, "fd", fd, NULL);
}

static void
vhost_vsock_init (VhostVsock *self)
{
}

static void
vhost_vsock_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  VhostVsock *self = VHOST_VSOCK (object);

  switch (prop_id)
    {
    case PROP_GUEST_CID:
      g_value_set_uint64 (value, self->guest_cid);
      break;
    case PROP_RUNNING:
      g_value_set_boolean (value, self->running);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
vhost_vsock_class_init (VhostVsockClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = vhost_vsock_get_property;
  VHOST_KERNEL_CLASS (klass)->stop_queue = vhost_vsock_stop_queue;

  /**
   * VhostVsock:guest-cid:
   *
   * The guest context ID vhost_vsock_set_guest_cid() set, or 0.
   */
  properties[PROP_GUEST_CID] = g_param_spec_uint64 ("guest-cid", "Guest cid",
                                                    "The guest context ID vhost_vsock_set_guest_cid() set, or 0.",
                                                    0, G_MAXUINT64, 0,
                                                    G_PARAM_READABLE | G_PARAM_STATIC_STRINGS |
                                                      G_PARAM_EXPLICIT_NOTIFY);
  /**
   * VhostVsock:running:
   *
   * Whether vhost_vsock_set_running() started the device.
   */
  properties[PROP_RUNNING] = g_param_spec_boolean ("running", "Running",
                                                   "Whether vhost_vsock_set_running() started the device.", FALSE,
                                                   G_PARAM_READABLE | G_PARAM_STATIC_STRINGS |
                                                     G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}
