/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VhostUserSlave's back-end requests: what a device tells or asks its front-end on the back-end request channel. */
#include <string.h>

#include "vhost-user-slave.h"
#include "vhost-user-channel-private.h"
#include "vhost-user-slave-private.h"
#include "core/vhost-user-dev.h"

static gboolean
slave_backend_call (VhostUserSlave *self, VhostUserMsg *msg, VhostUserMsg **reply, GError **error)
{
  VhostUserChannel *backend = vhost_user_slave_get_backend_channel (self);
  guint64 features = vhost_user_dev_get_acked_protocol_features (vhost_user_slave_get_dev (self));

  if (backend == NULL || !vhost_user_channel_is_open (backend))
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_NOT_SUPPORTED,
                   "%s: the front-end did not set up the back-end request channel",
                   vhost_user_request_name (VHOST_USER_CHANNEL_BACKEND, msg->hdr.request));
      return FALSE;
    }
  if (!vhost_user_request_check_features (VHOST_USER_CHANNEL_BACKEND, msg->hdr.request, msg->n_fds, features, error))
    return FALSE;
  vhost_user_request_set_need_reply (VHOST_USER_CHANNEL_BACKEND, msg, features);
  return vhost_user_channel_call (backend, msg, reply, NULL, error);
}

/**
 * vhost_user_slave_notify_config_change:
 * @slave: a #VhostUserSlave
 * @error: return location for a #GError
 *
 * Tells the front-end that the configuration space changed (CONFIG_CHANGE_MSG).
 * Needs %VHOST_USER_PROTOCOL_F_CONFIG and the back-end request channel.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_slave_notify_config_change (VhostUserSlave *slave, GError **error)
{
  VhostUserMsg msg;

  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), FALSE);
  vhost_user_msg_init (&msg, VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, 0);
  return slave_backend_call (slave, &msg, NULL, error);
}

/**
 * vhost_user_slave_set_host_notifier:
 * @slave: a #VhostUserSlave
 * @index: the queue index
 * @fd: the file descriptor to map the notification area from (borrowed), or -1
 *   to remove the queue's host notifier
 * @size: the size of the area
 * @offset: the offset of the area in @fd
 * @error: return location for a #GError
 *
 * Sets or removes a queue's host notifier (VRING_HOST_NOTIFIER_MSG). Needs
 * %VHOST_USER_PROTOCOL_F_HOST_NOTIFIER and, with an fd,
 * %VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_slave_set_host_notifier (VhostUserSlave *slave,
                                    guint index,
                                    gint fd,
                                    guint64 size,
                                    guint64 offset,
                                    GError **error)
{
  VhostUserMsg msg;

  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), FALSE);
  if (!vhost_user_dev_check_vring_index (vhost_user_slave_get_dev (slave), "VRING_HOST_NOTIFIER_MSG", index, error))
    return FALSE;
  vhost_user_msg_init (&msg, VHOST_USER_BACKEND_VRING_HOST_NOTIFIER_MSG, sizeof (VhostUserVringAreaWire));
  msg.payload.area.u64 = index | (fd < 0 ? VHOST_USER_VRING_NOFD_MASK : 0);
  msg.payload.area.size = size;
  msg.payload.area.offset = offset;
  if (fd >= 0)
    msg.fds[msg.n_fds++] = fd;
  return slave_backend_call (slave, &msg, NULL, error);
}

/**
 * vhost_user_slave_send_iotlb_msg:
 * @slave: a #VhostUserSlave
 * @iova: the I/O virtual address
 * @size: the size of the range
 * @uaddr: the user address
 * @perm: the access that missed or failed
 * @type: %VHOST_IOTLB_MESSAGE_MISS or %VHOST_IOTLB_MESSAGE_ACCESS_FAIL
 * @error: return location for a #GError
 *
 * Reports an IOTLB miss or access failure to the front-end (IOTLB_MSG).
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_slave_send_iotlb_msg (VhostUserSlave *slave,
                                 guint64 iova,
                                 guint64 size,
                                 guint64 uaddr,
                                 VhostIotlbAccess perm,
                                 VhostIotlbMessageType type,
                                 GError **error)
{
  VhostUserMsg msg;

  g_return_val_if_fail (VHOST_IS_USER_SLAVE (slave), FALSE);
  vhost_user_msg_init_iotlb (&msg, VHOST_USER_BACKEND_IOTLB_MSG, iova, size, uaddr, perm, type);
  return slave_backend_call (slave, &msg, NULL, error);
}

static gboolean
slave_backend_state (VhostUserSlave *self, VhostUserBackendRequest request, guint index, GError **error)
{
  VhostUserMsg msg;

  g_return_val_if_fail (VHOST_IS_USER_SLAVE (self), FALSE);
  if (!vhost_user_dev_check_vring_index (vhost_user_slave_get_dev (self), vhost_user_backend_request_get_name (request), index, error))
    return FALSE;
  vhost_user_msg_init_state (&msg, request, index, 0);
  return slave_backend_call (self, &msg, NULL, error);
}

/**
 * vhost_user_slave_vring_call:
 * @slave: a #VhostUserSlave
 * @index: the queue index
 * @error: return location for a #GError
 *
 * Signals the front-end in-band that queue @index has used buffers (VRING_CALL).
 * Needs %VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_slave_vring_call (VhostUserSlave *slave, guint index, GError **error)
{
  return slave_backend_state (slave, VHOST_USER_BACKEND_VRING_CALL, index, error);
}

/**
 * vhost_user_slave_vring_err:
 * @slave: a #VhostUserSlave
 * @index: the queue index
 * @error: return location for a #GError
 *
 * Signals the front-end in-band an error on queue @index (VRING_ERR). Needs
 * %VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_slave_vring_err (VhostUserSlave *slave, guint index, GError **error)
{
  return slave_backend_state (slave, VHOST_USER_BACKEND_VRING_ERR, index, error);
}

static gboolean
slave_shared_object (VhostUserSlave *self, VhostUserBackendRequest request, GBytes *uuid, VhostUserMsg **reply,
                     GError **error)
{
  VhostUserMsg msg;

  g_return_val_if_fail (VHOST_IS_USER_SLAVE (self), FALSE);
  if (uuid == NULL || g_bytes_get_size (uuid) != VHOST_USER_UUID_SIZE)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "%s: a UUID has %u bytes",
                   vhost_user_backend_request_get_name (request), VHOST_USER_UUID_SIZE);
      return FALSE;
    }
  vhost_user_msg_init (&msg, request, sizeof (VhostUserSharedWire));
  memcpy (msg.payload.shared.uuid, g_bytes_get_data (uuid, NULL), VHOST_USER_UUID_SIZE);
  return slave_backend_call (self, &msg, reply, error);
}

/**
 * vhost_user_slave_shared_object_add:
 * @slave: a #VhostUserSlave
 * @uuid: the 16-byte UUID of the object
 * @error: return location for a #GError
 *
 * Tells the front-end that the device exports a shared object
 * (SHARED_OBJECT_ADD). Needs %VHOST_USER_PROTOCOL_F_SHARED_OBJECT.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_slave_shared_object_add (VhostUserSlave *slave, GBytes *uuid, GError **error)
{
  return slave_shared_object (slave, VHOST_USER_BACKEND_SHARED_OBJECT_ADD, uuid, NULL, error);
}

/**
 * vhost_user_slave_shared_object_remove:
 * @slave: a #VhostUserSlave
 * @uuid: the 16-byte UUID of the object
 * @error: return location for a #GError
 *
 * Tells the front-end that a shared object is withdrawn (SHARED_OBJECT_REMOVE).
 * Needs %VHOST_USER_PROTOCOL_F_SHARED_OBJECT.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_slave_shared_object_remove (VhostUserSlave *slave, GBytes *uuid, GError **error)
{
  return slave_shared_object (slave, VHOST_USER_BACKEND_SHARED_OBJECT_REMOVE, uuid, NULL, error);
}

/**
 * vhost_user_slave_shared_object_lookup:
 * @slave: a #VhostUserSlave
 * @uuid: the 16-byte UUID of the object
 * @error: return location for a #GError
 *
 * Asks the front-end for the file descriptor of a shared object
 * (SHARED_OBJECT_LOOKUP). Needs %VHOST_USER_PROTOCOL_F_SHARED_OBJECT.
 *
 * Returns: a file descriptor the caller owns, or -1 on error
 */
