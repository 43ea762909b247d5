/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The back-end engine's guest memory: the front-end's regions mapped after checking them, and the dirty log. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "vhost-user-dev-private.h"
#include "vhost-guard.h"
#include "vhost-log-limit.h"

static void
region_unmap (VhostUserDevRegion *region)
{
  vhost_user_dev_unmap_file (region->map, region->map_size);
  region->map = NULL;
}

gboolean
vhost_user_dev_map_file (int fd, guint64 offset, guint64 size, const char *what, guint i, guint8 **map_out,
                         gsize *map_size, GError **error)
{
  struct stat st;
  guint64 end = offset + size;
  gsize align;
  void *map;

  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_MAP_FAILED,
                   "%s: region %u: the file descriptor is not a memory file (memfd, hugetlbfs or regular file)",
                   what, i);
      return FALSE;
    }
  if (end < offset || (guint64) st.st_size < end)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_MAP_FAILED,
                   "%s: region %u needs %" G_GUINT64_FORMAT " bytes of its file, which holds %" G_GINT64_FORMAT,
                   what, i, end, (gint64) st.st_size);
      return FALSE;
    }
  align = st.st_blksize > 0 ? (gsize) st.st_blksize : 4096;
  if (end > G_MAXSIZE - align)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_MAP_FAILED, "%s: region %u is too large to map", what, i);
      return FALSE;
    }
  *map_size = (end + align - 1) / align * align;
  map = mmap (NULL, *map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  if (map == MAP_FAILED)
    {
      int errsv = errno;

      g_set_error (error, VHOST_ERROR, VHOST_ERROR_MAP_FAILED, "%s: region %u: mmap failed: %s", what, i,
                   g_strerror (errsv));
      return FALSE;
    }
  /* A file that can shrink can take pages away from under us: faults in it
   * are caught (vhost-guard.h). */
  if (!vhost_guard_fd_is_sealed (fd) && !vhost_guard_register (map, *map_size))
    vhost_log_limited (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "mapping not guarded",
                       "%s: region %u: too many mappings to guard; a truncation of its file would kill the process",
                       what, i);
  *map_out = map;
  return TRUE;
}

void
vhost_user_dev_unmap_file (guint8 *map, gsize map_size)
{
  if (map == NULL)
    return;
  vhost_guard_unregister (map);
  munmap (map, map_size);
}

/* Map a memory region from its fd. */
static gboolean
region_map (VhostUserDevRegion *region, const VhostUserRegionWire *wire, int fd, const char *what, guint i,
            GError **error)
{
  region->map = NULL;
  if (!vhost_user_dev_map_file (fd, wire->mmap_offset, wire->memory_size, what, i, &region->map, &region->map_size,
                                error))
    return FALSE;
  region->wire = *wire;
  region->refs = 1;
  return TRUE;
}

void
vhost_user_dev_mem_init (VhostUserDev *dev)
{
  dev->regions = g_array_new (FALSE, TRUE, sizeof (VhostUserDevRegion));
  dev->log_call_fd = -1;
}

static void
clear_regions (VhostUserDev *dev)
{
  if (dev->regions->len == 0)
    return;
  for (guint i = 0; i < dev->regions->len; i++)
    region_unmap (&g_array_index (dev->regions, VhostUserDevRegion, i));
  g_array_set_size (dev->regions, 0);
  vhost_user_dev_memory_unmapped (dev);
}

static void
clear_log (VhostUserDev *dev)
{
  vhost_user_dev_unmap_file (dev->log_map, dev->log_map_size);
  dev->log_map = NULL;
  dev->log_map_size = 0;
  dev->log_area = NULL;
  dev->log_area_size = 0;
  vhost_user_dev_close_fd (&dev->log_call_fd);
}

/* Everything unmapped (the queues are stopped). */
void
vhost_user_dev_mem_clear (VhostUserDev *dev)
{
  clear_regions (dev);
  clear_log (dev);
  vhost_user_dev_mem_rebuild (dev);
}

/* A testing aid: with VHOST_GLIB_TEST_NO_DIRTY_LOG set (to anything but an
 * empty string) in the environment, the rings are never given the dirty log, so
 * that a migration test can show it catches a back-end that does not log. The
 * environment is read once. */
