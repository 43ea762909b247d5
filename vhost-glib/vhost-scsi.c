/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostScsi: /dev/vhost-scsi, a virtio-scsi device whose endpoint is a configfs target of LIO. */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/vhost.h>

#include "vhost-scsi.h"
#include "vhost-kernel-private.h"

/**
 * SECTION:vhost-scsi
 * @title: VhostScsi
 * @short_description: the kernel's vhost-scsi device
 *
 * #VhostScsi drives /dev/vhost-scsi: a virtio-scsi device (control, event, then
 * one or more request queues) served by the kernel's SCSI target (LIO). The
 * target is made in configfs (/sys/kernel/config/target/vhost/WWPN/tpgt_N, with
 * its LUNs) by a tool such as targetcli; vhost_scsi_set_endpoint() then connects
 * the device to it, and vhost_scsi_clear_endpoint() disconnects it. With
 * VIRTIO_SCSI_F_HOTPLUG the device reports LUNs added to and removed from the
 * target on its event queue; vhost_scsi_get_events_missed() says whether it lost
 * some for want of buffers there.
 */

/**
 * VhostScsi:
 *
 * A vhost-scsi device. All its fields are private.
 */
struct _VhostScsi
{
  VhostKernel parent_instance;
};

G_DEFINE_FINAL_TYPE (VhostScsi, vhost_scsi, VHOST_TYPE_KERNEL)

#define DEFAULT_PATH "/dev/vhost-scsi"

/**
 * vhost_scsi_get_abi_version:
 * @scsi: a #VhostScsi
 * @version: (out): the vhost-scsi ABI version of the kernel
 * @error: return location for a #GError
 *
 * Reads the ABI version (VHOST_SCSI_GET_ABI_VERSION); Linux has had version 1
 * since 3.6.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_scsi_get_abi_version (VhostScsi *scsi, gint *version, GError **error)
{
  int value = 0;

  g_return_val_if_fail (VHOST_IS_SCSI (scsi), FALSE);
  g_return_val_if_fail (version != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!VHOST_KERNEL_IOCTL (VHOST_KERNEL (scsi), VHOST_SCSI_GET_ABI_VERSION, &value, error))
    return FALSE;
  *version = value;
  return TRUE;
}

/**
 * vhost_scsi_set_events_missed:
 * @scsi: a #VhostScsi
 * @missed: whether the device lost events
 * @error: return location for a #GError
 *
 * Sets the device's "events missed" flag (VHOST_SCSI_SET_EVENTS_MISSED). The
 * kernel sets it when it has an event (a LUN added or removed, with
 * VIRTIO_SCSI_F_HOTPLUG) and no buffer in the event queue to put it in; while it
 * is set, the next event the device delivers carries VIRTIO_SCSI_T_EVENTS_MISSED,
 * and a kick of the event queue makes it deliver a VIRTIO_SCSI_T_NO_EVENT that
 * does, which clears the flag. A front-end sets it on a device that takes over
 * from another (after a migration) whose flag was set.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_scsi_set_events_missed (VhostScsi *scsi, gboolean missed, GError **error)
{
  __u32 value = missed ? 1 : 0;

  g_return_val_if_fail (VHOST_IS_SCSI (scsi), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return VHOST_KERNEL_IOCTL (VHOST_KERNEL (scsi), VHOST_SCSI_SET_EVENTS_MISSED, &value, error);
}

/**
 * vhost_scsi_get_events_missed:
 * @scsi: a #VhostScsi
 * @missed: (out): whether the device lost events that it has not reported yet
 * @error: return location for a #GError
 *
 * Reads the device's "events missed" flag (VHOST_SCSI_GET_EVENTS_MISSED); see
 * vhost_scsi_set_events_missed().
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_scsi_get_events_missed (VhostScsi *scsi, gboolean *missed, GError **error)
{
  __u32 value = 0;

  g_return_val_if_fail (VHOST_IS_SCSI (scsi), FALSE);
  g_return_val_if_fail (missed != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!VHOST_KERNEL_IOCTL (VHOST_KERNEL (scsi), VHOST_SCSI_GET_EVENTS_MISSED, &value, error))
    return FALSE;
  *missed = value != 0;
  return TRUE;
}

static gboolean
fill_target (struct vhost_scsi_target *t, const char *wwpn, guint tpgt, GError **error)
{
  memset (t, 0, sizeof *t);
  if (strlen (wwpn) >= sizeof t->vhost_wwpn || tpgt > G_MAXUINT16)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "The target %s, tpgt %u does not fit in struct vhost_scsi_target", wwpn, tpgt);
      return FALSE;
    }
  strcpy (t->vhost_wwpn, wwpn);
  t->vhost_tpgt = tpgt;
  return TRUE;
}

/* The kernel answers ENODEV when configfs has no such target, EEXIST when the device already
 * has an endpoint with that tpgt. */