gint
vhost_user_slave_shared_object_lookup (VhostUserSlave *slave, GBytes *uuid, GError **error)
{
  g_autoptr(VhostUserMsg) reply = NULL;

  if (!slave_shared_object (slave, VHOST_USER_BACKEND_SHARED_OBJECT_LOOKUP, uuid, &reply, error))
    return -1;
  if (reply->payload.u64 != 0 || reply->n_fds == 0)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_REJECTED,
                   "SHARED_OBJECT_LOOKUP: the front-end has no such object (status %" G_GUINT64_FORMAT ")",
                   reply->payload.u64);
      return -1;
    }
  return vhost_user_msg_take_fd (reply, 0);
}

static gboolean
slave_shmem (VhostUserSlave *self,
             VhostUserBackendRequest request,
             guint shmid,
             gint fd,
             guint64 fd_offset,
             guint64 shm_offset,
             guint64 len,
             guint64 flags,
             GError **error)
{
  VhostUserMsg msg;

  g_return_val_if_fail (VHOST_IS_USER_SLAVE (self), FALSE);
  if (shmid >= VHOST_USER_MAX_SHMEM_REGIONS || (flags & ~(guint64) VHOST_USER_SHMEM_MAP_WRITABLE) != 0)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "%s: region %u with flags 0x%" G_GINT64_MODIFIER "x: region IDs go up to %u, and the only flag "
                   "is WRITABLE", vhost_user_backend_request_get_name (request), shmid, flags,
                   VHOST_USER_MAX_SHMEM_REGIONS - 1);
      return FALSE;
    }
  vhost_user_msg_init (&msg, request, sizeof (VhostUserMMapWire));
  msg.payload.mmap.shmid = shmid;
  msg.payload.mmap.fd_offset = fd_offset;
  msg.payload.mmap.shm_offset = shm_offset;
  msg.payload.mmap.len = len;
  msg.payload.mmap.flags = flags;
  if (fd >= 0)
    msg.fds[msg.n_fds++] = fd;
  return slave_backend_call (self, &msg, NULL, error);
}