static gboolean
dirty_log_disabled (void)
{
  static gsize disabled = 0;

  if (g_once_init_enter (&disabled))
    {
      const char *value = g_getenv ("VHOST_GLIB_TEST_NO_DIRTY_LOG");
      gboolean set = value != NULL && value[0] != '\0';

      if (set)
        g_warning ("VHOST_GLIB_TEST_NO_DIRTY_LOG is set: the device's writes to guest memory are not logged, "
                   "and a migration loses them");
      g_once_init_leave (&disabled, set ? 2 : 1);
    }
  return disabled == 2;
}

/* The table the rings read, from the regions and the log (the queues are stopped). */
void
vhost_user_dev_mem_rebuild (VhostUserDev *dev)
{
  VhostMem *mem = &dev->mem;

  mem->n_regions = dev->regions->len;
  for (guint i = 0; i < dev->regions->len; i++)
    {
      VhostUserDevRegion *region = &g_array_index (dev->regions, VhostUserDevRegion, i);

      mem->regions[i].gpa = region->wire.guest_phys_addr;
      mem->regions[i].size = region->wire.memory_size;
      mem->regions[i].uaddr = region->wire.userspace_addr;
      mem->regions[i].hva = region->map + region->wire.mmap_offset;
    }
  mem->log = dirty_log_disabled () ? NULL : dev->log_area;
  mem->log_size = mem->log != NULL ? dev->log_area_size : 0;
  mem->log_call_fd = dev->log_call_fd;
}

gboolean
vhost_user_dev_request_set_mem_table (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  const VhostUserMemoryWire *memory = &msg->payload.memory;
  g_autoptr(GArray) regions = NULL;

  if (vhost_user_msg_is_postcopy_ack (VHOST_USER_CHANNEL_FRONTEND, msg))
    return vhost_user_dev_postcopy_ack (dev, msg, error);
  regions = g_array_sized_new (FALSE, TRUE, sizeof (VhostUserDevRegion), memory->nregions);
  for (guint i = 0; i < memory->nregions; i++)
    {
      VhostUserDevRegion region = { 0 };

      if (!region_map (&region, &memory->regions[i], msg->fds[i], "SET_MEM_TABLE", i, error) ||
          !vhost_user_dev_postcopy_register (dev, &region, "SET_MEM_TABLE", error))
        {
          region_unmap (&region);
          for (guint j = 0; j < regions->len; j++)
            region_unmap (&g_array_index (regions, VhostUserDevRegion, j));
          return FALSE;
        }
      g_array_append_val (regions, region);
    }
  clear_regions (dev);
  g_array_append_vals (dev->regions, regions->data, regions->len);
  if (dev->postcopy_listening)
    vhost_user_dev_postcopy_reply (dev, msg, (VhostUserDevRegion *) dev->regions->data, dev->regions->len);
  return TRUE;
}

gboolean
vhost_user_dev_request_add_mem_reg (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  g_autofree VhostUserRegionWire *all = NULL;
  VhostUserDevRegion region = { 0 };

  if (vhost_user_msg_is_postcopy_ack (VHOST_USER_CHANNEL_FRONTEND, msg))
    return vhost_user_dev_postcopy_ack (dev, msg, error);
  all = g_new (VhostUserRegionWire, dev->regions->len + 1);

  /* QEMU adds the same regions once per vhost device, and a vhost-user-net with
   * several queue pairs is one device per pair on one connection: the same region
   * again is counted, and unmapped when removed as many times. */
  for (guint i = 0; i < dev->regions->len; i++)
    {
      VhostUserDevRegion *same = &g_array_index (dev->regions, VhostUserDevRegion, i);

      if (memcmp (&same->wire, &msg->payload.mem_reg.region, sizeof same->wire) == 0)
        {
          same->refs++;
          return TRUE;
        }
    }
  if (dev->regions->len >= VHOST_USER_DEV_MAX_MEM_SLOTS)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT, "ADD_MEM_REG: all %u slots are in use",
                   VHOST_USER_DEV_MAX_MEM_SLOTS);
      return FALSE;
    }
  for (guint i = 0; i < dev->regions->len; i++)
    all[i] = g_array_index (dev->regions, VhostUserDevRegion, i).wire;
  all[dev->regions->len] = msg->payload.mem_reg.region;
  if (!vhost_user_regions_validate (all, dev->regions->len + 1, "ADD_MEM_REG", error) ||
      !region_map (&region, &msg->payload.mem_reg.region, msg->fds[0], "ADD_MEM_REG", dev->regions->len, error))
    return FALSE;
  if (!vhost_user_dev_postcopy_register (dev, &region, "ADD_MEM_REG", error))
    {
      region_unmap (&region);
      return FALSE;
    }
  g_array_append_val (dev->regions, region);
  if (dev->postcopy_listening)
    vhost_user_dev_postcopy_reply (dev, msg, &region, 1);
  return TRUE;
}

