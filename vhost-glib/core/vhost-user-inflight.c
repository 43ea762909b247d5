/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The back-end engine's inflight area: GET_INFLIGHT_FD makes one, SET_INFLIGHT_FD maps it, the rings track in it. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vhost-user-dev-private.h"
#include "vhost-inflight.h"

static gboolean
dev_packed (VhostUserDev *dev)
{
  return (dev->acked_features & VHOST_FEATURE_MASK (VHOST_VIRTIO_F_RING_PACKED)) != 0;
}

void
vhost_user_dev_inflight_clear (VhostUserDev *dev)
{
  vhost_user_dev_unmap_file (dev->inflight_map, dev->inflight_map_size);
  dev->inflight_map = NULL;
  dev->inflight_map_size = 0;
  dev->inflight_area = NULL;
  dev->inflight_size = 0;
  dev->inflight_queues = dev->inflight_queue_size = 0;
  memset (dev->inflight_recover, 0, sizeof dev->inflight_recover);
}

/* Called while the queue is stopped, before it starts. A ring whose queue does
 * not fit the area is broken: running it untracked would lose its requests at
 * the next restart. */
void
vhost_user_dev_inflight_attach (VhostUserDev *dev, guint index, VhostRing *ring)
{
  guint64 region = vhost_inflight_region_size (dev->inflight_queue_size, ring->packed);

  ring->inflight = NULL;
  ring->inflight_recover = FALSE;
  if (dev->inflight_area == NULL)
    return;
  if (index >= dev->inflight_queues || ring->num > dev->inflight_queue_size ||
      (index + 1) * region > dev->inflight_size)
    {
      vhost_ring_fail (ring, "the inflight area (%u queues of %u, %" G_GUINT64_FORMAT " bytes) has no room for it",
                       dev->inflight_queues, dev->inflight_queue_size, dev->inflight_size);
      return;
    }
  ring->inflight = dev->inflight_area + index * region;
  ring->inflight_recover = dev->inflight_recover[index];
  dev->inflight_recover[index] = FALSE;
}

gboolean
vhost_user_dev_request_get_inflight_fd (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  const VhostUserInflightWire *inflight = &msg->payload.inflight;
  guint64 size;
  int fd, reply_fd;

  if (inflight->num_queues == 0 || inflight->num_queues > dev->n_vrings || inflight->queue_size == 0 ||
      inflight->queue_size > dev->max_queue_size)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "GET_INFLIGHT_FD: %u queues of size %u do not fit the device", inflight->num_queues,
                   inflight->queue_size);
      return FALSE;
    }
  /* The layout follows the ring layout negotiated so far (QEMU sets the
   * features before it asks). A new file is all zero: version 0, "not yet
   * used", which the rings initialise when they start. */
  size = vhost_inflight_region_size (inflight->queue_size, dev_packed (dev)) * inflight->num_queues;
  fd = memfd_create ("vhost-inflight", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0 || ftruncate (fd, size) < 0 || (reply_fd = fcntl (fd, F_DUPFD_CLOEXEC, 3)) < 0)
    {
      int errsv = errno;

      if (fd >= 0)
        close (fd);
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_IO, "GET_INFLIGHT_FD: memfd: %s", g_strerror (errsv));
      return FALSE;
    }
  close (fd);
  vhost_user_msg_init_reply (reply, msg, sizeof (VhostUserInflightWire));
  reply->payload.inflight.mmap_size = size;
  reply->payload.inflight.mmap_offset = 0;
  reply->payload.inflight.num_queues = inflight->num_queues;
  reply->payload.inflight.queue_size = inflight->queue_size;
  reply->fds[reply->n_fds++] = reply_fd;
  return TRUE;
}

gboolean
vhost_user_dev_request_set_inflight_fd (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  const VhostUserInflightWire *inflight = &msg->payload.inflight;
  guint64 need = vhost_inflight_region_size (inflight->queue_size, dev_packed (dev)) * inflight->num_queues;
  guint8 *map;
  gsize map_size;

  if (inflight->num_queues == 0 || inflight->queue_size == 0 || inflight->mmap_size < need)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "SET_INFLIGHT_FD: %" G_GUINT64_FORMAT " bytes cannot track %u queues of %u (%" G_GUINT64_FORMAT
                   " bytes)", inflight->mmap_size, inflight->num_queues, inflight->queue_size, need);
      return FALSE;
    }
  if (!vhost_user_dev_map_file (msg->fds[0], inflight->mmap_offset, inflight->mmap_size, "SET_INFLIGHT_FD", 0, &map,
                                &map_size, error))
    return FALSE;
  vhost_user_dev_inflight_clear (dev);
  dev->inflight_map = map;
  dev->inflight_map_size = map_size;
  dev->inflight_area = map + inflight->mmap_offset;
  dev->inflight_size = inflight->mmap_size;
  dev->inflight_queues = MIN (inflight->num_queues, VHOST_USER_MAX_QUEUES);
  dev->inflight_queue_size = inflight->queue_size;
  /* Each queue takes up what the area holds the next time it starts. */
  for (guint i = 0; i < dev->inflight_queues; i++)
    dev->inflight_recover[i] = TRUE;
  return TRUE;
}