/**
 * vhost_user_slave_shmem_map:
 * @slave: a #VhostUserSlave
 * @shmid: the shared memory region, one that vhost_user_slave_set_shmem_regions()
 *   declared
 * @fd: the file to map (borrowed: the front-end gets a duplicate): a memfd, a
 *   regular file, a dma-buf...
 * @fd_offset: where the mapping starts in @fd, a multiple of the page size
 * @shm_offset: where it goes in the region, a multiple of the page size
 * @len: its length, a multiple of the page size
 * @flags: %VHOST_USER_SHMEM_MAP_WRITABLE for a mapping the driver may write
 * @error: return location for a #GError
 *
 * Asks the front-end to map @len bytes of @fd into a VIRTIO Shared Memory
 * Region (SHMEM_MAP), where the driver sees them. Needs
 * %VHOST_USER_PROTOCOL_F_SHMEM, the back-end request channel and
 * %VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD (%VHOST_ERROR_NOT_SUPPORTED).
 *
 * The front-end checks the mapping against its regions: the range must lie
 * inside the region, on page boundaries, and not overlap another mapping. With
 * %VHOST_USER_PROTOCOL_F_REPLY_ACK negotiated, this waits for its answer, and a
 * mapping it refused (or could not make) fails with %VHOST_ERROR_REJECTED;
 * without, the front-end answers nothing and a refusal is only logged there.
 *
 * Call it from the slave's #GMainContext. It blocks until the front-end
 * answers (see #VhostUserMaster:timeout on the other side).
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_slave_shmem_map (VhostUserSlave *slave,
                            guint shmid,
                            gint fd,
                            guint64 fd_offset,
                            guint64 shm_offset,
                            guint64 len,
                            VhostUserShmemMapFlags flags,
                            GError **error)
{
  g_return_val_if_fail (fd >= 0, FALSE);
  return slave_shmem (slave, VHOST_USER_BACKEND_SHMEM_MAP, shmid, fd, fd_offset, shm_offset, len, flags, error);
}

/**
 * vhost_user_slave_shmem_unmap:
 * @slave: a #VhostUserSlave
 * @shmid: the shared memory region
 * @shm_offset: where the mapping starts in the region
 * @len: its length
 * @error: return location for a #GError
 *
 * Asks the front-end to remove a mapping that vhost_user_slave_shmem_map() made
 * (SHMEM_UNMAP): @shm_offset and @len must be exactly those of the mapping. The
 * range becomes inaccessible again. Needs %VHOST_USER_PROTOCOL_F_SHMEM and the
 * back-end request channel; answers as vhost_user_slave_shmem_map() does.
 *
 * Returns: %TRUE on success
 */
gboolean
vhost_user_slave_shmem_unmap (VhostUserSlave *slave, guint shmid, guint64 shm_offset, guint64 len, GError **error)
{
  return slave_shmem (slave, VHOST_USER_BACKEND_SHMEM_UNMAP, shmid, -1, 0, shm_offset, len, 0, error);
}