gboolean
vhost_user_dev_request_rem_mem_reg (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  const VhostUserRegionWire *wire = &msg->payload.mem_reg.region;

  /* QEMU closes a postcopy table change that only removed regions with an
   * acknowledgement of REM_MEM_REG, though no reply asked for one. */
  if (vhost_user_msg_is_postcopy_ack (VHOST_USER_CHANNEL_FRONTEND, msg))
    return (dev->postcopy_listening && !dev->postcopy_ack_pending) || vhost_user_dev_postcopy_ack (dev, msg, error);
  for (guint i = 0; i < dev->regions->len; i++)
    {
      VhostUserDevRegion *region = &g_array_index (dev->regions, VhostUserDevRegion, i);

      if (region->wire.guest_phys_addr == wire->guest_phys_addr &&
          region->wire.userspace_addr == wire->userspace_addr && region->wire.memory_size == wire->memory_size)
        {
          if (--region->refs > 0)
            return TRUE;
          region_unmap (region);
          g_array_remove_index (dev->regions, i);
          vhost_user_dev_memory_unmapped (dev);
          return TRUE;
        }
    }
  g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
               "REM_MEM_REG: no region at guest address 0x%" G_GINT64_MODIFIER "x of size %" G_GUINT64_FORMAT,
               wire->guest_phys_addr, wire->memory_size);
  return FALSE;
}

gboolean
vhost_user_dev_request_get_max_mem_slots (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply,
                                          GError **error)
{
  reply->payload.u64 = VHOST_USER_DEV_MAX_MEM_SLOTS;
  return TRUE;
}

gboolean
vhost_user_dev_request_set_log_base (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  const VhostUserLogWire *log = &msg->payload.log;
  VhostUserDevRegion map = { 0 };
  VhostUserRegionWire wire = { 0, log->mmap_size, 0, log->mmap_offset };

  if (msg->n_fds == 0)
    {
      g_set_error_literal (error, VHOST_ERROR, VHOST_ERROR_FDS,
                           "SET_LOG_BASE: no file descriptor; the log is only shared as memory (LOG_SHMFD)");
      return FALSE;
    }
  if (log->mmap_size == 0 || log->mmap_offset + log->mmap_size < log->mmap_offset)
    {
      g_set_error (error, VHOST_ERROR, VHOST_ERROR_INVALID_ARGUMENT,
                   "SET_LOG_BASE: bad log area (offset %" G_GUINT64_FORMAT ", size %" G_GUINT64_FORMAT ")",
                   log->mmap_offset, log->mmap_size);
      return FALSE;
    }
  if (!region_map (&map, &wire, msg->fds[0], "SET_LOG_BASE", 0, error))
    return FALSE;
  clear_log (dev);
  dev->log_map = map.map;
  dev->log_map_size = map.map_size;
  dev->log_area = map.map + log->mmap_offset;
  dev->log_area_size = log->mmap_size;
  return TRUE;
}

gboolean
vhost_user_dev_request_set_log_fd (VhostUserDev *dev, VhostUserMsg *msg, VhostUserMsg *reply, GError **error)
{
  vhost_user_dev_close_fd (&dev->log_call_fd);
  dev->log_call_fd = vhost_user_msg_take_fd (msg, 0);
  return TRUE;
}

gpointer
vhost_user_dev_translate (VhostUserDev *dev, guint64 guest_addr, gsize len)
{
  for (guint i = 0; i < dev->regions->len; i++)
    {
      VhostUserDevRegion *region = &g_array_index (dev->regions, VhostUserDevRegion, i);
      guint64 start = region->wire.guest_phys_addr;

      if (guest_addr >= start && len <= region->wire.memory_size && guest_addr - start <= region->wire.memory_size - len)
        return region->map + region->wire.mmap_offset + (guest_addr - start);
    }
  return NULL;
}

guint
vhost_user_dev_get_n_regions (VhostUserDev *dev)
{
  return dev->regions->len;
}

gboolean
vhost_user_dev_has_log (VhostUserDev *dev)
{
  return dev->log_map != NULL;
}
