/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The back-end engine in postcopy migration: guest memory registered with a userfaultfd that the front-end serves. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#include "vhost-user-dev-private.h"

/*
 * In postcopy the destination runs before all of guest memory has arrived. The
 * back-end opens a userfaultfd (POSTCOPY_ADVISE) and hands it to the front-end;
 * once told to listen (POSTCOPY_LISTEN) it registers its mappings of guest
 * memory with it, so that a worker touching a page that has not arrived sleeps
 * in the kernel until the front-end has placed the page and woken it: the
 * process never faults. The front-end needs to know where we mapped each
 * region to translate our faults, so SET_MEM_TABLE and ADD_MEM_REG are answered
 * with our addresses; until it acknowledges them, no queue starts (a ring
 * access could fault before the front-end can serve it).
 */

void
vhost_user_dev_postcopy_clear (VhostUserDev *dev)
{
  vhost_user_dev_close_fd (&dev->uffd);
  dev->postcopy_listening = FALSE;
  dev->postcopy_ack_pending = FALSE;
}

/* Register one mapping with the userfaultfd: its missing pages are the front-end's to fill. */
static gboolean
register_range (VhostUserDev *dev, guint8 *map, gsize size, const char *what, GError **error)
{
  struct uffdio_register reg = { .range = { (guintptr) map, size }, .mode = UFFDIO_REGISTER_MODE_MISSING };

  if (ioctl (dev->uffd, UFFDIO_REGISTER, &reg) < 0)
    {
      int errsv = errno;

      g_set_error (error, VHOST_ERROR, VHOST_ERROR_IO, "%s: registering guest memory with the userfaultfd: %s", what,
                   g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}

gboolean
vhost_user_dev_postcopy_register (VhostUserDev *dev, VhostUserDevRegion *region, const char *what, GError **error)
{
  if (!dev->postcopy_listening)
    return TRUE;
  return register_range (dev, region->map, region->map_size, what, error);
}

/* Our answer to a memory table while listening: the regions as we mapped them,
 * then nothing runs until the front-end acknowledges. */
void
vhost_user_dev_postcopy_reply (VhostUserDev *dev, const VhostUserMsg *msg, const VhostUserDevRegion *regions,
                               guint n_regions)
{
  VhostUserMsg reply;

  vhost_user_msg_init_reply (&reply, msg, msg->hdr.size);
  memcpy (reply.payload.bytes, msg->payload.bytes, msg->hdr.size);
  for (guint i = 0; i < n_regions; i++)
    {
      VhostUserRegionWire *wire = msg->hdr.request == VHOST_USER_SET_MEM_TABLE ? &reply.payload.memory.regions[i]
                                                                               : &reply.payload.mem_reg.region;

      wire->userspace_addr = (guint64) (guintptr) (regions[i].map + regions[i].wire.mmap_offset);
    }
  dev->ops->send (dev, &reply, dev->user_data);
  dev->postcopy_ack_pending = TRUE;
}

gboolean
vhost_user_dev_postcopy_ack (VhostUserDev *dev, const VhostUserMsg *msg, GError **error)
{
  const char *name = vhost_user_request_name (VHOST_USER_CHANNEL_FRONTEND, msg->hdr.request);

  if (!dev->postcopy_ack_pending)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "%s: no region (a postcopy acknowledgement, but no postcopy table was answered)", name);
      return FALSE;
    }
  dev->postcopy_ack_pending = FALSE;
  return TRUE;
}

gboolean
vhost_user_dev_request_postcopy_advise (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  struct uffdio_api api = { .api = UFFD_API, .features = 0 };
  int fd;

  vhost_user_dev_postcopy_clear (dev);
  dev->uffd = syscall (SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
  if (dev->uffd < 0 || ioctl (dev->uffd, UFFDIO_API, &api) < 0 || (fd = fcntl (dev->uffd, F_DUPFD_CLOEXEC, 3)) < 0)
    {
      int errsv = errno;

      vhost_user_dev_close_fd (&dev->uffd);
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_IO, "POSTCOPY_ADVISE: userfaultfd: %s", g_strerror (errsv));
      return FALSE;
    }
  vhost_user_msg_init_reply (reply, msg, 0);
  reply->fds[reply->n_fds++] = fd;
  return TRUE;
}

gboolean
vhost_user_dev_request_postcopy_listen (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  if (dev->uffd < 0)
    {
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "POSTCOPY_LISTEN before POSTCOPY_ADVISE");
      return FALSE;
    }
  dev->postcopy_listening = TRUE;
  /* What is mapped already is registered now; what comes later, as it is mapped. */
  for (guint i = 0; i < dev->regions->len; i++)
    if (!vhost_user_dev_postcopy_register (dev, &g_array_index (dev->regions, VhostUserDevRegion, i),
                                           "POSTCOPY_LISTEN", error))
      return FALSE;
  return TRUE;
}

gboolean
vhost_user_dev_request_postcopy_end (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  if (dev->uffd < 0)
    {
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "POSTCOPY_END without POSTCOPY_ADVISE");
      return FALSE;
    }
  for (guint i = 0; i < dev->regions->len && dev->postcopy_listening; i++)
    {
      VhostUserDevRegion *region = &g_array_index (dev->regions, VhostUserDevRegion, i);
      struct uffdio_range range = { (guintptr) region->map, region->map_size };

      ioctl (dev->uffd, UFFDIO_UNREGISTER, &range);
    }
  vhost_user_dev_postcopy_clear (dev);
  return TRUE;
}