static gboolean
endpoint_ioctl (VhostScsi *scsi, unsigned long request, const char *name, const char *wwpn, guint tpgt,
                GError **error)
{
  struct vhost_scsi_target t;
  int r, errsv;

  if (!fill_target (&t, wwpn, tpgt, error))
    return FALSE;
  do
    r = ioctl (vhost_kernel_get_fd (VHOST_KERNEL (scsi)), request, &t);
  while (r < 0 && errno == EINTR);
  if (r == 0)
    return TRUE;
  errsv = errno;
  if (errsv == ENODEV || errsv == EEXIST)
    g_set_error (error, VHOST_ERROR, VHOST_ERROR_NOT_FOUND, "%s: %s (no free vhost target %s with tpgt %u in configfs)",
                 name, g_strerror (errsv), wwpn, tpgt);
  else
    vhost_kernel_set_ioctl_error (error, name, errno);
  return FALSE;
}

/**
 * vhost_scsi_set_endpoint:
 * @scsi: a #VhostScsi
 * @wwpn: the target's world wide port name, such as "naa.5001405c4a8a1c31"
 * @tpgt: the target portal group tag
 * @error: return location for a #GError
 *
 * Connects the device to a configfs target (VHOST_SCSI_SET_ENDPOINT). The queues
 * must be set up first.
 *
 * Returns: %TRUE on success; %FALSE with %VHOST_ERROR_NOT_FOUND when configfs has
 *   no vhost target @wwpn with @tpgt that is free (the kernel's EEXIST)
 */
gboolean
vhost_scsi_set_endpoint (VhostScsi *scsi, const char *wwpn, guint tpgt, GError **error)
{
  g_return_val_if_fail (VHOST_IS_SCSI (scsi), FALSE);
  g_return_val_if_fail (wwpn != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return endpoint_ioctl (scsi, VHOST_SCSI_SET_ENDPOINT, "VHOST_SCSI_SET_ENDPOINT", wwpn, tpgt, error);
}

/**
 * vhost_scsi_clear_endpoint:
 * @scsi: a #VhostScsi
 * @wwpn: the target's world wide port name
 * @tpgt: the target portal group tag
 * @error: return location for a #GError
 *
 * Disconnects the device from its target (VHOST_SCSI_CLEAR_ENDPOINT), which
 * stops its queues. Clearing a device without an endpoint succeeds.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_scsi_clear_endpoint (VhostScsi *scsi, const char *wwpn, guint tpgt, GError **error)
{
  g_return_val_if_fail (VHOST_IS_SCSI (scsi), FALSE);
  g_return_val_if_fail (wwpn != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return endpoint_ioctl (scsi, VHOST_SCSI_CLEAR_ENDPOINT, "VHOST_SCSI_CLEAR_ENDPOINT", wwpn, tpgt, error);
}

/**
 * vhost_scsi_new:
 * @path: (nullable): the device node; %NULL for /dev/vhost-scsi
 * @error: return location for a #GError
 *
 * Opens a vhost-scsi device.
 *
 * Returns: (transfer full): the device, or %NULL with @error set
 *   (%VHOST_ERROR_NOT_FOUND when the node does not exist)
 */
VhostScsi *
vhost_scsi_new (const char *path, GError **error)
{
  return g_initable_new (VHOST_TYPE_SCSI, NULL, error, "device-path", path != NULL ? path : DEFAULT_PATH, NULL);
}

/**
 * vhost_scsi_new_for_fd:
 * @fd: an open /dev/vhost-scsi file descriptor, which the device takes
 * @error: return location for a #GError
 *
 * Adopts an opened vhost-scsi device: the object closes @fd when finalized.
 *
 * Returns: (transfer full): the device, or %NULL with @error set
 */
VhostScsi *
vhost_scsi_new_for_fd (gint fd, GError **error)
{
  g_return_val_if_fail (fd >= 0, NULL);
  return g_initable_new (VHOST_TYPE_SCSI, NULL, error, "fd", fd, NULL);
}

static void
vhost_scsi_init (VhostScsi *self)
{
}

static void
vhost_scsi_class_init (VhostScsiClass *klass)
{
}
