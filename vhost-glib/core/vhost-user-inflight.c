/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The back-end engine's inflight area: GET_INFLIGHT_FD and SET_INFLIGHT_FD. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vhost-user-dev-private.h"

void
vhost_user_dev_inflight_clear (VhostUserDev *dev)
{
  vhost_user_dev_close_fd (&dev->inflight_fd);
}

gboolean
vhost_user_dev_request_get_inflight_fd (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  const VhostUserInflightWire *inflight = &msg->payload.inflight;
  guint64 per_queue, size;
  int fd;

  if (inflight->num_queues == 0 || inflight->num_queues > dev->n_vrings || inflight->queue_size == 0 ||
      inflight->queue_size > dev->max_queue_size)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "GET_INFLIGHT_FD: %u queues of size %u do not fit the device", inflight->num_queues,
                   inflight->queue_size);
      return FALSE;
    }
  /* One area per queue: a 16-byte header and 16 bytes per descriptor, 64-byte aligned. */
  per_queue = (16 + 16 * (guint64) inflight->queue_size + 63) / 64 * 64;
  size = per_queue * inflight->num_queues;
  fd = memfd_create ("vhost-inflight", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0 || ftruncate (fd, size) < 0)
    {
      int errsv = errno;

      if (fd >= 0)
        close (fd);
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_IO, "GET_INFLIGHT_FD: memfd: %s", g_strerror (errsv));
      return FALSE;
    }
  vhost_user_dev_close_fd (&dev->inflight_fd);
  dev->inflight_fd = fd;
  vhost_user_msg_init_reply (reply, msg, sizeof (VhostUserInflightWire));
  reply->payload.inflight.mmap_size = size;
  reply->payload.inflight.mmap_offset = 0;
  reply->payload.inflight.num_queues = inflight->num_queues;
  reply->payload.inflight.queue_size = inflight->queue_size;
  reply->fds[reply->n_fds++] = fcntl (fd, F_DUPFD_CLOEXEC, 3);
  return TRUE;
}

gboolean
vhost_user_dev_request_set_inflight_fd (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  const VhostUserInflightWire *inflight = &msg->payload.inflight;
  struct stat st;

  if (inflight->mmap_offset + inflight->mmap_size < inflight->mmap_offset || fstat (msg->fds[0], &st) < 0 ||
      (guint64) st.st_size < inflight->mmap_offset + inflight->mmap_size)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_MAP_FAILED,
                   "SET_INFLIGHT_FD: the file descriptor does not hold %" G_GUINT64_FORMAT " bytes at offset %"
                   G_GUINT64_FORMAT, inflight->mmap_size, inflight->mmap_offset);
      return FALSE;
    }
  vhost_user_dev_close_fd (&dev->inflight_fd);
  dev->inflight_fd = vhost_user_msg_take_fd (msg, 0);
  return TRUE;
}
